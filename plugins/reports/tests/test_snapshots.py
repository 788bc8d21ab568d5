"""Month-end bucket snapshots, ``maple reports snapshot`` and the roll-rate report read from
them, on the seed case file: the buckets move between January and February as written here,
and the matrices are compared with the movements counted by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from core.audit.models import AuditEntry
from core.cases.filters import BUCKETS
from core.cases.models import Case
from plugins.reports.framework import ReportFilter, Scope
from plugins.reports.models import BucketSnapshot
from plugins.reports.portfolio import roll_rates
from plugins.reports.snapshots import default_snapshot_month, take_snapshot
from plugins.reports.tests.seed import Seed, make_seed
from tests.support.cases import make_cases

JANUARY, FEBRUARY, MARCH = date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)
#: case → (bucket, status) at the end of February; the rest stay as seeded.
FEBRUARY_MOVES = {
    "a1_li": ("M3", "normal"),  # M2 → M3: worse
    "a1_pooled": ("M1", "settled"),  # M1 → settled
    "a1_never": ("M1", "normal"),  # M2 → M1: better
    "a2_m1": ("M2", "normal"),  # M1 → M2: worse
    "a2_m2": ("M2", "closed"),  # M2 → closed
    "a2_m3": ("M3", "returned"),  # M3 → returned
    "b1": ("M5", "normal"),  # M4 → M5: worse
    "b2": ("", "normal"),  # M2 → no bucket
}


@pytest.fixture
def seed(db, contract, make_user) -> Seed:
    return make_seed(db, contract, make_user)


@pytest.fixture
def two_months(db, seed) -> Seed:
    """Snapshots of January (as seeded) and February (after FEBRUARY_MOVES and a new case)."""
    assert take_snapshot(date(2026, 1, 31)) == 10
    db.session.commit()
    for name, (bucket, status) in FEBRUARY_MOVES.items():
        case = seed.cases[name]
        case.bucket, case.status = bucket, status
    (seed.cases["a2_new"],) = make_cases(db, seed.contract_a2, seed.batch_a2, bucket="M1")
    assert take_snapshot(FEBRUARY) == 11
    db.session.commit()
    return seed


def snapshot_rows(db, month) -> dict[int, BucketSnapshot]:
    rows = db.session.scalars(select(BucketSnapshot).where(BucketSnapshot.month == month))
    return {row.case_id: row for row in rows}


def build(user, start="2026-02-01", end="2026-02-28", **args):
    report_filter = ReportFilter.from_args({"start": start, "end": end, **args})
    assert not report_filter.errors
    with force_locale("en"):
        return roll_rates(Scope.of(user, report_filter))


def matrix(result, month="2026_02") -> dict:
    """``previous bucket → {column: cases}`` (non-zero cells), with the row's count and rate."""
    table = next(t for t in result.tables if t.key == f"matrix_{month}")
    out = {}
    for row in table.rows:
        cells = {k: v for k, v in row.items() if k.startswith("to_") and v}
        out[row["previous"]] = (row["cases"], cells, row["roll_rate"])
    return out


def totals(result, month="2026_02") -> dict:
    table = next(t for t in result.tables if t.key == f"matrix_{month}")
    return {k: v for k, v in table.totals.items() if k.startswith("to_") and v}


# -- taking snapshots ---------------------------------------------------------------------------


def test_snapshot_copies_every_case_of_the_reports_contracts(db, seed):
    assert take_snapshot(date(2026, 1, 17)) == 10  # any day of the month: its first day
    db.session.commit()
    rows = snapshot_rows(db, JANUARY)
    reported = {seed.contract_a1.id, seed.contract_a2.id, seed.contract_b.id}
    cases = [c for c in db.session.scalars(select(Case)) if c.contract_id in reported]
    assert set(rows) == {c.id for c in cases}  # not the contract without the module
    for case in cases:
        row = rows[case.id]
        copied = (row.contract_id, row.batch_id, row.holder_id, row.team_id)
        assert copied == (case.contract_id, case.batch_id, case.holder_id, case.team_id)
        assert (row.bucket, row.status, row.balance) == (case.bucket, case.status, case.balance)
        assert isinstance(row.balance, Decimal)
        assert (row.previous_bucket, row.previous_status) == ("", "")


def test_snapshot_takes_the_previous_months_bucket(db, two_months):
    january, february = snapshot_rows(db, JANUARY), snapshot_rows(db, FEBRUARY)
    new = two_months.cases["a2_new"].id
    for case_id, row in february.items():
        if case_id == new:
            assert (row.previous_bucket, row.previous_status) == ("", "")
        else:
            before = january[case_id]
            assert (row.previous_bucket, row.previous_status) == (before.bucket, before.status)
    assert february[two_months.cases["a1_li"].id].previous_bucket == "M2"
    assert february[two_months.cases["a1_li"].id].bucket == "M3"


def test_taking_a_month_again_replaces_it(db, two_months):
    b1 = two_months.cases["b1"]
    b1.bucket, b1.balance = "M6", Decimal("6543.21")
    db.session.commit()
    assert take_snapshot(FEBRUARY) == 11
    db.session.commit()
    february = snapshot_rows(db, FEBRUARY)
    assert len(february) == 11
    assert (february[b1.id].bucket, february[b1.id].balance) == ("M6", Decimal("6543.21"))
    assert february[b1.id].previous_bucket == "M4"  # still from January
    assert len(snapshot_rows(db, JANUARY)) == 10  # other months untouched


def test_taking_a_month_again_updates_the_next_months_previous_buckets(db, two_months):
    a1_li = two_months.cases["a1_li"]
    a1_li.bucket = "M5"
    db.session.commit()
    take_snapshot(JANUARY)
    db.session.commit()
    db.session.expire_all()
    february = snapshot_rows(db, FEBRUARY)
    assert february[a1_li.id].previous_bucket == "M5"
    assert february[a1_li.id].bucket == "M3"  # February's own figures, as they were taken
    # January taken again holds the cases as they are now, the new one included.
    assert february[two_months.cases["a2_new"].id].previous_bucket == "M1"


def test_snapshot_skips_contracts_without_the_module(db, seed):
    from core.modules import disable_module

    disable_module(seed.contract_b, "reports", None)
    db.session.commit()
    assert take_snapshot(JANUARY) == 8
    contracts = {row.contract_id for row in snapshot_rows(db, JANUARY).values()}
    assert contracts == {seed.contract_a1.id, seed.contract_a2.id}


@pytest.mark.parametrize(
    ("today", "month"),
    [
        (date(2026, 3, 1), date(2026, 2, 1)),  # the cron job at month start: the month ended
        (date(2026, 1, 1), date(2025, 12, 1)),
        (date(2026, 3, 15), date(2026, 3, 1)),  # any other day: the month so far
        (date(2026, 3, 31), date(2026, 3, 1)),
    ],
)
def test_default_snapshot_month(today, month):
    assert default_snapshot_month(today) == month


# -- the command -------------------------------------------------------------------------------


def test_snapshot_command_takes_the_month_and_is_audited(app, db, seed):
    runner = app.test_cli_runner()
    assert "5 0 1 * *" in runner.invoke(args=["reports", "snapshot", "--help"]).output
    result = runner.invoke(args=["reports", "snapshot", "--month", "2026-02"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "snapshot 2026-02: 10 cases"
    assert len(snapshot_rows(db, FEBRUARY)) == 10
    entry = db.session.scalar(select(AuditEntry).filter_by(action="reports.snapshot_taken"))
    assert entry.object_id == "2026-02"
    assert entry.details == {"month": "2026-02", "cases": 10}
    again = runner.invoke(args=["reports", "snapshot", "--month", "2026-02"])
    assert again.output.strip() == "snapshot 2026-02: 10 cases"
    assert len(snapshot_rows(db, FEBRUARY)) == 10


def test_snapshot_command_refuses_a_bad_month(app, db, seed):
    result = app.test_cli_runner().invoke(args=["reports", "snapshot", "--month", "2026-13"])
    assert result.exit_code == 2
    assert "--month" in result.output
    assert db.session.scalar(select(BucketSnapshot.case_id).limit(1)) is None


def test_snapshot_command_without_a_month_takes_the_default(app, db, seed):
    result = app.test_cli_runner().invoke(args=["reports", "snapshot"])
    assert result.exit_code == 0, result.output
    month = default_snapshot_month()
    assert result.output.strip() == f"snapshot {month:%Y-%m}: 10 cases"


# -- the roll-rate report --------------------------------------------------------------------


def test_roll_matrix_counts_the_movements(db, two_months):
    result = build(two_months.manager)
    assert matrix(result) == {
        "New or none": (1, {"to_M1": 1}, None),
        "M1": (2, {"to_settled": 1, "to_M2": 1}, Decimal("0.5000")),
        "M2": (4, {"to_M3": 1, "to_M1": 1, "to_closed": 1, "to_none": 1}, Decimal("0.2500")),
        "M3": (2, {"to_M3": 1, "to_returned": 1}, Decimal("0.0000")),
        "M4": (1, {"to_M5": 1}, Decimal("1.0000")),
        "M5": (0, {}, None),
        "M6": (0, {}, None),
        "M6+": (1, {"to_M6_plus": 1}, None),
    }
    assert totals(result) == {
        "to_M1": 2,
        "to_M2": 1,
        "to_M3": 2,
        "to_M5": 1,
        "to_M6_plus": 1,
        "to_none": 1,
        "to_settled": 1,
        "to_closed": 1,
        "to_returned": 1,
    }
    table = next(t for t in result.tables if t.key == "matrix_2026_02")
    assert table.totals["cases"] == sum(row["cases"] for row in table.rows) == 11
    for key in totals(result):
        assert table.totals[key] == sum(row[key] for row in table.rows)
    assert result.notes == []


def test_roll_rates_by_month_table(db, two_months):
    result = build(two_months.manager)
    (row,) = next(t for t in result.tables if t.key == "roll_rates").rows
    assert row == {
        "month": "2026-02",
        "to_M1": Decimal("0.5000"),
        "to_M2": Decimal("0.2500"),
        "to_M3": Decimal("0.0000"),
        "to_M4": Decimal("1.0000"),
        "to_M5": None,
        "to_M6": None,
    }
    assert result.tables[0].chart.kind == "line"


def test_cases_ended_before_the_month_are_no_movement(db, two_months):
    assert take_snapshot(MARCH) == 11  # nothing moved in March
    db.session.commit()
    result = build(two_months.manager, start="2026-01-01", end="2026-03-31")
    march = matrix(result, "2026_03")
    # settled, closed and returned in February and still so: left out of March.
    assert sum(cases for cases, _cells, _rate in march.values()) == 8
    assert march["M3"] == (2, {"to_M3": 2}, Decimal("0.0000"))
    assert march["M1"] == (2, {"to_M1": 2}, Decimal("0.0000"))
    # January has its matrix too (every case new), the rates table one row a month.
    assert sum(cases for cases, _c, _r in matrix(result, "2026_01").values()) == 10
    months = [row["month"] for row in result.tables[0].rows]
    assert months == ["2026-01", "2026-02", "2026-03"]


def test_roll_rates_say_how_snapshots_are_taken_when_none_was(db, seed):
    result = build(seed.manager)
    assert result.tables == []
    (note,) = result.notes
    assert "2026-02" in note and "maple reports snapshot" in note


def test_roll_rates_name_the_months_without_a_snapshot(db, two_months):
    result = build(two_months.manager, start="2026-01-01", end="2026-04-30")
    (note,) = result.notes
    assert "2026-03, 2026-04" in note and "2026-01" not in note
    assert [t.key for t in result.tables] == ["roll_rates", "matrix_2026_01", "matrix_2026_02"]


def test_a_collector_sees_only_the_cases_they_held(db, two_months):
    # February's holders: a1_li is li's; a1_moved and b2 are wang's.
    assert matrix(build(two_months.li)) == {
        **empty_rows(),
        "M2": (1, {"to_M3": 1}, Decimal("1.0000")),
    }
    assert matrix(build(two_months.wang)) == {
        **empty_rows(),
        "M2": (1, {"to_none": 1}, Decimal("0.0000")),
        "M3": (1, {"to_M3": 1}, Decimal("0.0000")),
    }


def test_a_client_viewer_sees_only_its_clients_cases(db, two_months):
    assert matrix(build(two_months.viewer_b)) == {
        **empty_rows(),
        "M2": (1, {"to_none": 1}, Decimal("0.0000")),
        "M4": (1, {"to_M5": 1}, Decimal("1.0000")),
    }
    shown = build(two_months.viewer_a)
    table = next(t for t in shown.tables if t.key == "matrix_2026_02")
    assert table.totals["cases"] == 9  # client A's eight cases and the new one


def test_roll_rates_follow_the_contract_and_batch_filters(db, two_months):
    by_contract = build(two_months.manager, contract=str(two_months.contract_b.id))
    assert matrix(by_contract) == matrix(build(two_months.viewer_b))
    by_batch = build(two_months.manager, batch=str(two_months.batch_a1_second.id))
    assert matrix(by_batch) == {
        **empty_rows(),
        "M1": (1, {"to_settled": 1}, Decimal("0.0000")),
        "M2": (1, {"to_M1": 1}, Decimal("0.0000")),
    }


def test_a_team_leader_sees_their_teams_cases(db, two_months):
    # East: li and wang hold a1_li, a1_moved and b2.
    table = next(t for t in build(two_months.leader_east).tables if t.key == "matrix_2026_02")
    assert table.totals["cases"] == 3


def empty_rows() -> dict:
    """The matrix rows of a month nobody in scope moved in (no cases, no rate)."""
    return {"New or none": (0, {}, None), **{bucket: (0, {}, None) for bucket in BUCKETS}}


def test_report_pages_show_both_reports(client, db, two_months, sign_in_as):
    sign_in_as(two_months.manager)
    page = client.get("/m/reports/roll_rates?start=2026-02-01&end=2026-02-28")
    assert page.status_code == 200
    assert "Movements in 2026-02" in page.text
    assert client.get("/m/reports/portfolio").status_code == 200


def test_roll_rates_survive_the_job_round_trip(db, two_months):
    from plugins.reports.jobs import dump_result, load_result

    result = build(two_months.manager, start="2026-01-01", end="2026-02-28")
    restored = load_result(dump_result(result))
    for before, after in zip(result.tables, restored.tables, strict=True):
        assert after.rows == before.rows and after.totals == before.totals
