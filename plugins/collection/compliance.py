"""The compliance gate: the collection rules a contact must pass, whoever records it.

Each rule returns a translated reason that names the rule and when the contact next becomes
allowed, or ``None``. They run through the core's ``check_contact`` hook, so the case page,
the API and imported records are all held to them.

- contact window: calls, messages, letters and visits only between the contract's
  ``contact_start`` (included) and ``contact_end`` (excluded), in the debtor's local time
  (the case's own time zone, else the contract's);
- unanswered calls: at most N per number per debtor-local day (N per contract, default 6);
  a call is unanswered when its result's outcome on the contract says so (no answer,
  switched off, busy, an invalid number …), so renamed and added result codes count too;
- third parties: only once the debtor is unreachable (every number of the debtor's marked
  invalid, or the last N calls to the debtor failed, default 3); a number marked
  do-not-contact is never allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from core.cases.models import Activity, Case
from core.extensions import db
from plugins.collection.models import (
    DEFAULT_MAX_UNANSWERED_CALLS_PER_DAY,
    DEFAULT_THIRD_PARTY_AFTER_FAILURES,
    CollectionSettings,
)
from plugins.collection.results import (
    FAILED_OUTCOMES,
    UNANSWERED_OUTCOMES,
    results_with_outcomes,
)

# -- result codes ------------------------------------------------------------------------------

# The default codes the tests and the demo name; what counts as unanswered or failed is read
# from each contract's result codes (their ``outcome``), see plugins.collection.results.
NO_ANSWER = "no_answer"
SWITCHED_OFF = "switched_off"
BUSY = "busy"
INVALID_NUMBER = "invalid_number"
WRONG_PERSON = "wrong_person"

#: Channels held to the contact window ("other" is not a contact with the debtor).
WINDOWED_CHANNELS = ("phone", "sms", "letter", "visit")
DEBTOR = "debtor"
PHONE_INVALID, PHONE_DO_NOT_CONTACT = "invalid", "do_not_contact"
FALLBACK_ZONE = "Asia/Shanghai"


@dataclass(frozen=True)
class Limits:
    max_unanswered_calls_per_day: int = DEFAULT_MAX_UNANSWERED_CALLS_PER_DAY
    third_party_after_failures: int = DEFAULT_THIRD_PARTY_AFTER_FAILURES


#: session.info key: contract id → (transaction, settings row) looked up in that transaction.
_SETTINGS = "maple.collection_settings"


def settings_for(contract, *, create: bool = False) -> CollectionSettings | None:
    """The contract's settings row; with ``create``, added (with the defaults) if missing.

    Remembered for the rest of the transaction (the same instance, so changes made in it
    show): the gate and the work state ask for it on every record and every assignment.
    """
    remembered = db.session.info.setdefault(_SETTINGS, {})
    transaction = db.session().get_transaction()
    known = remembered.get(contract.id)
    if known is not None and known[0] is transaction:
        return known[1]
    row = db.session.scalar(select(CollectionSettings).filter_by(contract_id=contract.id))
    if row is not None:
        remembered[contract.id] = (transaction, row)
    if row is None and create:
        row = CollectionSettings(
            contract_id=contract.id,
            max_unanswered_calls_per_day=DEFAULT_MAX_UNANSWERED_CALLS_PER_DAY,
            third_party_after_failures=DEFAULT_THIRD_PARTY_AFTER_FAILURES,
            agency_name=current_app.config["AGENCY_NAME"][:120],
            agency_phone=current_app.config["AGENCY_PHONE"][:40],
        )
        db.session.add(row)
        db.session.flush()
    return row


def limits_for(contract) -> Limits:
    row = settings_for(contract)
    if row is None:
        return Limits()
    return Limits(row.max_unanswered_calls_per_day, row.third_party_after_failures)


# -- time ------------------------------------------------------------------------------------


def _zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def debtor_zone(case: Case) -> ZoneInfo:
    """The debtor's zone: the case's own, else the contract's (an unknown name is skipped)."""
    return _zone(case.timezone) or _zone(case.contract.timezone) or ZoneInfo(FALLBACK_ZONE)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def in_window(moment: time, start: time, end: time) -> bool:
    """``[start, end)``; a window past midnight (22:00–02:00) wraps; start == end: all day."""
    if start == end:
        return True
    if start < end:
        return start <= moment < end
    return moment >= start or moment < end


def _hm(value: time) -> str:
    return f"{value:%H:%M}"


def _when(local: datetime, zone: ZoneInfo) -> str:
    return _("%(time)s on %(date)s (%(zone)s)", time=f"{local:%H:%M}", date=f"{local:%Y-%m-%d}",
             zone=zone.key)  # fmt: skip


def next_window_start(local: datetime, start: time, end: time) -> datetime:
    """The next moment at or after ``local`` when the window opens."""
    candidate = datetime.combine(local.date(), start, tzinfo=local.tzinfo)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), start, tzinfo=local.tzinfo)
    return candidate


# -- the rules -------------------------------------------------------------------------------


def window_refusal(case: Case, channel: str, at: datetime) -> str | None:
    if channel not in WINDOWED_CHANNELS:
        return None
    contract, zone = case.contract, debtor_zone(case)
    start, end = contract.contact_start, contract.contact_end
    local = _aware(at).astimezone(zone)
    if in_window(local.time().replace(tzinfo=None), start, end):
        return None
    again = next_window_start(local, start, end)
    if again <= datetime.now(UTC):
        # A contact entered after the fact: when the window opened again is past news.
        return _(
            "Outside the contact hours %(start)s–%(end)s (debtor's time): a contact at %(when)s "
            "is not allowed.",
            start=_hm(start), end=_hm(end), when=_when(local, zone),
        )  # fmt: skip
    return _(
        "Outside the contact hours %(start)s–%(end)s (debtor's time); allowed again at %(when)s.",
        start=_hm(start), end=_hm(end), when=_when(again, zone),
    )  # fmt: skip


def _local_day(at: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    local = _aware(at).astimezone(zone)
    day_start = datetime.combine(local.date(), time(0), tzinfo=zone)
    day_end = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=zone)
    return day_start.astimezone(UTC), day_end.astimezone(UTC)


def unanswered_calls_today(case: Case, target: str, at: datetime) -> int:
    """Unanswered calls to ``target`` on ``case`` before ``at`` on the debtor-local day."""
    day_start, _day_end = _local_day(at, debtor_zone(case))
    return db.session.scalar(
        select(func.count(Activity.id)).where(
            Activity.case_id == case.id,
            Activity.kind == "contact",
            Activity.channel == "phone",
            Activity.target == target,
            Activity.result.in_(results_with_outcomes(case.contract, UNANSWERED_OUTCOMES)),
            Activity.at >= day_start,
            Activity.at < _aware(at).astimezone(UTC),
        )
    )


def call_limit_refusal(case: Case, channel: str, target: str, at: datetime, limits: Limits):
    if channel != "phone" or not target:
        return None
    count = unanswered_calls_today(case, target, at)
    if count < limits.max_unanswered_calls_per_day:
        return None
    contract, zone = case.contract, debtor_zone(case)
    local = _aware(at).astimezone(zone)
    tomorrow = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=zone)
    again = tomorrow
    if not in_window(tomorrow.time(), contract.contact_start, contract.contact_end):
        again = next_window_start(tomorrow, contract.contact_start, contract.contact_end)
    return _(
        "This number already has %(count)d unanswered calls today (at most %(limit)d a day); "
        "allowed again at %(when)s.",
        count=count, limit=limits.max_unanswered_calls_per_day, when=_when(again, zone),
    )  # fmt: skip


def _same_number(a: str, b: str) -> bool:
    def digits(value: str) -> str:
        return "".join(ch for ch in value if ch.isdigit())

    return bool(digits(a)) and digits(a) == digits(b)


def do_not_contact_refusal(case: Case, target: str) -> str | None:
    if not target:
        return None
    blocked = any(c.do_not_contact and _same_number(c.phone, target) for c in case.contacts) or any(
        p.status == PHONE_DO_NOT_CONTACT and _same_number(p.number, target) for p in case.phones
    )
    if blocked:
        return _("This number is marked do-not-contact; it may never be contacted.")
    return None


def is_third_party_number(case: Case, target: str) -> bool:
    """Whether ``target`` is one of the case's third parties' numbers and not the debtor's."""
    if not target or any(_same_number(n, target) for n in debtor_numbers(case)):
        return False
    return any(_same_number(c.phone, target) for c in case.contacts)


def debtor_numbers(case: Case) -> dict[str, str]:
    """The debtor's numbers and their status (the case's mobile counts, as valid if unlisted)."""
    numbers = {p.number: p.status for p in case.phones}
    if case.mobile and not any(_same_number(case.mobile, n) for n in numbers):
        numbers[case.mobile] = "valid"
    return numbers


def failed_calls_in_a_row(case: Case, at: datetime, limit: int) -> int:
    """How many of the last ``limit`` calls to the debtor before ``at`` failed, in a row."""
    results = db.session.scalars(
        select(Activity.result)
        .where(
            Activity.case_id == case.id,
            Activity.kind == "contact",
            Activity.channel == "phone",
            Activity.contact_type == DEBTOR,
            Activity.at < _aware(at).astimezone(UTC),
        )
        .order_by(Activity.at.desc(), Activity.id.desc())
        .limit(limit)
    ).all()
    failed = results_with_outcomes(case.contract, FAILED_OUTCOMES)
    streak = 0
    for result in results:
        if result not in failed:
            break
        streak += 1
    return streak


def debtor_unreachable(case: Case, at: datetime, limits: Limits) -> tuple[bool, int]:
    """Whether third parties may be contacted, and else how many more failed calls it takes.

    Unreachable: the debtor has no number, or all of them are marked invalid, or the last
    ``third_party_after_failures`` calls to the debtor all failed.
    """
    numbers = debtor_numbers(case)
    if all(status == PHONE_INVALID for status in numbers.values()):
        return True, 0
    needed = limits.third_party_after_failures
    streak = failed_calls_in_a_row(case, at, needed)
    return streak >= needed, needed - streak


def third_party_refusal(case: Case, contact_type: str, at: datetime, limits: Limits):
    if contact_type == DEBTOR:
        return None
    unreachable, more = debtor_unreachable(case, at, limits)
    if unreachable:
        return None
    return _(
        "Third parties may be contacted only once the debtor is unreachable (every number "
        "invalid, or %(n)d failed calls to the debtor in a row); allowed after %(more)d more "
        "failed calls to the debtor.",
        n=limits.third_party_after_failures, more=more,
    )  # fmt: skip


def contact_refusals(case: Case, *, channel, contact_type, target, at) -> list[str]:
    """Every rule's reason to refuse this contact (empty: allowed)."""
    target = (target or "").strip()
    limits = limits_for(case.contract)
    found = [
        window_refusal(case, channel, at),
        do_not_contact_refusal(case, target),
        call_limit_refusal(case, channel, target, at, limits),
        third_party_refusal(case, contact_type, at, limits),
    ]
    return [reason for reason in found if reason]
