"""Report pages: the catalogue, a report with its filters and figures, the Excel export, and
who may see what (a collector their own figures, a client viewer their client's)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import select

from core.audit.models import AuditEntry
from core.cases.models import CONFIRMED, CaseAssignment, Payment
from core.cases.services import assign, record_payment
from tests.support.cases import make_cases

MARCH = {"start": "2026-03-01", "end": "2026-03-31"}


@pytest.fixture(autouse=True)
def _gauges_installed(with_gauges):
    """The gauges module (conftest) adds a section: the sections report has figures."""


@pytest.fixture
def world(db, contract, make_user):
    """Two clients' contracts with reports and gauges on; Ann and Bob collect on the first,
    Ann on the second too; confirmed repayments in March on each."""
    first = contract(modules=["reports", "gauges"])
    second = contract(modules=["reports", "gauges"])
    manager = make_user("manager", contracts=[first, second])
    ann = make_user("collector", username="ann", name="Ann", contracts=[first, second])
    bob = make_user("collector", username="bob", name="Bob", contracts=[first])
    ann_cases = make_cases(db, first, count=2, entrust_date=date(2026, 2, 1))
    bob_cases = make_cases(db, first, count=1, entrust_date=date(2026, 2, 1))
    other_cases = make_cases(db, second, count=2, entrust_date=date(2026, 2, 1))
    assign(ann_cases, holder=ann, user=manager)
    assign(bob_cases, holder=bob, user=manager)
    assign(other_cases, holder=ann, user=manager)
    # Held since February: a March payment is the holder's (recovery attributes it so).
    for held in db.session.scalars(select(CaseAssignment)):
        held.assigned_at = datetime(2026, 2, 1, tzinfo=UTC)
    db.session.commit()
    amounts = [
        (ann_cases[0], "100.10", date(2026, 3, 2)),
        (ann_cases[1], "1234.56", date(2026, 3, 15)),
        (bob_cases[0], "0.07", date(2026, 3, 31)),
        (other_cases[0], "999.99", date(2026, 3, 3)),
        (other_cases[1], "50.00", date(2026, 4, 1)),  # outside March
    ]
    for case, amount, paid_on in amounts:
        record_payment(case, amount=Decimal(amount), paid_on=paid_on, user=manager)
    db.session.commit()
    return {"first": first, "second": second, "manager": manager, "ann": ann, "bob": bob}


def confirmed_in_march(db, contract_ids) -> Decimal:
    """The expected figure, from the payment rows themselves."""
    payments = db.session.scalars(select(Payment).where(Payment.status == CONFIRMED)).all()
    return sum(
        (
            p.amount
            for p in payments
            if p.case.contract_id in contract_ids
            and date(2026, 3, 1) <= p.paid_on <= date(2026, 3, 31)
        ),
        Decimal(0),
    )


def sign_in(client, db, user, locale="en"):
    """Sign ``user`` in on the test client, with their language (English unless asked)."""
    from core.auth.services import start_session

    user.locale = locale
    session = start_session(user, "127.0.0.1")
    db.session.commit()
    with client.session_transaction() as flask_session:
        flask_session["_user_id"] = session.id
        flask_session["_fresh"] = True


def test_catalogue_lists_the_reports_a_manager_may_open(client, db, world):
    sign_in(client, db, world["manager"])
    page = client.get("/m/reports/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/m/reports/recovery" in html and "/m/reports/sections" in html


def test_recovery_page_shows_the_figures_and_a_chart(client, db, world):
    sign_in(client, db, world["manager"])
    page = client.get("/m/reports/recovery", query_string={**MARCH, "period": "month"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    expected = confirmed_in_march(db, {world["first"].id, world["second"].id})
    assert expected == Decimal("2334.72")
    assert "2,334.72" in html and "<svg" in html and 'class="totals"' in html
    assert "/m/reports/recovery.xlsx?" in html


def xlsx_of(response) -> openpyxl.Workbook:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype.endswith("spreadsheetml.sheet")
    return openpyxl.load_workbook(io.BytesIO(response.data))


def test_unknown_report_is_404(client, db, world):
    sign_in(client, db, world["manager"])
    assert client.get("/m/reports/nothing-here").status_code == 404
    assert client.get("/m/reports/nothing-here.xlsx").status_code == 404


def test_a_report_whose_permission_is_missing_is_403(client, db, world):
    sign_in(client, db, world["ann"])  # a collector may not see commission statements
    assert client.get("/m/reports/commission").status_code == 403
    denied = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "permission.denied")
    ).all()
    assert any(entry.details.get("permission") == "reports.commission" for entry in denied)


def test_export_needs_the_export_permission(client, db, world):
    sign_in(client, db, world["ann"])  # collectors see reports but do not export them
    assert client.get("/m/reports/recovery.xlsx", query_string=MARCH).status_code == 403


@pytest.mark.parametrize(
    "args",
    [
        {"start": "2026-13-45", "end": "yesterday"},
        {"start": "2026-03-31", "end": "2026-03-01"},
        {"period": "fortnight", "group": "planet", "client": "x", "batch": "-3"},
        {"contract": "99999999999999999999", "collector": "1e9"},
        {"start": "1900-01-01", "end": "2026-03-01"},
    ],
)
def test_bad_filter_values_show_messages_not_an_error(client, db, world, args):
    sign_in(client, db, world["manager"])
    page = client.get("/m/reports/recovery", query_string=args)
    assert page.status_code == 200
    assert 'class="flash flash-error"' in page.get_data(as_text=True)
    assert client.get("/m/reports/recovery.xlsx", query_string=args).status_code == 200


def test_a_collector_sees_only_their_own_figures(client, db, world):
    sign_in(client, db, world["bob"])
    html = client.get("/m/reports/sections").get_data(as_text=True)
    section = html.split('id="table-gauges.held"')[1]
    assert "Bob" in section and "Ann" not in section
    recovery = client.get("/m/reports/recovery", query_string={**MARCH, "group": "collector"})
    text = recovery.get_data(as_text=True)
    assert "0.07" in text and "1,234.56" not in text and "999.99" not in text


def test_a_collector_is_offered_only_themselves_in_the_filter(client, db, world):
    sign_in(client, db, world["bob"])
    html = client.get("/m/reports/recovery").get_data(as_text=True)
    collector_select = html.split('name="collector"')[1].split("</select>")[0]
    assert "Bob" in collector_select and "Ann" not in collector_select
    assert 'name="team"' not in html


def test_a_client_viewers_export_has_no_other_clients_row(client, db, world, make_user):
    viewer = make_user("client_viewer", client=world["first"].client)
    sign_in(client, db, viewer)
    book = xlsx_of(
        client.get("/m/reports/recovery.xlsx", query_string={**MARCH, "group": "contract"})
    )
    everything = [
        str(v)
        for sheet in book
        for row in sheet.iter_rows(values_only=True)
        for v in row
        if v is not None
    ]
    assert world["first"].number in everything
    assert world["second"].number not in everything
    expected = confirmed_in_march(db, {world["first"].id})
    assert expected == Decimal("1334.73")
    group_sheet = book.worksheets[-1]
    totals = list(group_sheet.iter_rows(values_only=True))
    recovered_column = [c for c in totals if "Recovered" in c]
    assert recovered_column, totals
    index = recovered_column[0].index("Recovered")
    last = next(row for row in totals if row[0] == "Total")
    assert Decimal(str(last[index])).quantize(Decimal("0.01")) == expected


def test_each_export_is_audited_with_its_report_and_filter(client, db, world):
    sign_in(client, db, world["manager"])
    client.get("/m/reports/recovery.xlsx", query_string={**MARCH, "group": "batch"})
    (entry,) = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "reports.exported")
    ).all()
    assert entry.details["report"] == "recovery"
    assert entry.details["filter"]["start"] == "2026-03-01"
    assert entry.details["filter"]["group"] == "batch"
    assert entry.user_id == world["manager"].id


def test_pages_are_in_chinese_for_a_chinese_user(client, db, world):
    sign_in(client, db, world["manager"], locale="zh_CN")
    html = client.get("/m/reports/recovery", query_string=MARCH).get_data(as_text=True)
    assert 'lang="zh-CN"' in html


def test_a_large_scope_runs_as_a_job(app, client, db, world):
    app.config["REPORTS_INLINE_CASES"] = 2
    app.config["JOBS_INLINE"] = True
    sign_in(client, db, world["manager"])
    started = client.get("/m/reports/recovery", query_string={**MARCH, "group": "client"})
    assert started.status_code == 302 and "/m/reports/jobs/" in started.location
    page = client.get(started.location)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "2,334.72" in html and "<svg" in html
    job_id = started.location.rsplit("/", 1)[1]
    assert client.get(f"/m/reports/jobs/{job_id}/status").json["status"] == "done"
    book = xlsx_of(client.get(f"/m/reports/jobs/{job_id}.xlsx"))
    values = [v for row in book.worksheets[0].iter_rows(values_only=True) for v in row]
    assert 2334.72 in [round(v, 2) for v in values if isinstance(v, float)]


def test_someone_elses_job_is_404(app, client, db, world, make_user):
    app.config["REPORTS_INLINE_CASES"] = 2
    app.config["JOBS_INLINE"] = True
    sign_in(client, db, world["manager"])
    started = client.get("/m/reports/recovery", query_string=MARCH)
    other = make_user("manager", contracts=[world["first"], world["second"]])
    sign_in(client, db, other)
    assert client.get(started.location).status_code == 404
