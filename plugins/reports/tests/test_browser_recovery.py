"""The recovery report in real Chromium: a manager filters a month, sees the charts, downloads
the Excel file and finds the same total in it; the pages fit a phone, in Chinese."""

from __future__ import annotations

import openpyxl
import pytest
from flask_babel import force_locale

from core.testing.fixtures import sign_in
from plugins.reports.framework import ReportFilter, Scope, find_report
from plugins.reports.tests.conftest import confirmed_in_march

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _gauges_installed(with_gauges):
    """The shared world has the gauges module on."""


def test_a_manager_filters_a_month_sees_the_chart_and_downloads_the_excel_file(
    live_server, browser_page, db, world, tmp_path
):
    expected = confirmed_in_march({world["first"].id, world["second"].id})
    page = browser_page
    sign_in(page, live_server, world["manager"].username)
    page.click("nav.sidebar a[href='/m/reports/']")
    page.wait_for_url(f"{live_server}/m/reports/")
    page.click("a[href='/m/reports/recovery']")
    page.wait_for_url(f"{live_server}/m/reports/recovery")

    form = page.locator("form.report-filters")
    form.locator("[name=start]").fill("2026-03-01")
    form.locator("[name=end]").fill("2026-03-31")
    form.locator("[name=period]").select_option("month")
    form.locator("[name=group]").select_option("collector")
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/m/reports/recovery?*start=2026-03-01*")

    assert page.locator("svg.chart-line circle.point").count() >= 1
    bars = page.locator(".chart-wide svg.chart-bar rect.bar")  # one of the two drawings
    assert bars.count() >= 2
    assert sum(float(v) for v in bars.evaluate_all("bs => bs.map(b => b.dataset.value)")) == (
        pytest.approx(float(expected))
    )
    for totals_row in page.locator("tfoot tr.totals").all():
        assert f"{expected:,.2f}" in totals_row.inner_text()

    with page.expect_download() as download_info:
        page.click("#export-xlsx")
    download = download_info.value
    assert download.suggested_filename == "recovery-2026-03-01-2026-03-31.xlsx"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    book = openpyxl.load_workbook(path)
    recovered = {str(c.title) for t in recovery_tables(world["manager"]) for c in t.columns
                 if c.key == "recovered"}  # fmt: skip
    totals = []
    for sheet in book.worksheets:
        rows = list(sheet.iter_rows(values_only=True))
        header = next(row for row in rows if recovered & set(row))
        column = header.index((recovered & set(header)).pop())
        totals_row = next(row for row in rows if row[0] in ("合计", "Total"))
        totals.append(totals_row[column])
    assert len(totals) == len(book.worksheets) >= 2
    assert all(round(total, 2) == float(expected) for total in totals)


def recovery_tables(user):
    """The recovery report's tables as the manager sees them in Chinese (for their titles)."""
    with force_locale("zh_Hans_CN"):
        report_filter = ReportFilter.from_args({"start": "2026-03-01", "end": "2026-03-31"})
        return find_report("recovery").build(Scope.of(user, report_filter)).tables


def test_the_report_pages_fit_a_phone_in_chinese(live_server, browser_page, db, world):
    page = browser_page
    sign_in(page, live_server, world["manager"].username)
    page.set_viewport_size({"width": 390, "height": 844})
    for path in (
        "/m/reports/",
        "/m/reports/recovery?start=2026-03-01&end=2026-03-31&period=day&group=batch",
        "/m/reports/sections",
    ):
        page.goto(live_server + path)
        assert page.locator("html").get_attribute("lang") == "zh-CN"
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, path
    page.goto(live_server + "/m/reports/")
    assert page.locator("h1").inner_text() == "统计报表"
