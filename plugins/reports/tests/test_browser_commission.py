"""Closing a commission month in real Chromium: a manager opens the statement, follows its link
to the month closings, closes March (answering the confirmation), and the statement then says
March is closed while its figures stay those of the statement."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.testing.fixtures import sign_in
from plugins.reports.models import CommissionClosing

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _gauges_installed(with_gauges):
    """The shared world has the gauges module on."""


def test_a_manager_closes_a_month_and_the_statement_says_so(live_server, browser_page, db, world):
    page = browser_page
    asked = []
    page.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    sign_in(page, live_server, world["manager"].username)
    page.goto(f"{live_server}/m/reports/commission?start=2026-03-01&end=2026-03-31")
    before = page.locator("#table-commission_by_month tfoot").inner_text()
    page.click("a[href='/m/reports/commission-closings']")
    page.wait_for_url(f"{live_server}/m/reports/commission-closings")

    card = page.locator(f"#closings-{world['first'].id}")
    march = card.locator("tr", has_text="2026-03")
    march.locator("button[type=submit]").click()
    page.wait_for_url("**/m/reports/commission-closings#closings-*")
    assert len(asked) == 1 and world["first"].number in asked[0]
    assert page.locator(".flash-success").count() == 1
    march = page.locator(f"#closings-{world['first'].id} tr", has_text="2026-03")
    assert march.locator("button[type=submit]").inner_text() in ("Reopen", "重新打开")
    closing = db.session.scalar(select(CommissionClosing))
    assert (closing.contract_id, closing.month.isoformat()) == (world["first"].id, "2026-03-01")

    page.goto(f"{live_server}/m/reports/commission?start=2026-03-01&end=2026-03-31")
    rows = page.locator("#table-commission_by_month tbody tr")
    first = rows.filter(has_text=world["first"].number)
    assert "Closed" in first.inner_text() or "已结算" in first.inner_text()
    assert page.locator("#table-commission_by_month tfoot").inner_text() == before
