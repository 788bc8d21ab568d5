"""Activity report: contact records and promises per period and collector, and the collection
module's scorecard combined over contracts, each checked against the raw rows counted here."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.cases.models import Activity, Case
from core.extensions import db as _db
from core.modules import enable_module
from core.plugins import all_hooks, hooks_for
from plugins.reports.activity import activity
from plugins.reports.framework import ReportFilter, Scope
from plugins.reports.tests.seed import SHANGHAI, local, seeded  # noqa: F401

#: Results that reach the debtor under the collection module's default codes (and the bank's
#: wording of a promise), and the module's own SMS and letter entries, which are no attempt.
RIGHT_PARTY = {"promise_to_pay", "refuses", "negotiating", "claims_paid", "承诺还款"}
SYSTEM = {"sms_sent", "sms_queued", "sms_failed", "letter_printed"}


@pytest.fixture
def worked(seeded, db, english):  # noqa: F811
    """The seed with the collection module on A1 and B (not A2), and contact records around
    March 2026: at the edges of the month in agency time, imported ones, a visit, an SMS,
    one on a contract without the reports module."""
    for contract in (seeded.contract_a1, seeded.contract_b):
        enable_module(contract, "collection", None)
    c = seeded.cases

    def rec(case, user, when, result, *, amount=None, kind="contact"):
        db.session.add(
            Activity(
                case_id=case.id,
                kind=kind,
                at=when,
                channel="sms" if result in SYSTEM else "phone",
                result=result,
                promise_amount=Decimal(amount) if amount else None,
                promise_date=date(2026, 4, 10) if amount else None,
                user_id=user.id if user else None,
                source="manual" if user else "import",
            )
        )

    li, wang, zhao = seeded.li, seeded.wang, seeded.zhao
    rec(c["a1_li"], li, local(date(2026, 3, 1), 0, 30), "promise_to_pay", amount="500.25")
    rec(c["a1_li"], li, local(date(2026, 2, 28), 23, 50), "no_answer")  # the day before
    rec(c["a1_li"], li, local(date(2026, 3, 2), 10), "no_answer")
    rec(c["a1_li"], li, local(date(2026, 3, 2), 11), "refuses")
    rec(c["a1_li"], li, local(date(2026, 3, 31), 23, 59), "承诺还款", amount="0.01")
    rec(c["a1_li"], li, local(date(2026, 4, 1), 0, 5), "no_answer")  # the day after
    rec(c["a1_li"], li, local(date(2026, 3, 9), 9), "sms_sent")
    rec(c["a1_li"], li, local(date(2026, 3, 9), 9), "", kind="visit")  # not a contact record
    rec(c["a1_moved"], li, local(date(2026, 3, 14), 15), "negotiating")
    rec(c["a1_moved"], wang, local(date(2026, 3, 16), 15), "promise_to_pay", amount="1000.00")
    rec(c["a1_moved"], wang, local(date(2026, 3, 17), 15), "busy")
    rec(c["a1_never"], None, local(date(2026, 3, 12), 8), "无人接听")  # imported, nobody's
    rec(c["a2_m1"], zhao, local(date(2026, 3, 7), 10), "promise_to_pay", amount="333.33")
    rec(c["a2_m2"], zhao, local(date(2026, 3, 8), 10), "no_answer")
    rec(c["b1"], zhao, local(date(2026, 3, 9), 10), "claims_paid")
    rec(c["b1"], zhao, local(date(2026, 3, 28), 10), "no_answer")
    rec(c["b2"], wang, local(date(2026, 3, 20), 10), "wrong_person")
    rec(c["off1"], li, local(date(2026, 3, 10), 10), "promise_to_pay", amount="9.99")
    # Built around record_activity and its hooks: the modules' per-day figures are rebuilt.
    all_hooks().rebuild_day_totals()
    db.session.commit()
    return seeded


def run(user, **args):
    report_filter = ReportFilter.from_args({"start": "2026-03-01", "end": "2026-03-31", **args})
    return Scope.of(user, report_filter), activity(Scope.of(user, report_filter))


def tables(result) -> dict:
    return {table.key: table for table in result.tables}


def raw_records(scope: Scope) -> list[Activity]:
    """The scope's contact records in the period, chosen in Python from every row."""
    contracts = {
        case.id: case.contract_id for case in _db.session.scalars(select(Case))
    }  # every case: a handful in these tests
    out = []
    for entry in _db.session.scalars(select(Activity)):
        day = entry.at.astimezone(SHANGHAI).date()
        if entry.kind != "contact" or not scope.filter.start <= day <= scope.filter.end:
            continue
        if contracts[entry.case_id] not in scope.contract_ids:
            continue
        if scope.user_ids is not None and entry.user_id not in scope.user_ids:
            continue
        out.append(entry)
    return out


def label_of(day: date, period: str) -> str:
    if period == "day":
        return day.isoformat()
    if period == "week":
        return (day - timedelta(days=day.weekday())).isoformat()
    return day.strftime("%Y-%m")


def expected_per(records, key) -> dict:
    out = defaultdict(lambda: {"records": 0, "promises": 0, "promised": Decimal("0.00")})
    for entry in records:
        row = out[key(entry)]
        row["records"] += 1
        if entry.promise_amount is not None:
            row["promises"] += 1
            row["promised"] += entry.promise_amount
    return dict(out)


def figures(row) -> dict:
    return {k: row[k] for k in ("records", "promises", "promised")}


@pytest.mark.parametrize("period", ["day", "week", "month"])
def test_records_per_period_and_collector_match_the_raw_rows(worked, period):
    scope, result = run(worked.manager, period=period)
    found = tables(result)
    records = raw_records(scope)
    local_day = lambda entry: entry.at.astimezone(SHANGHAI).date()
    per_period = expected_per(records, lambda e: label_of(local_day(e), period))
    by_period = found["activity_by_period"]
    rows = {row["period"]: figures(row) for row in by_period.rows if row["records"]}
    assert rows == per_period
    assert by_period.rows[0]["period"] == label_of(date(2026, 3, 1), period)
    total = expected_per(records, lambda e: "all")["all"]
    assert figures(by_period.totals) == total
    assert total["records"] == 14 and total["promised"] == Decimal("1833.59")

    names = {u.id: u.display_name for u in (worked.li, worked.wang, worked.zhao)}
    name = lambda e: names.get(e.user_id, "(import or system)")
    by_collector = found["activity_by_collector"]
    assert {r["collector"]: figures(r) for r in by_collector.rows} == expected_per(records, name)
    assert figures(by_collector.totals) == total
    detail = found["activity_by_collector_and_period"]
    expected_detail = expected_per(records, lambda e: (name(e), label_of(local_day(e), period)))
    assert {(r["collector"], r["period"]): figures(r) for r in detail.rows} == expected_detail
    assert figures(detail.totals) == total
    # The totals row is the sum of the rows, to the cent.
    for table in (by_period, by_collector, detail):
        assert sum(r["promised"] for r in table.rows) == table.totals["promised"]


def scorecard_sums(worked, user) -> dict[int, dict]:
    """The collection module's own per-contract scorecards, summed per user here."""
    sums: dict[int, dict] = defaultdict(lambda: defaultdict(int))
    for contract in (worked.contract_a1, worked.contract_a2, worked.contract_b):
        for found in hooks_for(contract).report_sections(
            contract=contract, start=date(2026, 3, 1), end=date(2026, 4, 1), user=user
        ):
            sections = found if isinstance(found, list) else [found]
            for section in sections:
                if section.key == "collection.scorecard":
                    for row in section.rows:
                        for key, value in row.items():
                            if key not in ("user_id", "user"):
                                sums[row["user_id"]][key] += value
    return sums


def test_scorecard_combines_contracts_before_dividing(worked):
    scope, result = run(worked.manager)
    table = tables(result)["activity_scorecard"]
    rows = {row["collector"]: row for row in table.rows}
    records = [r for r in raw_records(scope) if r.result not in SYSTEM and r.user_id]
    with_collection = {worked.contract_a1.id, worked.contract_b.id}
    for user in (worked.li, worked.wang, worked.zhao):
        mine = [r for r in records if r.user_id == user.id]
        mine = [r for r in mine if _db.session.get(Case, r.case_id).contract_id in with_collection]
        attempts = len(mine)
        right_party = sum(r.result in RIGHT_PARTY for r in mine)
        row = rows[user.display_name]
        assert (row["attempts"], row["right_party"]) == (attempts, right_party)
        expected_rate = (Decimal(right_party) / attempts).quantize(Decimal("0.0001"))
        assert row["contact_rate"] == expected_rate
    # Zhao's records on A2 (no collection module) are not attempts: 1 of 2 on B reached him.
    assert rows[worked.zhao.display_name]["contact_rate"] == Decimal("0.5000")
    sums = scorecard_sums(worked, worked.manager)
    for user in (worked.li, worked.wang, worked.zhao):
        row = rows[user.display_name]
        for key, value in sums[user.id].items():
            assert row[key] == value, (user.display_name, key)
    assert table.totals["attempts"] == sum(row["attempts"] for row in table.rows)
    right = sum(row["right_party"] for row in table.rows)
    attempts = sum(row["attempts"] for row in table.rows)
    assert table.totals["contact_rate"] == (Decimal(right) / attempts).quantize(Decimal("0.0001"))
    assert [t.key for t in result.tables][-2:] == ["collection.denials", "collection.complaints"]
    assert any("no collection module" in note for note in result.notes)


def test_a_contract_without_collection_has_records_but_no_scorecard(worked):
    _scope, result = run(worked.manager, contract=str(worked.contract_a2.id))
    found = tables(result)
    assert "activity_scorecard" not in found and "collection.denials" not in found
    assert found["activity_by_collector"].totals["records"] == 2
    assert any("no collection module" in note for note in result.notes)


def test_a_collector_sees_only_their_own_records_and_scorecard(worked):
    scope, result = run(worked.li, period="month")
    found = tables(result)
    assert [r["collector"] for r in found["activity_by_collector"].rows] == ["李催收"]
    assert (
        figures(found["activity_by_period"].totals)
        == expected_per(raw_records(scope), lambda e: "all")["all"]
    )
    assert [r["collector"] for r in found["activity_scorecard"].rows] == ["李催收"]


def test_a_team_filter_and_a_client_viewer_narrow_the_figures(worked):
    scope, result = run(worked.manager, team=str(worked.west.id))
    found = tables(result)
    assert [r["collector"] for r in found["activity_by_collector"].rows] == ["赵催收"]
    assert [r["collector"] for r in found["activity_scorecard"].rows] == ["赵催收"]
    assert any("per channel" in note for note in result.notes)

    scope, result = run(worked.viewer_b)
    assert scope.contract_ids == [worked.contract_b.id]
    found = tables(result)
    collectors = {r["collector"] for r in found["activity_by_collector"].rows}
    assert collectors == {"赵催收", "王催收"}
    assert found["activity_by_collector"].totals["records"] == 3


def test_an_empty_scope_shows_its_periods_with_zeros(worked, make_user):
    stranger = make_user("collector", username="nobody_here")
    _scope, result = run(stranger, period="week")
    found = tables(result)
    assert len(found["activity_by_period"].rows) == 6
    assert found["activity_by_period"].totals["records"] == 0
    assert found["activity_by_collector"].rows == []


def test_the_report_is_registered_with_its_period():
    from plugins.reports.framework import REPORTS

    assert REPORTS["activity"].uses_period and REPORTS["activity"].order == 30


def test_a_batch_counts_its_records_as_the_day_totals_count_its_contract(
    db, contract, make_user, english
):
    """Without a batch the report reads the core's per-day totals; with one, the batch's
    records: a contract whose every case is in one batch gives the same tables both ways."""
    from tests.support.cases import make_batch, make_cases

    first, second = contract(modules=["reports"]), contract(modules=["reports"])
    manager = make_user("manager", contracts=[first, second])
    ann = make_user("collector", name="Ann", contracts=[first, second])
    batch = make_batch(db, first)
    cases = make_cases(db, first, batch, count=2) + make_cases(db, second, count=1)
    for n, case in enumerate(cases):
        for day in (1, 15, 31):
            db.session.add(Activity(case_id=case.id, kind="contact", at=local(date(2026, 3, day)),
                                    result="no_answer", user_id=ann.id,
                                    promise_amount=Decimal("10.10") * (n + 1)))  # fmt: skip
        db.session.add(Activity(case_id=case.id, kind="contact", result="no_answer",
                                at=local(date(2026, 3, 31), 23, 59)))  # fmt: skip
    db.session.commit()
    _scope, everything = run(manager, period="week")
    assert figures(tables(everything)["activity_by_period"].totals) == {
        "records": 12, "promises": 9, "promised": Decimal("181.80")
    }  # fmt: skip
    _scope, by_contract = run(manager, period="week", contract=str(first.id))
    _scope, by_batch = run(manager, period="week", batch=str(batch.id))
    keys = ("activity_by_period", "activity_by_collector", "activity_by_collector_and_period")
    for key in keys:
        assert tables(by_batch)[key].rows == tables(by_contract)[key].rows
        assert tables(by_batch)[key].totals == tables(by_contract)[key].totals
    assert tables(by_batch)["activity_by_collector"].totals["records"] == 8


def test_every_record_carries_its_cases_contract(worked):
    """``activities.contract_id`` is the case's contract, whether ``record_activity`` wrote the
    entry or it was built directly (as the fixture above does)."""
    from core.cases.services import record_activity

    case = worked.cases["b2"]
    entry = record_activity(case, None, at=local(date(2026, 3, 21), 10), kind="visit")
    _db.session.commit()
    assert entry.contract_id == case.contract_id == worked.contract_b.id
    contracts = dict(_db.session.execute(select(Case.id, Case.contract_id)).all())
    pairs = _db.session.execute(select(Activity.case_id, Activity.contract_id)).all()
    assert len(pairs) == 19
    assert all(contract_id == contracts[case_id] for case_id, contract_id in pairs)


def test_a_batch_narrows_the_records_to_its_cases(worked):
    batch = worked.batch_a1
    scope, result = run(worked.manager, batch=str(batch.id), period="week")
    in_batch = set(_db.session.scalars(select(Case.id).where(Case.batch_id == batch.id)))
    records = [r for r in raw_records(scope) if r.case_id in in_batch]
    expected = expected_per(records, lambda entry: "all")["all"]
    found = tables(result)
    assert figures(found["activity_by_period"].totals) == expected
    assert sum(r["records"] for r in found["activity_by_period"].rows) == expected["records"]
    assert expected["records"] == 8  # five on a1_li (an SMS among them), three on a1_moved
