"""The rules of the case file: status changes, holders, the timeline and payments.

Every function here that acts on a case asks ``check_case_work`` (and, for a contact,
``check_contact``) through the case's contract first, so the page, the API, an import and a
command are held to the same rules. Services flush and audit; the caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import func, select, update

from core import day_totals
from core.audit.services import record, record_many
from core.cases import holdings
from core.cases.models import (
    CLAIM,
    CLOSED,
    CONFIRMED,
    NORMAL,
    PAUSED,
    PENDING,
    REJECTED,
    REPAYMENT,
    RETURNED,
    SETTLED,
    Activity,
    ActivityDayTotal,
    Case,
    CaseAssignment,
    Payment,
)
from core.clients.models import Contract
from core.clients.services import visible_contracts_query
from core.errors import Conflict, UserError
from core.extensions import db
from core.plugins import hooks_for
from core.types import utcnow

#: Statuses in which nobody may work a case (the core's own check_case_work): a settled case
#: is paid in full, so no more calls, messages or claims either.
FROZEN = (PAUSED, CLOSED, RETURNED, SETTLED)


class CaseRefused(Conflict):
    """A rule (the core's or a module's) refuses this action on this case now."""


def reasons(results) -> list[str]:
    """Flatten what a veto hook returned: ``None``, a reason, or a list of them, per plugin."""
    found: list[str] = []
    for result in results:
        if result:
            found.extend([result] if isinstance(result, str) else result)
    return [str(reason) for reason in found]


def work_refusals(case: Case, user, action: str) -> list[str]:
    return reasons(hooks_for(case.contract).check_case_work(case=case, user=user, action=action))


def contact_refusals(case: Case, user, *, channel, contact_type, target, at) -> list[str]:
    return reasons(
        hooks_for(case.contract).check_contact(
            case=case, user=user, channel=channel, contact_type=contact_type, target=target, at=at
        )
    )


def _refuse(case: Case, user, action: str, found: list[str]):
    raise CaseRefused(
        _("Case %(serial)s: %(reasons)s", serial=case.serial, reasons="; ".join(found)),
        audit={
            "action": "case.action_denied",
            "obj": case,
            "user": user,
            "outcome": "denied",
            "details": {"action": action, "reasons": found},
        },
    )


def ensure_workable(case: Case, user, action: str) -> None:
    """Raise :class:`CaseRefused` (audited) if any rule refuses ``action`` on ``case``."""
    found = work_refusals(case, user, action)
    if found:
        _refuse(case, user, action, found)


def ensure_contact_allowed(case: Case, user, *, channel, contact_type, target, at) -> None:
    found = contact_refusals(
        case, user, channel=channel, contact_type=contact_type, target=target, at=at
    )
    if found:
        _refuse(case, user, "contact", found)


# -- who may see which case ----------------------------------------------------------------


def visible_cases_query(user):
    """``select(Case)`` narrowed to the cases ``user`` may see (contracts, then holders)."""
    from core.cases.filters import holder_condition

    contract_ids = visible_contracts_query(user).with_only_columns(Contract.id)
    query = select(Case).where(Case.contract_id.in_(contract_ids))
    holders = holder_condition(user)
    return query if holders is None else query.where(holders)


def can_see_case(user, case: Case) -> bool:
    """The object-level check every case page and endpoint makes: ``visible_cases_query``
    for one case."""
    from core.clients.services import can_see_contract

    if not can_see_contract(user, case.contract):
        return False
    if user.can("core.cases.view_contract"):
        return True
    in_team = user.team_id is not None and case.team_id == user.team_id
    return case.holder_id == user.id or (in_team and user.can("core.cases.view_team"))


# -- status ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusChange:
    allowed_from: tuple[str, ...]
    to: str
    hook: str
    audit_action: str


STATUS_CHANGES = {
    "pause": StatusChange((NORMAL,), PAUSED, "after_case_paused", "case.paused"),
    "close": StatusChange((NORMAL, PAUSED), CLOSED, "after_case_closed", "case.closed"),
    "resume": StatusChange((PAUSED, CLOSED), NORMAL, "after_case_resumed", "case.resumed"),
}


@dataclass
class Outcome:
    """What a bulk operation did: the cases changed and those left as they were, and why."""

    changed: list[Case] = field(default_factory=list)
    skipped: list[tuple[Case, str]] = field(default_factory=list)


def change_status(cases, operation: str, reason: str, user) -> Outcome:
    """Pause, close or resume ``cases``; a case not in a state that allows it is skipped."""
    change = STATUS_CHANGES.get(operation)
    if change is None:
        raise UserError(_("Unknown case operation %(op)s.", op=operation))
    reason = (reason or "").strip()
    if not reason:
        raise UserError(_("Give a reason for this operation."), fields={"reason": [_("Required.")]})
    outcome = Outcome()
    for case in cases:
        if case.status not in change.allowed_from:
            outcome.skipped.append((case, _("it is %(status)s", status=status_title(case.status))))
            continue
        case.status, case.status_reason = change.to, reason[:500]
        record(change.audit_action, obj=case, user=user, details={"reason": reason[:200]})
        getattr(hooks_for(case.contract), change.hook)(case=case, reason=reason, user=user)
        outcome.changed.append(case)
    db.session.flush()
    return outcome


@dataclass
class BulkOutcome:
    """What an operation on many cases did, in counts: changed, and skipped by reason."""

    changed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())


#: Cases loaded and changed at a time by :func:`change_status_of`.
CHUNK = 500


def change_status_of(case_ids, operation: str, reason: str, user, progress=None) -> BulkOutcome:
    """:func:`change_status` over many cases, ``CHUNK`` at a time, counting what happened.

    ``case_ids`` may be a list or a query of ids (the whole result of a filter); the ids are
    read first, so the changes cannot disturb the scan, then the cases are loaded and changed
    in chunks and let go, so 100k cases need no more memory than a chunk.
    """
    if not isinstance(case_ids, list | tuple):
        case_ids = list(db.session.scalars(case_ids.execution_options(yield_per=10_000)))
    total = BulkOutcome()
    if operation not in STATUS_CHANGES or not (reason or "").strip():
        change_status([], operation, reason, user)  # raises the same refusal as for one case
    for start in range(0, len(case_ids), CHUNK):
        chunk = case_ids[start : start + CHUNK]
        cases = db.session.scalars(select(Case).where(Case.id.in_(chunk)).order_by(Case.id))
        outcome = change_status(cases, operation, reason, user)
        total.changed += len(outcome.changed)
        for _case, why in outcome.skipped:
            total.skipped[why] = total.skipped.get(why, 0) + 1
        if progress is not None:
            progress(start + len(chunk), len(case_ids))
    return total


def status_title(status: str) -> str:
    from core.web.filters import CASE_STATUSES

    return str(CASE_STATUSES.get(status, status))


# -- holders -----------------------------------------------------------------------------------


def assign(cases, *, holder, team=None, user, reason: str = "") -> Outcome:
    """Give ``cases`` to ``holder`` (and team), or recall them to the pool (``holder=None``)."""
    team = team if team is not None else (holder.team if holder is not None else None)
    now, outcome = utcnow(), Outcome()
    moving = []
    for case in cases:
        found = work_refusals(case, user, "assign")
        if found:
            outcome.skipped.append((case, "; ".join(found)))
        else:
            moving.append((case, case.holder))
    # Set-wise, so allocating a batch of thousands costs a few statements per hundred cases
    # (each case still gets its history row, its audit entry and its hook call).
    with holdings.changing(case.id for case, _previous in moving):
        for start in range(0, len(moving), 500):
            ids = [case.id for case, _previous in moving[start : start + 500]]
            db.session.execute(
                update(CaseAssignment)
                .where(CaseAssignment.case_id.in_(ids), CaseAssignment.ended_at.is_(None))
                .values(ended_at=now)
            )
        for case, _previous in moving:
            db.session.add(
                CaseAssignment(
                    case_id=case.id,
                    user_id=holder.id if holder else None,
                    team_id=team.id if team else None,
                    assigned_at=now,
                    assigned_by_id=user.id if user else None,
                    reason=reason[:200],
                )
            )
            case.holder, case.team = holder, team
    details = {"holder": holder.username if holder else None, "team": team.name if team else None}
    record_many("case.assigned", [case for case, _previous in moving], details=details, user=user)
    for case, previous in moving:
        hooks_for(case.contract).after_case_assigned(
            case=case, holder=holder, team=team, previous=previous, user=user
        )
        outcome.changed.append(case)
    db.session.flush()
    return outcome


# -- the timeline ------------------------------------------------------------------------------

CHANNELS = ("phone", "sms", "letter", "visit", "other")
CONTACT_TYPES = ("debtor", "spouse", "relative", "colleague", "other")


def record_activity(
    case: Case,
    user,
    *,
    at: datetime,
    channel: str = "phone",
    contact_type: str = "debtor",
    contact_name: str = "",
    target: str = "",
    result: str = "",
    note: str = "",
    promise_amount: Decimal | None = None,
    promise_date: date | None = None,
    kind: str = "contact",
    source: str = "manual",
    data: dict | None = None,
) -> Activity:
    """Add an entry to the case's timeline after the work and contact rules allow it."""
    if channel not in CHANNELS:
        raise UserError(_("Unknown channel %(c)s.", c=channel), fields={"channel": [_("Invalid.")]})
    if contact_type not in CONTACT_TYPES:
        raise UserError(
            _("Unknown contact %(c)s.", c=contact_type), fields={"contact_type": [_("Invalid.")]}
        )
    if (promise_amount is None) != (promise_date is None):
        raise UserError(_("A promise needs both an amount and a date."))
    if promise_amount is not None and promise_amount <= 0:
        raise UserError(_("A promised amount must be positive."))
    ensure_workable(case, user, kind)
    if kind == "contact":
        ensure_contact_allowed(
            case, user, channel=channel, contact_type=contact_type, target=target, at=at
        )
    entry = Activity(
        case_id=case.id,
        contract_id=case.contract_id,
        kind=kind,
        at=at,
        channel=channel,
        contact_type=contact_type,
        contact_name=contact_name,
        target=target,
        result=result,
        note=note,
        promise_amount=promise_amount,
        promise_date=promise_date,
        user_id=user.id if user else None,
        source=source,
        data=data or {},
    )
    db.session.add(entry)
    db.session.flush()
    hooks_for(case.contract).after_activity_recorded(case=case, activity=entry, user=user)
    return entry


def rebuild_activity_day_totals(connection=None) -> None:
    """Fill ``activity_day_totals`` again from every entry of the timeline, set-wise
    (``connection``: a migration's; the session's by default)."""

    def per_day(day, begin, end):
        return (
            select(
                day.label("day"),
                Activity.contract_id,
                func.coalesce(Activity.user_id, day_totals.NO_USER),
                Activity.kind,
                func.count(Activity.id),
                func.count(Activity.promise_amount),
                func.coalesce(func.sum(day_totals.cents(Activity.promise_amount)), 0),
            )
            .where(Activity.at >= begin, Activity.at < end)
            .group_by(day, Activity.contract_id, Activity.user_id, Activity.kind)
        )

    table = ActivityDayTotal.__table__
    day_totals.rebuild(
        table,
        ["day", "contract_id", "user_id", "kind"],
        ["records", "promises", "promised_cents"],
        Activity.at,
        per_day,
        connection=connection,
    )


def rebuild_first_contacts(connection=None) -> None:
    """Set every case's ``first_contact_at`` from the timeline, set-wise (after a bulk load;
    ``connection``: a migration's)."""
    cases, activities = Case.__table__, Activity.__table__
    first = (
        select(activities.c.case_id, func.min(activities.c.at).label("first"))
        .where(activities.c.kind == "contact")
        .group_by(activities.c.case_id)
        .subquery("first")
    )
    executor = db.session if connection is None else connection
    executor.execute(
        update(cases).values(first_contact_at=None, updated_at=cases.c.updated_at)
        .where(cases.c.first_contact_at.is_not(None))
    )  # fmt: skip
    executor.execute(
        update(cases)
        .where(cases.c.id == first.c.case_id)
        .values(first_contact_at=first.c.first, updated_at=cases.c.updated_at)
    )


# -- payments ----------------------------------------------------------------------------------


def record_payment(
    case: Case,
    *,
    amount: Decimal,
    paid_on: date,
    user,
    kind: str = REPAYMENT,
    payer: str = "",
    channel: str = "",
    reference: str = "",
    source: str = "manual",
) -> Payment:
    """A payment claim (CP, pending until confirmed) or a confirmed repayment."""
    amount = Decimal(amount)
    if amount <= 0:
        raise UserError(
            _("A payment must be a positive amount."), fields={"amount": [_("Invalid.")]}
        )
    if kind == CLAIM:
        ensure_workable(case, user, "payment_claim")
    if reference and db.session.scalar(
        select(Payment.id).filter_by(case_id=case.id, reference=reference)
    ):
        raise Conflict(_("Payment %(ref)s is already on this case.", ref=reference))
    payment = Payment(
        case_id=case.id,
        contract_id=case.contract_id,
        kind=kind,
        amount=amount,
        paid_on=paid_on,
        payer=payer,
        channel=channel,
        reference=reference,
        source=source,
        status=PENDING if kind == CLAIM else CONFIRMED,
        recorded_by_id=user.id if user else None,
    )
    db.session.add(payment)
    db.session.flush()
    record(
        "payment.recorded",
        obj=payment,
        user=user,
        details={"case": case.id, "kind": kind, "amount": str(amount)},
    )
    if payment.status == CONFIRMED:
        payment.confirmed_at = utcnow()
        holdings.payment_confirmed(payment)
        _apply(case, payment, user)
    return payment


def confirm_payment(payment: Payment, user) -> None:
    if payment.status != PENDING:
        raise Conflict(_("Only a pending claim can be confirmed."))
    payment.status, payment.confirmed_by_id, payment.confirmed_at = CONFIRMED, user.id, utcnow()
    record("payment.confirmed", obj=payment, user=user, details={"case": payment.case_id})
    holdings.payment_confirmed(payment)
    _apply(payment.case, payment, user)


def reject_payment(payment: Payment, user, reason: str) -> None:
    if payment.status != PENDING:
        raise Conflict(_("Only a pending claim can be rejected."))
    payment.status, payment.status_reason = REJECTED, reason[:200]
    record(
        "payment.rejected",
        obj=payment,
        user=user,
        details={"case": payment.case_id, "reason": reason[:200]},
    )


def _apply(case: Case, payment: Payment, user) -> None:
    """Take a confirmed payment off the balance; a case paid in full is settled."""
    case.balance = (case.balance or Decimal(0)) - payment.amount
    if case.last_payment_date is None or payment.paid_on >= case.last_payment_date:
        case.last_payment_date, case.last_payment_amount = payment.paid_on, payment.amount
    if case.balance <= 0 and case.status == NORMAL:
        case.status, case.status_reason = SETTLED, _("Paid in full")
        record("case.settled", obj=case, user=user)
    db.session.flush()
    hooks_for(case.contract).after_payment_recorded(case=case, payment=payment, user=user)
