"""The import pipeline through its services: kinds, keys, dry run, commit, idempotence."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from support.workbooks import CASE_HEADERS, case_row, cases_xlsx, valid_id, xlsx_bytes

from core.audit.models import AuditEntry
from core.batches.models import IMPORTED, NOT_IMPORTED, Batch
from core.cases.models import (
    SETTLED,
    Activity,
    Case,
    CaseAddress,
    CaseComment,
    CaseInterest,
    CasePhone,
    Payment,
)
from core.cases.services import work_refusals
from core.errors import Conflict
from core.imports import services
from core.imports.models import HeaderMapping, ImportRun


@pytest.fixture(autouse=True)
def uploads(app_config, tmp_path):
    app_config["UPLOAD_FOLDER"] = str(tmp_path / "uploads")
    # Imports run without a user here, so in the default language: make that English, which
    # the messages below are checked in.
    app_config["BABEL_DEFAULT_LOCALE"] = "en"


@pytest.fixture
def batch(db, contract):
    def make(batch_no="B1", contract_obj=None, entrust_date=date(2015, 6, 10)):
        row = Batch(
            contract_id=(contract_obj or contract()).id,
            batch_no=batch_no,
            entrust_date=entrust_date,
            area="南京",
        )
        db.session.add(row)
        db.session.commit()
        return row

    return make


def upload(batch, data: bytes, kind="cases", name="cases.xlsx", user=None):
    run = services.start_import(batch, kind, io.BytesIO(data), name, user)
    services.db.session.commit()
    return run


def count(db, model, **filters):
    return db.session.scalar(select(func.count()).select_from(model).filter_by(**filters))


def imported(batch, data: bytes, kind="cases", name="cases.xlsx", skip_invalid=False, key=""):
    run = upload(batch, data, kind, name)
    if key:
        services.set_mapping(run, run.columns["mapping"], match_key=key)
        services.db.session.commit()
    return run, services.commit(run.id, skip_invalid=skip_invalid)


# -- new cases ----------------------------------------------------------------------------------


def test_new_cases_are_stored_with_children_and_the_batch_is_imported(db, batch):
    b = batch()
    headers = [*CASE_HEADERS, "家庭地址", "联系人1姓名", "联系人1关系", "联系人1电话", "家庭电话"]
    rows = [headers] + [
        case_row(n) + ["南京市玄武区1号", "李四", "配偶", "13900000001", "025-84561234"]
        for n in range(1, 4)
    ]
    run, report = imported(b, xlsx_bytes(rows))
    assert report["committed"] and report["created"] == 3 and report["rejected"] == 0
    case = db.session.scalar(select(Case).filter_by(serial="S-00001"))
    assert case.name == "张1" and case.entrusted_amount == Decimal("1001.00")
    assert case.balance == Decimal("1001.00") and case.bucket == "M2"
    assert case.card_no == "6222020200000000001" and case.card_tail == "0001"
    assert case.batch_id == b.id and case.entrust_date == date(2015, 6, 10)
    assert case.birthday == date(1980, 2, 2) and case.gender in ("M", "F")
    assert sorted(p.number for p in case.phones) == ["025-84561234", "13800000001"]
    assert [a.address for a in case.addresses] == ["南京市玄武区1号"]
    assert [(c.name, c.relation, c.phone) for c in case.contacts] == [
        ("李四", "配偶", "13900000001")
    ]
    db.session.refresh(b)
    assert b.status == IMPORTED
    assert db.session.get(ImportRun, run.id).status == services.COMMITTED
    entry = db.session.scalar(select(AuditEntry).filter_by(action="import.committed"))
    assert entry.details["created"] == 3 and entry.details["file_hash"] == run.file_hash
    assert "张" not in str(entry.details)  # counts, no personal data


def test_serials_are_generated_from_client_code_and_batch_ordinal(db, batch, contract):
    first_contract = contract()
    client = first_contract.client
    batch(contract_obj=first_contract)
    second = batch("B2", contract_obj=first_contract)
    rows = [["姓名", "委案金额"], ["王一", "100"], ["王二", "200"]]
    _run, report = imported(second, xlsx_bytes(rows))
    assert report["created"] == 2
    serials = db.session.scalars(select(Case.serial).order_by(Case.serial)).all()
    assert serials == [f"{client.code}2-000001", f"{client.code}2-000002"]
    db.session.refresh(second)
    assert second.serial_seq == 2
    _run, report = imported(second, xlsx_bytes([["姓名", "委案金额"], ["王三", "300"]]))
    assert db.session.scalar(select(func.max(Case.serial))) == f"{client.code}2-000003"


def test_dry_run_changes_nothing(db, batch):
    b = batch()
    run = upload(b, cases_xlsx(5))
    before = count(db, AuditEntry)
    report = services.dry_run(run)
    assert report["created"] == 5 and report["dry_run"]
    assert count(db, Case) == 0 and count(db, CasePhone) == 0
    db.session.refresh(b)
    assert b.status == NOT_IMPORTED and b.serial_seq == 0
    assert count(db, AuditEntry) == before
    assert db.session.get(ImportRun, run.id).status == services.VALIDATED


def test_all_or_nothing_by_default(db, batch):
    b = batch()
    rows = [CASE_HEADERS, case_row(1), case_row(2, 卡号=6222020200112233445.0), case_row(3)]
    run, report = imported(b, xlsx_bytes(rows))
    assert not report["committed"] and report["rejected"] == 1
    assert report["errors"] == [
        [3, "卡号", "Stored as a number: digits may be lost; format the column as text."]
    ] or report["errors"][0][:2] == [3, "卡号"]
    assert count(db, Case) == 0
    assert db.session.get(ImportRun, run.id).status == services.FAILED
    db.session.refresh(b)
    assert b.status == NOT_IMPORTED


def test_skip_invalid_rows_stores_the_rest_and_reports_each_skipped_row(db, batch):
    b = batch()
    rows = [
        CASE_HEADERS,
        case_row(1),
        case_row(2, 证件号="320102198001011235"),  # wrong check digit
        case_row(3, 手机号="1380000"),
        case_row(4),
    ]
    _run, report = imported(b, xlsx_bytes(rows), skip_invalid=True)
    assert report["committed"] and report["created"] == 2 and report["rejected"] == 2
    assert [(e[0], e[1]) for e in report["errors"]] == [(3, "证件号"), (4, "手机号")]
    assert report["rows_read"] == report["created"] + report["rejected"]
    assert count(db, Case) == 2


def test_rows_read_ahead_in_chunks_keep_file_order_and_add_up(db, batch, monkeypatch):
    """The worker normalises chunk N+1 while chunk N is stored: same rows, same order."""
    monkeypatch.setattr(services, "CHUNK_ROWS", 3)
    b = batch()
    bad = {4, 9, 10, 17}  # rejected rows in several chunks (file rows 5, 10, 11, 18)
    rows = [CASE_HEADERS] + [
        case_row(n, 手机号="1380000") if n in bad else case_row(n) for n in range(1, 21)
    ]
    _run, report = imported(b, xlsx_bytes(rows), skip_invalid=True)
    assert report["committed"] and report["rows_read"] == 20
    assert report["created"] == 16 and report["rejected"] == 4
    assert [e[0] for e in report["errors"]] == [n + 1 for n in sorted(bad)]
    stored = db.session.scalars(select(Case.serial).order_by(Case.id)).all()
    assert stored == [f"S-{n:05d}" for n in range(1, 21) if n not in bad]
    assert count(db, CasePhone) == 16


def test_all_or_nothing_across_chunks_stores_nothing(db, batch, monkeypatch):
    monkeypatch.setattr(services, "CHUNK_ROWS", 3)
    b = batch()
    rows = [CASE_HEADERS] + [
        case_row(n, 手机号="1380000") if n == 14 else case_row(n) for n in range(1, 21)
    ]
    _run, report = imported(b, xlsx_bytes(rows))
    assert not report["committed"] and report["rejected"] == 1
    assert report["rows_read"] == report["created"] + report["rejected"] == 20
    assert count(db, Case) == 0 and count(db, CasePhone) == 0


def test_an_error_while_reading_ahead_fails_the_import_and_stops_the_worker(
    db, batch, monkeypatch, app
):
    import sys
    import threading

    monkeypatch.setattr(services, "CHUNK_ROWS", 3)
    b = batch()
    run = upload(b, cases_xlsx(20))
    app.config["IMPORT_MAX_ROWS"] = 10  # raised by the worker, after chunks were stored
    interval = sys.getswitchinterval()
    with pytest.raises(services.FileTooLarge):
        services.commit(run.id)
    assert count(db, Case) == 0 and count(db, CasePhone) == 0
    assert db.session.get(ImportRun, run.id).status == services.FAILED
    assert not [t for t in threading.enumerate() if t.name == "maple-import-read"]
    assert sys.getswitchinterval() == interval


def test_same_file_twice_creates_no_duplicates_and_says_so(db, batch):
    b = batch()
    data = cases_xlsx(3)
    imported(b, data)
    second = upload(b, data)
    assert second.report["duplicate_of"]["file_name"] == "cases.xlsx"
    with pytest.raises(Conflict, match="already imported"):
        services.commit(second.id)
    assert count(db, Case) == 3
    assert db.session.get(ImportRun, second.id).status == services.FAILED


def test_same_rows_in_a_different_file_are_rejected_as_existing(db, batch):
    b = batch()
    imported(b, cases_xlsx(2))
    rows = [CASE_HEADERS, case_row(1), case_row(2), case_row(3)]
    _run, report = imported(b, xlsx_bytes(rows), skip_invalid=True)
    assert report["created"] == 1 and report["rejected"] == 2
    assert "already exists (batch B1)" in report["errors"][0][2]
    assert count(db, Case) == 3


# -- the other kinds and the matching keys -------------------------------------------------------


@pytest.fixture
def three_cases(db, batch):
    b = batch()
    imported(b, cases_xlsx(3))
    return b


@pytest.mark.parametrize(
    ("key", "header", "value"),
    [
        ("serial", ["个案序列号"], lambda n: [f"S-{n:05d}"]),
        ("archive_no", ["档案号"], lambda n: [f"A{n}"]),
        ("card_date", ["卡号", "委案日期"], lambda n: [f"62220202{n:011d}", "2015-06-10"]),
        ("id_date", ["证件号", "委案日期"], lambda n: [valid_id(n), date(2015, 6, 10)]),
    ],
)
def test_each_matching_key_finds_the_case(db, three_cases, key, header, value):
    for n in (1, 2, 3):
        db.session.scalar(select(Case).filter_by(serial=f"S-{n:05d}")).archive_no = f"A{n}"
    db.session.commit()
    rows = [[*header, "评语"], [*value(1), "很好"], [*value(2), "一般"], [*value(9), "无"]]
    run, report = imported(three_cases, xlsx_bytes(rows), kind="comments", skip_invalid=True)
    assert run.match_key == key
    assert report["created"] == 2 and report["unmatched"] == 1 and report["rejected"] == 1
    assert report["errors"][0][0] == 4
    assert count(db, CaseComment) == 2


def test_update_cases(db, three_cases):
    rows = [["个案序列号", "委案金额", "城市", "逾期天数"], ["S-00001", "2000", "苏州", 200],
            ["S-00002", "", "", ""]]  # fmt: skip
    _run, report = imported(three_cases, xlsx_bytes(rows), kind="update_cases")
    assert report["updated"] == 1 and report["unchanged"] == 1
    case = db.session.scalar(select(Case).filter_by(serial="S-00001"))
    db.session.refresh(case)
    assert case.entrusted_amount == Decimal("2000.00") and case.balance == Decimal("2000.00")
    assert case.city == "苏州" and case.bucket == "M6+" and case.days_overdue == 200


def test_interest_phones_and_addresses(db, three_cases):
    _r, report = imported(three_cases, xlsx_bytes(
        [["个案序列号", "利息", "计息日期"], ["S-00001", "12.5", "2015/7/1"]]), kind="interest")  # fmt: skip
    assert report["created"] == 1
    case = db.session.scalar(select(Case).filter_by(serial="S-00001"))
    db.session.refresh(case)
    assert case.interest == Decimal("12.50") and count(db, CaseInterest) == 1
    _r, report = imported(three_cases, xlsx_bytes(
        [["个案序列号", "电话号码", "电话类型"], ["S-00001", "13912345678", "家庭"],
         ["S-00001", "13800000001", ""]]), kind="phones")  # fmt: skip
    assert report["created"] == 1 and report["unchanged"] == 1  # the second is on the case
    assert db.session.scalar(select(CasePhone).filter_by(number="13912345678")).kind == "home"
    _r, report = imported(three_cases, xlsx_bytes(
        [["个案序列号", "地址", "地址类型"], ["S-00002", "上海市1号", "单位"]]), kind="addresses")  # fmt: skip
    assert report["created"] == 1
    assert db.session.scalar(select(CaseAddress).filter_by(address="上海市1号")).kind == "work"


def test_collection_records_refused_by_a_rule_are_reported(db, three_cases):
    from core.cases.models import PAUSED

    paused = db.session.scalar(select(Case).filter_by(serial="S-00002"))
    paused.status = PAUSED
    db.session.commit()
    rows = [["个案序列号", "催收时间", "催收方式", "催收结果", "承诺金额", "承诺日期"],
            ["S-00001", "2015-06-11 10:00", "电话", "承诺还款", "500", "2015-06-20"],
            ["S-00002", "2015-06-11 10:05", "电话", "无人接听", "", ""]]  # fmt: skip
    run = upload(three_cases, xlsx_bytes(rows), kind="activities")
    dry = services.dry_run(run)
    assert (
        dry["created"] == 1 and dry["rejected"] == 1 and "cannot be worked" in dry["errors"][0][2]
    )
    report = services.commit(run.id, skip_invalid=True)
    assert report["created"] == 1 and report["rejected"] == 1
    assert report["errors"][0][0] == 3 and "cannot be worked" in report["errors"][0][2]
    activity = db.session.scalar(select(Activity))
    assert activity.source == "import" and activity.promise_amount == Decimal("500.00")
    assert activity.at.hour == 2  # 10:00 in Shanghai is 02:00 UTC


def test_repayments_update_the_balance_settle_and_are_added_once(db, three_cases):
    rows = [["个案序列号", "还款金额", "还款日期", "流水号"],
            ["S-00001", "1001", "2015-07-01", "R1"], ["S-00002", "2", "2015-07-01", "R2"]]  # fmt: skip
    _r, report = imported(three_cases, xlsx_bytes(rows), kind="repayments")
    assert report["created"] == 2
    settled = db.session.scalar(select(Case).filter_by(serial="S-00001"))
    db.session.refresh(settled)
    assert settled.balance == Decimal("0.00") and settled.status == SETTLED
    assert (settled.last_payment_date, settled.last_payment_amount) == (
        date(2015, 7, 1),
        Decimal("1001.00"),
    )
    # Paid in full: nobody works it any more.
    refusals = work_refusals(settled, None, "contact")
    assert refusals and "cannot be worked" in refusals[0]
    # the same list in another file adds nothing
    rows.append(["S-00003", "3", "2015-07-02", "R3"])
    _r, report = imported(three_cases, xlsx_bytes(rows), kind="repayments")
    assert report["created"] == 1 and report["unchanged"] == 2
    assert count(db, Payment) == 3


# -- mapping ----------------------------------------------------------------------------------------


def test_title_rows_above_the_header_and_row_numbers_as_in_the_file(db, batch):
    b = batch()
    data = xlsx_bytes(
        [CASE_HEADERS, case_row(1), [], case_row(2, 手机号="12345")],
        above=[["江苏中行委案清单"], [], ["导出日期", "2015-06-10"]],
        setup=lambda sheet: sheet.merge_cells("A1:H1"),
    )
    run = upload(b, data)
    assert run.header_row == 4
    report = services.dry_run(run)
    assert report["rows_read"] == 2 and report["errors"][0][:2] == [7, "手机号"]


def test_saved_mapping_is_reused_for_the_next_file_of_the_client(db, batch, contract):
    b = batch()
    rows = [["客户编号", "借款人", "欠款"], ["X1", "王一", "100"]]
    run = upload(b, xlsx_bytes(rows))
    assert run.columns["mapping"] == ["", "", ""]  # no alias matches: the user maps them
    services.set_mapping(run, ["serial", "name", "entrusted_amount"])
    db.session.commit()
    assert db.session.scalar(select(HeaderMapping)).columns["欠款"] == "entrusted_amount"
    other = batch("B2", contract_obj=contract(client=b.contract.client))
    again = upload(other, xlsx_bytes(rows))
    assert again.columns["mapping"] == ["serial", "name", "entrusted_amount"]
    assert again.columns["saved_mapping_used"]


def test_duplicate_headers_are_disambiguated_and_only_the_first_mapped(db, batch):
    run = upload(batch(), xlsx_bytes([["姓名", "委案金额", "姓名"], ["王", "1", "李"]]))
    assert run.columns["headers"] == ["姓名", "委案金额", "姓名 (2)"]
    assert run.columns["mapping"] == ["name", "entrusted_amount", ""]


def test_hidden_columns_are_read_and_flagged(db, batch):
    def hide(sheet):
        sheet.column_dimensions["B"].hidden = True

    run = upload(batch(), xlsx_bytes([["姓名", "委案金额"], ["王", "1"]], setup=hide))
    assert run.columns["hidden"] == [1] and run.columns["mapping"][1] == "entrusted_amount"
