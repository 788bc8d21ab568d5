"""The demo's working history: cases allocated to three collectors, a month of collection
records with promises, confirmed repayments and claims waiting for confirmation.

Everything goes through the core's services (``assign``, ``record_activity``,
``record_payment``), so the rules apply to it and the modules switched on for the demo
contract see it through their hooks (the collection module builds its queues and judges the
promises from it). Results are the collection module's default result codes; on a contract
without that module they are plain text on the timeline. Seeded: every demo is the same.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from core.auth.models import User
from core.cases import holdings
from core.cases.models import CLAIM, NORMAL, Activity, Case, CaseAssignment
from core.cases.services import CaseRefused, assign, record_activity, record_payment
from core.extensions import db

#: How many cases of the first batch each demo collector holds; the rest wait in the pool.
SHARES = (("collector", 120), ("collector2", 90), ("collector3", 60))
#: How far back the history goes: the work of the last month.
HISTORY_DAYS = 31
#: (result, weight) of a call to the debtor.
CALL_RESULTS = (
    ("no_answer", 30),
    ("switched_off", 8),
    ("busy", 5),
    ("rejected_call", 5),
    ("refuses", 10),
    ("negotiating", 12),
    ("promise_to_pay", 18),
    ("left_message", 6),
    ("claims_paid", 3),
    ("invalid_number", 3),
)
NOTES = {
    "promise_to_pay": ["客户承诺按期还款", "客户表示发工资后还款", "同意先还部分"],
    "refuses": ["客户称无力还款", "客户对金额有异议，拒绝还款"],
    "negotiating": ["客户申请分期，已告知流程", "与客户协商减免滞纳金"],
    "claims_paid": ["客户称已通过手机银行还款"],
    "left_message": ["已留言请回电"],
}


def add_history(contract, today: date | None = None) -> None:
    """Allocate the first batch and give each held case a history (once; a rerun adds none)."""
    cases = db.session.scalars(
        select(Case).filter_by(contract_id=contract.id).order_by(Case.id).limit(400)
    ).all()
    if not cases or db.session.scalar(select(Activity.id).limit(1)) is not None:
        return
    manager = db.session.scalar(select(User).filter_by(username="manager"))
    rng = random.Random(2026)
    zone = ZoneInfo(contract.timezone or "Asia/Shanghai")
    today = today or datetime.now(zone).date()
    start = 0
    for username, count in SHARES:
        collector = db.session.scalar(select(User).filter_by(username=username))
        held = cases[start : start + count]
        start += count
        assign(held, holder=collector, user=manager, reason="演示分案")
        worked = held[: count * 9 // 10]
        _date_allocation(
            worked, datetime.combine(today - timedelta(days=HISTORY_DAYS), time(9), tzinfo=zone)
        )
        for index, case in enumerate(held):
            # The newest tenth of each share has not been called yet: the first-contact queue.
            if index >= count * 9 // 10:
                continue
            _work(case, collector, rng, zone, today)
    db.session.flush()


def _date_allocation(cases: list[Case], at: datetime) -> None:
    """Date the open assignment of ``cases`` back to ``at``: the demo's collectors received
    the cases they worked before the month of history, so the reports attribute that month's
    repayments to them (a payment counts for whoever held the case on its day)."""
    ids = [case.id for case in cases]
    with holdings.changing(ids):
        for start in range(0, len(ids), 500):
            db.session.execute(
                update(CaseAssignment)
                .where(CaseAssignment.case_id.in_(ids[start : start + 500]))
                .where(CaseAssignment.ended_at.is_(None))
                .values(assigned_at=at.astimezone(UTC))
            )


def _work(case: Case, collector, rng: random.Random, zone: ZoneInfo, today: date) -> None:
    number = case.mobile or (case.phones[0].number if case.phones else "")
    if not number:
        return
    day = today - timedelta(days=rng.randint(8, HISTORY_DAYS - 1))
    while day < today:
        result = rng.choices([r for r, _ in CALL_RESULTS], [w for _, w in CALL_RESULTS])[0]
        at = datetime.combine(day, time(rng.randint(9, 19), rng.randint(0, 59)), tzinfo=zone)
        promise = None
        if result == "promise_to_pay":
            amount = min(case.balance, Decimal(rng.choice((500, 1000, 2000, 3000))))
            promise = (amount, day + timedelta(days=rng.randint(1, 10)))
        try:
            record_activity(
                case,
                collector,
                at=at.astimezone(UTC),
                channel="phone",
                contact_type="debtor",
                target=number,
                result=result,
                note=rng.choice(NOTES.get(result, [""])),
                promise_amount=promise[0] if promise else None,
                promise_date=promise[1] if promise else None,
            )
        except CaseRefused:
            break  # a rule of the contract's modules says no more: the history stops there
        if promise and promise[1] < today:
            _keep_or_break(case, collector, rng, *promise)
        if result in ("invalid_number",) or case.status != NORMAL:
            break
        day += timedelta(days=rng.randint(1, 5))


def _keep_or_break(case: Case, collector, rng: random.Random, amount, due: date) -> None:
    """Most promises are kept on time, some late or in part, some broken, some claimed."""
    roll = rng.random()
    if roll < 0.45:
        paid_on, paid = due - timedelta(days=rng.randint(0, 2)), amount
    elif roll < 0.6:
        paid_on, paid = due - timedelta(days=1), (amount / 2).quantize(Decimal("0.01"))
    elif roll < 0.7:
        record_payment(
            case, amount=amount, paid_on=due, user=collector, kind=CLAIM, payer=case.name,
            channel="手机银行",
        )  # fmt: skip
        return
    else:
        return  # broken
    record_payment(
        case, amount=paid, paid_on=paid_on, user=None, payer=case.name, channel="银行还款",
        reference=f"DEMO{rng.randrange(10**9):09d}", source="import",
    )  # fmt: skip
