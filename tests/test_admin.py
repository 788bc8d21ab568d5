"""The admin area, through its pages, as an administrator uses it."""

import pytest
from sqlalchemy import select
from support.modules import module_plugin

from core.audit.models import AuditEntry
from core.auth.models import Role, User
from core.clients.models import Client, Contract

CONTRACT_FORM = {
    "number": "JSZ-2026-002",
    "start_date": "2026-01-01",
    "end_date": "2026-12-31",
    "timezone": "Asia/Shanghai",
    "contact_start": "08:00",
    "contact_end": "22:00",
    "commission_percent": "12.5",
    "notes": "",
}


@pytest.fixture
def with_modules(app_config):
    calls = []
    base = module_plugin("base", calls=calls)
    addon = module_plugin("addon", requires=["base"], calls=calls)
    app_config["PLUGIN_MODULES"] = [base.plugin, addon.plugin]
    return calls


def page(response):
    return response.get_data(as_text=True)


def test_admin_creates_a_client_and_a_duplicate_code_is_explained(client, login_as, db):
    login_as("admin", locale="en")
    response = client.post("/admin/clients/new", data={"name": "江苏中行", "code": "jsz"})
    assert response.status_code == 302
    assert db.session.scalar(select(Client.code)) == "JSZ"
    response = client.post("/admin/clients/new", data={"name": "Other", "code": "JSZ"})
    assert response.status_code == 200
    assert "The code JSZ is in use." in page(response) or "Already in use." in page(response)
    assert db.session.scalar(select(db.func.count(Client.id))) == 1


def test_contract_form_checks_dates_window_and_time_zone(client, login_as, contract, db):
    bank = contract().client
    login_as("admin", locale="en")
    bad = dict(CONTRACT_FORM, client=bank.id, end_date="2025-01-01", timezone="Mars/Base")
    response = client.post("/admin/contracts/new", data=bad)
    assert response.status_code == 200
    assert "Not a time zone name" in page(response)
    bad["timezone"] = "Asia/Shanghai"
    response = client.post("/admin/contracts/new", data=bad)
    assert "Must not be before the start date." in page(response)
    good = dict(CONTRACT_FORM, client=bank.id)
    assert client.post("/admin/contracts/new", data=good).status_code == 302
    saved = db.session.scalar(select(Contract).filter_by(number="JSZ-2026-002"))
    assert str(saved.commission_rate) == "0.1250"


def test_switching_on_pulls_requirements_and_off_is_refused_while_needed(
    with_modules, client, login_as, contract, db
):
    target = contract()
    login_as("admin", locale="en")
    client.post(f"/admin/contracts/{target.id}/modules/addon/on")
    db.session.expire_all()
    assert db.session.get(Contract, target.id).enabled_modules == {"base", "addon"}
    response = client.post(f"/admin/contracts/{target.id}/modules/base/off", follow_redirects=True)
    assert "cannot be switched off while Addon" in page(response)
    assert db.session.get(Contract, target.id).enabled_modules == {"base", "addon"}
    client.post(f"/admin/contracts/{target.id}/modules/addon/off")
    client.post(f"/admin/contracts/{target.id}/modules/base/off")
    db.session.expire_all()
    assert db.session.get(Contract, target.id).enabled_modules == set()
    actions = db.session.scalars(
        select(AuditEntry.action).where(AuditEntry.action.like("module.%")).order_by(AuditEntry.id)
    ).all()
    assert actions == ["module.enabled", "module.enabled", "module.disabled", "module.disabled"]
    assert with_modules == [
        ("enabled", "base", target.id),
        ("enabled", "addon", target.id),
        ("disabled", "addon", target.id),
        ("disabled", "base", target.id),
    ]


def test_manager_may_edit_contracts_but_not_switch_modules(
    with_modules, client, login_as, contract
):
    target = contract()
    login_as("manager")
    assert client.get(f"/admin/contracts/{target.id}").status_code == 200
    assert client.post(f"/admin/contracts/{target.id}/modules/base/on").status_code == 403


def test_role_permissions_are_edited_and_audited(client, login_as, db):
    login_as("admin")
    collector = db.session.scalar(select(Role).filter_by(name="collector"))
    before = collector.permissions
    response = client.post(
        f"/admin/roles/{collector.id}",
        data={"permission": ["core.cases.view", "core.audit.view", "not.a.permission"]},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert collector.permissions == {"core.cases.view", "core.audit.view"}
    entry = db.session.scalar(select(AuditEntry).filter_by(action="role.permissions_changed"))
    assert entry.details == {
        "granted": ["core.audit.view"],
        "revoked": sorted(before - {"core.cases.view"}),
    }


def test_user_form_validates_and_role_change_is_audited(client, login_as, contract, db):
    login_as("admin", locale="en")
    target = contract()
    collector_role = db.session.scalar(select(Role).filter_by(name="collector"))
    viewer_role = db.session.scalar(select(Role).filter_by(name="client_viewer"))
    form = {
        "username": "zhang",
        "display_name": "张三",
        "role": collector_role.id,
        "team": 0,
        "client": 0,
        "locale": "zh_CN",
        "active": "y",
        "password": "short",
        "contracts": [target.id],
    }
    response = client.post("/admin/users/new", data=form)
    assert "at least 10 characters" in page(response)
    response = client.post("/admin/users/new", data=dict(form, password="long-enough-1"))
    assert response.status_code == 302
    user = db.session.scalar(select(User).filter_by(username="zhang"))
    assert [c.id for c in user.contracts] == [target.id]
    response = client.post(
        f"/admin/users/{user.id}", data=dict(form, role=viewer_role.id, password="")
    )
    assert "must be bound to a client" in page(response)
    response = client.post(
        f"/admin/users/{user.id}",
        data=dict(form, role=viewer_role.id, client=target.client_id, password=""),
    )
    assert response.status_code == 302
    entry = db.session.scalar(select(AuditEntry).filter_by(action="user.role_changed"))
    assert entry.details == {"from": "collector", "to": "client_viewer"}


def test_home_shows_only_the_users_contracts(client, login_as, contract):
    mine, _other = contract(number="MINE-1"), contract(number="OTHER-1")
    login_as("collector", contracts=[mine])
    text = page(client.get("/"))
    assert "MINE-1" in text and "OTHER-1" not in text


def test_client_viewer_sees_only_their_clients_contracts(client, login_as, contract):
    mine, _other = contract(number="BANK-A"), contract(number="BANK-B")
    login_as("client_viewer", client=mine.client)
    text = page(client.get("/"))
    assert "BANK-A" in text and "BANK-B" not in text


def test_audit_log_viewer_filters(client, login_as):
    login_as("admin")
    client.post("/admin/clients/new", data={"name": "A", "code": "A"})
    text = page(client.get("/admin/audit?action=client."))
    assert "client.created" in text and "auth.login" not in text
    text = page(client.get("/admin/audit?outcome=denied"))
    assert "client.created" not in text
    assert client.get("/admin/audit?date_from=not-a-date").status_code == 200


def test_navigation_shows_only_permitted_entries(client, login_as):
    login_as("collector")
    text = page(client.get("/"))
    assert "/admin/users" not in text and "/admin/audit" not in text


def test_teams_are_created_and_renamed(client, login_as, db):
    from core.auth.models import Team

    login_as("admin", locale="en")
    client.post("/admin/teams", data={"name": "一组"})
    team = db.session.scalar(select(Team))
    assert "already" in page(
        client.post("/admin/teams", data={"name": "一组"})
    ).lower() or "exists" in page(client.post("/admin/teams", data={"name": "一组"}))
    client.post(f"/admin/teams/{team.id}", data={"name": "二组"})
    db.session.expire_all()
    assert db.session.get(Team, team.id).name == "二组"
