"""A small, fixed case file for the reports' tests, built through the core's services.

Two clients, four contracts (three with the reports module on, one without), batches, two
teams, a manager, team leaders, collectors and client viewers; cases handed out and handed
over on given days, confirmed repayments, confirmed, pending and rejected claims — all in
and around March 2026 (agency zone Asia/Shanghai). Every report's test may use it::

    from plugins.reports.tests.seed import seeded  # noqa: F401  (the fixture)

    def test_something(seeded):
        seeded.li, seeded.cases["a1_moved"], seeded.start, ...

Expected figures are computed in the tests from the rows themselves, never copied from here.

What the data covers (the reasons for each case):

- ``a1_li``: held by li all along; paid on Sunday 1 March, on Monday 2 March (a week starts
  on Monday), on the last day of March, and outside the month (28 Feb, 1 April); a pending
  and a rejected claim that never count.
- ``a1_moved``: li's until 15 March 10:00, then wang's: paid on the 14th (li's) and the 15th
  (wang's: he held it at the end of that day), and a claim confirmed on the 20th (wang's).
- ``a1_pooled``: li's until 5 March, then recalled to the pool: paid on the 10th, not held.
- ``a1_never``: never handed out: paid on the 12th, not held.
- ``a2_m1``, ``a2_m2``, ``a2_m3``, ``a2_m6``: contract A2 (flat 10 %, tiers M1 20 %,
  M3 12.5 %, M6+ 50 %), held by zhao of the west team; amounts that round at half a cent.
- ``b1``, ``b2``: client B's contract (flat 8 %), held by zhao and by wang.
- ``off1``: a contract of client A without the reports module, held by li and paid in
  March: no report counts it.
"""

from __future__ import annotations

import functools
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from unittest.mock import patch
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from core.auth import models as auth_models
from core.auth.models import Team
from core.cases import holdings
from core.cases.models import CLAIM, CaseAssignment
from core.cases.services import assign, confirm_payment, record_payment, reject_payment
from core.clients.services import save_client
from plugins.reports.models import CommissionTier
from tests.support.cases import make_batch, make_cases

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(day: date, hour: int = 9, minute: int = 0) -> datetime:
    """An agency-local time on ``day`` (aware, Shanghai)."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


def assign_at(db, cases, *, holder, at: datetime, by, team=None) -> None:
    """Hand ``cases`` to ``holder`` (None: back to the pool) through the core's ``assign``,
    then date the change at ``at``: the new holder's row starts and the previous one ends
    then. Call in time order per case."""
    ids = [case.id for case in cases]
    open_before = list(
        db.session.scalars(
            select(CaseAssignment.id).where(
                CaseAssignment.case_id.in_(ids), CaseAssignment.ended_at.is_(None)
            )
        )
    )
    assign(cases, holder=holder, team=team, user=by)
    with holdings.changing(ids):  # a writer of the history keeps the holdings per day
        if open_before:
            db.session.execute(
                update(CaseAssignment)
                .where(CaseAssignment.id.in_(open_before))
                .values(ended_at=at)
                .execution_options(synchronize_session=False)
            )
        db.session.execute(
            update(CaseAssignment)
            .where(CaseAssignment.case_id.in_(ids), CaseAssignment.ended_at.is_(None))
            .values(assigned_at=at)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()


@dataclass
class Seed:
    client_a: object
    client_b: object
    #: Client A: flat 15 %; flat 10 % with tiers; without the reports module. Client B: 8 %.
    contract_a1: object
    contract_a2: object
    contract_off: object
    contract_b: object
    batch_a1: object
    batch_a1_second: object
    batch_a2: object
    batch_b: object
    batch_off: object
    east: object
    west: object
    manager: object
    leader_east: object
    leader_west: object
    #: li and wang are in the east team, zhao in the west team.
    li: object
    wang: object
    zhao: object
    viewer_a: object
    viewer_b: object
    cases: dict = field(default_factory=dict)
    #: Every payment made, whatever its status.
    payments: list = field(default_factory=list)
    #: The month the figures are about.
    start: date = date(2026, 3, 1)
    end: date = date(2026, 3, 31)


@functools.cache
def _hash_once(password: str) -> str:
    return _generate_password_hash(password)


_generate_password_hash = auth_models.generate_password_hash


@contextmanager
def one_hash_per_password():
    """Hash each password once per test run while the seed's users are made: scrypt takes
    0.15 s a user, more than the rest of the seed. The hashes stay real (sign-in works)."""
    with patch.object(auth_models, "generate_password_hash", _hash_once):
        yield


def make_seed(db, contract, make_user) -> Seed:
    """Build the data set described in the module docstring; everything is committed."""
    with one_hash_per_password():
        return _make_seed(db, contract, make_user)


def _make_seed(db, contract, make_user) -> Seed:
    client_a = save_client(None, name="江苏银行", code="JSB", actor=None)
    client_b = save_client(None, name="浙江信贷", code="ZJX", actor=None)
    db.session.commit()
    contract_a1 = contract(modules=["reports"], number="JSB-2026-01", client=client_a)
    contract_a2 = contract(modules=["reports"], number="JSB-2026-02", client=client_a)
    contract_off = contract(modules=[], number="JSB-2026-OFF", client=client_a)
    contract_b = contract(modules=["reports"], number="ZJX-2026-01", client=client_b)
    contract_a1.commission_rate = Decimal("0.1500")
    contract_a2.commission_rate = Decimal("0.1000")
    contract_off.commission_rate = Decimal("0.2000")
    contract_b.commission_rate = Decimal("0.0800")
    for bucket, tier_rate in (("M1", "0.2000"), ("M3", "0.1250"), ("M6+", "0.5000")):
        db.session.add(
            CommissionTier(contract_id=contract_a2.id, bucket=bucket, rate=Decimal(tier_rate))
        )
    east, west = Team(name="东区一组"), Team(name="西区二组")
    db.session.add_all([east, west])
    db.session.commit()

    entrust = date(2026, 2, 1)
    batch_a1 = make_batch(db, contract_a1, "JSB-B1", entrust_date=entrust)
    batch_a1_second = make_batch(db, contract_a1, "JSB-B2", entrust_date=entrust)
    batch_a2 = make_batch(db, contract_a2, "JSB-B3", entrust_date=entrust)
    batch_b = make_batch(db, contract_b, "ZJX-B1", entrust_date=entrust)
    batch_off = make_batch(db, contract_off, "JSB-OFF", entrust_date=entrust)

    every = [contract_a1, contract_a2, contract_off, contract_b]
    manager = make_user("manager", username="seed_manager", contracts=every)
    leader_east = make_user("team_leader", username="seed_leader_east", contracts=every, team=east)
    leader_west = make_user("team_leader", username="seed_leader_west", contracts=every, team=west)
    li = make_user("collector", username="seed_li", name="李催收", contracts=every, team=east)
    wang = make_user("collector", username="seed_wang", name="王催收", contracts=every, team=east)
    zhao = make_user("collector", username="seed_zhao", name="赵催收", contracts=every, team=west)
    viewer_a = make_user("client_viewer", username="seed_viewer_a", client=client_a)
    viewer_b = make_user("client_viewer", username="seed_viewer_b", client=client_b)

    def one(name, contract_, batch, amount, bucket="M2"):
        (case,) = make_cases(
            db,
            contract_,
            batch,
            serial=f"SEED-{name.upper()}",
            name="王小明" if len(name) % 2 else "欧阳娜娜",
            entrusted_amount=Decimal(amount),
            bucket=bucket,
            entrust_date=entrust,
        )
        cases[name] = case
        return case

    cases: dict = {}
    a1_li = one("a1_li", contract_a1, batch_a1, "10000.00")
    a1_moved = one("a1_moved", contract_a1, batch_a1, "8000.00", bucket="M3")
    a1_pooled = one("a1_pooled", contract_a1, batch_a1_second, "5000.00", bucket="M1")
    a1_never = one("a1_never", contract_a1, batch_a1_second, "3000.00")
    a2_m1 = one("a2_m1", contract_a2, batch_a2, "6000.00", bucket="M1")
    a2_m2 = one("a2_m2", contract_a2, batch_a2, "4000.00", bucket="M2")
    a2_m3 = one("a2_m3", contract_a2, batch_a2, "2000.00", bucket="M3")
    a2_m6 = one("a2_m6", contract_a2, batch_a2, "1500.00", bucket="M6+")
    b1 = one("b1", contract_b, batch_b, "7000.00", bucket="M4")
    b2 = one("b2", contract_b, batch_b, "2500.00", bucket="M2")
    off1 = one("off1", contract_off, batch_off, "9000.00")

    assign_at(
        db, [a1_li, a1_moved, a1_pooled, off1], holder=li, at=local(date(2026, 2, 10)), by=manager
    )
    assign_at(
        db, [a2_m1, a2_m2, a2_m3, a2_m6], holder=zhao, at=local(date(2026, 2, 15)), by=manager
    )
    assign_at(db, [b1], holder=zhao, at=local(date(2026, 2, 20)), by=manager)
    assign_at(db, [b2], holder=wang, at=local(date(2026, 2, 20)), by=manager)
    assign_at(db, [a1_pooled], holder=None, at=local(date(2026, 3, 5), 16), by=manager)
    assign_at(db, [a1_moved], holder=wang, at=local(date(2026, 3, 15), 10), by=manager)

    payments: list = []

    def paid(case, amount, day, *, kind="repayment", outcome="confirm"):
        by = case.holder or manager
        payment = record_payment(
            case, amount=Decimal(amount), paid_on=day, user=by, kind=kind, reference=""
        )
        if kind == CLAIM and outcome == "confirm":
            confirm_payment(payment, manager)
        elif kind == CLAIM and outcome == "reject":
            reject_payment(payment, manager, "not in the bank's statement")
        payments.append(payment)
        return payment

    paid(a1_li, "30.00", date(2026, 2, 28))
    paid(a1_li, "100.50", date(2026, 3, 1))
    paid(a1_li, "200.00", date(2026, 3, 2))
    paid(a1_li, "0.01", date(2026, 3, 31))
    paid(a1_li, "50.00", date(2026, 4, 1))
    paid(a1_li, "999.00", date(2026, 3, 18), kind=CLAIM, outcome="pending")
    paid(a1_li, "888.00", date(2026, 3, 19), kind=CLAIM, outcome="reject")
    paid(a1_moved, "300.00", date(2026, 3, 14))
    paid(a1_moved, "400.00", date(2026, 3, 15))
    paid(a1_moved, "123.45", date(2026, 3, 20), kind=CLAIM)
    paid(a1_pooled, "77.77", date(2026, 3, 10))
    paid(a1_never, "55.55", date(2026, 3, 12))
    paid(a2_m1, "1000.00", date(2026, 3, 7))
    paid(a2_m2, "33.33", date(2026, 3, 8))
    paid(a2_m3, "100.50", date(2026, 3, 21))
    paid(a2_m6, "0.01", date(2026, 3, 22))
    paid(a2_m6, "0.03", date(2026, 3, 23))
    paid(b1, "250.00", date(2026, 3, 9))
    paid(b1, "80.00", date(2026, 3, 28))
    paid(b2, "60.00", date(2026, 3, 16))
    paid(off1, "5000.00", date(2026, 3, 10))
    db.session.commit()

    return Seed(
        client_a=client_a,
        client_b=client_b,
        contract_a1=contract_a1,
        contract_a2=contract_a2,
        contract_off=contract_off,
        contract_b=contract_b,
        batch_a1=batch_a1,
        batch_a1_second=batch_a1_second,
        batch_a2=batch_a2,
        batch_b=batch_b,
        batch_off=batch_off,
        east=east,
        west=west,
        manager=manager,
        leader_east=leader_east,
        leader_west=leader_west,
        li=li,
        wang=wang,
        zhao=zhao,
        viewer_a=viewer_a,
        viewer_b=viewer_b,
        cases=cases,
        payments=payments,
    )


@pytest.fixture
def seeded(db, contract, make_user) -> Seed:
    """The seeded case file (:func:`make_seed`)."""
    return make_seed(db, contract, make_user)
