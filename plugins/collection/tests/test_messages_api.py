"""The messages JSON API: templates, preview, sending an SMS, the outbox (bearer tokens)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from core.audit.models import AuditEntry
from core.auth.models import Role, RolePermission
from core.auth.services import issue_token
from plugins.collection.compliance import settings_for
from plugins.collection.models import SMS, MessageTemplate, OutboxMessage
from tests.support.cases import make_cases

MOBILE = "13812345678"


class Api:
    def __init__(self, client, user, token):
        self.client, self.user, self.token = client, user, token

    def __call__(self, method, path, **kwargs):
        headers = {"Authorization": f"Bearer {self.token}"}
        return self.client.open("/m/collection/api" + path, method=method, headers=headers,
                                **kwargs)  # fmt: skip


@pytest.fixture
def on(contract, db):
    """A contract with the module on and the agency's name set (an SMS is signed with it)."""
    made = contract(modules=["collection"])
    settings_for(made).agency_name = "华信催收"
    db.session.commit()
    return made


@pytest.fixture
def api_as(client, make_user, db):
    def make(role, **kwargs) -> Api:
        user = make_user(role, **kwargs)
        _token, plain = issue_token(user, "test")
        db.session.commit()
        return Api(client, user, plain)

    return make


def grant_api(db, role_name):
    role = db.session.scalar(select(Role).filter_by(name=role_name))
    role.grants.append(RolePermission(permission="core.api.use"))
    db.session.commit()


@pytest.fixture
def template(db, on):
    row = MessageTemplate(contract_id=on.id, channel=SMS, name="提醒", body="{name}，欠{balance}")
    db.session.add(row)
    db.session.commit()
    return row


def test_create_list_and_change_templates(api_as, on):
    api = api_as("manager", contracts=[on])
    bad = api("POST", "/templates", json={"contract_id": on.id, "channel": "sms", "name": "A",
                                           "body": "{name} {secret}"})  # fmt: skip
    assert bad.status_code == 422
    assert "{secret}" in bad.json["error"]["fields"]["body"][0]
    created = api("POST", "/templates", json={"contract_id": on.id, "channel": "sms", "name": "A",
                                               "body": "{name} {balance}"})  # fmt: skip
    assert created.status_code == 201
    assert created.json["fields_used"] == ["name", "balance"]
    listed = api("GET", f"/templates?contract={on.id}&channel=sms").json
    assert [t["name"] for t in listed] == ["A", "还款提醒"]  # beside the starter template
    changed = api("PATCH", f"/templates/{created.json['id']}", json={"active": False})
    assert changed.status_code == 200 and changed.json["active"] is False
    assert changed.json["body"] == "{name} {balance}"


def test_a_template_for_a_contract_without_the_module_is_refused(api_as, contract):
    off = contract()
    api = api_as("manager", contracts=[off])
    response = api("POST", "/templates", json={"contract_id": off.id, "channel": "sms",
                                                "name": "A", "body": "x"})  # fmt: skip
    assert response.status_code == 422
    assert "contract_id" in response.json["error"]["fields"]


def test_preview_for_a_case_and_a_sample(api_as, db, on, template):
    api = api_as("manager", contracts=[on])
    (case,) = make_cases(db, on, name="王五")
    assert api("GET", f"/templates/{template.id}/preview").json["body"].startswith("张**")
    real = api("GET", f"/templates/{template.id}/preview?case={case.id}").json
    assert real["body"].startswith("王*") and real["case_id"] == case.id


def test_send_an_sms_and_read_the_outbox_masked(api_as, db, on, template):
    on.contact_start = on.contact_end = time(0)  # open all day: the test runs at any hour
    db.session.commit()
    collector = api_as("collector", contracts=[on])
    grant_api(db, "collector")
    (case,) = make_cases(db, on, mobile=MOBILE, holder_id=collector.user.id)
    sent = collector("POST", f"/cases/{case.id}/sms", json={"template_id": template.id,
                                                            "number": MOBILE})  # fmt: skip
    assert sent.status_code == 201
    assert (sent.json["status"], sent.json["gateway"]) == ("queued", "outbox")
    assert sent.json["recipient"] == "138****5678"
    manager = api_as("manager", contracts=[on])
    page = manager("GET", "/outbox?status=queued").json
    assert page["total"] == 1 and page["items"][0]["recipient"] == "138****5678"
    assert manager("GET", "/outbox?status=sent").json["total"] == 0
    assert collector("GET", "/outbox").status_code == 403


def test_an_sms_outside_the_window_is_a_409_audited_and_stores_nothing(api_as, db, on, template):
    local = datetime.now(ZoneInfo("Asia/Shanghai"))
    on.contact_start = (local + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    on.contact_end = (local + timedelta(hours=2)).time().replace(second=0, microsecond=0)
    db.session.commit()
    api = api_as("manager", contracts=[on])
    (case,) = make_cases(db, on, mobile=MOBILE)
    response = api("POST", f"/cases/{case.id}/sms", json={"template_id": template.id,
                                                           "number": "m"})  # fmt: skip
    assert response.status_code == 409
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0
    denied = db.session.scalar(select(AuditEntry).filter_by(action="case.action_denied"))
    assert denied.object_id == str(case.id)


def test_an_sms_without_the_agency_name_is_a_409_and_stores_nothing(api_as, db, on, template):
    on.contact_start = on.contact_end = time(0)
    settings_for(on).agency_name = ""
    db.session.commit()
    api = api_as("manager", contracts=[on], locale="en")
    (case,) = make_cases(db, on, mobile=MOBILE)
    response = api("POST", f"/cases/{case.id}/sms", json={"template_id": template.id,
                                                           "number": "m"})  # fmt: skip
    assert response.status_code == 409
    assert "agency name" in response.json["error"]["message"]
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0


def test_a_case_you_may_not_see_is_404_and_templates_need_the_permission(api_as, db, on, template):
    collector = api_as("collector", contracts=[on])
    grant_api(db, "collector")
    (case,) = make_cases(db, on, mobile=MOBILE)  # in the pool: not the collector's
    response = collector("POST", f"/cases/{case.id}/sms", json={"template_id": template.id,
                                                                "number": MOBILE})  # fmt: skip
    assert response.status_code == 404
    assert collector("GET", "/templates").status_code == 403
    assert collector("GET", f"/templates/{template.id}/preview").status_code == 403


def test_the_endpoints_are_in_the_openapi_document(client, on):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for path in ("/m/collection/api/templates", "/m/collection/api/outbox",
                 "/m/collection/api/cases/{case_id}/sms",
                 "/m/collection/api/templates/{template_id}/preview"):  # fmt: skip
        assert path in paths
