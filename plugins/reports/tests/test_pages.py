"""Report pages: the catalogue, a report with its filters and figures, the Excel export, and
who may see what (a collector their own figures, a client viewer their client's)."""

from __future__ import annotations

import io
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import select

from core.audit.models import AuditEntry
from plugins.reports.tests.conftest import confirmed_in_march

MARCH = {"start": "2026-03-01", "end": "2026-03-31"}


@pytest.fixture(autouse=True)
def _gauges_installed(with_gauges):
    """The gauges module (conftest) adds a section: the sections report has figures."""


def test_catalogue_lists_the_reports_a_manager_may_open(sign_in_as, client, db, world):
    sign_in_as(world["manager"])
    page = client.get("/m/reports/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/m/reports/recovery" in html and "/m/reports/sections" in html


def test_recovery_page_shows_the_figures_and_a_chart(sign_in_as, client, db, world):
    sign_in_as(world["manager"])
    page = client.get("/m/reports/recovery", query_string={**MARCH, "period": "month"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    expected = confirmed_in_march({world["first"].id, world["second"].id})
    assert expected == Decimal("2334.72")
    assert "2,334.72" in html and "<svg" in html and 'class="totals"' in html
    assert "/m/reports/recovery.xlsx?" in html


def xlsx_of(response) -> openpyxl.Workbook:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype.endswith("spreadsheetml.sheet")
    return openpyxl.load_workbook(io.BytesIO(response.data))


def test_unknown_report_is_404(sign_in_as, client, db, world):
    sign_in_as(world["manager"])
    assert client.get("/m/reports/nothing-here").status_code == 404
    assert client.get("/m/reports/nothing-here.xlsx").status_code == 404


def test_a_report_whose_permission_is_missing_is_403(sign_in_as, client, db, world):
    sign_in_as(world["ann"])  # a collector may not see commission statements
    assert client.get("/m/reports/commission").status_code == 403
    denied = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "permission.denied")
    ).all()
    assert any(entry.details.get("permission") == "reports.commission" for entry in denied)


def test_export_needs_the_export_permission(sign_in_as, client, db, world):
    sign_in_as(world["ann"])  # collectors see reports but do not export them
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
def test_bad_filter_values_show_messages_not_an_error(sign_in_as, client, db, world, args):
    sign_in_as(world["manager"])
    page = client.get("/m/reports/recovery", query_string=args)
    assert page.status_code == 200
    assert 'class="flash flash-error"' in page.get_data(as_text=True)
    assert client.get("/m/reports/recovery.xlsx", query_string=args).status_code == 200


@pytest.mark.parametrize(
    "key", ["recovery", "portfolio", "roll_rates", "activity", "rankings", "commission", "sections"]
)
@pytest.mark.parametrize(
    "args",
    [
        {"start": "0001-01-01", "end": "0001-01-31", "group": "collector"},
        {"start": "9999-12-01", "end": "9999-12-31", "group": "team"},
        {"end": "9999-12-31"},
    ],
)
def test_dates_at_the_calendars_ends_are_refused_not_an_error(
    sign_in_as, client, db, world, key, args
):
    sign_in_as(world["manager"])
    page = client.get(f"/m/reports/{key}", query_string=args)
    assert page.status_code == 200
    assert 'class="flash flash-error"' in page.get_data(as_text=True)


def test_a_collector_sees_only_their_own_figures(sign_in_as, client, db, world):
    sign_in_as(world["bob"])
    html = client.get("/m/reports/sections").get_data(as_text=True)
    section = html.split('id="table-gauges.held"')[1]
    assert "Bob" in section and "Ann" not in section
    recovery = client.get("/m/reports/recovery", query_string={**MARCH, "group": "collector"})
    text = recovery.get_data(as_text=True)
    assert "0.07" in text and "1,234.56" not in text and "999.99" not in text


def test_a_collector_is_offered_only_themselves_in_the_filter(sign_in_as, client, db, world):
    sign_in_as(world["bob"])
    html = client.get("/m/reports/recovery").get_data(as_text=True)
    collector_select = html.split('name="collector"')[1].split("</select>")[0]
    assert "Bob" in collector_select and "Ann" not in collector_select
    assert 'name="team"' not in html


def test_a_client_viewers_export_has_no_other_clients_row(sign_in_as, client, db, world, make_user):
    viewer = make_user("client_viewer", client=world["first"].client)
    sign_in_as(viewer)
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
    expected = confirmed_in_march({world["first"].id})
    assert expected == Decimal("1334.73")
    group_sheet = book.worksheets[-1]
    totals = list(group_sheet.iter_rows(values_only=True))
    recovered_column = [c for c in totals if "Recovered" in c]
    assert recovered_column, totals
    index = recovered_column[0].index("Recovered")
    last = next(row for row in totals if row[0] == "Total")
    assert Decimal(str(last[index])).quantize(Decimal("0.01")) == expected


def test_each_export_is_audited_with_its_report_and_filter(sign_in_as, client, db, world):
    sign_in_as(world["manager"])
    client.get("/m/reports/recovery.xlsx", query_string={**MARCH, "group": "batch"})
    (entry,) = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "reports.exported")
    ).all()
    assert entry.details["report"] == "recovery"
    assert entry.details["filter"]["start"] == "2026-03-01"
    assert entry.details["filter"]["group"] == "batch"
    assert entry.user_id == world["manager"].id


def test_pages_are_in_chinese_for_a_chinese_user(sign_in_as, client, db, world):
    sign_in_as(world["manager"], locale="zh_CN")
    html = client.get("/m/reports/recovery", query_string=MARCH).get_data(as_text=True)
    assert 'lang="zh-CN"' in html


def test_a_large_scope_runs_as_a_job(app, sign_in_as, client, db, world):
    app.config["REPORTS_INLINE_CASES"] = 2
    app.config["JOBS_INLINE"] = True
    sign_in_as(world["manager"])
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


def test_someone_elses_job_is_404(app, sign_in_as, client, db, world, make_user):
    app.config["REPORTS_INLINE_CASES"] = 2
    app.config["JOBS_INLINE"] = True
    sign_in_as(world["manager"])
    started = client.get("/m/reports/recovery", query_string=MARCH)
    other = make_user("manager", contracts=[world["first"], world["second"]])
    sign_in_as(other)
    assert client.get(started.location).status_code == 404


def test_a_team_leader_is_offered_their_team_only(sign_in_as, client, db, world, make_user):
    from core.auth.models import Team

    north, south = Team(name="North"), Team(name="South")
    db.session.add_all([north, south])
    db.session.flush()
    world["ann"].team_id, world["bob"].team_id = north.id, south.id
    leader = make_user("team_leader", name="Lea", contracts=[world["first"]], team=north)
    sign_in_as(leader)
    html = client.get("/m/reports/recovery").get_data(as_text=True)
    teams = html.split('name="team"')[1].split("</select>")[0]
    collectors = html.split('name="collector"')[1].split("</select>")[0]
    assert "North" in teams and "South" not in teams
    assert "Ann" in collectors and "Lea" in collectors and "Bob" not in collectors


def test_an_id_the_form_does_not_offer_is_dropped_with_a_message(
    sign_in_as, client, db, world, make_user, english
):
    """A collector asking for Ann's figures, or anyone for a team that does not exist, gets
    the message by the field, and figures that match what the form shows."""
    from core.auth.models import Team

    north = Team(name="North")
    db.session.add(north)
    db.session.commit()
    sign_in_as(world["bob"])
    args = {**MARCH, "group": "collector", "collector": str(world["ann"].id)}
    text = client.get("/m/reports/recovery", query_string=args).get_data(as_text=True)
    assert "Collector: Not one of the choices." in text
    assert "0.07" in text and "1,234.56" not in text
    sign_in_as(world["manager"])
    for name, value in (("team", str(north.id + 1000)), ("contract", "424242")):
        page = client.get("/m/reports/recovery", query_string={**MARCH, name: value})
        text = page.get_data(as_text=True)
        assert f"{name.title()}: Not one of the choices." in text
        assert "1,234.56" in text and "999.99" in text  # the figures of every contract
    period = client.get("/m/reports/recovery", query_string={**MARCH, "period": "fortnight"})
    assert "Per: Not one of the choices." in period.get_data(as_text=True)


def test_an_older_batch_than_the_select_lists_stays_chosen(
    sign_in_as, client, db, world, monkeypatch
):
    import plugins.reports.choices as choices_module
    from tests.support.cases import make_batch

    older = make_batch(db, world["first"], "OLD-1")
    make_batch(db, world["first"], "NEW-1")
    monkeypatch.setattr(choices_module, "MAX_BATCH_CHOICES", 1)
    sign_in_as(world["manager"])
    html = client.get(
        "/m/reports/recovery", query_string={**MARCH, "batch": str(older.id)}
    ).get_data(as_text=True)
    batches = html.split('name="batch"')[1].split("</select>")[0]
    assert "NEW-1" in batches and "OLD-1" in batches
    assert 'class="flash flash-error"' not in html


def test_a_long_table_is_cut_on_the_page_but_its_chart_shows_every_row(
    sign_in_as, client, db, world, monkeypatch
):
    import plugins.reports.views.pages as pages_module

    monkeypatch.setattr(pages_module, "PAGE_ROWS", 5)
    sign_in_as(world["manager"])
    html = client.get("/m/reports/recovery", query_string={**MARCH, "period": "day"}).get_data(
        as_text=True
    )
    by_period = html.split('id="table-recovery_by_period"')[1].split("</section>")[0]
    chart, table = by_period.split("</figure>")
    for canvas in ("wide", "narrow"):  # each drawing (charts.render) has every row
        drawing = chart.split(f'class="chart-canvas chart-{canvas}"')[1].split("</svg>")[0]
        assert drawing.count('class="point"') == 31
    assert table.split("<tbody>")[1].split("</tbody>")[0].count("<tr>") == 5
