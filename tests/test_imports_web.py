"""The import pages: upload, mapping, dry run, commit, progress, downloads, permissions, 4xx."""

from __future__ import annotations

import io
import zipfile
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from support.workbooks import CASE_HEADERS, case_row, cases_xlsx, xlsx_bytes

from core.batches.models import Batch
from core.cases.models import Case
from core.imports.models import ImportRun


@pytest.fixture(autouse=True)
def inline_jobs(app_config, tmp_path):
    app_config["JOBS_INLINE"] = True
    app_config["UPLOAD_FOLDER"] = str(tmp_path / "uploads")


@pytest.fixture
def setup(db, contract, login_as):
    c = contract()
    batch = Batch(contract_id=c.id, batch_no="B1", entrust_date=date(2015, 6, 10))
    db.session.add(batch)
    db.session.commit()
    user = login_as("manager", contracts=[c], locale="en")
    return batch, user


def post_file(client, batch, data: bytes, name="cases.xlsx", kind="cases"):
    return client.post(
        f"/imports/batches/{batch.id}/upload",
        data={"kind": kind, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def cases(db):
    return db.session.scalar(select(func.count()).select_from(Case))


def runs(db):
    return db.session.scalar(select(func.count()).select_from(ImportRun))


def test_upload_map_dry_run_commit(client, db, setup):
    batch, _user = setup
    response = post_file(client, batch, cases_xlsx(3))
    assert response.status_code == 302
    page = client.get(response.headers["Location"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "S-00001" in html and "张*" in html  # masked name
    assert "13800000001" not in html and "138****0001" in html
    run = db.session.scalar(select(ImportRun))
    form = {f"column-{i}": name for i, name in enumerate(run.columns["mapping"])}
    response = client.post(f"/imports/runs/{run.id}", data=form)
    assert response.status_code == 302
    html = client.get(f"/imports/runs/{run.id}").get_data(as_text=True)
    assert 'id="report"' in html and 'id="commit"' in html
    assert cases(db) == 0
    status = client.get(f"/imports/runs/{run.id}/status.json").get_json()
    assert status["run_status"] == "validated" and status["job"]["status"] == "done"
    assert status["job"]["done"] == status["job"]["total"] == 3
    response = client.post(f"/imports/runs/{run.id}/commit", data={})
    assert response.status_code == 302
    assert cases(db) == 3
    db.session.expire_all()
    assert db.session.get(ImportRun, run.id).status == "committed"


def test_mapping_problems_are_shown_and_nothing_runs(client, db, setup):
    batch, _user = setup
    post_file(client, batch, cases_xlsx(1))
    run = db.session.scalar(select(ImportRun))
    form = {f"column-{i}": "" for i in range(len(run.columns["headers"]))}
    response = client.post(f"/imports/runs/{run.id}", data=form)
    assert response.status_code == 422
    assert "个案序列号" in response.get_data(as_text=True) or "姓名" in response.get_data(True)
    db.session.expire_all()
    assert db.session.get(ImportRun, run.id).status == "uploaded"


def test_rejected_rows_are_listed_and_downloadable(client, db, setup):
    batch, _user = setup
    rows = [CASE_HEADERS, case_row(1), case_row(2, 卡号=6222020200112233445.0)]

    def formula_text(sheet):  # a text cell that a careless writer would turn into a formula
        sheet["B3"] = "=cmd()"
        sheet["B3"].data_type = "s"

    post_file(client, batch, xlsx_bytes(rows, setup=formula_text))
    run = db.session.scalar(select(ImportRun))
    form = {f"column-{i}": name for i, name in enumerate(run.columns["mapping"])}
    client.post(f"/imports/runs/{run.id}", data=form)
    html = client.get(f"/imports/runs/{run.id}").get_data(as_text=True)
    assert 'id="errors"' in html and "<td>3</td><td>卡号</td>" in html
    response = client.get(f"/imports/runs/{run.id}/errors.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    values = list(sheet.values)
    assert values[0][0] == "行号" or values[0][0] == "Row"
    assert values[1][0] == 3 and "卡号" in values[1][-1]
    assert values[1][2] == "=cmd()"  # written as text, never a formula
    assert sheet.cell(row=2, column=3).data_type == "s"
    # all or nothing: the commit stores nothing and says why
    client.post(f"/imports/runs/{run.id}/commit", data={})
    assert cases(db) == 0
    # skipping invalid rows is an explicit choice
    run = db.session.get(ImportRun, run.id)
    db.session.expire_all()
    assert db.session.get(ImportRun, run.id).status == "failed"


def test_skip_invalid_is_chosen_at_commit(client, db, setup):
    batch, _user = setup
    rows = [CASE_HEADERS, case_row(1), case_row(2, 手机号="123")]
    post_file(client, batch, xlsx_bytes(rows))
    run = db.session.scalar(select(ImportRun))
    form = {f"column-{i}": name for i, name in enumerate(run.columns["mapping"])}
    client.post(f"/imports/runs/{run.id}", data=form)
    client.post(f"/imports/runs/{run.id}/commit", data={"skip_invalid": "1"})
    assert cases(db) == 1
    html = client.get(f"/imports/runs/{run.id}").get_data(as_text=True)
    assert "<td>3</td><td>手机号</td>" in html


def test_template_download_has_headers_comments_and_validation(client, setup):
    response = client.get("/imports/templates/cases.xlsx")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    sheet = book.worksheets[0]
    headers = [cell.value for cell in sheet[1]]
    assert headers[:3] == ["个案序列号", "档案号", "卡号"] and "姓名" in headers
    for required in ("姓名", "委案金额"):
        cell = sheet.cell(row=1, column=headers.index(required) + 1)
        assert "Required" in cell.comment.text or "必填" in cell.comment.text
    assert sheet.cell(row=2, column=headers.index("卡号") + 1).number_format == "@"
    kinds = {dv.type for dv in sheet.data_validations.dataValidation}
    assert {"date", "list", "decimal"} <= kinds
    gender = next(dv for dv in sheet.data_validations.dataValidation if dv.type == "list")
    assert "男,女" in gender.formula1


def test_a_template_uploads_back_with_its_mapping(client, db, setup):
    batch, _user = setup
    template = client.get("/imports/templates/cases.xlsx").data
    book = load_workbook(io.BytesIO(template))
    sheet = book.worksheets[0]
    headers = [cell.value for cell in sheet[1]]
    sheet.cell(row=2, column=headers.index("姓名") + 1, value="王一")
    sheet.cell(row=2, column=headers.index("委案金额") + 1, value=100)
    out = io.BytesIO()
    book.save(out)
    post_file(client, batch, out.getvalue())
    run = db.session.scalar(select(ImportRun))
    assert run.columns["mapping"][: len(headers)] == [
        name for name in run.columns["mapping"][: len(headers)]
    ]
    assert all(run.columns["mapping"][: len(headers)])


def test_a_user_who_cannot_see_the_contract_gets_404(client, db, contract, login_as):
    other = contract()
    batch = Batch(contract_id=other.id, batch_no="X", entrust_date=date(2015, 6, 10))
    db.session.add(batch)
    db.session.commit()
    from core.auth.models import Role
    from core.auth.services import set_role_permissions

    leader = db.session.scalar(select(Role).filter_by(name="team_leader"))
    set_role_permissions(leader, leader.permissions | {"core.imports.run"}, None)
    db.session.commit()
    login_as("team_leader", contracts=[contract()])
    assert client.get(f"/imports/batches/{batch.id}").status_code == 404
    assert post_file(client, batch, cases_xlsx(1)).status_code == 404
    assert runs(db) == 0


def test_a_collector_may_not_import(client, db, contract, login_as):
    c = contract()
    batch = Batch(contract_id=c.id, batch_no="X", entrust_date=date(2015, 6, 10))
    db.session.add(batch)
    db.session.commit()
    login_as("collector", contracts=[c])
    assert client.get(f"/imports/batches/{batch.id}").status_code == 403


def _zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as part:
            for _ in range(600):  # 600 MB of zeros, about 600 KB compressed
                part.write(bytes(1024 * 1024))
    return out.getvalue()


def _with_part(data: bytes, name: str, content: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            body = source.read(item)
            if item.filename == name:
                body = content
            target.writestr(item, body)
        if name not in source.namelist():
            target.writestr(name, content)
    return out.getvalue()


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">]>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&lol2;</t></si></sst>"""


@pytest.mark.parametrize(
    ("make", "name", "status", "words"),
    [
        (lambda: b"just some text, not a workbook", "cases.xlsx", 415, "not an Excel workbook"),
        (lambda: cases_xlsx(2)[:700], "cases.xlsx", 400, "damaged"),
        (lambda: cases_xlsx(2), "cases.xlsm", 415, "Macro"),
        (lambda: _with_part(cases_xlsx(2), "xl/vbaProject.bin", b"\x00" * 10), "cases.xlsx",
         415, "macros"),
        (lambda: _with_part(cases_xlsx(2), "xl/sharedStrings.xml", BILLION_LAUGHS),
         "cases.xlsx", 400, "entities"),
        (_zip_bomb, "cases.xlsx", 413, "expand"),
        (lambda: b"PK\x03\x04garbage", "cases.xlsx", 400, "damaged"),
        (lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "cases.xls", 415,
         "not an Excel"),
        (lambda: b"%PDF-1.4 a pdf", "cases.pdf", 415, ".xlsx, .xls"),
        (lambda: b"", "cases.csv", 400, "empty"),
    ],
)  # fmt: skip
def test_malformed_files_are_refused_with_a_message_and_nothing_stored(
    client, db, setup, app, make, name, status, words
):
    batch, _user = setup
    response = post_file(client, batch, make(), name=name)
    assert response.status_code == status
    assert words.lower() in response.get_data(as_text=True).lower()
    assert runs(db) == 0 and cases(db) == 0
    import os

    folder = app.config["UPLOAD_FOLDER"]
    assert not os.path.isdir(folder) or os.listdir(folder) == []


def test_too_many_zip_entries_refused(client, db, setup, app):
    app.config["IMPORT_MAX_ZIP_ENTRIES"] = 5
    batch, _user = setup
    response = post_file(client, batch, cases_xlsx(1))
    assert response.status_code == 413 and "parts" in response.get_data(as_text=True)


def test_too_many_rows_refused(client, db, setup, app):
    app.config["IMPORT_MAX_ROWS"] = 10
    batch, _user = setup
    response = post_file(client, batch, cases_xlsx(100))
    assert response.status_code == 413 and runs(db) == 0


def test_an_upload_over_the_size_limit_gets_413_with_a_clear_page(client, setup, app):
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    batch, _user = setup
    response = post_file(client, batch, b"x" * (2 * 1024 * 1024), name="big.csv")
    assert response.status_code == 413
    assert "1 MB" in response.get_data(as_text=True)


def test_the_import_page_lists_batches_by_status(client, db, setup):
    _batch, _user = setup
    html = client.get("/imports/").get_data(as_text=True)
    assert "B1" in html
    assert "B1" not in client.get("/imports/?status=imported").get_data(as_text=True)
