"""Where each case's collection stands (CaseWork), and the workbench queues read from it.

CaseWork is kept up to date by the module's hooks, so a collector's queues are index reads:

- on assignment (``after_case_assigned``): the holder, when they got it and the first-contact
  deadline (首催时限, assignment + the contract's ``first_contact_hours``). A reassignment
  (调案) moves the case and restarts the deadline only for a case nobody has contacted yet:
  the first contact is the case's, not each holder's, so a case already in contact with its
  debtor is not "new" for its next holder. A recall to the pool clears holder and deadline.
- on each contact record (``after_activity_recorded``): first and last contact, the last
  result and the next follow-up the collector set (``Activity.data["follow_up_at"]``, ISO).
  A record entered after the fact for an earlier time changes the first contact but not the
  latest result or follow-up.

The queues (new, promises due today, broken promises, follow-ups due, all) are for one
scope: the user's own cases, their team's (team leaders) or every case they may see
(``collection.work_all``), always within contracts that have the module on. The action
queues (all but "all") and the "next case" hold only cases that can be worked now: in the
normal status and not on a complaint hold (an open complaint, ``collection_complaints``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, exists, false, func, or_, select

from core.cases import services as cases
from core.cases.filters import search_condition, visibility_condition
from core.cases.models import NORMAL, Activity, Case
from core.clients.models import Contract, ContractModule
from core.clients.services import visible_contracts_query
from core.errors import InvalidInput, NotAllowed, UserError
from core.extensions import db
from core.types import agency_zone, utcnow
from core.web.filters import money
from plugins.collection.compliance import (
    DEBTOR,
    debtor_zone,
    in_window,
    is_third_party_number,
    settings_for,
)
from plugins.collection.models import (
    COMPLAINT_OPEN,
    DEFAULT_FIRST_CONTACT_HOURS,
    PROMISE_BROKEN,
    PROMISE_PENDING,
    CaseWork,
    Complaint,
    Promise,
)
from plugins.collection.promises import PROMISE_REPLACED

MODULE = "collection"

# -- upkeep --------------------------------------------------------------------------------------


def work_row(case: Case) -> CaseWork:
    """The case's CaseWork row, added (with its current holder) if it has none."""
    row = db.session.get(CaseWork, case.id)
    if row is None:
        row = CaseWork(case_id=case.id, holder_id=case.holder_id, last_result="")
        db.session.add(row)
    return row


def first_contact_hours(contract) -> int:
    settings = settings_for(contract)
    return settings.first_contact_hours if settings is not None else DEFAULT_FIRST_CONTACT_HOURS


def case_assigned(case: Case, holder, previous) -> CaseWork:
    """Keep CaseWork in step with a new holder (see the module docstring for reassignment)."""
    row = work_row(case)
    now = utcnow()
    if holder is None:
        row.holder_id, row.assigned_at, row.first_contact_due = None, None, None
    else:
        row.holder_id, row.assigned_at = holder.id, now
        if row.first_contacted_at is None:
            row.first_contact_due = now + timedelta(hours=first_contact_hours(case.contract))
    return row  # flushed with the assignment (autoflush), not one statement per case


def catch_up(contract, chunk: int = 5000) -> int:
    """Give the contract's held cases that have no CaseWork row one, from the case file.

    For a contract whose cases were allocated and worked before the module was switched on
    (or switched off meanwhile): holder and assignment time from the open assignment, first
    and last contact from the timeline, and a first-contact deadline only for a case nobody
    has contacted. Returns how many rows it added.
    """
    from core.cases.models import CaseAssignment

    hours = timedelta(hours=first_contact_hours(contract))
    missing = (
        select(Case.id, Case.holder_id, func.max(CaseAssignment.assigned_at))
        .outerjoin(
            CaseAssignment,
            (CaseAssignment.case_id == Case.id) & CaseAssignment.ended_at.is_(None),
        )
        .where(
            Case.contract_id == contract.id,
            Case.holder_id.is_not(None),
            ~exists().where(CaseWork.case_id == Case.id),
        )
        .group_by(Case.id, Case.holder_id)
        .order_by(Case.id)
    )
    added = 0
    rows = db.session.execute(missing).all()
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        contacts = {
            case_id: (first, last)
            for case_id, first, last in db.session.execute(
                select(Activity.case_id, func.min(Activity.at), func.max(Activity.at))
                .where(Activity.case_id.in_([r[0] for r in part]), Activity.kind == "contact")
                .group_by(Activity.case_id)
            )
        }
        for case_id, holder_id, assigned_at in part:
            first, last = contacts.get(case_id, (None, None))
            assigned_at = _aware(assigned_at) if assigned_at else utcnow()
            db.session.add(
                CaseWork(
                    case_id=case_id,
                    holder_id=holder_id,
                    assigned_at=assigned_at,
                    first_contact_due=None if first else assigned_at + hours,
                    first_contacted_at=first,
                    last_contact_at=last,
                    last_result="",
                )
            )
        db.session.flush()
        added += len(part)
    return added


def follow_up_of(activity: Activity) -> datetime | None:
    """The next follow-up a record asks for (stored as ISO text in ``Activity.data``)."""
    value = (activity.data or {}).get("follow_up_at")
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def activity_recorded(case: Case, activity: Activity) -> CaseWork | None:
    """Update the case's work state after a contact record; a promise becomes a Promise."""
    if activity.kind != "contact":
        return None
    row = work_row(case)
    at = _aware(activity.at)
    if row.first_contacted_at is None or at < _aware(row.first_contacted_at):
        row.first_contacted_at = at
    row.first_contact_due = None
    if row.last_contact_at is None or at >= _aware(row.last_contact_at):
        row.last_contact_at = at
        row.last_result = activity.result or ""
        row.follow_up_at = follow_up_of(activity)
    if activity.promise_amount is not None and activity.promise_date is not None:
        from plugins.collection.promises import promise_made

        promise_made(case, activity)
    db.session.flush()
    return row


# -- queues --------------------------------------------------------------------------------------

NEW, PROMISES, BROKEN, FOLLOW_UPS, ALL = "new", "promises", "broken", "follow_ups", "all"
QUEUES = {
    NEW: _l("New, not yet contacted"),
    PROMISES: _l("Promises due today"),
    BROKEN: _l("Broken promises"),
    FOLLOW_UPS: _l("Follow-ups due"),
    ALL: _l("All"),
}
MINE, TEAM, EVERYONE = "mine", "team", "all"
SCOPES = {MINE: _l("My cases"), TEAM: _l("My team's cases"), EVERYONE: _l("All cases")}

#: Sort keys besides the queue's own urgency order.
SORTS = {
    "serial": Case.serial,
    "name": Case.name,
    "amount": Case.entrusted_amount,
    "balance": Case.balance,
    "days": Case.days_overdue,
    "last_contact": CaseWork.last_contact_at,
}


def scopes_for(user) -> list[str]:
    """The scopes ``user`` may look at, their own first."""
    found = []
    if user.can("collection.work_own"):
        found.append(MINE)
    if user.can("collection.work_team") and user.team_id is not None:
        found.append(TEAM)
    if user.can("collection.work_all"):
        found.append(EVERYONE)
    return found


def default_scope(user) -> str | None:
    """Where ``user`` lands: a team leader on the team's cases, anyone else on their first."""
    found = scopes_for(user)
    if TEAM in found and not user.can("collection.work_all"):
        return TEAM
    return found[0] if found else None


def agency_today() -> date:
    return utcnow().astimezone(agency_zone()).date()


def collection_contract_ids(user) -> list[int]:
    """Contracts ``user`` may see that have the collection module on."""
    query = (
        visible_contracts_query(user)
        .with_only_columns(Contract.id)
        .where(Contract.id.in_(select(ContractModule.contract_id).filter_by(module=MODULE)))
        .order_by(Contract.id)
    )
    return list(db.session.scalars(query))


@dataclass
class QueueFilter:
    """What narrows a queue: the workbench's filter form, the API's query parameters."""

    q: str = ""
    bucket: str = ""
    contract: int | None = None
    sort: str = ""
    dir: str = "asc"
    errors: dict = field(default_factory=dict)

    def conditions(self, contract_ids: list[int]) -> list:
        found = []
        if self.q:
            found.append(search_condition(self.q))
        if self.bucket:
            found.append(Case.bucket == self.bucket)
        if self.contract is not None:
            found.append(Case.contract_id == self.contract)
        return found

    def as_args(self) -> dict:
        out = {"q": self.q, "bucket": self.bucket, "contract": self.contract}
        if self.sort:
            out |= {"sort": self.sort, "dir": self.dir}
        return {k: v for k, v in out.items() if v not in (None, "")}


class Queues:
    """The queues of one user in one scope, with a filter."""

    def __init__(self, user, scope: str, queue_filter: QueueFilter | None = None, now=None):
        self.user, self.scope = user, scope
        self.filter = queue_filter or QueueFilter()
        self.now = now or utcnow()
        self.today = self.now.astimezone(agency_zone()).date()
        self.contract_ids = collection_contract_ids(user)

    # -- the scope ----------------------------------------------------------------------------

    def _base(self) -> list:
        """Conditions every queue shares: scope, module on, the filter."""
        if not self.contract_ids:
            return [false()]
        conditions = [Case.contract_id.in_(self.contract_ids)]
        if self.scope == MINE:
            conditions.append(Case.holder_id == self.user.id)
        elif self.scope == TEAM:
            conditions.append(Case.team_id == self.user.team_id)
        else:
            visible = visibility_condition(self.user)
            if visible is not None:
                conditions.append(visible)
        return conditions + self.filter.conditions(self.contract_ids)

    def _holder(self) -> list:
        """The scope said on CaseWork too, so its (holder_id, …) indexes lead for own cases."""
        return [CaseWork.holder_id == self.user.id] if self.scope == MINE else []

    def conditions(self, queue: str) -> list:
        base = self._base()
        workable = and_(Case.status == NORMAL, ~on_hold())
        if queue == NEW:
            return [*base, *self._holder(), workable, CaseWork.first_contact_due.is_not(None)]
        if queue == FOLLOW_UPS:
            return [*base, *self._holder(), workable, CaseWork.follow_up_at <= self.now]
        if queue == PROMISES:
            due = select(Promise.id).where(
                Promise.case_id == Case.id,
                Promise.status == PROMISE_PENDING,
                Promise.due_on == self.today,
            )
            return [*base, workable, exists(due)]
        if queue == BROKEN:
            # Broken and not followed up since: a contact after the judgement clears it. One
            # past its due date but not judged yet (the daily job has not run) counts too.
            broken = select(Promise.id).where(
                Promise.case_id == Case.id,
                broken_by(self.today),
                or_(
                    CaseWork.last_contact_at.is_(None),
                    Promise.evaluated_at.is_(None),
                    Promise.evaluated_at > CaseWork.last_contact_at,
                ),
            )
            return [*base, workable, exists(broken)]
        return base

    def urgency(self, queue: str) -> list:
        """The queue's own order: what is most urgent first (the "next case")."""
        if queue == NEW:
            return [CaseWork.first_contact_due.asc(), Case.id.asc()]
        if queue == FOLLOW_UPS:
            return [CaseWork.follow_up_at.asc(), Case.id.asc()]
        if queue in (PROMISES, BROKEN):
            return [Case.balance.desc(), Case.id.asc()]
        # All: the case worked longest ago (never worked first), then the larger debt.
        return [
            CaseWork.last_contact_at.asc().nulls_first(),
            Case.balance.desc(),
            Case.id.asc(),
        ]

    def order(self, queue: str) -> list:
        column = SORTS.get(self.filter.sort)
        if column is None:
            return self.urgency(queue)
        first = column.desc() if self.filter.dir == "desc" else column.asc()
        if column is CaseWork.last_contact_at:
            first = first.nulls_first() if self.filter.dir != "desc" else first.nulls_last()
        return [first, Case.id.asc()]

    def _select(self, *columns):
        return select(*columns).select_from(Case).outerjoin(CaseWork, CaseWork.case_id == Case.id)

    # -- reading ------------------------------------------------------------------------------

    def count(self, queue: str) -> int:
        query = self._select(func.count()).where(*self.conditions(queue))
        return db.session.scalar(query) or 0

    def counts(self) -> dict[str, int]:
        return {queue: self.count(queue) for queue in QUEUES}

    def page(self, queue: str, page: int, per_page: int) -> tuple[list, int, int]:
        """``(rows, total, page)``: rows are ``(Case, CaseWork or None)``; a page past the
        last one shows the last one."""
        total = self.count(queue)
        last = max(1, -(-total // per_page))
        page = min(max(1, page), last)
        query = (
            self._select(Case, CaseWork)
            .where(*self.conditions(queue))
            .order_by(*self.order(queue))
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
        return [tuple(row) for row in db.session.execute(query)], total, page

    def next_case_id(self, queue: str, *, skip: int | None = None) -> int | None:
        """The most urgent case of the queue (in its own order), other than ``skip``."""
        # Never to a case that cannot be worked now, whichever the queue ("all" included).
        conditions = [*self.conditions(queue), Case.status == NORMAL, ~on_hold()]
        if skip is not None:
            conditions = [*conditions, Case.id != skip]
        query = self._select(Case.id).where(*conditions).order_by(*self.urgency(queue)).limit(1)
        return db.session.scalar(query)


def on_hold():
    """The condition "the case has an open complaint" (a complaint hold, see complaints.py)."""
    return exists(
        select(Complaint.id).where(Complaint.case_id == Case.id, Complaint.status == COMPLAINT_OPEN)
    )


def held_case_ids(case_ids: list[int]) -> set[int]:
    """Which of ``case_ids`` are on a complaint hold (for marking them in a list)."""
    if not case_ids:
        return set()
    return set(
        db.session.scalars(
            select(Complaint.case_id).where(
                Complaint.case_id.in_(case_ids), Complaint.status == COMPLAINT_OPEN
            )
        )
    )


def broken_by(today: date):
    """Promises broken as of ``today``: judged so, or pending past their due date (a confirmed
    payment judges a promise at once, so one still pending after its day was not kept)."""
    overdue = and_(Promise.status == PROMISE_PENDING, Promise.due_on < today)
    return or_(Promise.status == PROMISE_BROKEN, overdue)


def promises_of(case_ids: list[int], queue: str = ALL, today: date | None = None) -> dict:
    """The promise each case of a workbench page is listed for: in "promises due today" the
    pending one due today, in "broken promises" the latest broken one, elsewhere the latest
    (a replaced promise only when there is no other)."""
    if not case_ids:
        return {}
    query = select(Promise).where(Promise.case_id.in_(case_ids))
    if queue == PROMISES:
        query = query.where(
            Promise.status == PROMISE_PENDING, Promise.due_on == (today or agency_today())
        )
    elif queue == BROKEN:
        query = query.where(broken_by(today or agency_today()))
    rows = db.session.scalars(
        query.order_by(
            Promise.case_id,
            (Promise.status == PROMISE_REPLACED).asc(),
            Promise.due_on.desc(),
            Promise.id.desc(),
        )
    )
    latest: dict[int, Promise] = {}
    for row in rows:
        latest.setdefault(row.case_id, row)
    return latest


def first_contact_state(row: CaseWork | None, now: datetime) -> dict | None:
    """How the first-contact deadline stands: hours and minutes left, or overdue by."""
    if row is None or row.first_contact_due is None:
        return None
    left = _aware(row.first_contact_due) - now
    overdue = left.total_seconds() < 0
    minutes = int(abs(left.total_seconds()) // 60)
    return {"overdue": overdue, "hours": minutes // 60, "minutes": minutes % 60,
            "due": row.first_contact_due}  # fmt: skip


# -- recording a contact -------------------------------------------------------------------------

#: How far ahead of the server's clock a record's time may be (clocks drift a little).
CLOCK_SLACK = timedelta(minutes=5)
#: How far ahead a promised date or a next follow-up may be.
HORIZON_DAYS = 365

#: The complaint channel a record's channel stands for (a complaint made during the contact).
COMPLAINT_CHANNELS = {"phone": "phone", "letter": "letter"}


def _follow_up_errors(case: Case, follow_up_at: datetime, at: datetime) -> list[str]:
    """Why a next follow-up cannot be: not after the record, too far ahead, or outside the
    contract's contact hours in the debtor's time (the collector could not call then)."""
    if follow_up_at <= at:
        return [_("The next follow-up must come after the record's time.")]
    if follow_up_at > utcnow() + timedelta(days=HORIZON_DAYS):
        return [_("The next follow-up cannot be more than %(n)d days ahead.", n=HORIZON_DAYS)]
    contract, zone = case.contract, debtor_zone(case)
    local = follow_up_at.astimezone(zone)
    if not in_window(local.time().replace(tzinfo=None), contract.contact_start,
                     contract.contact_end):  # fmt: skip
        return [
            _("The next follow-up must fall within the contact hours %(start)s–%(end)s in the "
              "debtor's time (%(zone)s); it is %(time)s there.",
              start=f"{contract.contact_start:%H:%M}", end=f"{contract.contact_end:%H:%M}",
              zone=zone.key, time=f"{local:%H:%M}")
        ]  # fmt: skip
    return []


def record_contact(
    case: Case, user, *, at: datetime, channel: str, contact_type: str, result: str,
    target: str = "", contact_name: str = "", note: str = "", follow_up_at: datetime | None = None,
    promise_amount: Decimal | None = None, promise_date: date | None = None,
    source: str = "manual",
) -> Activity:  # fmt: skip
    """A collection record (催记) by ``user`` on ``case``, through the core's
    ``record_activity``, so the work and contact rules (the compliance gate) apply.

    The result must be one of the contract's active result codes; a result whose outcome is
    a promise needs the promised amount and date, and only such a result may carry them.
    """
    from plugins.collection.access import may_work
    from plugins.collection.results import COMPLAINT, PROMISE, codes_for, title

    if not may_work(user, case):
        raise NotAllowed(_("You may not work this case."))
    if contact_type == DEBTOR and is_third_party_number(case, target):
        # Recorded as the debtor, a third party's call would slip past the third-party rule.
        message = _("This number is a contact's, not the debtor's: choose who was contacted.")
        raise UserError(message, fields={"contact_type": [message]})
    errors: dict[str, list[str]] = {}
    at = _aware(at)
    if at > utcnow() + CLOCK_SLACK:
        errors["at"] = [_("A record cannot be in the future.")]
    elif case.entrust_date is not None and at.astimezone(agency_zone()).date() < case.entrust_date:
        errors["at"] = [
            _("A record cannot be before the case was entrusted (%(date)s).",
              date=case.entrust_date.isoformat())
        ]  # fmt: skip
    codes = {row.code: row for row in codes_for(case.contract, active_only=True, create=True)}
    code = codes.get(result or "")
    if code is None:
        errors["result"] = [_("Choose a result from the list.")]
    if follow_up_at is not None:
        found = _follow_up_errors(case, _aware(follow_up_at), at)
        if found:
            errors["follow_up_at"] = found
    promising = code is not None and code.outcome == PROMISE
    if promising:
        if promise_amount is None:
            errors["promise_amount"] = [_("A promise needs the promised amount.")]
        elif promise_amount <= 0:
            errors["promise_amount"] = [_("A promised amount must be positive.")]
        elif case.balance is not None and promise_amount > case.balance:
            errors["promise_amount"] = [
                _("The promised amount is more than the case's balance (%(balance)s).",
                  balance=money(case.balance))
            ]  # fmt: skip
        if promise_date is None:
            errors["promise_date"] = [_("A promise needs the promised date.")]
        elif promise_date < at.astimezone(agency_zone()).date():
            errors["promise_date"] = [_("The promised date cannot be before the record.")]
        elif promise_date > agency_today() + timedelta(days=HORIZON_DAYS):
            errors["promise_date"] = [
                _("The promised date cannot be more than %(n)d days ahead.", n=HORIZON_DAYS)
            ]
    elif code is not None and (promise_amount is not None or promise_date is not None):
        message = _("Only a promise-to-pay result carries a promised amount and date.")
        errors["promise_amount" if promise_amount is not None else "promise_date"] = [message]
    if errors:
        raise InvalidInput(_("Some fields are not valid; see the messages by field."),
                           fields=errors)  # fmt: skip
    data = {}
    if follow_up_at is not None:
        data["follow_up_at"] = _aware(follow_up_at).astimezone(UTC).isoformat()
    entry = cases.record_activity(
        case, user, at=at, channel=channel, contact_type=contact_type,
        contact_name=(contact_name or "")[:120], target=(target or "")[:300], result=code.code,
        note=note or "", promise_amount=promise_amount if promising else None,
        promise_date=promise_date if promising else None, source=source, data=data,
    )  # fmt: skip
    if code.outcome == COMPLAINT:
        complaint = _complaint_from(case, user, entry, title(code))
        entry.data = {**(entry.data or {}), "complaint_id": complaint.id}
        db.session.flush()
    return entry


def _complaint_from(case: Case, user, entry: Activity, result_title: str):
    """A record whose result is a complaint (投诉) registers one, so the case is held until a
    complaint handler resolves it; its content is the record's note, else says where it came
    from."""
    from plugins.collection.complaints import register_complaint

    local = _aware(entry.at).astimezone(agency_zone())
    content = (entry.note or "").strip() or _(
        "Registered from a collection record of %(at)s (result: %(result)s).",
        at=f"{local:%Y-%m-%d %H:%M}", result=result_title,
    )  # fmt: skip
    return register_complaint(
        case, user=user, channel=COMPLAINT_CHANNELS.get(entry.channel, "other"),
        content=content[:5000], at=entry.at,
    )  # fmt: skip
