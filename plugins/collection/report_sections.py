"""What only the collection module knows, for the reports: gate denials, complaints, promises.

Each section is aggregated in SQL for one contract and one period (agency-local days,
``start`` included, ``end`` excluded), over the rows the asking user may see: someone who
sees every case of the contract sees everyone's figures; a team leader their team's; anyone
else (a collector) only their own.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import Integer, String, cast, func, select
from sqlalchemy import case as when

from core.audit.models import AuditEntry
from core.auth.models import User
from core.cases.models import Case
from core.clients.services import can_see_contract
from core.extensions import db
from core.report_sections import ReportSection
from core.types import agency_zone, utcnow
from plugins.collection.complaints import CHANNELS
from plugins.collection.models import (
    COMPLAINT_OPEN,
    COMPLAINT_RESOLVED,
    PROMISE_BROKEN,
    PROMISE_KEPT,
    PROMISE_PENDING,
    Complaint,
    Promise,
)

DENIED = "case.action_denied"


def _action_title(action: str) -> str:
    """What the core names the refused action in a denial's details, in the user's language."""
    titles = {
        "contact": _("contact record"),
        "payment_claim": _("payment claim"),
        "assign": _("assignment"),
    }
    return titles.get(action, action or "—")


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    zone = agency_zone()
    return (datetime.combine(start, time(0), tzinfo=zone),
            datetime.combine(end, time(0), tzinfo=zone))  # fmt: skip


def user_scope(user) -> list[int] | None:
    """Whose figures ``user`` may see: ``None`` for everyone's, else these user ids."""
    if user.can("core.cases.view_contract"):
        return None
    if user.team_id is not None and user.can("core.cases.view_team"):
        return list(db.session.scalars(select(User.id).where(User.team_id == user.team_id)))
    return [user.id]


def sections(contract, start: date, end: date, user) -> list[ReportSection]:
    if not can_see_contract(user, contract):
        return []
    scope = user_scope(user)
    return [
        denials(contract, start, end, scope),
        complaints(contract, start, end, scope),
        promises(contract, start, end, scope),
    ]


def denials(contract, start: date, end: date, scope) -> ReportSection:
    """Every refusal the core audited on a case of ``contract``, per user and refused action."""
    begin, finish = _bounds(start, end)
    action = AuditEntry.details["action"].as_string()
    contract_cases = select(cast(Case.id, String)).where(Case.contract_id == contract.id)
    query = (
        select(AuditEntry.username, action.label("action"), func.count(AuditEntry.id))
        .where(
            AuditEntry.action == DENIED,
            AuditEntry.object_type == "cases",
            AuditEntry.object_id.in_(contract_cases),
            AuditEntry.at >= begin,
            AuditEntry.at < finish,
        )
        .group_by(AuditEntry.username, action)
        .order_by(func.count(AuditEntry.id).desc(), AuditEntry.username, action)
    )
    if scope is not None:
        query = query.where(AuditEntry.user_id.in_(scope))
    rows = [
        {"user": username or _("(import or system)"), "action": _action_title(act), "count": n}
        for username, act, n in db.session.execute(query)
    ]
    return ReportSection(
        key="collection.denials",
        title=_("Compliance gate: refused actions"),
        columns=[("user", _("User")), ("action", _("Refused action")), ("count", _("Refusals"))],
        rows=rows,
        order=610,
        note=_(
            "Each refusal of the contact rules or of a hold (a paused case, an open complaint) "
            "is counted once; the audit log has each one's reasons."
        ),
    )


def _count(condition):
    return func.coalesce(func.sum(cast(when((condition, 1), else_=0), Integer)), 0)


def complaints(contract, start: date, end: date, scope) -> ReportSection:
    """Per channel: registered and resolved in the period, within the deadline, open overdue."""
    begin, finish = _bounds(start, end)
    now = utcnow()
    registered = (Complaint.registered_at >= begin) & (Complaint.registered_at < finish)
    resolved = (
        (Complaint.status == COMPLAINT_RESOLVED)
        & (Complaint.resolved_at >= begin)
        & (Complaint.resolved_at < finish)
    )
    query = (
        select(
            Complaint.channel,
            _count(registered),
            _count(resolved),
            _count(resolved & (Complaint.resolved_at <= Complaint.due_at)),
            _count((Complaint.status == COMPLAINT_OPEN) & (Complaint.due_at < now)),
            _count(Complaint.status == COMPLAINT_OPEN),
        )
        .where(Complaint.contract_id == contract.id)
        .group_by(Complaint.channel)
        .order_by(Complaint.channel)
    )
    if scope is not None:
        query = query.join(Case, Case.id == Complaint.case_id).where(Case.holder_id.in_(scope))
    keys = ("registered", "resolved", "within_deadline", "open_overdue", "open")
    rows, total = [], dict.fromkeys(keys, 0)
    for channel, *figures in db.session.execute(query):
        row = dict(zip(keys, (int(f) for f in figures), strict=True))
        if not any(row.values()):
            continue
        for key in keys:
            total[key] += row[key]
        rows.append({"channel": str(CHANNELS.get(channel, channel)), **row})
    if rows:
        rows.append({"channel": _("Total"), **total})
    return ReportSection(
        key="collection.complaints",
        title=_("Complaints and their deadlines"),
        columns=[
            ("channel", _("Channel")),
            ("registered", _("Registered")),
            ("resolved", _("Resolved")),
            ("within_deadline", _("Resolved within the deadline")),
            ("open", _("Open now")),
            ("open_overdue", _("Open and overdue now")),
        ],
        rows=rows,
        order=620,
        note=_(
            "Registered and resolved count complaints in the period; open ones are counted as "
            "they stand now, whenever they were registered."
        ),
    )


def promises(contract, start: date, end: date, scope) -> ReportSection:
    """Per collector: promises taken in the period and what became of them, with amounts."""
    begin, finish = _bounds(start, end)

    def amount(status=None):
        if status is None:
            return func.coalesce(func.sum(Promise.amount), 0)
        return func.coalesce(func.sum(when((Promise.status == status, Promise.amount), else_=0)), 0)

    query = (
        select(
            Promise.user_id,
            User.display_name,
            func.count(Promise.id),
            amount(),
            _count(Promise.status == PROMISE_KEPT),
            amount(PROMISE_KEPT),
            _count(Promise.status == PROMISE_BROKEN),
            amount(PROMISE_BROKEN),
            _count(Promise.status == PROMISE_PENDING),
            amount(PROMISE_PENDING),
        )
        .join(Case, Case.id == Promise.case_id)
        .outerjoin(User, User.id == Promise.user_id)
        .where(
            Case.contract_id == contract.id,
            Promise.created_at >= begin,
            Promise.created_at < finish,
        )
        .group_by(Promise.user_id, User.display_name)
        .order_by(User.display_name, Promise.user_id)
    )
    if scope is not None:
        query = query.where(Promise.user_id.in_(scope))
    rows = []
    for _user_id, name, made, made_amount, kept, kept_amount, broken, broken_amount, pending, \
            pending_amount in db.session.execute(query):  # fmt: skip
        judged = int(kept) + int(broken)
        rows.append(
            {
                "collector": name or _("(import or system)"),
                "made": int(made),
                "made_amount": _money(made_amount),
                "kept": int(kept),
                "kept_amount": _money(kept_amount),
                "broken": int(broken),
                "broken_amount": _money(broken_amount),
                "pending": int(pending),
                "pending_amount": _money(pending_amount),
                "kept_rate": f"{Decimal(kept) * 100 / judged:.1f}%" if judged else "—",
            }
        )
    return ReportSection(
        key="collection.promises",
        title=_("Promises to pay made and kept"),
        columns=[
            ("collector", _("Collector")),
            ("made", _("Promises made")),
            ("made_amount", _("Amount promised")),
            ("kept", _("Kept")),
            ("kept_amount", _("Amount kept")),
            ("broken", _("Broken")),
            ("broken_amount", _("Amount broken")),
            ("pending", _("Pending")),
            ("pending_amount", _("Amount pending")),
            ("kept_rate", _("Kept of judged")),
        ],
        rows=rows,
        order=630,
        note=_(
            "Promises taken in the period, as judged so far: kept when the repayments by the "
            "promised date covered the amount, broken when they did not, pending until then."
        ),
    )


def _money(value) -> Decimal:
    return Decimal(value or 0).quantize(Decimal("0.01"))
