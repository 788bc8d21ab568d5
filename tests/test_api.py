"""The JSON API: tokens, permissions, validation, visibility, module switching, OpenAPI."""

import re
import types
from functools import partialmethod

import pytest
from flask import Blueprint
from sqlalchemy import select

from core import hookimpl
from core.api.endpoint import endpoint
from core.auth.models import ApiToken, Role, RolePermission
from core.auth.permissions import LOGGED_IN
from core.auth.services import issue_token, revoke_token
from core.modules import ModuleInfo

# Two tiny modules to switch, one requiring the other. The first also serves a JSON view of
# its own, outside the API blueprint, which the OpenAPI document must describe as well.
reminders_pages = Blueprint("reminders", __name__, url_prefix="/m/reminders")


@reminders_pages.route("/summary.json")
@endpoint(permission=LOGGED_IN, summary="How many reminders are due", tag="reminders")
def reminders_summary():
    return {"due": 0}


REMINDERS = types.ModuleType("reminders_plugin")
REMINDERS.MODULE = ModuleInfo("reminders", "Reminders")
REMINDERS.register_blueprints = hookimpl(lambda: [reminders_pages])

ESCALATION = types.ModuleType("escalation_plugin")
ESCALATION.MODULE = ModuleInfo("escalation", "Escalation", requires=("reminders",))


@pytest.fixture
def app_config(app_config):
    app_config["PLUGIN_MODULES"] = [REMINDERS, ESCALATION]
    return app_config


class TokenClient:
    """The test client calling /api/v1 as ``user``, with a bearer token."""

    def __init__(self, client, user, token: str):
        self.client, self.user, self.token = client, user, token

    def call(self, method: str, path: str, **kwargs):
        headers = {"Authorization": f"Bearer {self.token}"}
        return self.client.open("/api/v1" + path, method=method, headers=headers, **kwargs)

    get = partialmethod(call, "GET")
    post = partialmethod(call, "POST")
    patch = partialmethod(call, "PATCH")
    put = partialmethod(call, "PUT")
    delete = partialmethod(call, "DELETE")


@pytest.fixture
def api_as(client, make_user, db):
    """``api_as("manager", contracts=[c])``: a new user of that role, calling with a token."""

    def make(role="admin", **kwargs) -> TokenClient:
        user = make_user(role, **kwargs)
        _token, plain = issue_token(user, "test")
        db.session.commit()
        return TokenClient(client, user, plain)

    return make


def grant(db, role_name: str, permission: str) -> None:
    role = db.session.scalar(select(Role).filter_by(name=role_name))
    role.grants.append(RolePermission(permission=permission))
    db.session.commit()


# -- authentication ---------------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "Bearer mpl_not-a-token", "Basic YWRtaW46YWRtaW4="])
def test_api_needs_a_valid_token(client, header):
    response = client.get("/api/v1/me", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.json["error"]["status"] == 401
    assert "Bearer" in response.json["error"]["message"]


def test_revoked_token_is_refused(api_as, db):
    caller = api_as("admin")
    assert caller.get("/me").status_code == 200
    token = db.session.scalar(select(ApiToken).filter_by(user_id=caller.user.id))
    revoke_token(token, caller.user)
    db.session.commit()
    assert caller.get("/me").status_code == 401


def test_session_cookie_alone_does_not_authenticate_the_api(client, login_as):
    login_as("admin")
    response = client.get("/api/v1/me")
    assert response.status_code == 401


def test_collector_may_not_use_the_api(api_as):
    response = api_as("collector").get("/me")
    assert response.status_code == 403
    assert response.json["error"]["status"] == 403


def test_me_tells_who_the_token_belongs_to(api_as):
    caller = api_as("manager", name="Wang Fang")
    body = caller.get("/me").json
    assert body["username"] == caller.user.username
    assert body["display_name"] == "Wang Fang"
    assert body["role"] == "manager"
    assert {"core.api.use", "core.clients.manage"} <= set(body["permissions"])
    assert "core.users.manage" not in body["permissions"]
    assert "password" not in body


# -- clients and input validation ---------------------------------------------------------------


def test_create_list_and_change_a_client(api_as):
    caller = api_as("manager")
    created = caller.post("/clients", json={"name": "江苏中行", "code": "jsz"})
    assert created.status_code == 201
    client_id = created.json["id"]
    assert created.json["code"] == "JSZ"

    assert [c["name"] for c in caller.get("/clients").json] == ["江苏中行"]

    changed = caller.patch(f"/clients/{client_id}", json={"notes": "Pays monthly"})
    assert changed.status_code == 200
    assert changed.json | {"notes": "Pays monthly"} == changed.json
    assert caller.get(f"/clients/{client_id}").json["code"] == "JSZ"


def test_duplicate_client_code_is_a_conflict(api_as):
    caller = api_as("manager")
    caller.post("/clients", json={"name": "Bank A", "code": "BA"})
    response = caller.post("/clients", json={"name": "Bank B", "code": "ba"})
    assert response.status_code == 409
    assert set(response.json["error"]["fields"]) == {"code"}


def test_collector_may_not_create_a_client(api_as, db):
    grant(db, "collector", "core.api.use")
    response = api_as("collector").post("/clients", json={"name": "Bank A", "code": "BA"})
    assert response.status_code == 403


def test_invalid_contract_lists_every_bad_field_at_once(api_as):
    response = api_as("manager").post(
        "/contracts",
        json={
            "number": "",
            "client_id": "one",
            "start_date": "2026-02-30",
            "end_date": 20260101,
            "timezone": "Mars/Olympus_Mons",
            "contact_start": "25:00",
            "commission_rate": "1.5",
            "notes": "nul\x00byte",
            "colour": "red",
        },
    )
    assert response.status_code == 422
    error = response.json["error"]
    assert error["status"] == 422 and error["message"]
    assert set(error["fields"]) == {
        "number",
        "client_id",
        "start_date",
        "end_date",
        "timezone",
        "contact_start",
        "commission_rate",
        "notes",
        "colour",
    }


@pytest.mark.parametrize(
    "send",
    [
        {"data": "{not json", "content_type": "application/json"},
        {"json": ["a", "list"]},
        {"data": {"name": "Bank A", "code": "BA"}},  # a form, not JSON
    ],
)
def test_body_must_be_a_json_object(api_as, send):
    response = api_as("manager", locale="en").post("/clients", **send)
    assert response.status_code == 400
    assert "JSON object" in response.json["error"]["message"]


@pytest.mark.parametrize(
    "path",
    ["/clients/999", "/contracts/999", "/users/999", "/clients/99999999999999999999"],
)
def test_unknown_ids_are_404(api_as, path):
    response = api_as("admin").get(path)
    assert response.status_code == 404
    assert response.json["error"]["status"] == 404


# -- contracts --------------------------------------------------------------------------------


def test_create_and_change_a_contract(api_as, contract):
    caller = api_as("manager")
    client_id = contract().client_id
    created = caller.post(
        "/contracts",
        json={
            "number": "K-2026-01",
            "client_id": client_id,
            "start_date": "2026-01-01",
            "contact_start": "09:00",
            "commission_rate": 0.15,
        },
    )
    assert created.status_code == 201
    assert (
        created.json
        | {
            "client_id": client_id,
            "start_date": "2026-01-01",
            "end_date": None,
            "timezone": "Asia/Shanghai",
            "contact_start": "09:00",
            "contact_end": "22:00",
            "commission_rate": "0.1500",
            "modules": [],
        }
        == created.json
    )

    path = f"/contracts/{created.json['id']}"
    changed = caller.patch(path, json={"timezone": "Asia/Urumqi", "end_date": "2026-12-31"})
    assert changed.status_code == 200
    assert (changed.json["timezone"], changed.json["end_date"]) == ("Asia/Urumqi", "2026-12-31")

    backwards = caller.patch(path, json={"end_date": "2025-12-31"})
    assert backwards.status_code == 400
    assert set(backwards.json["error"]["fields"]) == {"end_date"}
    assert caller.get(path).json["end_date"] == "2026-12-31"

    no_such_client = caller.patch(path, json={"client_id": 99999})
    assert no_such_client.status_code == 422
    assert set(no_such_client.json["error"]["fields"]) == {"client_id"}


def test_contracts_and_clients_not_ones_own_are_404(api_as, contract, db):
    grant(db, "collector", "core.api.use")
    mine, other = contract(), contract()
    caller = api_as("collector", contracts=[mine])

    assert [c["number"] for c in caller.get("/contracts").json] == [mine.number]
    assert caller.get(f"/contracts/{mine.id}").status_code == 200
    assert caller.get(f"/contracts/{other.id}").status_code == 404

    assert [c["id"] for c in caller.get("/clients").json] == [mine.client_id]
    assert caller.get(f"/clients/{other.client_id}").status_code == 404


def test_manager_without_view_all_sees_only_assigned_contracts(api_as, contract, db):
    role = db.session.scalar(select(Role).filter_by(name="manager"))
    role.grants = [g for g in role.grants if g.permission != "core.contracts.view_all"]
    db.session.commit()
    mine, other = contract(), contract()
    caller = api_as("manager", contracts=[mine])
    assert caller.patch(f"/contracts/{other.id}", json={"notes": "x"}).status_code == 404
    assert caller.patch(f"/contracts/{mine.id}", json={"notes": "x"}).status_code == 200


# -- modules ----------------------------------------------------------------------------------


def test_switching_modules_on_and_off(api_as, contract):
    caller = api_as("admin")
    path = f"/contracts/{contract().id}/modules"
    assert {m["name"] for m in caller.get("/modules").json} >= {"reminders", "escalation"}

    switched_on = caller.put(f"{path}/escalation")
    assert switched_on.status_code == 200
    assert switched_on.json["modules"] == ["escalation", "reminders"]

    refused = caller.delete(f"{path}/reminders")
    assert refused.status_code == 409
    assert "Escalation" in refused.json["error"]["message"]

    assert caller.delete(f"{path}/escalation").json["modules"] == ["reminders"]
    assert caller.delete(f"{path}/reminders").json["modules"] == []
    assert caller.put(f"{path}/no-such-module").status_code == 404


def test_manager_may_not_switch_modules(api_as, contract):
    response = api_as("manager").put(f"/contracts/{contract().id}/modules/reminders")
    assert response.status_code == 403


# -- users ------------------------------------------------------------------------------------


def test_users_are_for_admins_only(api_as):
    caller = api_as("manager")
    assert caller.get("/users").status_code == 403
    assert caller.post("/users", json={}).status_code == 403


def test_admin_creates_and_changes_a_user(api_as, contract):
    caller, assigned = api_as("admin"), contract()
    created = caller.post(
        "/users",
        json={
            "username": "li.lei",
            "display_name": "李雷",
            "password": "long-enough-password",
            "role": "collector",
            "contract_ids": [assigned.id],
        },
    )
    assert created.status_code == 201
    assert "password" not in created.json
    assert (
        created.json
        | {
            "username": "li.lei",
            "role": "collector",
            "contract_ids": [assigned.id],
            "client_id": None,
            "active": True,
        }
        == created.json
    )

    path = f"/users/{created.json['id']}"
    changed = caller.patch(path, json={"role": "team_leader", "active": False})
    assert (changed.json["role"], changed.json["active"]) == ("team_leader", False)
    assert caller.get(path).json["display_name"] == "李雷"
    assert "li.lei" in [user["username"] for user in caller.get("/users").json]

    renamed = caller.patch(path, json={"username": "han.meimei"})
    assert renamed.status_code == 422
    assert set(renamed.json["error"]["fields"]) == {"username"}


def test_user_rules_of_the_service_reach_the_caller(api_as, contract):
    caller = api_as("admin")
    fields = {"display_name": "X", "password": "long-enough-password", "role": "collector"}
    assert caller.post("/users", json={"username": "wang", **fields}).status_code == 201

    taken = caller.post("/users", json={"username": "WANG", **fields})
    assert taken.status_code == 409
    assert set(taken.json["error"]["fields"]) == {"username"}

    weak = caller.post("/users", json={**fields, "username": "zhao", "password": "short"})
    assert weak.status_code == 400
    assert set(weak.json["error"]["fields"]) == {"password"}

    unbound = caller.post("/users", json={**fields, "username": "qian", "role": "client_viewer"})
    assert unbound.status_code == 400
    assert set(unbound.json["error"]["fields"]) == {"client_id"}


def test_wrong_types_for_a_user_are_422_not_500(api_as, contract):
    assigned = contract()
    response = api_as("admin").post(
        "/users",
        json={
            "username": 5,
            "password": None,
            "role": True,
            "team_id": 10**20,
            "contract_ids": [assigned.id, assigned.id],
            "locale": "fr",
            "active": "perhaps",
        },
    )
    assert response.status_code == 422
    assert set(response.json["error"]["fields"]) == {
        "username",
        "password",
        "role",
        "team_id",
        "contract_ids",
        "locale",
        "active",
    }


# -- the OpenAPI document -----------------------------------------------------------------------


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^:<>]+)>", r"{\1}", rule)


def test_openapi_describes_every_api_endpoint(app, client):
    response = client.get("/api/v1/openapi.json")  # public: no token
    assert response.status_code == 200
    document = response.json
    api_rules = [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("api.")]
    assert len(api_rules) >= 15
    for rule in api_rules:
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operation = document["paths"][_openapi_path(rule.rule)][method.lower()]
            assert operation["summary"] and operation["responses"]

    create = document["paths"]["/api/v1/clients"]["post"]
    assert create["security"] == [{"token": []}]
    assert set(create["responses"]) >= {"201", "401", "403", "409", "422"}
    assert document["components"]["securitySchemes"]["token"]["scheme"] == "bearer"
    assert "password" not in document["components"]["schemas"]["Me"]["properties"]
    assert "/m/reminders/summary.json" in document["paths"]  # a plugin's endpoint too

    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(document)
