"""Rankings: the scaling and weighting of the score, and the ranked figures against the raw
rows (payments and holders counted here in Python; the per-user scorecard from a module of
the tests' own that sends a ``collection.scorecard`` section with figures chosen here)."""

from __future__ import annotations

import types
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from core import hookimpl
from core.auth.models import User
from core.cases import holdings
from core.cases.models import CONFIRMED, Case, CaseAssignment, Payment
from core.extensions import db as _db
from core.modules import ModuleInfo, enable_module
from core.report_sections import Measure, ReportSection
from plugins.reports.framework import ReportFilter, Scope
from plugins.reports.rankings import WEIGHTS, Entry, ranked_rows, rankings, scaled, scores
from plugins.reports.recovery import recovery
from plugins.reports.tests.seed import SHANGHAI, seeded  # noqa: F401

# -- the score, by hand ------------------------------------------------------------------------


def test_each_measure_is_scaled_between_the_worst_and_the_best():
    assert scaled({1: Decimal("0.2"), 2: Decimal("0.6"), 3: Decimal("0.5"), 4: None}) == {
        1: Decimal(0),
        2: Decimal(100),
        3: Decimal(75),
        4: None,
    }
    # Fewer is better: the fewest get 100.
    assert scaled({1: Decimal(0), 2: Decimal(4), 3: Decimal(1)}, higher_is_better=False) == {
        1: Decimal(100),
        2: Decimal(0),
        3: Decimal(75),
    }
    # All equal (or alone): 100; nobody has it: missing for all.
    assert scaled({1: Decimal("0.3"), 2: Decimal("0.3")}) == {1: 100, 2: 100}
    assert scaled({1: None}) == {1: None}


def test_the_score_weighs_the_measures_and_rescales_without_a_missing_one():
    measures = {
        "recovery_rate": {"a": Decimal("0.10"), "b": Decimal("0.05"), "c": Decimal("0.00")},
        "kept_rate": {"a": Decimal("0.50"), "b": None, "c": Decimal("1.00")},
        "contact_rate": {"a": Decimal("0.20"), "b": Decimal("0.40"), "c": Decimal("0.30")},
        "first_contact_compliance": {"a": None, "b": None, "c": None},
        "complaints_per_100": {"a": Decimal(2), "b": Decimal(0), "c": Decimal(1)},
    }
    found = scores(measures)
    # a: recovery 100×30, kept 0×20, contact 0×20, complaints 0×10; compliance missing
    # for everyone: the other weights (80) carry the score.
    assert found["a"] == Decimal("37.5")
    # b: recovery 50×30, contact 100×20, complaints 100×10; no kept rate: out of 60.
    assert found["b"] == (Decimal(1500 + 2000 + 1000) / 60).quantize(Decimal("0.1"))
    # c: recovery 0, kept 100×20, contact 50×20, complaints 50×10, out of 80.
    assert found["c"] == Decimal("43.8")
    assert scores({"recovery_rate": {"x": None}}) == {"x": None}
    assert sum(WEIGHTS.values()) == 100


def test_collectors_are_ranked_on_exact_rates_not_the_rounded_ones_shown():
    """0.33334 and 1/3 both show as 33.33%, and both score 100.0 to one place: the exact
    rates still rank Zhang (a little more recovered) before Li, whom the name would put first."""
    found = [
        Entry(key=1, name="Zhang", entrusted=Decimal("100000.00"), recovered=Decimal("33334.00")),
        Entry(key=2, name="Li", entrusted=Decimal("3.00"), recovered=Decimal("1.00")),
        Entry(key=3, name="Bai", entrusted=Decimal("10.00"), recovered=Decimal("0.00")),
    ]
    rows = ranked_rows(found)
    assert [row["name"] for row in rows] == ["Zhang", "Li", "Bai"]
    assert rows[0]["recovery_rate"] == rows[1]["recovery_rate"] == Decimal("0.3333")
    assert rows[0]["score"] == rows[1]["score"] == Decimal("100.0")
    assert [row["rank"] for row in rows] == [1, 2, 3]


# -- a module of the tests' own sending the scorecard section ----------------------------------

SCORES = "scorecards"
COUNTS = (
    "attempts",
    "right_party",
    "promises_kept",
    "promises_judged",
    "first_contacts_due",
    "first_contacts_on_time",
    "complaints",
)
#: contract id → user id → figures; filled by the test.
SENT: dict[int, dict[int, dict]] = {}


def scorecard_section(contract, start, end, user):
    rows = [
        {"user_id": user_id, "user": str(user_id), **dict.fromkeys(COUNTS, 0), **figures}
        for user_id, figures in SENT.get(contract.id, {}).items()
        if user.can("core.cases.view_contract") or user_id == user.id
    ]
    return ReportSection(
        key="collection.scorecard",
        title="Scorecard",
        columns=[("user_id", "User id"), ("user", "User"), *((k, k) for k in COUNTS)],
        rows=rows,
        user_key="user_id",
        measures=(
            Measure("contact_rate", "Contact rate", "right_party", "attempts"),
            Measure("kept_rate", "Kept rate", "promises_kept", "promises_judged"),
            Measure(
                "first_contact_compliance",
                "Compliance",
                "first_contacts_on_time",
                "first_contacts_due",
            ),
            Measure("complaints", "Complaints", "complaints", higher_is_better=False),
        ),
    )


PLUGIN = types.ModuleType("reports_test_scorecards")
PLUGIN.MODULE = ModuleInfo(SCORES, "Scorecards")
PLUGIN.report_sections = hookimpl(scorecard_section)


@pytest.fixture
def with_scorecards(app_config):
    """Maple started with the ``scorecards`` module (asked for before ``app``)."""
    app_config["PLUGIN_MODULES"] = [*app_config.get("PLUGIN_MODULES", ()), PLUGIN]
    yield
    SENT.clear()


@pytest.fixture
def scored(with_scorecards, seeded, db, english):  # noqa: F811
    """The seed with the scorecards module on A1 and B (not A2) and their figures."""
    s = seeded
    for contract in (s.contract_a1, s.contract_b):
        enable_module(contract, SCORES, None)
    db.session.commit()
    SENT[s.contract_a1.id] = {
        s.li.id: {"attempts": 10, "right_party": 4, "promises_kept": 3, "promises_judged": 4,
                  "first_contacts_due": 2, "first_contacts_on_time": 2, "complaints": 1},
        s.wang.id: {"attempts": 10, "right_party": 2, "first_contacts_due": 1},
    }  # fmt: skip
    SENT[s.contract_b.id] = {
        s.zhao.id: {"attempts": 5, "right_party": 5, "promises_kept": 1, "promises_judged": 2},
        s.wang.id: {"attempts": 10, "right_party": 8, "first_contacts_due": 1,
                    "first_contacts_on_time": 1, "complaints": 2},
    }  # fmt: skip
    return s


def run(user, **args):
    report_filter = ReportFilter.from_args({"start": "2026-03-01", "end": "2026-03-31", **args})
    scope = Scope.of(user, report_filter)
    return scope, {t.key: t for t in rankings(scope).tables}, rankings(scope).notes


# -- the figures counted here from the raw rows --------------------------------------------------


def utc_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=SHANGHAI)


def held_at_end(scope: Scope, contract_ids) -> dict[int, set[int]]:
    """user id → the cases of ``contract_ids`` they held at the end of the period (the
    assignment covering the instant the day after it begins)."""
    end = utc_midnight(scope.filter.end_exclusive)
    contract_of = {c.id: c.contract_id for c in _db.session.scalars(select(Case))}
    out: dict[int, set[int]] = {}
    for row in _db.session.scalars(select(CaseAssignment)):
        if row.user_id is None or contract_of[row.case_id] not in contract_ids:
            continue
        if row.assigned_at < end and (row.ended_at is None or row.ended_at >= end):
            out.setdefault(row.user_id, set()).add(row.case_id)
    return out


def recovered_by_holder(scope: Scope) -> dict[int, Decimal]:
    """Confirmed payments of the period, each for whoever held the case at the end of its
    paid day (agency time)."""
    cases = {c.id: c for c in _db.session.scalars(select(Case))}
    assignments = list(_db.session.scalars(select(CaseAssignment)))
    out: dict[int, Decimal] = {}
    for payment in _db.session.scalars(select(Payment)):
        if payment.status != CONFIRMED or not scope.filter.start <= payment.paid_on <= (
            scope.filter.end
        ):
            continue
        if cases[payment.case_id].contract_id not in scope.contract_ids:
            continue
        day_end = utc_midnight(payment.paid_on + timedelta(days=1))
        for row in assignments:
            if row.case_id == payment.case_id and row.user_id and row.assigned_at < day_end and (
                row.ended_at is None or row.ended_at >= day_end
            ):  # fmt: skip
                out[row.user_id] = out.get(row.user_id, Decimal(0)) + payment.amount
    return out


def four(numerator, denominator):
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.0001"))


def expected_rows(s, scope: Scope) -> dict[str, dict]:
    """Each collector's measures and score, computed here from the raw rows and SENT."""
    held = held_at_end(scope, set(scope.contract_ids))
    with_module = held_at_end(scope, set(SENT) & set(scope.contract_ids))
    recovered = recovered_by_holder(scope)
    cases = {c.id: c for c in _db.session.scalars(select(Case))}
    users = [u for u in (s.li, s.wang, s.zhao) if u.id in held or u.id in recovered]
    raw = {}
    for user in users:
        sums = dict.fromkeys(COUNTS, 0)
        for contract_id, per_user in SENT.items():
            if contract_id not in scope.contract_ids:
                continue
            for key, value in per_user.get(user.id, {}).items():
                sums[key] += value
        entrusted = sum(cases[c].entrusted_amount for c in held.get(user.id, ()))
        base = len(with_module.get(user.id, ()))
        raw[user.display_name] = {
            "entrusted": entrusted,
            "recovered": recovered.get(user.id, Decimal(0)),
            "recovery_rate": four(recovered.get(user.id, 0), entrusted),
            "kept_rate": four(sums["promises_kept"], sums["promises_judged"]),
            "contact_rate": four(sums["right_party"], sums["attempts"]),
            "first_contact_compliance": four(
                sums["first_contacts_on_time"], sums["first_contacts_due"]
            ),
            "complaints_per_100": (Decimal(sums["complaints"]) * 100 / base).quantize(
                Decimal("0.01")
            )
            if base
            else None,
        }
    for row in raw.values():
        weighted, weights = Decimal(0), 0
        for measure, weight in WEIGHTS.items():
            if row[measure] is None:
                continue
            present = [r[measure] for r in raw.values() if r[measure] is not None]
            low, high = min(present), max(present)
            if low == high:
                points = Decimal(100)
            elif measure == "complaints_per_100":
                points = (high - row[measure]) * 100 / (high - low)
            else:
                points = (row[measure] - low) * 100 / (high - low)
            weighted += points * weight
            weights += weight
        row["score"] = (weighted / weights).quantize(Decimal("0.1"))
    return raw


def test_collectors_are_ranked_by_the_score_of_their_raw_figures(scored):
    scope, found, notes = run(scored.manager)
    table = found["rankings_collectors"]
    expected = expected_rows(scored, scope)
    rows = {row["name"]: row for row in table.rows}
    assert set(rows) == set(expected) == {"李催收", "王催收", "赵催收"}
    for name, figures in expected.items():
        for key, value in figures.items():
            assert rows[name][key] == value, (name, key)
    # As seeded: the scorecard's rates combine contracts (wang: 10 of 20 reached, 1 of 2 due
    # met on time), kept rate missing where nothing was judged.
    assert rows["王催收"]["contact_rate"] == Decimal("0.5000")
    assert rows["王催收"]["first_contact_compliance"] == Decimal("0.5000")
    assert rows["王催收"]["kept_rate"] is None
    # 1 complaint on the 1 case li holds at the end of March (a1_moved went to wang on the
    # 15th, a1_pooled back to the pool on the 5th).
    assert rows["李催收"]["complaints_per_100"] == Decimal("100.00")
    assert rows["李催收"]["cases"] == 1
    ordered = sorted(table.rows, key=lambda r: (-r["score"], r["name"]))
    assert table.rows == ordered
    assert [row["rank"] for row in table.rows] == [1, 2, 3]
    assert any("weighted recovery rate 30" in note for note in notes)


def test_teams_add_up_their_members_figures(scored):
    scope, found, _notes = run(scored.manager)
    teams = {row["name"]: row for row in found["rankings_teams"].rows}
    east = teams[scored.east.name]
    # East: li and wang; the contact rate of their summed records, not a mean of rates.
    assert east["contact_rate"] == four(4 + 2 + 8, 10 + 10 + 10)
    assert east["kept_rate"] == four(3, 4)
    west = teams[scored.west.name]
    assert west["contact_rate"] == Decimal("1.0000") and west["kept_rate"] == Decimal("0.5000")
    recovered = recovered_by_holder(scope)
    assert east["recovered"] == recovered[scored.li.id] + recovered[scored.wang.id]


def test_a_collector_sees_only_their_own_row(scored):
    _scope, found, notes = run(scored.li)
    assert [row["name"] for row in found["rankings_collectors"].rows] == ["李催收"]
    assert found["rankings_collectors"].rows[0]["score"] == Decimal("100.0")
    assert "rankings_teams" not in found
    assert any("only your own row" in note for note in notes)


def test_a_team_leader_ranks_their_team(scored):
    _scope, found, _notes = run(scored.leader_east)
    assert {row["name"] for row in found["rankings_collectors"].rows} == {"李催收", "王催收"}
    assert [row["name"] for row in found["rankings_teams"].rows] == [scored.east.name]


def test_without_the_scorecard_only_the_recovery_rate_scores(scored):
    scope, found, notes = run(scored.manager, contract=str(scored.contract_a2.id))
    rows = found["rankings_collectors"].rows
    assert [row["name"] for row in rows] == ["赵催收"]
    assert rows[0]["kept_rate"] is None and rows[0]["complaints_per_100"] is None
    assert rows[0]["recovery_rate"] == expected_rows(scored, scope)["赵催收"]["recovery_rate"]
    assert any("No contract here has the collection module" in note for note in notes)


@pytest.mark.parametrize("group", ["collector", "team"])
def test_entrusted_and_recovered_are_the_recovery_reports(scored, group):
    """The rankings count what the recovery report by collector or team counts: the cases
    held at the end of the period, and the payments attributed to whoever held the case at
    the end of the paid day (the team: the assignment's, else the holder's own)."""
    _scope, found, _notes = run(scored.manager)
    table = found["rankings_collectors" if group == "collector" else "rankings_teams"]
    by_group = Scope.of(scored.manager, ReportFilter.from_args(
        {"start": "2026-03-01", "end": "2026-03-31", "group": group}
    ))  # fmt: skip
    recovery_rows = {
        row["name"]: row
        for row in {t.key: t for t in recovery(by_group).tables}["recovery_by_group"].rows
    }
    assert table.rows
    for row in table.rows:
        other = recovery_rows[row["name"]]
        assert (row["cases"], row["entrusted"], row["recovered"]) == (
            other["cases"],
            other["entrusted"],
            other["recovered"],
        ), row["name"]


def test_a_teams_figures_count_its_members_and_its_pooled_cases(scored, db):
    """Counted here from the raw rows: a case held at the end of March counts for the team of
    its assignment (else the holder's own team), a case in the team's pool included."""
    s = scored
    pooled = s.cases["a1_never"]
    with holdings.changing([pooled.id]):
        db.session.add(
            CaseAssignment(
                case_id=pooled.id,
                user_id=None,
                team_id=s.east.id,
                assigned_at=utc_midnight(date(2026, 3, 20)),
            )
        )
    db.session.commit()
    scope, found, _notes = run(s.manager)
    end = utc_midnight(scope.filter.end_exclusive)
    users = {u.id: u for u in _db.session.scalars(select(User))}
    cases = {c.id: c for c in _db.session.scalars(select(Case))}
    expected: dict[int, list[Decimal]] = {}
    for row in _db.session.scalars(select(CaseAssignment)):
        case = cases[row.case_id]
        if case.contract_id not in scope.contract_ids:
            continue
        if not (row.assigned_at < end and (row.ended_at is None or row.ended_at >= end)):
            continue
        team_id = row.team_id or (users[row.user_id].team_id if row.user_id else None)
        if team_id is not None:
            expected.setdefault(team_id, []).append(case.entrusted_amount)
    teams = {row["name"]: row for row in found["rankings_teams"].rows}
    east = teams[s.east.name]
    assert east["cases"] == len(expected[s.east.id])
    assert east["entrusted"] == sum(expected[s.east.id])
    assert pooled.entrusted_amount in expected[s.east.id]


def test_a_batch_chosen_says_which_measures_are_the_batchs(scored):
    s = scored
    _scope, _found, notes = run(s.manager, batch=str(s.batch_a1.id))
    assert any("With a batch chosen" in note for note in notes)
    _scope, _found, notes = run(s.manager)
    assert not any("With a batch chosen" in note for note in notes)
