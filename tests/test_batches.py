"""Batches (案件导入 → 添加批次) and the category settings (类别设置)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from support.cases import make_batch, make_cases

from core.audit.models import AuditEntry
from core.batches import services
from core.batches.models import NOT_IMPORTED, Batch, CategoryOption
from core.errors import Conflict, UserError


def actions(db, prefix: str) -> list[str]:
    query = select(AuditEntry.action).where(AuditEntry.action.startswith(prefix))
    return list(db.session.scalars(query.order_by(AuditEntry.id)))


# -- category settings ----------------------------------------------------------------------------


def test_category_options_are_added_renamed_reordered_and_deactivated(db, make_user):
    admin = make_user("admin")
    north = services.add_option("area", " 苏北 ", actor=admin)
    south = services.add_option("area", "苏南", actor=admin)
    services.add_option("case_category", "信用卡", actor=admin)
    assert [o.value for o in services.category_options("area")] == ["苏北", "苏南"]

    services.move_option(south, "up", actor=admin)
    assert [o.value for o in services.category_options("area")] == ["苏南", "苏北"]
    services.move_option(south, "up", actor=admin)  # already first: nothing moves
    assert [o.value for o in services.category_options("area")] == ["苏南", "苏北"]

    services.rename_option(north, "苏北区", actor=admin)
    services.set_option_active(north, False, actor=admin)
    assert [o.value for o in services.category_options("area", active_only=True)] == ["苏南"]
    assert [o.value for o in services.category_options("case_category")] == ["信用卡"]
    db.session.commit()
    assert actions(db, "category.") == [
        "category.added",
        "category.added",
        "category.added",
        "category.moved",
        "category.renamed",
        "category.deactivated",
    ]


def test_duplicate_and_empty_options_are_refused(db, make_user):
    admin = make_user("admin")
    services.add_option("area", "苏南", actor=admin)
    with pytest.raises(Conflict):
        services.add_option("area", "苏南", actor=admin)
    with pytest.raises(UserError):
        services.add_option("area", "   ", actor=admin)
    with pytest.raises(UserError):
        services.add_option("colour", "red", actor=admin)
    services.add_option("case_category", "苏南", actor=admin)  # another list may repeat it


def test_category_settings_page(client, login_as, db):
    login_as("admin", locale="en")
    response = client.post(
        "/settings/categories", data={"kind": "area", "area-value": "苏南"}, follow_redirects=True
    )
    assert response.status_code == 200
    assert "苏南" in response.text
    option = db.session.scalar(select(CategoryOption).filter_by(value="苏南"))
    client.post(f"/settings/categories/{option.id}", data={"action": "rename", "value": "苏南区"})
    client.post(f"/settings/categories/{option.id}", data={"action": "deactivate"})
    db.session.expire_all()
    assert (option.value, option.active) == ("苏南区", False)
    response = client.post(
        "/settings/categories",
        data={"kind": "area", "area-value": "苏南区"},
        follow_redirects=True,
    )
    assert "exists already" in response.text


def test_category_settings_need_the_settings_permission(client, login_as):
    login_as("manager")
    assert client.get("/settings/categories").status_code == 403


# -- batches ----------------------------------------------------------------------------------


@pytest.fixture
def bank(contract, make_user, db):
    target = contract()
    admin = make_user("admin")
    services.add_option("area", "苏南", actor=admin)
    services.add_option("case_category", "信用卡", actor=admin)
    db.session.commit()
    return target


def test_create_a_batch(db, bank, make_user):
    manager = make_user("manager", contracts=[bank])
    batch = services.save_batch(
        None,
        contract=bank,
        batch_no="JSZ-2026-06",
        entrust_date=date(2026, 6, 10),
        expected_return_date=date(2026, 9, 10),
        area="苏南",
        case_category="信用卡",
        actor=manager,
    )
    db.session.commit()
    assert batch.status == NOT_IMPORTED
    assert batch.contract.client == bank.client
    assert actions(db, "batch.") == ["batch.created"]


def test_batch_rules_are_reported_by_field(db, bank, make_user):
    manager = make_user("manager", contracts=[bank])
    with pytest.raises(UserError) as info:
        services.save_batch(
            None,
            contract=bank,
            batch_no="",
            entrust_date=date(2026, 6, 10),
            expected_return_date=date(2026, 6, 1),
            actor=manager,
        )
    assert set(info.value.fields) == {"batch_no", "expected_return_date"}
    with pytest.raises(UserError) as info:
        services.save_batch(
            None,
            contract=bank,
            batch_no="B1",
            entrust_date=date(2026, 6, 10),
            area="火星",
            actor=manager,
        )
    assert "area" in info.value.fields


def test_batch_no_is_unique_per_contract(db, bank, contract, make_user):
    manager = make_user("admin")
    make_batch(db, bank, "B-1")
    with pytest.raises(Conflict) as info:
        services.save_batch(
            None, contract=bank, batch_no="b-1", entrust_date=date(2026, 6, 1), actor=manager
        )
    assert "batch_no" in info.value.fields
    other = contract()
    services.save_batch(
        None, contract=other, batch_no="B-1", entrust_date=date(2026, 6, 1), actor=manager
    )


def test_batch_form_marks_required_fields_and_shows_errors(client, login_as, bank, db):
    login_as("manager", contracts=[bank], locale="en")
    page = client.get("/batches/new")
    assert page.status_code == 200
    assert page.text.count('class="required"') >= 3  # contract, batch no., entrust date
    make_batch(db, bank, "DUP")
    response = client.post(
        "/batches/new",
        data={
            "contract": bank.id,
            "batch_no": "DUP",
            "entrust_date": "2026-06-10",
            "expected_return_date": "2026-06-01",
        },
    )
    assert response.status_code == 400
    assert "Must not be before the entrust date" in response.text
    response = client.post(
        "/batches/new",
        data={"contract": bank.id, "batch_no": "DUP", "entrust_date": "2026-06-10"},
    )
    assert response.status_code == 409
    assert "exists already" in response.text


def test_batch_is_created_and_edited_through_the_pages(client, login_as, bank, db):
    login_as("manager", contracts=[bank])
    response = client.post(
        "/batches/new",
        data={
            "contract": bank.id,
            "batch_no": "JSZ-06",
            "entrust_date": "2026-06-10",
            "area": "苏南",
            "case_category": "信用卡",
        },
    )
    assert response.status_code == 302
    batch = db.session.scalar(select(Batch).filter_by(batch_no="JSZ-06"))
    listing = client.get("/batches/?status=not_imported")
    assert "JSZ-06" in listing.text
    assert bank.client.name in listing.text
    assert "JSZ-06" not in client.get("/batches/?status=imported").text

    response = client.post(
        f"/batches/{batch.id}/edit",
        data={
            "contract": bank.id,
            "batch_no": "JSZ-06A",
            "entrust_date": "2026-06-10",
            "area": "",
            "case_category": "信用卡",
            "notes": "重新命名",
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert (batch.batch_no, batch.notes, batch.area) == ("JSZ-06A", "重新命名", "")
    assert actions(db, "batch.") == ["batch.created", "batch.updated"]


def test_the_batch_list_links_to_the_import_page(client, login_as, bank, db):
    login_as("manager", contracts=[bank])
    batch = make_batch(db, bank, "B-IMP", status=NOT_IMPORTED)
    page = client.get("/batches/")
    assert page.status_code == 200
    assert f'href="/imports/batches/{batch.id}"' in page.text


def test_batch_without_cases_is_deleted(client, login_as, bank, db):
    login_as("manager", contracts=[bank])
    batch = make_batch(db, bank, "EMPTY")
    response = client.post(f"/batches/{batch.id}/delete")
    assert response.status_code == 302
    assert db.session.scalar(select(Batch.id).filter_by(batch_no="EMPTY")) is None
    assert actions(db, "batch.") == ["batch.deleted"]


def test_deleting_a_batch_removes_its_uploaded_files(client, login_as, bank, db):
    import io

    from support.workbooks import cases_xlsx

    from core.imports import services as imports

    batch = make_batch(db, bank, "UPLOADED")
    run = imports.start_import(batch, "cases", io.BytesIO(cases_xlsx(2)), "bank.xlsx", None)
    db.session.commit()
    stored = imports.upload_path(run.stored_name)
    assert stored.exists()
    login_as("manager", contracts=[bank])
    assert client.post(f"/batches/{batch.id}/delete").status_code == 302
    assert not stored.exists()


def test_batch_with_cases_cannot_be_deleted(client, login_as, bank, db):
    login_as("manager", contracts=[bank], locale="en")
    batch = make_batch(db, bank, "FULL")
    make_cases(db, bank, batch, count=2)
    response = client.post(f"/batches/{batch.id}/delete")
    assert response.status_code == 409
    assert "holds 2 cases and cannot be deleted" in response.text
    db.session.expire_all()
    assert db.session.get(Batch, batch.id) is not None
    with pytest.raises(Conflict):
        services.delete_batch(batch, actor=None)


def grant(db, role_name: str, permission: str) -> None:
    from core.auth.models import Role, RolePermission

    role = db.session.scalar(select(Role).filter_by(name=role_name))
    role.grants.append(RolePermission(permission=permission))
    db.session.commit()


def test_batches_of_other_contracts_are_404(client, login_as, bank, contract, db):
    other = contract()
    grant(db, "team_leader", "core.batches.manage")
    login_as("team_leader", contracts=[bank])  # sees only the contracts they are on
    theirs = make_batch(db, other, "THEIRS")
    assert client.get(f"/batches/{theirs.id}/edit").status_code == 404
    assert client.post(f"/batches/{theirs.id}/delete").status_code == 404
    assert "THEIRS" not in client.get("/batches/?status=all").text
    response = client.post(
        "/batches/new",
        data={"contract": other.id, "batch_no": "X", "entrust_date": "2026-06-10"},
    )
    assert response.status_code in (404, 422)
    assert db.session.scalar(select(Batch).filter_by(batch_no="X")) is None


def test_batch_pages_need_the_batch_permission(client, login_as, bank):
    login_as("collector", contracts=[bank])
    assert client.get("/batches/").status_code == 403
    assert client.get("/batches/new").status_code == 403
