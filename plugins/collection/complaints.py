"""Complaints (投诉): registering one holds the case until a handler resolves it.

The hold is the module's ``check_case_work`` implementation: while a complaint on the case is
open, every action the core asks about (a record, a payment claim, a letter or an SMS) is
refused with a reason naming the complaint and its deadline. Assignment is the exception:
taking a case away from the collector complained about is often how a complaint is handled,
so a held case may be reassigned or recalled to the pool; the new holder is held too.

Each complaint must be resolved within the contract's ``complaint_deadline_hours`` (from the
collection settings, default 72) of its registration.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import case as when
from sqlalchemy import select

from core.audit.services import record
from core.cases.models import Case
from core.cases.services import can_see_case, visible_cases_query
from core.clients.models import ContractModule
from core.errors import Conflict, InvalidInput, NotAllowed
from core.extensions import db
from core.types import agency_zone, utcnow
from plugins.collection.access import may_work
from plugins.collection.compliance import settings_for
from plugins.collection.models import (
    COMPLAINT_OPEN,
    COMPLAINT_RESOLVED,
    DEFAULT_COMPLAINT_DEADLINE_HOURS,
    Complaint,
)

#: How a complaint reached the agency.
CHANNELS = {
    "phone": _l("phone"),
    "letter": _l("letter"),
    "bank": _l("through the client (bank)"),
    "regulator": _l("regulator"),
    "other": _l("other"),
}
STATUSES = {COMPLAINT_OPEN: _l("unresolved"), COMPLAINT_RESOLVED: _l("resolved")}

#: Actions a complaint hold does not refuse (see the module docstring).
NOT_HELD = frozenset({"assign"})

MAX_CONTENT = 5000


def may_register(user, case: Case) -> bool:
    """Whoever works the case, or handles complaints and sees it, may register one."""
    return may_work(user, case) or (
        user.can("collection.handle_complaints") and can_see_case(user, case)
    )


def deadline_hours(contract) -> int:
    settings = settings_for(contract)
    return settings.complaint_deadline_hours if settings else DEFAULT_COMPLAINT_DEADLINE_HOURS


def register_complaint(
    case: Case, *, channel: str, content: str, user, at: datetime | None = None
) -> Complaint:
    """Register a complaint on ``case``; from now on the case is held (see ``hold_reason``)."""
    if not may_register(user, case):
        raise NotAllowed(_("You may not register a complaint on this case."))
    content = (content or "").strip()
    errors: dict[str, list[str]] = {}
    if channel not in CHANNELS:
        errors["channel"] = [_("Choose how the complaint came in.")]
    if not content:
        errors["content"] = [_("Required.")]
    elif len(content) > MAX_CONTENT:
        errors["content"] = [_("At most %(n)d characters.", n=MAX_CONTENT)]
    if errors:
        raise InvalidInput(_("The complaint was not registered; see the messages by field."),
                           fields=errors)  # fmt: skip
    at = at or utcnow()
    complaint = Complaint(
        case_id=case.id,
        contract_id=case.contract_id,
        channel=channel,
        content=content,
        registered_by_id=user.id if user else None,
        registered_at=at,
        due_at=at + timedelta(hours=deadline_hours(case.contract)),
        status=COMPLAINT_OPEN,
    )
    db.session.add(complaint)
    db.session.flush()
    record(
        "collection.complaint_registered",
        obj=complaint,
        user=user,
        details={"case": case.id, "channel": channel, "due_at": complaint.due_at.isoformat()},
    )
    return complaint


def resolve_complaint(complaint: Complaint, *, resolution: str, user) -> Complaint:
    """Resolve an open complaint; the case's hold lifts once none is open."""
    if not (user.can("collection.handle_complaints") and can_see_case(user, complaint.case)):
        raise NotAllowed(_("You may not resolve this complaint."))
    if complaint.status != COMPLAINT_OPEN:
        raise Conflict(_("This complaint is already resolved."))
    resolution = (resolution or "").strip()
    if not resolution:
        raise InvalidInput(_("Say how the complaint was resolved."),
                           fields={"resolution": [_("Required.")]})  # fmt: skip
    if len(resolution) > MAX_CONTENT:
        raise InvalidInput(_("The resolution is too long."),
                           fields={"resolution": [_("At most %(n)d characters.", n=MAX_CONTENT)]})  # fmt: skip
    now = utcnow()
    complaint.status, complaint.resolution = COMPLAINT_RESOLVED, resolution
    complaint.handler_id, complaint.resolved_at = user.id, now
    db.session.flush()
    record(
        "collection.complaint_resolved",
        obj=complaint,
        user=user,
        details={"case": complaint.case_id, "within_deadline": now <= complaint.due_at},
    )
    return complaint


def open_complaints(case: Case) -> list[Complaint]:
    return db.session.scalars(
        select(Complaint)
        .filter_by(case_id=case.id, status=COMPLAINT_OPEN)
        .order_by(Complaint.registered_at)
    ).all()


def hold_reason(case: Case, action: str) -> str | None:
    """The ``check_case_work`` answer: why an open complaint refuses ``action``, or ``None``."""
    if action in NOT_HELD:
        return None
    first = db.session.scalar(
        select(Complaint)
        .filter_by(case_id=case.id, status=COMPLAINT_OPEN)
        .order_by(Complaint.registered_at)
        .limit(1)
    )
    if first is None:
        return None
    zone = agency_zone()
    return _(
        "complaint #%(id)d registered %(at)s is open (to be resolved by %(due)s); the case is "
        "on hold until a complaint handler resolves it",
        id=first.id,
        at=f"{first.registered_at.astimezone(zone):%Y-%m-%d %H:%M}",
        due=f"{first.due_at.astimezone(zone):%Y-%m-%d %H:%M}",
    )


def is_overdue(complaint: Complaint, now: datetime | None = None) -> bool:
    return complaint.status == COMPLAINT_OPEN and complaint.due_at < (now or utcnow())


def complaints_query(user, *, status: str = "", contract_id: int | None = None):
    """Complaints on cases ``user`` may see, of contracts with the module on: open ones first,
    the most overdue on top (earliest deadline), then resolved ones, latest first."""
    visible = visible_cases_query(user).with_only_columns(Case.id)
    module_on = select(ContractModule.contract_id).where(ContractModule.module == "collection")
    query = select(Complaint).where(
        Complaint.case_id.in_(visible), Complaint.contract_id.in_(module_on)
    )
    if status:
        query = query.where(Complaint.status == status)
    if contract_id:
        query = query.where(Complaint.contract_id == contract_id)
    is_open = Complaint.status == COMPLAINT_OPEN
    return query.order_by(
        when((is_open, 0), else_=1),
        when((is_open, Complaint.due_at), else_=None),
        Complaint.resolved_at.desc(),
        Complaint.id.desc(),
    )
