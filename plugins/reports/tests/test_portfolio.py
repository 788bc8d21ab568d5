"""The portfolio report on the seed case file: every figure is compared to the cent with one
computed here from the ``Case`` rows themselves, for each kind of user."""

from __future__ import annotations

import io
from decimal import Decimal

import openpyxl
import pytest
from flask_babel import force_locale
from sqlalchemy import select

from core.cases.filters import BUCKETS
from core.cases.models import Case
from core.cases.services import status_title
from plugins.reports.framework import REPORTS, ReportFilter, Scope
from plugins.reports.portfolio import NONE_LABEL, portfolio
from plugins.reports.tests.seed import Seed, make_seed


@pytest.fixture
def seed(db, contract, make_user) -> Seed:
    """The seed, with areas, statuses and buckets spread so every table has several rows."""
    seed = make_seed(db, contract, make_user)
    spread = {
        "a1_li": ("苏南", "normal", "M2"),
        "a1_moved": ("苏南", "paused", "M3"),
        "a1_pooled": ("苏北", "normal", ""),
        "a1_never": ("", "settled", "M1"),
        "a2_m1": ("苏北", "normal", "M1"),
        "a2_m2": ("苏中", "closed", "M2"),
        "a2_m3": ("苏中", "returned", "X9"),
        "b1": ("杭州", "normal", "M4"),
        "off1": ("苏南", "normal", "M2"),
    }
    for name, (area, status, bucket) in spread.items():
        case = seed.cases[name]
        case.area, case.status, case.bucket = area, status, bucket
    db.session.commit()
    return seed


def build(user, **args):
    report_filter = ReportFilter.from_args(args)
    assert not report_filter.errors
    with force_locale("en"):
        return portfolio(Scope.of(user, report_filter))


def tables(result) -> dict:
    return {table.key: table for table in result.tables}


def expected(cases, key) -> dict:
    """``label → (cases, entrusted, balance)`` from the rows, as the report labels them."""
    out: dict = {}
    for case in cases:
        label = key(case)
        count, entrusted, balance = out.get(label, (0, Decimal("0.00"), Decimal("0.00")))
        out[label] = (count + 1, entrusted + case.entrusted_amount, balance + case.balance)
    return out


def figures(rows, label_key) -> dict:
    return {
        row[label_key]: (row["cases"], row["entrusted"], row["balance"])
        for row in rows
        if row["cases"]
    }


def all_cases(db) -> list[Case]:
    return list(db.session.scalars(select(Case)))


def reported_contract_ids(seed) -> set[int]:
    return {seed.contract_a1.id, seed.contract_a2.id, seed.contract_b.id}


def check_against(result, cases) -> None:
    """Every table of ``result`` against ``cases``: rows, totals, shares, to the cent."""
    found = tables(result)
    total = (
        len(cases),
        sum((c.entrusted_amount for c in cases), Decimal("0.00")),
        sum((c.balance for c in cases), Decimal("0.00")),
    )
    with force_locale("en"):
        by_status = expected(cases, lambda c: status_title(c.status))
    by_bucket = expected(cases, lambda c: c.bucket or NONE_LABEL)
    by_area = expected(cases, lambda c: c.area or NONE_LABEL)
    for key, label_key, want in (
        ("by_status", "status", by_status),
        ("by_bucket", "bucket", by_bucket),
        ("by_area", "area", by_area),
    ):
        table = found[key]
        assert figures(table.rows, label_key) == want, key
        totals = table.totals
        assert (totals["cases"], totals["entrusted"], totals["balance"]) == total, key
        assert sum(row["balance"] for row in table.rows) == totals["balance"]
        assert sum(row["entrusted"] for row in table.rows) == totals["entrusted"]
        assert sum(row["cases"] for row in table.rows) == totals["cases"]
        for row in table.rows:
            if total[2]:
                share = (row["balance"] / total[2]).quantize(Decimal("0.0001"))
                assert row["share"] == share
            assert isinstance(row["balance"], Decimal) and isinstance(row["entrusted"], Decimal)


def test_portfolio_figures_match_the_cases(db, seed):
    result = build(seed.manager)
    cases = [c for c in all_cases(db) if c.contract_id in reported_contract_ids(seed)]
    assert len(cases) == 10  # the contract without the reports module is not counted
    check_against(result, cases)
    assert any("period chosen does not apply" in note for note in result.notes)


def test_portfolio_buckets_come_in_order_and_cases_without_one_last(db, seed):
    rows = tables(build(seed.manager))["by_bucket"].rows
    labels = [row["bucket"] for row in rows]
    # Every standard bucket has its row (zeros too), an unknown label after them, none last.
    assert labels == [*BUCKETS, "X9", NONE_LABEL]
    m5 = rows[BUCKETS.index("M5")]
    assert (m5["cases"], m5["balance"], m5["share"]) == (0, Decimal("0.00"), Decimal("0.0000"))
    assert rows[-1]["cases"] == 1  # a1_pooled has no bucket


def test_portfolio_statuses_in_the_order_cases_move_through_them(db, seed):
    with force_locale("en"):
        titles = [status_title(s) for s in ("normal", "paused", "closed", "returned", "settled")]
    assert [row["status"] for row in tables(build(seed.manager))["by_status"].rows] == titles


def test_portfolio_areas_by_balance_largest_first(db, seed):
    rows = tables(build(seed.manager))["by_area"].rows
    balances = [row["balance"] for row in rows]
    assert balances == sorted(balances, reverse=True)
    assert NONE_LABEL in [row["area"] for row in rows]  # a1_never has no area


def test_portfolio_areas_beyond_the_largest_are_summed_in_one_row(db, seed, monkeypatch):
    from plugins.reports import portfolio as module

    monkeypatch.setattr(module, "MAX_AREAS", 2)
    rows = tables(build(seed.manager))["by_area"].rows
    assert len(rows) == 3
    cases = [c for c in all_cases(db) if c.contract_id in reported_contract_ids(seed)]
    by_area = expected(cases, lambda c: c.area or NONE_LABEL)
    ordered = sorted(by_area.items(), key=lambda item: (-item[1][2], item[0]))
    rest = ordered[2:]
    assert rows[2]["cases"] == sum(f[0] for _a, f in rest)
    assert rows[2]["balance"] == sum((f[2] for _a, f in rest), Decimal(0))
    assert rows[2]["entrusted"] == sum((f[1] for _a, f in rest), Decimal(0))
    assert rows[2]["area"] == "Other areas"


def test_portfolio_counts_the_balance_now_not_the_entrusted_amount(db, seed):
    case = seed.cases["a1_li"]
    case.balance = Decimal("9669.49")
    db.session.commit()
    cases = [c for c in all_cases(db) if c.contract_id in reported_contract_ids(seed)]
    check_against(build(seed.manager), cases)


@pytest.mark.parametrize("who", ["li", "wang", "zhao"])
def test_a_collector_sees_only_the_cases_they_hold(db, seed, who):
    user = getattr(seed, who)
    cases = [
        c
        for c in all_cases(db)
        if c.holder_id == user.id and c.contract_id in reported_contract_ids(seed)
    ]
    assert cases  # each of them holds some
    check_against(build(user), cases)


def test_a_team_leader_sees_their_teams_cases(db, seed):
    members = {seed.li.id, seed.wang.id, seed.leader_east.id}
    cases = [
        c
        for c in all_cases(db)
        if c.contract_id in reported_contract_ids(seed)
        and (c.holder_id in members or c.team_id == seed.east.id)
    ]
    check_against(build(seed.leader_east), cases)


def test_a_client_viewer_sees_only_its_clients_cases(db, seed):
    client_a = {seed.contract_a1.id, seed.contract_a2.id}
    cases = [c for c in all_cases(db) if c.contract_id in client_a]
    check_against(build(seed.viewer_a), cases)
    cases_b = [c for c in all_cases(db) if c.contract_id == seed.contract_b.id]
    check_against(build(seed.viewer_b), cases_b)
    # Asking for the other client's contract shows nothing rather than its figures.
    result = build(seed.viewer_b, contract=str(seed.contract_a1.id))
    assert all(table.totals["cases"] == 0 for table in result.tables)


def test_portfolio_filters_by_contract_and_batch(db, seed):
    in_batch = [c for c in all_cases(db) if c.batch_id == seed.batch_a1_second.id]
    check_against(build(seed.manager, batch=str(seed.batch_a1_second.id)), in_batch)
    of_a2 = [c for c in all_cases(db) if c.contract_id == seed.contract_a2.id]
    check_against(build(seed.manager, contract=str(seed.contract_a2.id)), of_a2)


def test_portfolio_with_nothing_in_scope_shows_zeros(db, seed, make_user):
    nobody = make_user("collector", contracts=[seed.contract_a1])
    result = build(nobody)
    for table in result.tables:
        assert table.totals["cases"] == 0 and table.totals["balance"] == Decimal("0.00")
        assert all(row["share"] is None for row in table.rows)


def test_portfolio_is_registered_with_its_charts(app):
    from plugins.reports import catalogue  # noqa: F401

    assert REPORTS["portfolio"].order == 20
    assert not REPORTS["portfolio"].uses_period


def test_portfolio_charts_draw_balance(db, seed):
    kinds = {t.key: t.chart.kind for t in build(seed.manager).tables}
    assert kinds == {"by_status": "pie", "by_bucket": "bar", "by_area": "bar"}


def test_a_client_viewers_export_holds_only_its_clients_figures(client, db, seed, sign_in_as):
    sign_in_as(seed.viewer_a)
    response = client.get("/m/reports/portfolio.xlsx")
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    values = {c.value for sheet in book.worksheets for row in sheet.iter_rows() for c in row}
    assert "杭州" not in values  # client B's only area
    assert {"苏南", "苏北", "苏中"} <= values
    client_a = {seed.contract_a1.id, seed.contract_a2.id}
    balance = sum((c.balance for c in all_cases(db) if c.contract_id in client_a), Decimal(0))
    totals = [row for row in book.worksheets[0].iter_rows() if row[0].value == "Total"]
    assert totals and Decimal(str(totals[0][3].value)).quantize(Decimal("0.01")) == balance


def test_portfolio_survives_the_job_round_trip(db, seed):
    from plugins.reports.jobs import dump_result, load_result

    result = build(seed.manager)
    restored = load_result(dump_result(result))
    for before, after in zip(result.tables, restored.tables, strict=True):
        assert after.rows == before.rows and after.totals == before.totals
