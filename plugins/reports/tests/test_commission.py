"""The commission statement (佣金) and the commission tiers page, on the seeded case file:
every line recomputed here from the raw payment, the case's bucket and the contract's rates."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

import pytest
from sqlalchemy import select

from core.audit.models import AuditEntry
from core.cases.models import CONFIRMED, Case, Payment
from plugins.reports.commission import commission, parse_percent, save_tiers, tiers_of
from plugins.reports.framework import ReportFilter, Scope, reports_for
from plugins.reports.models import CommissionTier
from plugins.reports.recovery import recovery
from plugins.reports.tests.seed import Seed, make_seed

MARCH = {"start": "2026-03-01", "end": "2026-03-31"}
CENT = Decimal("0.01")


@pytest.fixture
def seed(db, contract, make_user) -> Seed:
    return make_seed(db, contract, make_user)


def build(user, **args):
    report_filter = ReportFilter.from_args({**MARCH, **args})
    return commission(Scope.of(user, report_filter)).tables


def expected_lines(db, contracts, start="2026-03-01", end="2026-03-31"):
    """(payment, rate, commission) of every confirmed payment of ``contracts`` in the period,
    from the rows themselves."""
    ids = {contract.id: contract for contract in contracts}
    out = []
    for payment in db.session.scalars(select(Payment).order_by(Payment.id)):
        case = db.session.get(Case, payment.case_id)
        in_period = start <= payment.paid_on.isoformat() <= end
        if payment.status != CONFIRMED or not in_period or case.contract_id not in ids:
            continue
        tier = db.session.scalar(
            select(CommissionTier.rate).filter_by(contract_id=case.contract_id, bucket=case.bucket)
        )
        rate = tier if tier is not None else ids[case.contract_id].commission_rate
        earned = (payment.amount * rate).quantize(CENT, rounding=ROUND_HALF_UP)
        out.append((payment, case, rate, earned))
    return out


def sign_in(client, db, user):
    """Sign the test client in as an existing user."""
    from core.auth.services import start_session

    session = start_session(user, "127.0.0.1")
    db.session.commit()
    with client.session_transaction() as flask_session:
        flask_session["_user_id"] = session.id
        flask_session["_fresh"] = True


def reported(seed):
    return [seed.contract_a1, seed.contract_a2, seed.contract_b]


def test_every_line_earns_its_rate_rounded_half_up(db, seed):
    _by_month, lines = build(seed.manager)
    expected = expected_lines(db, reported(seed))
    got = sorted((row["serial"], row["paid_on"], row["amount"], row["rate"], row["commission"])
                 for row in lines.rows)  # fmt: skip
    want = sorted((case.serial, p.paid_on, p.amount, rate, earned)
                  for p, case, rate, earned in expected)  # fmt: skip
    assert got == want
    assert lines.totals["commission"] == sum(e for *_x, e in expected)
    assert lines.totals["commission"] == sum(row["commission"] for row in lines.rows)
    assert lines.totals["amount"] == sum(p.amount for p, *_x in expected)


@pytest.mark.parametrize(
    "serial, amount, rate, earned",
    [
        ("SEED-A1_LI", "100.50", "0.1500", "15.08"),  # 15.075: half a cent up
        ("SEED-A2_M6", "0.01", "0.5000", "0.01"),  # 0.005 → 0.01 (tier M6+)
        ("SEED-A2_M6", "0.03", "0.5000", "0.02"),  # 0.015 → 0.02
        ("SEED-A2_M3", "100.50", "0.1250", "12.56"),  # 12.5625 (tier M3)
        ("SEED-A2_M2", "33.33", "0.1000", "3.33"),  # no M2 tier: the flat 10 %
        ("SEED-A2_M1", "1000.00", "0.2000", "200.00"),  # tier M1
        ("SEED-B1", "250.00", "0.0800", "20.00"),
    ],
)
def test_rounding_and_tiers(db, seed, serial, amount, rate, earned):
    _by_month, lines = build(seed.manager)
    found = [
        row for row in lines.rows if row["serial"] == serial and row["amount"] == Decimal(amount)
    ]
    assert len(found) == 1
    assert found[0]["rate"] == Decimal(rate)
    assert found[0]["commission"] == Decimal(earned)
    assert found[0]["debtor"].endswith("*") and "*" not in found[0]["debtor"][:1]


def test_months_per_contract_add_up_to_the_lines(db, seed):
    by_month, lines = build(seed.manager, start="2026-02-01", end="2026-04-30")
    assert [(row["contract"], row["month"]) for row in by_month.rows] == [
        (contract.number, month)
        for contract in sorted(reported(seed), key=lambda c: c.number)
        for month in ("2026-02", "2026-03", "2026-04")
    ]
    assert by_month.totals["commission"] == lines.totals["commission"]
    assert by_month.totals["recovered"] == lines.totals["amount"]
    assert sum(row["commission"] for row in by_month.rows) == by_month.totals["commission"]
    a1 = {row["month"]: row for row in by_month.rows if row["contract"] == "JSB-2026-01"}
    assert a1["2026-02"]["recovered"] == Decimal("30.00")
    assert a1["2026-02"]["commission"] == Decimal("4.50")
    assert a1["2026-04"]["recovered"] == Decimal("50.00")
    expected = expected_lines(db, reported(seed), "2026-02-01", "2026-04-30")
    assert lines.totals["commission"] == sum(e for *_x, e in expected)


@pytest.mark.parametrize("who", ["manager", "viewer_a", "viewer_b"])
def test_recovered_reconciles_with_the_recovery_report(db, seed, who):
    user = getattr(seed, who)
    report_filter = ReportFilter.from_args(MARCH)
    by_period, _by_group = recovery(Scope.of(user, report_filter)).tables
    by_month, lines = commission(Scope.of(user, report_filter)).tables
    assert by_month.totals["recovered"] == lines.totals["amount"] == by_period.totals["recovered"]
    assert by_month.totals["payments"] == by_period.totals["payments"]


def test_a_client_viewer_gets_only_its_client(db, seed):
    by_month, lines = build(seed.viewer_b)
    assert {row["contract"] for row in by_month.rows} == {seed.contract_b.number}
    assert {row["contract"] for row in lines.rows} == {seed.contract_b.number}
    expected = expected_lines(db, [seed.contract_b])
    assert lines.totals["commission"] == sum(e for *_x, e in expected) == Decimal("31.20")


def test_a_contract_without_the_module_is_not_in_the_statement(db, seed):
    by_month, lines = build(seed.manager)
    assert seed.contract_off.number not in {row["contract"] for row in lines.rows}
    assert seed.contract_off.number not in {row["contract"] for row in by_month.rows}


def test_collectors_do_not_get_the_commission_report(db, seed):
    assert "commission" not in {r.key for r in reports_for(seed.li)}
    assert "commission" not in {r.key for r in reports_for(seed.leader_east)}
    assert "commission" in {r.key for r in reports_for(seed.manager)}
    assert "commission" in {r.key for r in reports_for(seed.viewer_a)}


# -- the tiers ---------------------------------------------------------------------------------


def test_percentages_are_checked(english):
    assert parse_percent("") is None and parse_percent("  ") is None
    assert parse_percent("12.5") == Decimal("0.1250")
    assert parse_percent("12.50 %") == Decimal("0.1250")
    assert parse_percent("0") == Decimal(0) and parse_percent("100") == Decimal(1)
    for bad, message in [
        ("abc", "Enter a percentage"),
        ("NaN", "Enter a percentage"),
        ("-1", "between 0 and 100"),
        ("100.01", "between 0 and 100"),
        ("12.345", "at most two decimals"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_percent(bad)


def test_saving_tiers_replaces_them_and_is_audited(db, seed, english):
    contract = seed.contract_a2
    save_tiers(contract, {"M1": "25", "M2": "", "M6+": "40.5"}, seed.manager)
    db.session.commit()
    assert tiers_of(contract) == {"M1": Decimal("0.2500"), "M6+": Decimal("0.4050")}
    entry = db.session.scalars(
        select(AuditEntry).filter_by(action="reports.commission_tiers_saved")
    ).one()
    assert entry.details["after"] == {"M1": "0.2500", "M6+": "0.4050"}
    assert entry.details["before"]["M3"] == "0.1250"


def test_invalid_tiers_save_nothing(db, seed, english):
    from core.errors import UserError

    before = tiers_of(seed.contract_a2)
    with pytest.raises(UserError) as raised:
        save_tiers(seed.contract_a2, {"M1": "30", "M2": "101", "M4": "x"}, seed.manager)
    assert set(raised.value.fields) == {"M2", "M4"}
    db.session.rollback()
    assert tiers_of(seed.contract_a2) == before


def test_a_new_tier_changes_the_statement(db, seed):
    save_tiers(seed.contract_a1, {"M3": "20"}, seed.manager)
    db.session.commit()
    _by_month, lines = build(seed.manager, contract=str(seed.contract_a1.id))
    moved = [row for row in lines.rows if row["serial"] == "SEED-A1_MOVED"]
    assert {row["rate"] for row in moved} == {Decimal("0.2000")}
    assert lines.totals["commission"] == sum(e for *_x, e in expected_lines(db, [seed.contract_a1]))


def test_tiers_pages(db, seed, client):
    sign_in(client, db, seed.manager)
    listing = client.get("/m/reports/commission-tiers")
    assert listing.status_code == 200
    page = listing.get_data(as_text=True)
    assert seed.contract_a2.number in page and seed.contract_off.number not in page
    assert client.get(f"/m/reports/commission-tiers/{seed.contract_off.id}").status_code == 404
    assert client.get("/m/reports/commission-tiers/999999").status_code == 404
    form = client.get(f"/m/reports/commission-tiers/{seed.contract_a2.id}")
    assert form.status_code == 200 and "12.50" in form.get_data(as_text=True)
    bad = client.post(
        f"/m/reports/commission-tiers/{seed.contract_a2.id}",
        data={"rate_M1": "150", "rate_M3": "12.5"},
    )
    assert bad.status_code == 422
    assert bad.get_data(as_text=True).count('<div class="error">') == 1
    assert tiers_of(seed.contract_a2)["M3"] == Decimal("0.1250")  # nothing saved
    good = client.post(
        f"/m/reports/commission-tiers/{seed.contract_a2.id}",
        data={"rate_M1": "18", "rate_M3": ""},
    )
    assert good.status_code == 302
    assert tiers_of(seed.contract_a2) == {"M1": Decimal("0.1800")}


def test_tiers_pages_are_for_managers(db, seed, client):
    sign_in(client, db, seed.li)
    assert client.get("/m/reports/commission-tiers").status_code == 403
    sign_in(client, db, seed.viewer_a)
    response = client.post(
        f"/m/reports/commission-tiers/{seed.contract_a1.id}", data={"rate_M1": "99"}
    )
    assert response.status_code == 403
    assert tiers_of(seed.contract_a1) == {}


# -- the statement's page and file ---------------------------------------------------------------


def test_the_statement_page_links_the_tiers_for_a_manager(db, seed, client):
    sign_in(client, db, seed.manager)
    page = client.get("/m/reports/commission?start=2026-03-01&end=2026-03-31")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "SEED-A1_LI" in html and "SEED-B1" in html and "SEED-OFF1" not in html
    assert 'href="/m/reports/commission-tiers"' in html


def test_a_collector_may_not_open_the_statement(db, seed, client):
    sign_in(client, db, seed.li)
    assert client.get("/m/reports/commission").status_code == 403


def test_a_client_viewers_statement_and_file_hold_only_its_client(db, seed, client):
    from io import BytesIO

    from openpyxl import load_workbook

    sign_in(client, db, seed.viewer_b)
    page = client.get("/m/reports/commission?start=2026-03-01&end=2026-03-31")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "SEED-B1" in html and "SEED-A" not in html
    assert "/m/reports/commission-tiers" not in html
    xlsx = client.get("/m/reports/commission.xlsx?start=2026-03-01&end=2026-03-31")
    assert xlsx.status_code == 200
    workbook = load_workbook(BytesIO(xlsx.data))
    cells = [str(c) for sheet in workbook for row in sheet.iter_rows(values_only=True) for c in row]
    assert "SEED-B1" in cells and "SEED-B2" in cells
    assert not [c for c in cells if c.startswith("SEED-A") or c == seed.contract_a1.number]


# -- a long statement: the page shows its first lines, the Excel file and a job have them all --

SHORT_PAGE = 3


@pytest.fixture
def short_page(monkeypatch):
    """Pages of SHORT_PAGE lines, so the seed's statement is a long one."""
    import plugins.reports.commission as commission_module
    import plugins.reports.views.pages as pages_module

    monkeypatch.setattr(commission_module, "PAGE_LINES", SHORT_PAGE)
    monkeypatch.setattr(pages_module, "PAGE_ROWS", SHORT_PAGE)


def lines_of(tables):
    return {t.key: t for t in tables}["commission_lines"]


def test_a_pages_build_reads_the_first_lines_and_counts_them_all(db, seed, short_page):
    expected = expected_lines(db, reported(seed))
    assert len(expected) > SHORT_PAGE
    report_filter = ReportFilter.from_args(MARCH)
    page = lines_of(commission(Scope.of(seed.manager, report_filter)).tables)
    full = lines_of(commission(Scope.of(seed.manager, report_filter, full=True)).tables)
    assert full.row_count is None and len(full.rows) == len(expected)
    assert page.row_count == len(expected)
    assert page.rows == full.rows[:SHORT_PAGE]
    # The totals are the whole statement's on both.
    assert page.totals == full.totals
    assert page.totals["amount"] == sum(payment.amount for payment, *_rest in expected)
    assert page.totals["commission"] == sum(earned for *_rest, earned in expected)


def _itemised_rows_on_page(html: str) -> int:
    section = html.split('id="table-commission_lines"', 1)[1].split("</section>", 1)[0]
    return section.split("<tbody>", 1)[1].split("</tbody>", 1)[0].count("<tr>")


def _says_cut(html: str, shown: int, total: int) -> bool:
    """Whether the itemised table's note says the page shows ``shown`` of ``total`` lines
    (in the page's language: the numbers, the total twice)."""
    section = html.split('id="table-commission_lines"', 1)[1].split("</section>", 1)[0]
    note = section.split('class="muted report-table-note">', 1)[1].split("</p>", 1)[0]
    numbers = re.findall(r"\d+", note)
    return numbers.count(str(total)) == 2 and str(shown) in numbers


def _xlsx_serials(data: bytes) -> list[str]:
    from io import BytesIO

    from openpyxl import load_workbook

    workbook = load_workbook(BytesIO(data))
    return [
        c
        for sheet in workbook
        for row in sheet.iter_rows(values_only=True)
        for c in row
        if isinstance(c, str) and c.startswith("SEED-")
    ]


def test_the_page_shows_the_first_lines_and_the_file_has_every_line(db, seed, client, short_page):
    expected = expected_lines(db, reported(seed))
    sign_in(client, db, seed.manager)
    html = client.get("/m/reports/commission", query_string=MARCH).get_data(as_text=True)
    assert _itemised_rows_on_page(html) == SHORT_PAGE
    assert _says_cut(html, SHORT_PAGE, len(expected))
    xlsx = client.get("/m/reports/commission.xlsx", query_string=MARCH)
    assert xlsx.status_code == 200
    assert sorted(_xlsx_serials(xlsx.data)) == sorted(case.serial for _p, case, *_r in expected)


def test_a_jobs_page_shows_the_first_lines_and_its_file_has_every_line(
    app, db, seed, client, short_page
):
    app.config["REPORTS_INLINE_CASES"] = 2
    app.config["JOBS_INLINE"] = True
    expected = expected_lines(db, reported(seed))
    sign_in(client, db, seed.manager)
    started = client.get("/m/reports/commission", query_string=MARCH)
    assert started.status_code == 302 and "/m/reports/jobs/" in started.location
    html = client.get(started.location).get_data(as_text=True)
    assert _itemised_rows_on_page(html) == SHORT_PAGE
    assert _says_cut(html, SHORT_PAGE, len(expected))
    job_id = started.location.rsplit("/", 1)[1]
    xlsx = client.get(f"/m/reports/jobs/{job_id}.xlsx")
    assert xlsx.status_code == 200
    assert sorted(_xlsx_serials(xlsx.data)) == sorted(case.serial for _p, case, *_r in expected)


def test_a_short_statement_is_shown_whole(db, seed, client):
    expected = expected_lines(db, reported(seed))
    sign_in(client, db, seed.manager)
    html = client.get("/m/reports/commission", query_string=MARCH).get_data(as_text=True)
    assert _itemised_rows_on_page(html) == len(expected)
    assert not _says_cut(html, SHORT_PAGE, len(expected))


def test_a_cut_table_says_how_many_lines_it_has_after_a_round_trip(db, seed, short_page):
    from plugins.reports.jobs import dump_result, load_result

    report_filter = ReportFilter.from_args(MARCH)
    result = commission(Scope.of(seed.manager, report_filter))
    again = lines_of(load_result(dump_result(result)).tables)
    assert again.row_count == len(expected_lines(db, reported(seed))) > len(again.rows)


def test_the_api_gives_every_line_of_a_long_statement(db, seed, client, short_page):
    from core.auth.services import issue_token

    _token, plain = issue_token(seed.manager, "test")
    db.session.commit()
    found = client.get(
        "/m/reports/api/reports/commission",
        query_string=MARCH,
        headers={"Authorization": f"Bearer {plain}"},
    )
    assert found.status_code == 200, found.json
    lines = next(t for t in found.json["tables"] if t["key"] == "commission_lines")
    expected = expected_lines(db, reported(seed))
    assert len(expected) > SHORT_PAGE and len(lines["rows"]) == len(expected)


def test_a_filter_the_statement_does_not_offer_is_ignored(db, seed, client):
    sign_in(client, db, seed.manager)
    plain = client.get("/m/reports/commission", query_string=MARCH).get_data(as_text=True)
    narrowed = client.get(
        "/m/reports/commission", query_string={**MARCH, "collector": seed.li.id}
    ).get_data(as_text=True)
    assert "SEED-B1" in narrowed and narrowed.count("SEED-") == plain.count("SEED-")
