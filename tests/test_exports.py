"""Exporting the case list: masked, formula-safe, exactly the filter's rows, large ones as jobs."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import select
from support.cases import make_batch, make_cases

from core.audit.models import AuditEntry
from core.cases.filters import CaseFilter, count_cases
from core.exports.services import csv_safe

DANGEROUS = ['=HYPERLINK("http://evil","x")', "+1+2", "-3+4", "@SUM(A1)", "\tTAB", "\rCR"]


@pytest.fixture
def cases(db, contract):
    target = contract()
    batch = make_batch(db, target, "EXP-01", area="苏南")
    plain = make_cases(db, target, batch, 6, entrusted_amount=Decimal("12345.60"))
    other = make_batch(db, target, "EXP-02", area="苏北")
    make_cases(db, target, other, 4)
    tricky = [
        make_cases(db, target, batch, 1, name=text, status_reason=text)[0] for text in DANGEROUS
    ]
    return {"contract": target, "plain": plain, "tricky": tricky, "all": plain + tricky}


def export(client, fmt="xlsx", query="", **extra):
    return client.post("/cases/export", data={"format": fmt, "query": query, **extra})


def read_xlsx(response):
    assert response.status_code == 200, response.text[:500]
    assert response.headers["Content-Disposition"].startswith("attachment")
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    return book.active


def header_index(sheet) -> dict:
    return {cell.value: cell.column - 1 for cell in sheet[1]}


def test_xlsx_export_is_masked_for_a_user_without_unmask(client, login_as, cases):
    login_as("manager")
    sheet = read_xlsx(export(client, query="area=苏南"))
    text = "\n".join(
        str(value) for row in sheet.iter_rows(values_only=True) for value in row if value
    )
    for case in cases["all"]:
        assert case.card_no not in text
        assert case.id_no not in text
        assert case.mobile not in text
    columns = header_index(sheet)
    assert {"个案序列号", "姓名", "证件号", "卡号", "手机号", "委案金额", "委案日期"} <= set(
        columns
    )
    first = [cell for cell in sheet[2]]
    assert first[columns["卡号"]].value.count("*") > 0


def test_xlsx_export_is_formula_safe_and_typed(client, login_as, cases):
    login_as("admin")
    sheet = read_xlsx(export(client, query="area=苏南", unmask="1"))
    columns = header_index(sheet)
    names = {}
    for row in sheet.iter_rows(min_row=2):
        name_cell = row[columns["姓名"]]
        names[(name_cell.value or "").replace("_x000D_", "\r")] = name_cell  # CR, escaped
        reason = row[columns["状态原因"]]
        assert reason.value is None or reason.data_type == "s"
        amount = row[columns["委案金额"]]
        assert amount.data_type == "n" and "0.00" in amount.number_format
        day = row[columns["委案日期"]]
        assert day.is_date and day.value.date() == date(2026, 3, 1)
    for text in DANGEROUS:
        cell = names[text]
        assert cell.data_type == "s", (text, cell.data_type)
    serial_cell = sheet.cell(row=2, column=columns["个案序列号"] + 1)
    assert serial_cell.data_type == "s"
    card = sheet.cell(row=2, column=columns["卡号"] + 1)
    assert card.data_type == "s" and card.value.isdigit()  # unmasked: the whole number, as text


def test_csv_export_is_formula_safe_masked_and_utf8(client, login_as, cases):
    login_as("manager")
    response = export(client, fmt="csv", query="area=苏南")
    assert response.status_code == 200
    assert response.data.startswith(b"\xef\xbb\xbf")  # a BOM, so Excel reads the Chinese
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert header[0] == "个案序列号"
    reasons = {row[header.index("状态原因")] for row in body}
    for text in DANGEROUS:
        assert "'" + text in reasons
    for row in body:
        for value in row:
            assert not value.startswith(("=", "+", "@", "\t", "\r"))
    assert all(case.card_no not in response.text for case in cases["all"])
    assert "12345.60" in {row[header.index("委案金额")] for row in body}


def test_csv_safe():
    assert csv_safe("=1+1") == "'=1+1"
    assert csv_safe("张三") == "张三"
    assert csv_safe("-") == "'-"


@pytest.mark.parametrize(
    "query", ["", "area=苏南", "batch_no=EXP-02", "q=张三", "amount_min=10000"]
)
def test_export_lists_exactly_the_rows_the_filter_shows(client, login_as, cases, query, db):
    from urllib.parse import parse_qsl

    user = login_as("manager")
    sheet = read_xlsx(export(client, query=query))
    exported = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    case_filter = CaseFilter.from_args(dict(parse_qsl(query)))
    assert len(exported) == count_cases(user, case_filter)
    page = client.get(f"/cases/?per_page=200&{query}")
    shown = [
        line.split('data-case="')[1].split('"')[0]
        for line in page.text.splitlines()
        if 'data-case="' in line
    ]
    assert exported == shown


def test_export_is_audited_with_filter_and_count_but_no_data(client, login_as, cases, db):
    login_as("manager")
    export(client, query="area=苏南")
    entry = db.session.scalar(select(AuditEntry).filter_by(action="cases.exported"))
    assert entry.details == {
        "filter": {"area": "苏南"},
        "format": "xlsx",
        "rows": 12,
        "unmasked": False,
    }


def test_unmasked_export_needs_the_unmask_permission(client, login_as, cases):
    login_as("manager")
    assert export(client, unmask="1").status_code == 403


def test_collector_may_not_export(client, login_as, cases):
    login_as("collector", contracts=[cases["contract"]])
    assert export(client).status_code == 403


@pytest.fixture
def small_inline(app_config):
    app_config["EXPORT_INLINE_MAX_ROWS"] = 3
    app_config["JOBS_INLINE"] = True


def test_large_export_runs_as_a_job_for_its_user_only(
    small_inline, client, login_as, cases, db, app
):
    login_as("manager")
    response = export(client, fmt="xlsx", query="area=苏南")
    assert response.status_code == 302
    job_url = response.headers["Location"]
    page = client.get(job_url)
    assert page.status_code == 200 and "12" in page.text
    status = client.get(f"{job_url}/status").get_json()
    assert status["status"] == "done" and status["result"]["rows"] == 12
    assert "/" not in status["result"]["file"] and status["result"]["file"].endswith(".xlsx")
    download = client.get(f"{job_url}/download")
    sheet = read_xlsx(download)
    assert sheet.max_row == 13
    entry = db.session.scalar(select(AuditEntry).filter_by(action="cases.exported"))
    assert entry.details["rows"] == 12

    login_as("manager")  # another manager: the file is not theirs
    assert client.get(f"{job_url}/download").status_code == 404
    assert client.get(f"{job_url}/status").status_code == 404
