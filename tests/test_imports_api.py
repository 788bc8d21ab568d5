"""The JSON API for imports: upload, mapping, dry run, report, commit, jobs, visibility, 4xx."""

from __future__ import annotations

import io
import os
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from support.workbooks import CASE_HEADERS, case_row, cases_xlsx, valid_id, xlsx_bytes

from core.auth.models import Role, RolePermission
from core.auth.services import issue_token
from core.batches.models import IMPORTED, Batch
from core.cases.models import Case
from core.imports.models import HeaderMapping, ImportRun

#: The bank calls the debtor's name 主借人, which no alias knows: the user maps it.
ODD_HEADERS = ["主借人" if header == "姓名" else header for header in CASE_HEADERS]


class Api:
    def __init__(self, client, user, token):
        self.client, self.user = client, user
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method, path, **kwargs):
        return self.client.open("/api/v1" + path, method=method, headers=self.headers, **kwargs)

    def get(self, path, **kwargs):
        return self.call("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.call("POST", path, **kwargs)

    def patch(self, path, **kwargs):
        return self.call("PATCH", path, **kwargs)

    def upload(self, batch, data: bytes, name="cases.xlsx", kind="cases"):
        return self.post(
            f"/batches/{batch.id}/imports",
            data={"kind": kind, "file": (io.BytesIO(data), name)},
            content_type="multipart/form-data",
        )


@pytest.fixture(autouse=True)
def inline_jobs(app_config, tmp_path):
    app_config["JOBS_INLINE"] = True
    app_config["UPLOAD_FOLDER"] = str(tmp_path / "uploads")


@pytest.fixture
def api_as(client, make_user, db):
    def make(role="manager", **kwargs) -> Api:
        kwargs.setdefault("locale", "en")
        user = make_user(role, **kwargs)
        _token, plain = issue_token(user, "test")
        db.session.commit()
        return Api(client, user, plain)

    return make


@pytest.fixture
def batch(db, contract):
    found = Batch(contract_id=contract().id, batch_no="B1", entrust_date=date(2015, 6, 10))
    db.session.add(found)
    db.session.commit()
    return found


def count(db, model, **where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).filter_by(**where))


def odd_workbook(rows: int = 3, **changes_by_row) -> bytes:
    """A bank's list with a title row above the header and one header no alias knows."""
    data = [case_row(n, **changes_by_row.get(n, {})) for n in range(1, rows + 1)]
    return xlsx_bytes([ODD_HEADERS, *data], above=[["江苏中行 2015年6月 委外清单"]])


def test_upload_map_validate_report_commit(api_as, db, batch):
    api = api_as("manager", contracts=[batch.contract])
    uploaded = api.upload(batch, odd_workbook(3))
    assert uploaded.status_code == 201, uploaded.json
    run = uploaded.json
    assert (run["status"], run["kind"], run["header_row"], run["format"]) == (
        "uploaded",
        "cases",
        2,
        "xlsx",
    )
    assert run["headers"] == ODD_HEADERS
    odd = ODD_HEADERS.index("主借人")
    assert run["mapping"][odd] == "" and run["mapping"][ODD_HEADERS.index("证件号")] == "id_no"
    assert {"name", "id_no", "card_no"} <= {field["name"] for field in run["fields"]}
    assert next(f for f in run["fields"] if f["name"] == "name")["required"] is True
    first = run["preview"][0]
    assert first["number"] == 3
    assert first["values"]["mobile"] == "138****0001"  # masked
    assert first["values"]["id_no"].startswith("320") and "*" in first["values"]["id_no"]
    assert "name" not in first["values"]

    path = f"/imports/{run['id']}"
    # Nothing runs on a mapping that misses a required field, or names fields that do not exist
    assert api.post(f"{path}/commit").status_code == 409
    wrong = api.patch(path, json={"columns": {"主借人": "debtor", "卡号": "card"}})
    assert wrong.status_code == 422
    assert {"debtor", "card"} <= set(wrong.json["error"]["fields"])
    assert api.patch(path, json={"mapping": ["name"]}).status_code == 422
    assert api.patch(path, json={"columns": {"No such header": "name"}}).status_code == 422

    fixed = api.patch(path, json={"columns": {"主借人": "name"}})
    assert fixed.status_code == 200, fixed.json
    assert fixed.json["mapping"][odd] == "name"
    assert fixed.json["preview"][0]["values"]["name"] == "张*"
    saved = db.session.scalar(select(HeaderMapping).filter_by(client_id=batch.contract.client_id))
    assert saved.columns["主借人"] == "name"  # the bank's next file maps itself

    job = api.post(f"{path}/validate")
    assert job.status_code == 202
    assert job.json["name"] == "imports.dry_run"
    progress = api.get(f"/jobs/{job.json['id']}").json
    assert progress["status"] == "done" and progress["done"] == progress["total"] == 3
    assert count(db, Case) == 0  # the dry run stores nothing

    report = api.get(path).json
    assert report["status"] == "validated"
    assert report["job"]["id"] == job.json["id"]
    assert (
        report["report"] | {"rows_read": 3, "created": 3, "rejected": 0, "errors": []}
        == (report["report"])
    )
    assert report["report"]["dry_run"] is True and report["report"]["message"]

    committed = api.post(f"{path}/commit")
    assert committed.status_code == 202
    assert api.get(f"/jobs/{committed.json['id']}").json["result"]["committed"] is True
    assert count(db, Case, batch_id=batch.id) == 3
    db.session.expire_all()
    assert db.session.get(Batch, batch.id).status == IMPORTED
    final = api.get(path).json
    assert final["status"] == "committed" and final["report"]["created"] == 3
    assert final["preview"] == []
    assert api.post(f"{path}/commit").status_code == 409  # once only
    assert api.patch(path, json={"skip_invalid": True}).status_code == 409
    assert api.post(f"{path}/validate").status_code == 409

    # The next file from the same bank is mapped with no clicks
    again = api.upload(batch, odd_workbook(1)).json
    assert again["saved_mapping_used"] is True and again["mapping"][odd] == "name"


def test_rejected_rows_refuse_the_commit_until_skip_invalid_is_chosen(api_as, db, batch):
    api = api_as("manager", contracts=[batch.contract])
    bad_id = valid_id(2)[:-1] + ("0" if valid_id(2)[-1] != "0" else "1")
    rows = [CASE_HEADERS, case_row(1), case_row(2, 证件号=bad_id), case_row(3)]
    run = api.upload(batch, xlsx_bytes(rows)).json
    path = f"/imports/{run['id']}"

    refused = api.post(f"{path}/commit")  # no dry run yet
    assert refused.status_code == 409 and refused.json["error"]["message"]

    api.post(f"{path}/validate")
    report = api.get(path).json["report"]
    assert (report["rows_read"], report["created"], report["rejected"]) == (3, 2, 1)
    assert report["errors"] == [
        {"row": 3, "column": "证件号", "reason": "The ID number's check digit is wrong."}
    ]
    errors = api.get(f"{path}/errors.xlsx")
    assert errors.status_code == 200
    assert errors.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(errors.data)).active
    values = list(sheet.values)
    assert values[1][0] == 3 and "check digit" in values[1][-1]

    refused = api.post(f"{path}/commit")  # all or nothing: the dry run found a problem
    assert refused.status_code == 409
    assert "skip invalid rows" in refused.json["error"]["message"]
    assert count(db, Case) == 0

    assert api.patch(path, json={"skip_invalid": True}).json["skip_invalid"] is True
    job = api.post(f"{path}/commit")
    assert job.status_code == 202
    assert api.get(f"/jobs/{job.json['id']}").json["status"] == "done"
    assert count(db, Case) == 2
    final = api.get(path).json["report"]
    assert (final["created"], final["rejected"], final["committed"]) == (2, 1, True)
    assert final["errors"][0]["row"] == 3  # the skipped row is in the report


def test_a_clean_file_has_no_error_workbook(api_as, batch):
    api = api_as("manager", contracts=[batch.contract])
    run = api.upload(batch, cases_xlsx(1)).json
    api.post(f"/imports/{run['id']}/validate")
    response = api.get(f"/imports/{run['id']}/errors.xlsx")
    assert response.status_code == 404 and response.json["error"]["message"]


@pytest.mark.parametrize(
    ("data", "name", "status"),
    [
        (b"just some text, not a workbook", "cases.xlsx", 415),
        (cases_xlsx(2)[:700], "cases.xlsx", 400),
        (b"", "cases.csv", 400),
    ],
)
def test_a_bad_file_gets_a_json_4xx_and_nothing_is_stored(
    api_as, db, app, batch, data, name, status
):
    api = api_as("manager", contracts=[batch.contract])
    response = api.upload(batch, data, name=name)
    assert response.status_code == status
    assert response.json["error"]["status"] == status
    assert response.json["error"]["message"]
    assert count(db, ImportRun) == 0 and count(db, Case) == 0
    folder = app.config["UPLOAD_FOLDER"]
    assert not os.path.isdir(folder) or os.listdir(folder) == []


def test_the_upload_form_is_validated(api_as, db, batch):
    api = api_as("manager", contracts=[batch.contract])
    not_multipart = api.post(f"/batches/{batch.id}/imports", json={"kind": "cases"})
    assert not_multipart.status_code == 400
    assert "multipart/form-data" in not_multipart.json["error"]["message"]
    no_file = api.post(
        f"/batches/{batch.id}/imports", data={"kind": "cases"}, content_type="multipart/form-data"
    )
    assert no_file.status_code == 422 and set(no_file.json["error"]["fields"]) == {"file"}
    no_kind = api.upload(batch, cases_xlsx(1), kind="lottery_tickets")
    assert no_kind.status_code == 422 and set(no_kind.json["error"]["fields"]) == {"kind"}
    assert count(db, ImportRun) == 0
    assert api.upload(Batch(id=99999), cases_xlsx(1)).status_code == 404


def test_a_job_is_seen_only_by_its_user(api_as, batch):
    mine = api_as("manager", contracts=[batch.contract])
    run = mine.upload(batch, cases_xlsx(1)).json
    job = mine.post(f"/imports/{run['id']}/validate").json
    assert mine.get(f"/jobs/{job['id']}").status_code == 200
    other = api_as("manager", contracts=[batch.contract])
    response = other.get(f"/jobs/{job['id']}")
    assert response.status_code == 404 and response.json["error"]["status"] == 404
    assert mine.get("/jobs/no-such-job").status_code == 404
    assert mine.get("/jobs/" + "x" * 80).status_code == 404


def test_a_collector_with_api_access_cannot_reach_another_contracts_import(
    api_as, db, contract, batch
):
    role = db.session.scalar(select(Role).filter_by(name="collector"))
    role.grants += [
        RolePermission(permission="core.api.use"),
        RolePermission(permission="core.imports.run"),
    ]
    db.session.commit()
    theirs = api_as("manager", contracts=[batch.contract])
    run = theirs.upload(batch, cases_xlsx(1)).json
    theirs.post(f"/imports/{run['id']}/validate")

    own = Batch(contract_id=contract().id, batch_no="OWN", entrust_date=date(2015, 6, 10))
    db.session.add(own)
    db.session.commit()
    collector = api_as("collector", contracts=[own.contract])
    assert collector.upload(own, cases_xlsx(1)).status_code == 201
    assert collector.upload(batch, cases_xlsx(1)).status_code == 404
    path = f"/imports/{run['id']}"
    for response in (
        collector.get(path),
        collector.patch(path, json={"skip_invalid": True}),
        collector.post(f"{path}/validate"),
        collector.post(f"{path}/commit"),
        collector.get(f"{path}/errors.xlsx"),
    ):
        assert response.status_code == 404
    assert count(db, ImportRun, batch_id=batch.id) == 1
    assert count(db, Case) == 0


def test_importing_needs_the_import_permission(api_as, db, batch):
    role = db.session.scalar(select(Role).filter_by(name="collector"))
    role.grants.append(RolePermission(permission="core.api.use"))
    db.session.commit()
    collector = api_as("collector", contracts=[batch.contract])
    assert collector.upload(batch, cases_xlsx(1)).status_code == 403


def test_openapi_documents_the_upload_and_the_case_filters(client):
    document = client.get("/api/v1/openapi.json").json
    upload = document["paths"]["/api/v1/batches/{batch_id}/imports"]["post"]
    body = upload["requestBody"]["content"]["multipart/form-data"]["schema"]
    name = body["$ref"].rsplit("/", 1)[-1]
    properties = document["components"]["schemas"][name]["properties"]
    assert (properties["file"]["type"], properties["file"]["format"]) == ("string", "binary")
    assert "kind" in properties
    assert {"201", "400", "413", "415", "422"} <= set(upload["responses"])
    errors = document["paths"]["/api/v1/imports/{run_id}/errors.xlsx"]["get"]
    assert "format" in next(iter(errors["responses"]["200"]["content"].values()))["schema"]

    listing = document["paths"]["/api/v1/cases"]["get"]
    parameters = {p["name"]: p for p in listing["parameters"]}
    assert {"q", "area", "batch_no", "status", "amount_min", "page", "per_page"} <= set(parameters)
    assert parameters["status"]["in"] == "query"
    assert "paused" in parameters["status"]["schema"]["enum"]
    assert parameters["per_page"]["schema"]["maximum"] == 200
    assert "/api/v1/jobs/{job_id}" in document["paths"]


def test_case_list_query_is_validated_by_its_schema(api_as, batch):
    api = api_as("manager", contracts=[batch.contract])
    assert api.get("/cases?area=&status=&per_page=20").status_code == 200  # blank means any
    bad = api.get("/cases?status=asleep&per_page=500&amount_min=lots")
    assert bad.status_code == 422
    assert set(bad.json["error"]["fields"]) == {"status", "per_page", "amount_min"}
