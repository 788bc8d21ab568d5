"""What only the collection module knows, for the reports: gate denials, complaints, promises,
and each user's scorecard (contact rate, kept rate, first-contact compliance).

Each section is aggregated in SQL for one contract and one period (agency-local days,
``start`` included, ``end`` excluded), over the rows the asking user may see: someone who
sees every case of the contract sees everyone's figures; a team leader their team's; anyone
else (a collector) only their own.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import Integer, String, cast, func, literal, or_, select
from sqlalchemy import case as when

from core import day_totals
from core.audit.models import AuditEntry
from core.auth.models import User
from core.cases.models import Case, CaseAssignment
from core.clients.services import can_see_contract
from core.extensions import db
from core.report_sections import Measure, ReportSection, narrow, shared, wanted
from core.types import agency_zone, utcnow
from plugins.collection.complaints import CHANNELS
from plugins.collection.models import (
    COMPLAINT_OPEN,
    COMPLAINT_RESOLVED,
    DEFAULT_FIRST_CONTACT_HOURS,
    PROMISE_BROKEN,
    PROMISE_KEPT,
    PROMISE_PENDING,
    CollectionSettings,
    Complaint,
    DayFigures,
    Promise,
)
from plugins.collection.promises import PROMISE_REPLACED

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
    # The user's reach, narrowed to the team or collector the report is filtered on.
    scope = narrow(user_scope(user))
    makers = {
        "collection.denials": denials,
        "collection.complaints": complaints,
        "collection.promises": promises,
        "collection.scorecard": scorecard,
    }
    # Only those the report shows (core.report_sections.wanted).
    return [make(contract, start, end, scope) for key, make in makers.items() if wanted(key)]


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

    def read(contract_ids) -> dict[int, list]:
        query = (
            select(
                Promise.contract_id,
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
                _count(Promise.status == PROMISE_REPLACED),
                amount(PROMISE_REPLACED),
            )
            .outerjoin(User, User.id == Promise.user_id)
            .where(
                Promise.contract_id.in_(contract_ids),
                Promise.created_at >= begin,
                Promise.created_at < finish,
            )
            .group_by(Promise.contract_id, Promise.user_id, User.display_name)
        )
        if scope is not None:
            query = query.where(Promise.user_id.in_(scope))
        found: dict[int, list] = {}
        for contract_id, *figures in db.session.execute(query):
            found.setdefault(contract_id, []).append(tuple(figures))
        return found

    # Read for every contract of the report at once (core.report_sections.shared).
    key = ("collection.promises_made", start, end, None if scope is None else tuple(scope))
    found = sorted(
        shared(key, contract.id, read) or (),
        key=lambda row: (row[1] is None, row[1] or "", row[0] or 0),
    )
    rows = []
    for _user_id, name, made, made_amount, kept, kept_amount, broken, broken_amount, pending, \
            pending_amount, replaced, replaced_amount in found:  # fmt: skip
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
                "replaced": int(replaced),
                "replaced_amount": _money(replaced_amount),
                # A fraction, as every rate of the reports (shown and exported as a percentage).
                "kept_rate": (Decimal(kept) / judged).quantize(Decimal("0.0001"))
                if judged
                else None,
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
            ("replaced", _("Replaced")),
            ("replaced_amount", _("Amount replaced")),
            ("kept_rate", _("Kept of judged")),
        ],
        rows=rows,
        order=630,
        note=_(
            "Promises taken in the period, as judged so far: kept when the repayments by the "
            "promised date covered the amount, broken when they did not, pending until then, "
            "replaced when a later promise on the case took their place (never judged); the "
            "four add up to those made. The scorecard counts instead the promises judged in "
            "the period, whenever they were made."
        ),
    )


def _money(value) -> Decimal:
    return Decimal(value or 0).quantize(Decimal("0.01"))


# -- each user's scorecard ---------------------------------------------------------------------

SCORECARD_FIGURES = (
    "attempts",
    "right_party",
    "promises_made",
    "promises_kept",
    "promises_broken",
    "promises_judged",
    "first_contacts_due",
    "first_contacts_on_time",
    "complaints",
    "refusals",
)


def scorecard(contract, start: date, end: date, scope) -> ReportSection:
    """One row per user: attempts and right-party contacts, promises made and judged, first
    contacts due and made on time, complaints on the cases they held, gate refusals.

    Records and promises are summed from the module's per-day figures (day_figures.py), the
    rest is one GROUP BY query per figure (those per contract and user shared by the contracts
    of one report); the rows merge those few aggregated rows.
    """
    begin, finish = _bounds(start, end)
    figures: dict[int, dict] = {}

    def add_rows(rows, *keys):
        for user_id, *values in rows:
            row = figures.setdefault(user_id, dict.fromkeys(SCORECARD_FIGURES, 0))
            for key, value in zip(keys, values, strict=True):
                row[key] += int(value or 0)

    def add(query, *keys):
        add_rows(db.session.execute(query), *keys)

    # The period's figures of every contract the report asks about are read at once
    # (core.report_sections.shared); this contract takes its part.
    memo_key = (start, end, None if scope is None else tuple(scope))
    day_rows = shared(("collection.day_figures", *memo_key), contract.id,
                      lambda ids: _day_figures(ids, start, end, scope))  # fmt: skip
    add_rows(
        ((user_id, attempts, reached, made, kept, broken, kept + broken)
         for user_id, attempts, reached, made, kept, broken in day_rows or ()),
        "attempts",
        "right_party",
        "promises_made",
        "promises_kept",
        "promises_broken",
        "promises_judged",
    )  # fmt: skip
    first_contacts = shared(("collection.first_contacts", *memo_key), contract.id,
                            lambda ids: _first_contacts(ids, begin, finish, scope))  # fmt: skip
    add_rows(first_contacts or (), "first_contacts_due", "first_contacts_on_time")
    complaints_held = shared(("collection.complaints_held", *memo_key), contract.id,
                             lambda ids: _complaints_on_held_cases(ids, begin, finish, scope))  # fmt: skip
    add_rows(complaints_held or (), "complaints")
    add(_refusals(contract, begin, finish, scope), "refusals")

    names = {}
    if figures:
        found = select(User.id, User.display_name).where(User.id.in_(list(figures)))
        names = {user_id: name for user_id, name in db.session.execute(found)}
    rows = [
        {"user_id": user_id, "user": names.get(user_id) or str(user_id), **row}
        for user_id, row in figures.items()
        if any(row.values())
    ]
    rows.sort(key=lambda row: (row["user"], row["user_id"]))
    return ReportSection(
        key="collection.scorecard",
        title=_("Collectors' scorecard"),
        columns=[
            ("user_id", _("User id")),
            ("user", _("User")),
            ("attempts", _("Attempts")),
            ("right_party", _("Right-party contacts")),
            ("promises_made", _("Promises made")),
            ("promises_kept", _("Promises kept")),
            ("promises_broken", _("Promises broken")),
            ("promises_judged", _("Promises judged")),
            ("first_contacts_due", _("First contacts due")),
            ("first_contacts_on_time", _("First contacts on time")),
            ("complaints", _("Complaints")),
            ("refusals", _("Gate refusals")),
        ],
        rows=rows,
        order=640,
        note=_(
            "Attempts are the user's contact records (SMS and letters aside); right-party "
            "contacts those whose result reached the debtor (a promise, a talk, a claim to have "
            "paid). Promises kept and broken were judged in the period. A first contact is due "
            "when a case nobody has contacted reaches its first-contact deadline in the period "
            "(until now) with the user holding it; on time when the case's first record is no "
            "later. Complaints count those registered on cases the user held then."
        ),
        user_key="user_id",
        measures=(
            Measure("contact_rate", _("Contact rate"), "right_party", "attempts"),
            Measure("kept_rate", _("Kept rate"), "promises_kept", "promises_judged"),
            Measure(
                "first_contact_compliance",
                _("First-contact compliance"),
                "first_contacts_on_time",
                "first_contacts_due",
            ),
            Measure("complaints", _("Complaints"), "complaints", higher_is_better=False),
            Measure("refusals", _("Gate refusals"), "refusals", higher_is_better=False),
        ),
    )


def _in_scope(column, scope) -> list:
    return [column.is_not(None)] if scope is None else [column.in_(scope)]


def _day_figures(contract_ids, start: date, end: date, scope) -> dict[int, list]:
    """contract → ``(user, attempts, right party, promises made, kept, broken)`` over the
    period's days, for every contract at once (imports' and the system's rows aside)."""
    sums = [
        func.sum(column)
        for column in (
            DayFigures.attempts,
            DayFigures.right_party,
            DayFigures.promises_made,
            DayFigures.promises_kept,
            DayFigures.promises_broken,
        )
    ]
    users = (
        [DayFigures.user_id != day_totals.NO_USER]
        if scope is None
        else [DayFigures.user_id.in_(scope)]
    )
    query = (
        select(DayFigures.contract_id, DayFigures.user_id, *sums)
        .where(
            DayFigures.contract_id.in_(contract_ids),
            DayFigures.day >= start,
            DayFigures.day < end,
            *users,
        )
        .group_by(DayFigures.contract_id, DayFigures.user_id)
    )
    found: dict[int, list] = {}
    for contract_id, user_id, *values in db.session.execute(query):
        found.setdefault(contract_id, []).append((user_id, *(int(v or 0) for v in values)))
    return found


def _plus_hours(column, hours: int):
    """``column`` + ``hours`` as a value comparable with :func:`_instant` of another column."""
    if db.engine.dialect.name == "postgresql":
        return column + literal(timedelta(hours=hours))
    return func.datetime(column, f"+{hours} hours")


def _instant(column):
    """A datetime column as :func:`_plus_hours` compares (SQLite: its text normalised)."""
    return column if db.engine.dialect.name == "postgresql" else func.datetime(column)


def _first_contact_hours(contract_ids) -> dict[int, int]:
    """contract → its first-contact deadline in hours (the default without settings)."""
    found = dict.fromkeys(contract_ids, DEFAULT_FIRST_CONTACT_HOURS)
    query = select(CollectionSettings.contract_id, CollectionSettings.first_contact_hours).where(
        CollectionSettings.contract_id.in_(contract_ids)
    )
    found.update(db.session.execute(query).all())
    return found


def _first_contacts(contract_ids, begin, finish, scope) -> dict[int, list]:
    """contract → ``(holder, due, on time)``: first-contact deadlines (首催时限) that fell in
    the period, up to now, and how many of them the case's first contact met. One statement
    per distinct deadline length (usually one for every contract).

    As the module keeps it (work.py), an assignment of a case nobody had contacted yet starts
    a deadline of the contract's ``first_contact_hours``; a holder who gave the case up before
    both the deadline and any contact is not judged on it (the next holder's deadline counts).
    """
    cutoff = min(finish, utcnow())
    found: dict[int, list] = {}
    if cutoff <= begin:
        return found
    by_hours: dict[int, list[int]] = {}
    for contract_id, hours in _first_contact_hours(contract_ids).items():
        by_hours.setdefault(hours, []).append(contract_id)
    for hours, ids in sorted(by_hours.items()):
        span = timedelta(hours=hours)
        held = (
            select(
                Case.contract_id.label("contract_id"),
                CaseAssignment.user_id.label("user_id"),
                CaseAssignment.assigned_at.label("assigned_at"),
                CaseAssignment.ended_at.label("ended_at"),
                # The case's first contact record, which the core keeps on the case.
                Case.first_contact_at.label("first_contact"),
            )
            .join(Case, Case.id == CaseAssignment.case_id)
            .where(
                Case.contract_id.in_(ids),
                CaseAssignment.assigned_at >= begin - span,
                CaseAssignment.assigned_at < cutoff - span,
                *_in_scope(CaseAssignment.user_id, scope),
            )
            .cte(f"held_{hours}")
        )
        deadline = _plus_hours(held.c.assigned_at, hours)
        contacted_by_deadline = held.c.first_contact.is_not(None) & (
            _instant(held.c.first_contact) <= deadline
        )
        due = or_(held.c.first_contact.is_(None), held.c.first_contact >= held.c.assigned_at) & or_(
            held.c.ended_at.is_(None),
            _instant(held.c.ended_at) >= deadline,
            held.c.first_contact <= held.c.ended_at,
        )
        query = select(
            held.c.contract_id, held.c.user_id, _count(due), _count(due & contacted_by_deadline)
        ).group_by(held.c.contract_id, held.c.user_id)
        for contract_id, *figures in db.session.execute(query):
            found.setdefault(contract_id, []).append(tuple(figures))
    return found


def _complaints_on_held_cases(contract_ids, begin, finish, scope) -> dict[int, list]:
    """contract → ``(holder, complaints)``: complaints registered in the period, each counted
    for whoever held the case then, for every contract at once."""
    query = (
        select(Complaint.contract_id, CaseAssignment.user_id, func.count(Complaint.id))
        .join(
            CaseAssignment,
            (CaseAssignment.case_id == Complaint.case_id)
            & (CaseAssignment.assigned_at <= Complaint.registered_at)
            & or_(
                CaseAssignment.ended_at.is_(None),
                CaseAssignment.ended_at > Complaint.registered_at,
            ),
        )
        .where(
            Complaint.contract_id.in_(contract_ids),
            Complaint.registered_at >= begin,
            Complaint.registered_at < finish,
            *_in_scope(CaseAssignment.user_id, scope),
        )
        .group_by(Complaint.contract_id, CaseAssignment.user_id)
    )
    found: dict[int, list] = {}
    for contract_id, user_id, count in db.session.execute(query):
        found.setdefault(contract_id, []).append((user_id, count))
    return found


def _refusals(contract, begin, finish, scope):
    """The compliance gate's refusals of the user's actions on the contract's cases."""
    contract_cases = select(cast(Case.id, String)).where(Case.contract_id == contract.id)
    return (
        select(AuditEntry.user_id, func.count(AuditEntry.id))
        .where(
            AuditEntry.action == DENIED,
            AuditEntry.object_type == "cases",
            AuditEntry.object_id.in_(contract_cases),
            AuditEntry.at >= begin,
            AuditEntry.at < finish,
            *_in_scope(AuditEntry.user_id, scope),
        )
        .group_by(AuditEntry.user_id)
    )
