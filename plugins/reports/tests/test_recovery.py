"""The recovery report (回款) on the seed case file: every figure is compared to the cent
with one computed here from the raw payments and holders' history."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.cases.models import CONFIRMED, Case, CaseAssignment, Payment
from core.day_totals import cents
from plugins.reports.framework import ReportFilter, Scope
from plugins.reports.recovery import recovery
from plugins.reports.tests.seed import SHANGHAI, Seed, make_seed

MARCH = {"start": "2026-03-01", "end": "2026-03-31"}


@pytest.fixture
def seed(db, contract, make_user) -> Seed:
    return make_seed(db, contract, make_user)


def build(user, **args):
    report_filter = ReportFilter.from_args({**MARCH, **args})
    assert not report_filter.errors
    by_period, by_group = recovery(Scope.of(user, report_filter)).tables
    return by_period, by_group


# -- the figures, independently ------------------------------------------------------------


def holder_at_end_of(db, case_id: int, day: date):
    """(user_id, team_id) of the assignment holding the case when the next local day began."""
    instant = datetime.combine(day + timedelta(days=1), time(0), tzinfo=SHANGHAI)
    for row in db.session.scalars(select(CaseAssignment).filter_by(case_id=case_id)):
        if row.assigned_at < instant and (row.ended_at is None or row.ended_at >= instant):
            team = row.team_id if row.team_id is not None else (row.user and row.user.team_id)
            return row.user_id, team
    return None, None


def counted(db, contracts, start=date(2026, 3, 1), end=date(2026, 3, 31)):
    """The confirmed payments of ``contracts`` paid from ``start`` to ``end``, each with its
    case and (holder, team) at the end of the payment day."""
    ids = {c.id for c in contracts}
    out = []
    for payment in db.session.scalars(select(Payment).order_by(Payment.id)):
        case = db.session.get(Case, payment.case_id)
        in_period = start <= payment.paid_on <= end
        if payment.status == CONFIRMED and in_period and case.contract_id in ids:
            out.append((payment, case, holder_at_end_of(db, case.id, payment.paid_on)))
    return out


def reported(seed):
    return [seed.contract_a1, seed.contract_a2, seed.contract_b]


def total(lines) -> Decimal:
    return sum((payment.amount for payment, _case, _who in lines), Decimal("0.00"))


# -- totals and periods ----------------------------------------------------------------------


@pytest.mark.parametrize("group", ["client", "contract", "batch", "team", "collector"])
def test_totals_match_the_sum_of_payments_to_the_cent(db, seed, group):
    lines = counted(db, reported(seed))
    by_period, by_group = build(seed.manager, group=group, period="day")
    expected = total(lines)
    assert expected == Decimal("2781.15")
    assert by_period.totals["recovered"] == expected
    assert by_group.totals["recovered"] == expected
    assert sum(row["recovered"] for row in by_period.rows) == expected
    assert sum(row["recovered"] for row in by_group.rows) == expected
    assert by_period.totals["payments"] == by_group.totals["payments"] == len(lines)
    assert sum(row["payments"] for row in by_group.rows) == len(lines)
    assert by_period.totals["cases"] == len({case.id for _p, case, _w in lines})


def test_pending_and_rejected_claims_and_other_months_do_not_count(db, seed):
    by_period, _ = build(seed.manager, period="month")
    left_out = [p for p in seed.payments if p.status != CONFIRMED or p.paid_on.month != 3]
    assert {p.amount for p in left_out} >= {Decimal("999.00"), Decimal("888.00")}
    assert by_period.rows == [
        {"period": "2026-03", "payments": 16, "cases": 10, "recovered": Decimal("2781.15")}
    ]


def test_a_contract_without_the_reports_module_is_not_counted(db, seed):
    _, by_group = build(seed.manager, group="contract")
    assert seed.contract_off.number not in {row["name"] for row in by_group.rows}
    everything = total(counted(db, [*reported(seed), seed.contract_off]))
    assert by_group.totals["recovered"] == everything - Decimal("5000.00")


def test_months_end_on_their_last_day(db, seed):
    by_period, _ = build(seed.manager, start="2026-02-01", end="2026-04-30", period="month")
    per_month = defaultdict(Decimal)
    for payment, _case, _who in counted(db, reported(seed), date(2026, 2, 1), date(2026, 4, 30)):
        per_month[payment.paid_on.strftime("%Y-%m")] += payment.amount
    assert [(row["period"], row["recovered"]) for row in by_period.rows] == [
        ("2026-02", Decimal("30.00")),
        ("2026-03", Decimal("2781.15")),
        ("2026-04", Decimal("50.00")),
    ]
    assert {row["period"]: row["recovered"] for row in by_period.rows} == per_month


def test_weeks_start_on_monday(db, seed):
    by_period, _ = build(seed.manager, period="week")
    weeks = {row["period"]: row for row in by_period.rows}
    # Sunday 1 March belongs to the week of Monday 23 February; Monday 2 March starts a week.
    assert list(weeks) == [
        "2026-02-23", "2026-03-02", "2026-03-09", "2026-03-16", "2026-03-23", "2026-03-30"
    ]  # fmt: skip
    expected = defaultdict(Decimal)
    for payment, _case, _who in counted(db, reported(seed)):
        monday = payment.paid_on - timedelta(days=payment.paid_on.weekday())
        expected[monday.isoformat()] += payment.amount
    assert {k: row["recovered"] for k, row in weeks.items() if row["payments"]} == expected
    assert weeks["2026-02-23"]["recovered"] == Decimal("100.50")
    assert weeks["2026-03-30"]["recovered"] == Decimal("0.01")


def test_days_show_every_day_of_the_period(db, seed):
    by_period, _ = build(seed.manager, period="day")
    assert len(by_period.rows) == 31
    days = {row["period"]: row["recovered"] for row in by_period.rows}
    assert days["2026-03-31"] == Decimal("0.01")
    assert days["2026-03-04"] == Decimal("0.00")


# -- who gets the payment --------------------------------------------------------------------


def test_a_payment_belongs_to_who_held_the_case_at_the_end_of_the_day(db, seed, english):
    _, by_group = build(seed.manager, group="collector")
    rows = {row["name"]: row for row in by_group.rows}
    expected = defaultdict(Decimal)
    for payment, _case, (holder, _team) in counted(db, reported(seed)):
        expected[holder] += payment.amount
    assert rows["李催收"]["recovered"] == expected[seed.li.id]
    assert rows["王催收"]["recovered"] == expected[seed.wang.id]
    assert rows["赵催收"]["recovered"] == expected[seed.zhao.id]
    assert rows["(not held)"]["recovered"] == expected[None] == Decimal("133.32")
    # The case changed hands on 15 March at 10:00: the 14th is li's, the 15th wang's.
    moved = seed.cases["a1_moved"]
    assert holder_at_end_of(db, moved.id, date(2026, 3, 14))[0] == seed.li.id
    assert holder_at_end_of(db, moved.id, date(2026, 3, 15))[0] == seed.wang.id
    assert rows["李催收"]["recovered"] == Decimal("100.50") + Decimal("200.00") + Decimal(
        "0.01"
    ) + Decimal("300.00")


def test_teams_get_their_members_payments(db, seed, english):
    _, by_group = build(seed.manager, group="team")
    rows = {row["name"]: row["recovered"] for row in by_group.rows}
    expected = defaultdict(Decimal)
    for payment, _case, (_holder, team) in counted(db, reported(seed)):
        expected[team] += payment.amount
    assert rows == {
        seed.east.name: expected[seed.east.id],
        seed.west.name: expected[seed.west.id],
        "(no team)": expected[None],
    }


def test_entrusted_of_collectors_and_teams_is_what_they_hold_at_the_end(db, seed, english):
    held = defaultdict(lambda: [0, Decimal("0.00")])
    by_team = defaultdict(lambda: [0, Decimal("0.00")])
    for contract in reported(seed):
        for case in db.session.scalars(select(Case).filter_by(contract_id=contract.id)):
            holder, team = holder_at_end_of(db, case.id, date(2026, 3, 31))
            for bucket, key in ((held, holder), (by_team, team)):
                if key is not None:
                    bucket[key][0] += 1
                    bucket[key][1] += case.entrusted_amount
    _, by_group = build(seed.manager, group="collector")
    rows = {row["name"]: row for row in by_group.rows}
    for user in (seed.li, seed.wang, seed.zhao):
        assert [rows[user.display_name]["cases"], rows[user.display_name]["entrusted"]] == (
            held[user.id]
        )
    # a1_moved went to wang on 15 March, a1_pooled back to the pool on the 5th.
    assert rows["李催收"]["entrusted"] == seed.cases["a1_li"].entrusted_amount
    assert rows["李催收"]["rate"] == (
        rows["李催收"]["recovered"] / rows["李催收"]["entrusted"]
    ).quantize(Decimal("0.0001"))
    assert rows["(not held)"]["entrusted"] is None and rows["(not held)"]["rate"] is None
    assert by_group.totals["entrusted"] == sum(row[1] for row in held.values())
    assert by_group.totals["entrusted"] == sum(r["entrusted"] or 0 for r in by_group.rows)
    assert by_group.totals["cases"] == sum(row["cases"] for row in by_group.rows)
    _, by_group = build(seed.manager, group="team")
    rows = {row["name"]: row for row in by_group.rows}
    for team in (seed.east, seed.west):
        assert [rows[team.name]["cases"], rows[team.name]["entrusted"]] == by_team[team.id]


def test_a_collector_sees_the_entrusted_amount_they_hold(db, seed):
    _, by_group = build(seed.wang, group="collector")
    (row,) = by_group.rows
    assert row["entrusted"] == (
        seed.cases["a1_moved"].entrusted_amount + seed.cases["b2"].entrusted_amount
    )
    assert by_group.totals["entrusted"] == row["entrusted"]


@pytest.mark.parametrize("group", ["client", "contract", "batch"])
def test_a_collectors_entrusted_amount_is_the_same_by_any_breakdown(db, seed, group):
    """Over 1-14 March, li held a1_li and a1_moved at its end (a1_moved went to wang on the
    15th; a1_pooled back to the pool on the 5th): by collector and by contract, client or
    batch alike, though wang holds a1_moved now."""
    held = seed.cases["a1_li"].entrusted_amount + seed.cases["a1_moved"].entrusted_amount
    period = {"start": "2026-03-01", "end": "2026-03-14"}
    _, by_collector = build(seed.li, group="collector", **period)
    _, by_group = build(seed.li, group=group, **period)
    assert by_collector.totals["entrusted"] == held and by_collector.totals["cases"] == 2
    assert by_group.totals["entrusted"] == held and by_group.totals["cases"] == 2
    assert sum(row["entrusted"] for row in by_group.rows) == held
    assert by_group.totals["recovered"] == by_collector.totals["recovered"]


def test_entrusted_of_contracts_is_their_cases(db, seed):
    _, by_group = build(seed.manager, group="contract")
    rows = {row["name"]: row for row in by_group.rows}
    for contract in reported(seed):
        cases = db.session.scalars(select(Case).filter_by(contract_id=contract.id)).all()
        entrusted = sum(case.entrusted_amount for case in cases)
        assert rows[contract.number]["entrusted"] == entrusted
        assert rows[contract.number]["cases"] == len(cases)
    assert by_group.totals["entrusted"] == sum(row["entrusted"] for row in by_group.rows)
    assert by_group.totals["rate"] == (
        by_group.totals["recovered"] / by_group.totals["entrusted"]
    ).quantize(Decimal("0.0001"))


def test_batch_filter_keeps_its_cases(db, seed):
    by_period, by_group = build(seed.manager, group="batch", batch=str(seed.batch_a1_second.id))
    assert [row["name"] for row in by_group.rows] == [seed.batch_a1_second.batch_no]
    assert by_period.totals["recovered"] == Decimal("77.77") + Decimal("55.55")


# -- who sees what -----------------------------------------------------------------------------


def test_a_collector_sees_only_their_own_payments(db, seed):
    for collector in (seed.li, seed.wang, seed.zhao):
        by_period, by_group = build(collector, group="collector")
        own = [line for line in counted(db, reported(seed)) if line[2][0] == collector.id]
        assert by_period.totals["recovered"] == total(own)
        assert by_period.totals["payments"] == len(own)
        assert [row["name"] for row in by_group.rows] == [collector.display_name]


def test_a_team_leader_sees_their_team(db, seed):
    by_period, by_group = build(seed.leader_east, group="collector")
    east = [line for line in counted(db, reported(seed)) if line[2][1] == seed.east.id]
    assert by_period.totals["recovered"] == total(east)
    assert {row["name"] for row in by_group.rows} == {"李催收", "王催收"}
    by_period, _ = build(seed.leader_west)
    west = [line for line in counted(db, reported(seed)) if line[2][1] == seed.west.id]
    assert by_period.totals["recovered"] == total(west)


def test_a_manager_filters_a_team_or_a_collector(db, seed):
    by_period, _ = build(seed.manager, team=str(seed.west.id))
    west = [line for line in counted(db, reported(seed)) if line[2][1] == seed.west.id]
    assert by_period.totals["recovered"] == total(west)
    by_period, _ = build(seed.manager, collector=str(seed.wang.id))
    wang = [line for line in counted(db, reported(seed)) if line[2][0] == seed.wang.id]
    assert by_period.totals["recovered"] == total(wang)


def test_a_client_viewer_sees_only_its_client(db, seed):
    by_period, by_group = build(seed.viewer_a, group="contract")
    assert by_period.totals["recovered"] == total(counted(db, [seed.contract_a1, seed.contract_a2]))
    assert {row["name"] for row in by_group.rows} == {
        seed.contract_a1.number,
        seed.contract_a2.number,
    }
    by_period, by_group = build(seed.viewer_b, group="client")
    assert by_period.totals["recovered"] == total(counted(db, [seed.contract_b]))
    assert [row["name"] for row in by_group.rows] == [seed.client_b.name]
    # Asking for the other client's contract gives nothing, not its figures.
    by_period, by_group = build(seed.viewer_b, contract=str(seed.contract_a1.id))
    assert by_period.totals["recovered"] == Decimal("0.00") and by_group.rows == []


def test_a_user_with_no_contract_gets_empty_tables(db, seed, make_user):
    nobody = make_user("collector", username="no_contracts")
    by_period, by_group = build(nobody, period="week")
    assert by_period.totals["recovered"] == Decimal("0.00")
    assert len(by_period.rows) == 6 and by_group.rows == []


@pytest.mark.parametrize("start", ["2026-02-15", "2026-03-01", "2026-03-20"])
def test_the_per_day_totals_give_what_the_history_and_payments_give(db, seed, start):
    """What each holder held at the end of a period and was paid in it, read from the
    per-day totals, equals the same read from the holders' history and every payment (which
    a report of one batch reads): for everyone's figures, a team's and a collector's."""
    from plugins.reports.recovery import (
        _held_at_end,
        _held_at_end_in_history,
        attributed_payments,
        paid_per_holder,
    )

    def ordered(found):
        return sorted((tuple(row) for row in found if row[-1]), key=repr)

    def rows(cte):
        return ordered(db.session.execute(select(cte)))

    for user in (seed.manager, seed.leader_east, seed.li, seed.viewer_a):
        report_filter = ReportFilter.from_args({"start": start, "end": "2026-03-31"})
        scope = Scope.of(user, report_filter)
        assert rows(_held_at_end(scope)) == rows(_held_at_end_in_history(scope)), user
        paid = attributed_payments(scope).subquery()
        keys = (paid.c.holder_id, paid.c.team_id)
        from_payments = select(*keys, func.sum(cents(paid.c.amount))).group_by(*keys)
        assert rows(paid_per_holder(scope)) == ordered(db.session.execute(from_payments)), user
