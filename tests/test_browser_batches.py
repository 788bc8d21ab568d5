"""Batch and case management in real Chromium: create a batch, filter, pause, export."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select
from support.cases import make_cases

from core.batches.models import Batch
from core.cases.models import PAUSED, Case
from core.testing.fixtures import sign_in

pytestmark = pytest.mark.browser


def test_manager_creates_a_batch_filters_pauses_and_exports(
    live_server, browser_page, make_user, contract, db
):
    target = contract(number="JSZ-2026-001")
    make_user("manager", username="wang", contracts=[target])
    page = browser_page
    sign_in(page, live_server, "wang")

    # 案件导入 → 添加批次
    page.click("nav.sidebar a[href='/batches/']")
    page.click("#new-batch")
    page.wait_for_load_state("load")  # maple.js (deferred) shows the contract's client
    page.select_option("#contract", str(target.id))
    assert target.client.name in page.inner_text("#batch-client")
    page.fill("#batch_no", "JSZ-0610")
    page.fill("#entrust_date", "2026-06-10")
    page.fill("#expected_return_date", "2026-06-01")  # before the entrust date: refused
    page.click("#batch-form button.primary")
    assert page.locator(".field.has-error").count() >= 1
    page.fill("#expected_return_date", "2026-09-10")
    page.click("#batch-form button.primary")
    page.wait_for_selector(".flash-success")
    assert page.locator("tr[data-batch='JSZ-0610']").count() == 1

    # The import step comes with the import pipeline; its cases are written here directly.
    batch = db.session.scalar(select(Batch).filter_by(batch_no="JSZ-0610"))
    make_cases(db, target, batch, 3)
    make_cases(db, target, None, 2)  # not in the batch: filtered out below

    # 批次管理: filter by batch no., pause one case with a reason
    page.click("nav.sidebar a[href='/cases/']")
    page.fill("#case-filter input[name=batch_no]", "JSZ-0610")
    page.click("#case-filter button.primary")
    page.wait_for_url("**batch_no=JSZ-0610**")
    assert page.inner_text("#result-count").startswith("3")
    rows = page.locator("#cases tbody tr[data-case]")
    assert rows.count() == 3
    first_serial = rows.first.get_attribute("data-case")
    rows.first.locator("input[name=case]").check()
    page.select_option("#operations select[name=operation]", "pause")
    page.fill("#operations input[name=reason]", "客户投诉，暂停催收")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#operations button.primary")
    page.wait_for_selector(".flash-success")
    assert "1" in page.inner_text(".flash-success")
    db.session.expire_all()
    paused = db.session.scalar(select(Case).filter_by(serial=first_serial))
    assert (paused.status, paused.status_reason) == (PAUSED, "客户投诉，暂停催收")
    assert page.locator(f"tr[data-case='{first_serial}'] .tag.status-paused").count() == 1

    # Export the filter's result
    with page.expect_download() as info:
        page.click("#export-form button")
    download = info.value
    assert download.suggested_filename.endswith(".xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(Path(download.path()).read_bytes())).active
    serials = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert len(serials) == 3 and first_serial in serials
