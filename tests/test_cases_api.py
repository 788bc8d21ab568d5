"""The JSON API for batches, cases, case operations and exports."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select
from support.cases import make_batch, make_cases

from core.auth.models import Role, RolePermission
from core.auth.services import issue_token
from core.batches.models import Batch
from core.cases.models import PAUSED, Case


class Api:
    def __init__(self, client, token, user=None):
        self.client, self.headers = client, {"Authorization": f"Bearer {token}"}
        self.user = user

    def __getattr__(self, method):
        def call(path, **kwargs):
            return self.client.open(
                "/api/v1" + path, method=method.upper(), headers=self.headers, **kwargs
            )

        return call


@pytest.fixture
def api_as(client, make_user, db):
    def make(role="admin", **kwargs):
        user = make_user(role, **kwargs)
        _token, plain = issue_token(user, "test")
        db.session.commit()
        return Api(client, plain, user)

    return make


@pytest.fixture
def world(db, contract):
    mine, theirs = contract(), contract()
    batch = make_batch(db, mine, "API-01", area="苏南")
    make_cases(db, mine, batch, 3, entrusted_amount=Decimal("100.00"))
    make_cases(db, theirs, make_batch(db, theirs, "API-02"), 2)
    return {"mine": mine, "theirs": theirs, "batch": batch}


def test_batches_are_created_listed_changed_and_deleted(api_as, world, db):
    api = api_as("manager")
    response = api.post(
        "/batches",
        json={
            "contract_id": world["mine"].id,
            "batch_no": "API-NEW",
            "entrust_date": "2026-06-10",
            "expected_return_date": "2026-06-01",
        },
    )
    assert response.status_code == 400
    assert "expected_return_date" in response.json["error"]["fields"]
    response = api.post(
        "/batches",
        json={"contract_id": world["mine"].id, "batch_no": "API-NEW", "entrust_date": "2026-06-10"},
    )
    assert response.status_code == 201, response.json
    new_id = response.json["id"]
    assert response.json["status"] == "not_imported"
    assert response.json["client"] == world["mine"].client.name
    assert api.patch(f"/batches/{new_id}", json={"notes": "备注"}).json["notes"] == "备注"
    assert {b["batch_no"] for b in api.get("/batches").json} >= {"API-01", "API-NEW"}
    assert api.delete(f"/batches/{world['batch'].id}").status_code == 409
    assert api.delete(f"/batches/{new_id}").status_code == 204
    assert db.session.scalar(select(Batch.id).filter_by(batch_no="API-NEW")) is None


def test_case_list_filters_masks_and_pages(api_as, world):
    api = api_as("manager")
    response = api.get("/cases?area=苏南&per_page=2")
    assert response.status_code == 200
    assert response.json["total"] == 3 and len(response.json["items"]) == 2
    item = response.json["items"][0]
    assert "*" in item["card_no"] and "*" in item["id_no"]
    assert item["entrusted_amount"] == "100.00"
    assert api.get("/cases?status=asleep").status_code == 422


def test_collector_cannot_read_a_case_of_another_contract(api_as, world, db):
    role = db.session.scalar(select(Role).filter_by(name="collector"))
    role.grants.append(RolePermission(permission="core.api.use"))
    db.session.commit()
    api = api_as("collector", contracts=[world["mine"]])
    collector = api.user
    theirs = db.session.scalar(select(Case).where(Case.contract_id == world["theirs"].id))
    mine, pool, _ = db.session.scalars(select(Case).where(Case.contract_id == world["mine"].id))
    mine.holder = theirs.holder = collector
    db.session.commit()
    assert api.get(f"/cases/{theirs.id}").status_code == 404
    assert api.get(f"/cases/{pool.id}").status_code == 404  # not theirs to hold
    assert api.get(f"/cases/{mine.id}").status_code == 200
    listed = api.get("/cases?per_page=200").json
    assert listed["total"] == 1 and listed["items"][0]["serial"] == mine.serial


def test_case_operations_by_ids_and_by_filter(api_as, world, db):
    api = api_as("manager")
    ids = list(db.session.scalars(select(Case.id).where(Case.batch_id == world["batch"].id)))
    response = api.post(
        "/cases/operations", json={"operation": "pause", "reason": "核查", "case_ids": ids[:1]}
    )
    assert response.json == {"changed": 1, "skipped": {}}
    response = api.post(
        "/cases/operations",
        json={"operation": "pause", "reason": "核查", "filter": {"area": "苏南"}},
    )
    assert response.json["changed"] == 2 and sum(response.json["skipped"].values()) == 1
    assert set(db.session.scalars(select(Case.status).where(Case.id.in_(ids)))) == {PAUSED}
    response = api.post("/cases/operations", json={"operation": "pause", "reason": "x"})
    assert response.status_code == 422


@pytest.fixture
def inline_jobs(app_config):
    app_config["JOBS_INLINE"] = True


def test_export_job_through_the_api(inline_jobs, api_as, world):
    api = api_as("manager")
    response = api.post("/exports", json={"format": "csv", "filter": {"area": "苏南"}})
    assert response.status_code == 202
    job = api.get(f"/exports/{response.json['id']}").json
    assert job["status"] == "done" and job["result"]["rows"] == 3
    file = api.get(f"/exports/{job['id']}/file")
    assert file.status_code == 200 and file.data.decode("utf-8-sig").count("\n") == 4
    other = api_as("manager")
    assert other.get(f"/exports/{job['id']}/file").status_code == 404
