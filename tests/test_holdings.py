"""Holdings per day (``holding_day_changes``): what each holder held at the end of a day,
summed from the changes, equals what the holders' history says directly, as cases are
assigned, handed over, recalled to the pool, backdated and re-priced by an import; the
confirmed payments per day (``payment_day_totals``) are attributed as each payment's holder
at the end of its day says, also after a later hand-over; and the rebuild gives the same
sums."""

from __future__ import annotations

import io
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update
from support.cases import make_batch, make_cases
from support.workbooks import xlsx_bytes

from core.auth.models import Team
from core.cases import holdings, services
from core.cases.models import (
    CONFIRMED,
    Case,
    CaseAssignment,
    HoldingChange,
    Payment,
    PaymentDayTotal,
)
from core.day_totals import NO_USER
from core.imports import services as imports
from core.types import agency_zone

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAYS = [date(2026, 3, d) for d in range(1, 8)]


def summed(db, day: date) -> dict:
    """``{(contract, holder, team): (cases, cents)}`` at the end of ``day``, from the
    changes, sums of zero left out."""
    c = HoldingChange.__table__.c
    keys = (c.contract_id, c.user_id, c.team_id)
    rows = db.session.execute(
        select(*keys, func.sum(c.cases), func.sum(c.entrusted_cents))
        .where(c.day <= day)
        .group_by(*keys)
    )
    return {tuple(key): (int(n), int(cents)) for *key, n, cents in rows if n or cents}


def from_history(db, day: date) -> dict:
    """The same, counted here from every assignment: held at the end of ``day`` when it
    began before the next local midnight and had not ended by then."""
    midnight = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=agency_zone())
    found: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    rows = db.session.execute(select(CaseAssignment, Case).join(Case))
    for assignment, case in rows:
        if assignment.assigned_at >= midnight:
            continue
        if assignment.ended_at is not None and assignment.ended_at < midnight:
            continue
        key = (
            case.contract_id,
            assignment.user_id or NO_USER,
            assignment.team_id or holdings.NO_TEAM,
        )
        found[key][0] += 1
        found[key][1] += int(case.entrusted_amount * 100)
    return {key: tuple(figures) for key, figures in found.items()}


def paid(db) -> dict:
    """``{(day, contract, holder, team): (payments, cents)}`` as stored, zeros left out."""
    rows = db.session.scalars(select(PaymentDayTotal))
    found = {(r.day, r.contract_id, r.user_id, r.team_id): (r.payments, r.paid_cents)
             for r in rows}  # fmt: skip
    return {key: figures for key, figures in found.items() if any(figures)}


def paid_from_history(db) -> dict:
    """The same, counted here: each confirmed payment for the assignment covering the
    midnight after its day."""
    found: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    assignments = list(db.session.scalars(select(CaseAssignment)))
    payments = db.session.execute(
        select(Payment, Case).join(Case).where(Payment.status == CONFIRMED)
    )
    for payment, case in payments:
        midnight = datetime.combine(
            payment.paid_on + timedelta(days=1), datetime.min.time(), tzinfo=agency_zone()
        )
        holder = [a for a in assignments if a.case_id == case.id and a.assigned_at < midnight
                  and (a.ended_at is None or a.ended_at >= midnight)]  # fmt: skip
        assert len(holder) <= 1
        key = (
            payment.paid_on,
            case.contract_id,
            (holder[0].user_id or NO_USER) if holder else NO_USER,
            (holder[0].team_id or holdings.NO_TEAM) if holder else holdings.NO_TEAM,
        )
        found[key][0] += 1
        found[key][1] += int(payment.amount * 100)
    return {key: tuple(figures) for key, figures in found.items()}


def agree(db) -> None:
    db.session.commit()
    for day in DAYS:
        assert summed(db, day) == from_history(db, day), day
    assert paid(db) == paid_from_history(db)


def backdate(db, cases, at: datetime) -> None:
    """Date the cases' open assignments back to ``at``, through the writers' own wrapper."""
    with holdings.changing(case.id for case in cases):
        db.session.execute(
            update(CaseAssignment)
            .where(CaseAssignment.case_id.in_([case.id for case in cases]))
            .where(CaseAssignment.ended_at.is_(None))
            .values(assigned_at=at)
        )


def end_open(db, cases, at: datetime) -> None:
    with holdings.changing(case.id for case in cases):
        db.session.execute(
            update(CaseAssignment)
            .where(CaseAssignment.case_id.in_([case.id for case in cases]))
            .where(CaseAssignment.ended_at.is_(None), CaseAssignment.assigned_at < at)
            .values(ended_at=at)
        )


@pytest.fixture
def book(db, contract, make_user):
    """Five cases in two batches of one contract and one in no batch; two collectors of a
    team, and an admin who assigns."""
    first = contract()
    batch_a, batch_b = make_batch(db, first), make_batch(db, first)
    team = Team(name="一组")
    db.session.add(team)
    db.session.commit()
    alice = make_user("collector", username="alice", team=team)
    bob = make_user("collector", username="bob")
    admin = make_user("admin", username="boss")
    cases = (
        make_cases(db, first, batch_a, count=3)
        + make_cases(db, first, batch_b, count=2)
        + make_cases(db, first, count=1)
    )
    return {"cases": cases, "alice": alice, "bob": bob, "admin": admin, "team": team}


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A Shanghai wall-clock moment in March 2026, in UTC."""
    return datetime(2026, 3, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


def test_assignments_and_hand_overs_are_summed_per_local_day(db, book):
    cases, alice, bob, admin = book["cases"], book["alice"], book["bob"], book["admin"]
    services.assign(cases[:4], holder=alice, user=admin)
    backdate(db, cases[:4], at(1, 23, 59))  # the last minute of the 1st
    services.assign(cases[4:], holder=bob, user=admin, team=book["team"])
    backdate(db, cases[4:], at(2, 0, 0))  # the first minute of the 2nd
    end_open(db, cases[:2], at(4, 9))
    services.assign(cases[:2], holder=bob, user=admin)  # bob holds them from now on
    agree(db)
    held_on_1st = summed(db, date(2026, 3, 1))
    assert sum(n for n, _cents in held_on_1st.values()) == 4
    assert {key[1] for key in held_on_1st} == {alice.id}
    assert sum(n for n, _cents in summed(db, date(2026, 3, 3)).values()) == 6
    # On the 4th alice's two cases ended at 09:00 and bob's new assignment began today: none.
    assert sum(n for n, _cents in summed(db, date(2026, 3, 5)).values()) == 4


def test_a_recall_to_the_pool_counts_for_nobody(db, book):
    cases, alice, admin = book["cases"], book["alice"], book["admin"]
    services.assign(cases, holder=alice, user=admin)
    backdate(db, cases, at(2, 10))
    end_open(db, cases[:3], at(3, 10))
    services.assign(cases[:3], holder=None, user=admin, team=book["team"])
    backdate(db, cases[:3], at(3, 10))
    agree(db)
    pooled = {key: figures for key, figures in summed(db, date(2026, 3, 3)).items()
              if key[1] == NO_USER}  # fmt: skip
    assert sum(n for n, _cents in pooled.values()) == 3
    assert {key[2] for key in pooled} == {book["team"].id}


def test_a_new_entrusted_amount_counts_on_every_day_held(db, book):
    cases, alice, admin = book["cases"], book["alice"], book["admin"]
    services.assign(cases, holder=alice, user=admin)
    backdate(db, cases, at(2, 10))
    case = cases[0]
    with holdings.changing([case.id]):
        db.session.execute(
            update(Case)
            .where(Case.id == case.id)
            .values(entrusted_amount=case.entrusted_amount + 1)
        )
    db.session.expire_all()
    agree(db)


def test_an_update_import_re_prices_the_holdings(db, book, app_config, tmp_path):
    app_config["UPLOAD_FOLDER"] = str(tmp_path / "uploads")
    cases, alice, admin = book["cases"], book["alice"], book["admin"]
    services.assign(cases, holder=alice, user=admin)
    backdate(db, cases, at(2, 10))
    db.session.commit()
    rows = [["个案序列号", "委案金额"], [cases[0].serial, "4321.09"], [cases[1].serial, "1.00"]]
    batch = db.session.get(Case, cases[0].id).batch
    run = imports.start_import(batch, "update_cases", io.BytesIO(xlsx_bytes(rows)), "u.xlsx", admin)
    db.session.commit()
    report = imports.commit(run.id, user=admin)
    assert report["updated"] == 2, report
    db.session.expire_all()
    assert db.session.get(Case, cases[0].id).entrusted_amount == Decimal("4321.09")
    agree(db)
    assert summed(db, date(2026, 3, 2))[(batch.contract_id, alice.id, book["team"].id)][1] == (
        432109 + 100 + sum(int(case.entrusted_amount * 100) for case in cases[2:])
    )


def test_the_rebuild_gives_the_same_sums(app, db, book):
    cases, alice, bob, admin = book["cases"], book["alice"], book["bob"], book["admin"]
    services.assign(cases, holder=alice, user=admin)
    backdate(db, cases, at(1, 12))
    end_open(db, cases[:3], at(5, 8))
    services.assign(cases[:3], holder=bob, user=admin)
    backdate(db, cases[:3], at(5, 8))
    db.session.commit()
    for n, case in enumerate(cases):
        services.record_payment(case, amount=Decimal("3.30") * (n + 1),
                                paid_on=date(2026, 3, 1 + n), user=None)  # fmt: skip
    db.session.commit()
    kept = {day: summed(db, day) for day in DAYS}, paid(db)
    db.session.execute(HoldingChange.__table__.delete())
    db.session.execute(PaymentDayTotal.__table__.delete())
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["db", "rebuild-totals"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert ({day: summed(db, day) for day in DAYS}, paid(db)) == kept
    agree(db)


def test_payments_count_for_the_holder_at_the_end_of_their_day(db, book):
    cases, alice, bob, admin = book["cases"], book["alice"], book["bob"], book["admin"]
    services.assign(cases, holder=alice, user=admin)
    backdate(db, cases, at(1, 9))
    for n, case in enumerate(cases):
        services.record_payment(case, amount=Decimal("10.01") * (n + 1),
                                paid_on=date(2026, 3, 4), user=None)  # fmt: skip
    # A claim counts once confirmed; a rejected one never.
    claim = services.record_payment(cases[0], amount=Decimal("5.55"), paid_on=date(2026, 3, 3),
                                    user=alice, kind="claim")  # fmt: skip
    rejected = services.record_payment(cases[1], amount=Decimal("7.77"), paid_on=date(2026, 3, 3),
                                       user=alice, kind="claim")  # fmt: skip
    agree(db)
    assert sum(n for n, _cents in paid(db).values()) == len(cases)
    services.confirm_payment(claim, admin)
    services.reject_payment(rejected, admin, "no such transfer")
    agree(db)
    assert paid(db)[(date(2026, 3, 3), cases[0].contract_id, alice.id,
                     book["team"].id)] == (1, 555)  # fmt: skip
    # Handed to bob at 09:00 on the 4th: the 4th's payments are his, the 3rd's stay alice's.
    end_open(db, cases[:2], at(4, 9))
    services.assign(cases[:2], holder=bob, user=admin)
    backdate(db, cases[:2], at(4, 9))
    agree(db)
    on_4th = {key[2] for key in paid(db) if key[0] == date(2026, 3, 4)}
    assert on_4th == {alice.id, bob.id}
    assert {key[2] for key in paid(db) if key[0] == date(2026, 3, 3)} == {alice.id}


def test_a_payment_on_a_case_nobody_held_counts_for_nobody(db, book):
    (case,) = book["cases"][:1]
    services.record_payment(case, amount=Decimal("1.00"), paid_on=date(2026, 3, 2), user=None)
    agree(db)
    assert list(paid(db)) == [(date(2026, 3, 2), case.contract_id, NO_USER, holdings.NO_TEAM)]


def test_a_change_that_fails_half_way_leaves_the_sums_true(db, book):
    """A writer that raises after part of its change, and a caller that commits anyway: the
    cases are put back as they then stand."""
    cases, alice, admin = book["cases"], book["alice"], book["admin"]
    services.assign(cases, holder=alice, user=admin)
    backdate(db, cases, at(2, 10))
    with pytest.raises(RuntimeError), holdings.changing(case.id for case in cases):
        db.session.execute(
            update(CaseAssignment)
            .where(CaseAssignment.case_id == cases[0].id, CaseAssignment.ended_at.is_(None))
            .values(ended_at=at(3, 10))
        )
        raise RuntimeError("the rest of the change failed")
    agree(db)
    assert sum(n for n, _cents in summed(db, date(2026, 3, 3)).values()) == len(cases) - 1


@pytest.fixture
def berlin(app):
    """An agency in a zone with daylight saving (CET → CEST on 29 March 2026, 01:00 UTC)."""
    app.config["BABEL_DEFAULT_TIMEZONE"] = "Europe/Berlin"
    yield
    app.config["BABEL_DEFAULT_TIMEZONE"] = "Asia/Shanghai"


def test_a_payment_day_ends_at_its_own_midnight_across_daylight_saving(db, book, berlin):
    """The 29th ends at 22:00 UTC (CEST), the 28th at 23:00 UTC (CET): a hand-over at 22:30
    UTC on the 29th comes after the end of the 29th, so that day's payment stays Alice's."""
    cases, alice, bob, admin = book["cases"], book["alice"], book["bob"], book["admin"]
    services.assign(cases[:1], holder=alice, user=admin)
    backdate(db, cases[:1], datetime(2026, 3, 20, 9, tzinfo=UTC))
    for day in (28, 29):
        services.record_payment(cases[0], amount=Decimal("2.00"), paid_on=date(2026, 3, day),
                                user=None)  # fmt: skip
    handed = datetime(2026, 3, 29, 22, 30, tzinfo=UTC)
    end_open(db, cases[:1], handed)
    services.assign(cases[:1], holder=bob, user=admin)
    backdate(db, cases[:1], handed)
    db.session.commit()
    assert paid(db) == paid_from_history(db)
    assert {key[2] for key in paid(db)} == {alice.id}
