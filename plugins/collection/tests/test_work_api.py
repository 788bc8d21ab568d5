"""The workbench's JSON API: records (and the gate's 409), promises, claims, queues."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from core.audit.models import AuditEntry
from core.cases.models import PAUSED, SETTLED, Activity, CaseContact
from core.types import utcnow
from plugins.collection.tests.work_kit import SHANGHAI, Api, held_cases, yesterday


def call(case, when, **extra):
    return {"at": when.isoformat(), "channel": "phone", "contact_type": "debtor",
            "target": case.mobile, "result": "refuses", **extra}  # fmt: skip


def test_records_are_created_and_listed_masked(client, db, world):
    (case,) = held_cases(db, world, world.li)
    api = Api(client, db, world.li)
    due = (utcnow().astimezone(SHANGHAI) + timedelta(days=2)).date().isoformat()
    response = api.post(f"/cases/{case.id}/records", json=call(
        case, yesterday(10), result="promise_to_pay", promise_amount="300.00", promise_date=due,
        follow_up_at=yesterday(16).isoformat()))  # fmt: skip
    assert response.status_code == 201, response.json
    body = response.json
    assert body["target"] == case.mobile[:3] + "****" + case.mobile[-4:]
    assert body["promise_amount"] == "300.00" and body["source"] == "api"
    assert body["follow_up_at"].startswith(yesterday(16).astimezone(SHANGHAI).strftime("%Y-"))
    listed = api.get(f"/cases/{case.id}/records").json
    assert [r["id"] for r in listed] == [body["id"]]
    promises = api.get(f"/cases/{case.id}/promises").json
    assert promises[0]["amount"] == "300.00" and promises[0]["status"] == "pending"
    assert [p["id"] for p in api.get("/promises?status=pending").json] == [promises[0]["id"]]


def test_a_refused_record_answers_409_with_the_rule(client, db, world):
    (case,) = held_cases(db, world, world.li)
    api = Api(client, db, world.li)
    response = api.post(f"/cases/{case.id}/records", json=call(case, yesterday(22, 30)))
    assert response.status_code == 409
    assert "Outside the contact hours 08:00–22:00" in response.json["error"]["message"]
    assert db.session.scalar(select(Activity)) is None
    assert db.session.scalar(select(AuditEntry).filter_by(action="case.action_denied"))


def test_a_third_partys_number_is_not_recorded_as_the_debtor_through_the_api(client, db, world):
    (case,) = held_cases(db, world, world.li)
    db.session.add(CaseContact(case_id=case.id, name="张父", relation="父亲", phone="13700000001"))
    db.session.commit()
    response = Api(client, db, world.li).post(
        f"/cases/{case.id}/records", json=call(case, yesterday(10), target="137 0000 0001")
    )
    assert response.status_code == 400 and "contact_type" in response.json["error"]["fields"]
    assert db.session.scalar(select(Activity)) is None


def test_a_paused_case_is_refused_through_the_api(client, db, world):
    (case,) = held_cases(db, world, world.li)
    case.status = PAUSED
    db.session.commit()
    response = Api(client, db, world.li).post(f"/cases/{case.id}/records",
                                              json=call(case, yesterday(10)))  # fmt: skip
    assert response.status_code == 409
    assert "cannot be worked" in response.json["error"]["message"]


def test_bad_fields_answer_422_by_field(client, db, world):
    (case,) = held_cases(db, world, world.li)
    api = Api(client, db, world.li)
    response = api.post(f"/cases/{case.id}/records",
                        json=call(case, yesterday(10), result="promise_to_pay"))  # fmt: skip
    assert response.status_code == 422
    assert "promise_amount" in response.json["error"]["fields"]
    response = api.post(f"/cases/{case.id}/records", json={"channel": "fax"})
    assert response.status_code == 422
    assert {"at", "channel", "result"} <= set(response.json["error"]["fields"])


def test_a_collector_cannot_reach_anothers_case(client, db, world):
    (theirs,) = held_cases(db, world, world.wang)
    api = Api(client, db, world.li)
    assert api.get(f"/cases/{theirs.id}/records").status_code == 404
    assert (
        api.post(f"/cases/{theirs.id}/records", json=call(theirs, yesterday(10))).status_code == 404
    )
    assert api.post(f"/cases/{theirs.id}/claims",
                    json={"amount": "1", "paid_on": "2026-03-01"}).status_code == 404  # fmt: skip
    assert api.get(f"/cases/{theirs.id}/promises").status_code == 404


def test_claims_are_recorded_listed_confirmed_and_rejected(client, db, world):
    first, second = held_cases(db, world, world.li, count=2, entrusted_amount=Decimal(100))
    collector, manager = Api(client, db, world.li), Api(client, db, world.manager)
    today = utcnow().astimezone(SHANGHAI).date().isoformat()
    made = [
        collector.post(
            f"/cases/{case.id}/claims",
            json={"amount": "100.00", "paid_on": today, "channel": "alipay"},
        )
        for case in (first, second)
    ]
    assert [r.status_code for r in made] == [201, 201]
    assert made[0].json["status"] == "pending"
    assert collector.get("/claims").status_code == 403
    listed = manager.get("/claims").json
    assert listed["total"] == 2 and [c["id"] for c in listed["items"]] == [
        r.json["id"] for r in made
    ]
    confirmed = manager.post(f"/claims/{made[0].json['id']}/confirm")
    assert confirmed.status_code == 200 and confirmed.json["status"] == "confirmed"
    db.session.refresh(first)
    assert first.status == SETTLED
    assert manager.post(f"/claims/{made[0].json['id']}/confirm").status_code == 409
    assert manager.post(f"/claims/{made[1].json['id']}/reject", json={}).status_code == 422
    rejected = manager.post(f"/claims/{made[1].json['id']}/reject", json={"reason": "无此笔"})
    assert rejected.json["status"] == "rejected"
    assert manager.get("/claims").json["total"] == 0


def test_queues_give_counts_and_pages(client, db, world):
    held_cases(db, world, world.li, count=3)
    held_cases(db, world, world.wang, count=1)
    api = Api(client, db, world.li)
    counts = api.get("/queues").json
    assert counts["scope"] == "mine" and counts["counts"]["new"] == 3
    page = api.get("/queues/new?per_page=2").json
    assert page["total"] == 3 and len(page["items"]) == 2
    assert "*" in page["items"][0]["case"]["name"]
    assert api.get("/queues?scope=team").status_code == 422
    leader = Api(client, db, world.leader)
    assert leader.get("/queues?scope=team").json["counts"]["all"] == 4
