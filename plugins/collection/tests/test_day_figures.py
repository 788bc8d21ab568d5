"""The scorecard's per-day figures (``collection_day_figures``): kept as records and promises
are written, equal to the figures recomputed from the raw rows, rebuilt set-wise to the same
rows, completed when the module is switched on later, recounted when a result's meaning
changes."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete, select

from core import day_totals
from core.cases.models import Activity, ActivityDayTotal, Case
from core.cases.services import confirm_payment, record_activity, record_payment
from core.clients.models import ContractModule
from core.modules import enable_module
from core.plugins import all_hooks, hooks_for
from core.types import utcnow
from plugins.collection import day_figures, promises, results
from plugins.collection.models import DayFigures, Promise, ResultCode
from plugins.collection.tests.work_kit import SHANGHAI, held_cases
from tests.support.cases import make_cases

FIGURES = ("attempts", "right_party", "promises_made", "promises_kept", "promises_broken")
#: The module's own SMS and letter results: no attempt.
SYSTEM = {"sms_sent", "sms_queued", "sms_failed", "letter_printed"}


def today() -> date:
    return utcnow().astimezone(SHANGHAI).date()


def at(days_ago: int, hour: int, minute: int = 0) -> datetime:
    """A time ``days_ago`` days before today in Shanghai (the agency's and debtors' zone)."""
    day = today() - timedelta(days=days_ago)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


def stored(db) -> dict:
    """The table as ``{(day, contract, user): figures}``, rows left at zero (a promise moved
    away from a day) left out."""
    found = {}
    for row in db.session.scalars(select(DayFigures)):
        figures = tuple(getattr(row, name) for name in FIGURES)
        if any(figures):
            found[(row.day, row.contract_id, row.user_id)] = figures
    return found


def recomputed(db) -> dict:
    """The same figures counted here from every record and promise, by the scorecard's rules:
    contact records but the module's own SMS and letters, on contracts with the module on,
    right-party by what the contract's results mean now; promises on the day made, and kept
    or broken on the day judged so."""
    on = set(db.session.scalars(select(ContractModule.contract_id).filter_by(module="collection")))
    contracts = {case.id: case.contract for case in db.session.scalars(select(Case))}
    reached = {
        contract.id: results.results_with_outcomes(contract, results.RIGHT_PARTY_OUTCOMES)
        for contract in contracts.values()
    }
    sums: dict[tuple, list[int]] = {}

    def bump(moment, contract_id, user_id, figure):
        key = (moment.astimezone(SHANGHAI).date(), contract_id, user_id or day_totals.NO_USER)
        sums.setdefault(key, [0] * len(FIGURES))[FIGURES.index(figure)] += 1

    for entry in db.session.scalars(select(Activity)):
        contract_id = contracts[entry.case_id].id
        if entry.kind != "contact" or entry.result in SYSTEM or contract_id not in on:
            continue
        bump(entry.at, contract_id, entry.user_id, "attempts")
        if entry.result in reached[contract_id]:
            bump(entry.at, contract_id, entry.user_id, "right_party")
    for promise in db.session.scalars(select(Promise)):
        contract_id = contracts[promise.case_id].id
        assert promise.contract_id == contract_id
        bump(promise.created_at, contract_id, promise.user_id, "promises_made")
        if promise.status in ("kept", "broken"):
            bump(promise.evaluated_at, contract_id, promise.user_id, f"promises_{promise.status}")
    return {key: tuple(figures) for key, figures in sums.items()}


def rebuilt(db) -> dict:
    day_figures.rebuild()
    db.session.commit()
    return stored(db)


def contact(case, user, when, result, **fields):
    """A contact record through the core's service (and so the module's hook)."""
    return record_activity(case, user, at=when, channel=fields.pop("channel", "phone"),
                           target=case.mobile, result=result, **fields)  # fmt: skip


def promise_made(case, user, when, amount, due_on):
    return contact(case, user, when, "promise_to_pay", promise_amount=Decimal(amount),
                   promise_date=due_on)  # fmt: skip


@pytest.fixture
def mixed(db, world, english):
    """Li's and Wang's records and promises over the last days: right-party or not, an SMS,
    a visit, an import's record; promises replaced, kept, broken, and broken then kept by a
    late-confirmed payment dated in time."""
    li, wang = world.li, world.wang
    li_cases = held_cases(db, world, li, count=3, entrusted_amount=Decimal(5000))
    wang_cases = held_cases(db, world, wang, count=2, entrusted_amount=Decimal(5000))
    first, second, third = li_cases
    contact(first, li, at(3, 21, 30), "no_answer")  # late in the evening: still that day
    promise_made(first, li, at(2, 8, 30), "500", today() + timedelta(days=3))
    promise_made(first, li, at(1, 10), "300", today() + timedelta(days=5))  # replaces it
    contact(second, li, at(1, 9), "refuses")
    contact(second, li, at(1, 9, 5), "sms_sent", channel="sms", source="collection")
    contact(second, li, at(1, 9, 10), "", kind="visit")
    contact(second, None, at(2, 12), "无人接听", source="import")  # nobody's
    promise_made(third, li, at(4, 11), "100", today() - timedelta(days=1))  # to be broken
    late, paid = wang_cases
    promise_made(late, wang, at(3, 10), "200", today() - timedelta(days=1))
    promise_made(paid, wang, at(2, 15), "100", today() + timedelta(days=2))
    contact(paid, wang, at(2, 16), "busy")
    db.session.commit()
    claim = record_payment(late, amount=Decimal(200), paid_on=today() - timedelta(days=1),
                           user=wang, kind="claim")  # fmt: skip
    assert promises.evaluate_due(today()) == {"kept": 0, "broken": 2}  # the claim not confirmed
    db.session.commit()
    confirm_payment(claim, world.manager)  # dated in time: the broken promise turns kept
    record_payment(paid, amount=Decimal(100), paid_on=today(), user=None)
    db.session.commit()
    return world


def test_the_figures_follow_records_and_promises_as_they_are_written(db, mixed):
    figures = stored(db)
    assert figures == recomputed(db)
    # As seeded, so the count above cannot share a mistake with the table.
    totals: dict[int, list[int]] = {}
    for (_day, contract_id, user_id), row in figures.items():
        assert contract_id == mixed.contract.id
        total = totals.setdefault(user_id, [0] * len(FIGURES))
        for n, value in enumerate(row):
            total[n] += value
    assert totals == {
        mixed.li.id: [5, 4, 3, 0, 1],  # the replaced promise is never judged
        mixed.wang.id: [3, 2, 2, 2, 0],  # the broken one kept by the late-confirmed claim
        day_totals.NO_USER: [1, 0, 0, 0, 0],
    }
    statuses = sorted(p.status for p in db.session.scalars(select(Promise)))
    assert statuses == ["broken", "kept", "kept", "pending", "replaced"]


def test_the_rebuild_gives_the_same_rows(db, mixed):
    before = stored(db)
    assert rebuilt(db) == before
    day_figures.rebuild_contract(mixed.contract)
    db.session.commit()
    assert stored(db) == before


def scorecard(world, start: date, end: date) -> dict[int, dict]:
    """The collection module's scorecard of ``[start, end)`` for the manager, per user."""
    (found,) = hooks_for(world.contract).report_sections(
        contract=world.contract, start=start, end=end, user=world.manager
    )
    section = next(s for s in found if s.key == "collection.scorecard")
    return {row["user_id"]: row for row in section.rows}


def test_the_scorecard_reads_the_figures(db, mixed):
    rows = scorecard(mixed, today() - timedelta(days=7), today() + timedelta(days=1))
    keys = (*FIGURES, "promises_judged")
    assert {k: rows[mixed.li.id][k] for k in keys} == {
        "attempts": 5, "right_party": 4, "promises_made": 3, "promises_kept": 0,
        "promises_broken": 1, "promises_judged": 1,
    }  # fmt: skip
    assert {k: rows[mixed.wang.id][k] for k in keys} == {
        "attempts": 3, "right_party": 2, "promises_made": 2, "promises_kept": 2,
        "promises_broken": 0, "promises_judged": 2,
    }  # fmt: skip
    # A period of one day: only its figures (Li's promise made four days ago).
    rows = scorecard(mixed, today() - timedelta(days=4), today() - timedelta(days=3))
    assert list(rows) == [mixed.li.id]
    assert (rows[mixed.li.id]["promises_made"], rows[mixed.li.id]["attempts"]) == (1, 1)


def test_records_written_before_the_module_was_switched_on_are_counted(
    db, contract, make_user, english
):
    later = contract()
    manager = make_user("manager", contracts=[later])
    (case,) = make_cases(db, later)
    record_activity(case, manager, at=at(2, 10), result="promise_to_pay", target=case.mobile)
    record_activity(case, manager, at=at(1, 10), result="no_answer", target=case.mobile)
    db.session.commit()
    assert stored(db) == {}  # the module's hook was not called
    enable_module(later, "collection", None)
    db.session.commit()
    assert (
        stored(db)
        == recomputed(db)
        == {
            (at(2, 10).date(), later.id, manager.id): (1, 1, 0, 0, 0),
            (at(1, 10).date(), later.id, manager.id): (1, 0, 0, 0, 0),
        }
    )


def test_a_result_whose_meaning_changes_is_counted_again(db, world, english):
    (case,) = held_cases(db, world, world.li)
    contact(case, world.li, at(1, 10), "left_message")
    contact(case, None, at(1, 11), "已接通谈话", source="import")  # a bank's own wording
    db.session.commit()
    key = (at(1, 10).date(), world.contract.id, world.li.id)
    assert stored(db)[key] == (1, 0, 0, 0, 0)

    row = db.session.scalar(
        select(ResultCode).filter_by(contract_id=world.contract.id, code="left_message")
    )
    results.update_code(row, label=row.label, outcome="right_party", active=True,
                        user=world.manager)  # fmt: skip
    db.session.commit()
    assert stored(db)[key] == (1, 1, 0, 0, 0)
    assert stored(db) == recomputed(db)

    imported = (at(1, 11).date(), world.contract.id, day_totals.NO_USER)
    assert stored(db)[imported] == (1, 0, 0, 0, 0)
    results.add_code(world.contract, code="talked", label="已接通谈话", outcome="right_party",
                     user=world.manager)  # fmt: skip
    db.session.commit()
    assert stored(db)[imported] == (1, 1, 0, 0, 0)
    assert stored(db) == recomputed(db)

    # A new record counts by the meaning as it is now.
    contact(case, world.li, at(1, 12), "left_message")
    db.session.commit()
    assert stored(db)[key] == (2, 2, 0, 0, 0) and stored(db) == recomputed(db)


def test_hook_rebuild_day_totals(db, mixed):
    """``maple db rebuild-totals`` rebuilds the core's table and this module's."""
    core_before = db.session.execute(select(ActivityDayTotal.__table__)).all()
    ours_before = stored(db)
    assert core_before and ours_before
    db.session.execute(delete(ActivityDayTotal))
    db.session.execute(delete(DayFigures))
    # A stray row of figures nothing backs (a bulk load around the ORM, say): rebuilt away.
    day_totals.add(DayFigures.__table__, {"day": today(), "contract_id": mixed.contract.id,
                                          "user_id": mixed.li.id}, {"attempts": 7})  # fmt: skip
    db.session.commit()
    all_hooks().rebuild_day_totals()
    db.session.commit()
    assert sorted(db.session.execute(select(ActivityDayTotal.__table__)).all()) == sorted(
        core_before
    )
    assert stored(db) == ours_before == recomputed(db)
