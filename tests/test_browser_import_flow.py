"""The import's main flow in real Chromium: create a batch, upload a workbook, fix a mapping,
read the dry-run report, commit skipping the invalid row, pause a case, export."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select
from support.workbooks import CASE_HEADERS, case_row, valid_id, xlsx_bytes

from core.batches.models import IMPORTED, Batch
from core.cases.models import PAUSED, Case
from core.imports.models import ImportRun
from core.testing.fixtures import sign_in

pytestmark = pytest.mark.browser

#: The bank calls the debtor's name 主借人, which no alias knows.
HEADERS = ["主借人" if header == "姓名" else header for header in CASE_HEADERS]


@pytest.fixture
def app_config(app_config, tmp_path):
    app_config["UPLOAD_FOLDER"] = str(tmp_path / "uploads")
    return app_config


def bank_workbook(path: Path) -> Path:
    """A title row, the header in row 2, three cases; the second has a wrong ID check digit."""
    good = valid_id(2)
    wrong = good[:-1] + ("0" if good[-1] != "0" else "1")
    rows = [HEADERS, case_row(1), case_row(2, 证件号=wrong), case_row(3)]
    path.write_bytes(xlsx_bytes(rows, above=[["江苏中行 2026年6月 委外案件清单"]]))
    return path


def test_manager_imports_a_bank_workbook_and_works_its_cases(
    live_server, browser_page, make_user, contract, db, tmp_path
):
    target = contract(number="JSZ-2026-002")
    make_user("manager", username="zhao", contracts=[target])
    page = browser_page
    sign_in(page, live_server, "zhao")

    # 案件导入 → 添加批次
    page.click("nav.sidebar a[href='/batches/']")
    page.click("#new-batch")
    page.wait_for_load_state("load")
    page.select_option("#contract", str(target.id))
    page.fill("#batch_no", "JSZ-0611")
    page.fill("#entrust_date", "2026-06-11")
    page.click("#batch-form button.primary")
    page.wait_for_selector(".flash-success")
    batch = db.session.scalar(select(Batch).filter_by(batch_no="JSZ-0611"))

    # Upload the bank's workbook into the new batch
    page.click(f"tr[data-batch='JSZ-0611'] a[href='/imports/batches/{batch.id}']")
    page.wait_for_url(f"**/imports/batches/{batch.id}")
    page.select_option("#kind", "cases")
    page.set_input_files("#file", str(bank_workbook(tmp_path / "江苏中行0611.xlsx")))
    page.click("form[enctype='multipart/form-data'] button.primary")
    page.wait_for_url("**/imports/runs/*")

    # The header was found under the title row; 主借人 is not mapped, and the name is required
    odd = HEADERS.index("主借人")
    assert page.input_value(f"#column-{odd}") == ""
    assert page.input_value(f"#column-{HEADERS.index('证件号')}") == "id_no"
    page.click("#dry-run")
    assert page.locator("#mapping .error").count() >= 1
    assert page.locator("#report").count() == 0

    # Fix the mapping in the page and check the file (the dry run, polled as a job)
    page.select_option(f"#column-{odd}", "name")
    page.click("#dry-run")
    page.wait_for_selector("#report", timeout=30000)
    counts = page.locator("#report table.counts td").all_inner_texts()
    assert counts == ["3", "2", "0", "0", "0", "1"]  # read, create, update, same, unmatched, rej.
    rejected = page.locator("#errors tbody tr")
    assert rejected.count() == 1
    row, column, reason = rejected.first.locator("td").all_inner_texts()
    assert (row, column) == ("4", "证件号") and reason.strip()
    assert db.session.scalar(select(Case.id).where(Case.batch_id == batch.id)) is None

    # Import for good, skipping the invalid row
    page.check("input[name=skip_invalid]")
    page.click("#commit")
    page.wait_for_selector("dl.facts .tag.ok", timeout=30000)  # committed
    assert page.locator("#report table.counts td").all_inner_texts()[:2] == ["3", "2"]
    db.session.expire_all()
    run = db.session.scalar(select(ImportRun).filter_by(batch_id=batch.id))
    assert (run.status, run.report["created"], run.report["rejected"]) == ("committed", 2, 1)
    assert db.session.get(Batch, batch.id).status == IMPORTED

    # 批次管理: the batch's cases are listed; pause one with a reason
    page.click("nav.sidebar a[href='/cases/']")
    page.fill("#case-filter input[name=batch_no]", "JSZ-0611")
    page.click("#case-filter button.primary")
    page.wait_for_url("**batch_no=JSZ-0611**")
    rows = page.locator("#cases tbody tr[data-case]")
    assert rows.count() == 2
    serials = {rows.nth(i).get_attribute("data-case") for i in range(2)}
    assert serials == {"S-00001", "S-00003"}
    rows.first.locator("input[name=case]").check()
    first_serial = rows.first.get_attribute("data-case")
    page.select_option("#operations select[name=operation]", "pause")
    page.fill("#operations input[name=reason]", "客户申请分期，暂停催收")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#operations button.primary")
    page.wait_for_selector(".flash-success")
    db.session.expire_all()
    paused = db.session.scalar(select(Case).filter_by(serial=first_serial))
    assert (paused.status, paused.status_reason) == (PAUSED, "客户申请分期，暂停催收")

    # Export what the filter shows
    with page.expect_download() as info:
        page.click("#export-form button")
    download = info.value
    assert download.suggested_filename.endswith(".xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(Path(download.path()).read_bytes())).active
    exported = {row[0] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert exported == serials
