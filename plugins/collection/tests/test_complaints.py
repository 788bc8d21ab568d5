"""Complaints hold a case until resolved: records, claims, messages refused; the list puts
overdue ones first; pages and API are permission- and visibility-checked (real database)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.audit.models import AuditEntry
from core.auth.services import issue_token
from core.cases.models import CLAIM
from core.cases.services import CaseRefused, assign, record_activity, record_payment
from core.errors import Conflict, InvalidInput, NotAllowed
from core.types import utcnow
from plugins.collection import complaints
from plugins.collection.compliance import settings_for
from plugins.collection.models import COMPLAINT_OPEN, COMPLAINT_RESOLVED, Complaint
from tests.support.cases import make_cases

AT = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai, inside the contact window


@pytest.fixture
def on(contract, english):
    return contract(modules=["collection"])


@pytest.fixture
def collector(make_user, on):
    return make_user("collector", contracts=[on])


@pytest.fixture
def manager(make_user, on):
    return make_user("manager", contracts=[on])


@pytest.fixture
def case(db, on, collector):
    (case,) = make_cases(db, on, holder_id=collector.id, mobile="13800000001")
    return case


def call(case, user):
    return record_activity(
        case, user, at=AT, channel="phone", target="13800000001", result="left_message"
    )


def test_a_complaint_holds_the_case_records_and_claims_are_refused(db, case, collector):
    complaint = complaints.register_complaint(
        case, channel="phone", content="催收员语气粗暴", user=collector, at=AT
    )
    assert complaint.due_at == AT + timedelta(hours=72)  # the default deadline
    with pytest.raises(CaseRefused) as record_refused:
        call(case, collector)
    assert f"complaint #{complaint.id} registered 2026-03-02 11:00 is open" in (
        record_refused.value.message
    )
    assert "to be resolved by 2026-03-05 11:00" in record_refused.value.message
    with pytest.raises(CaseRefused) as claim_refused:
        record_payment(case, amount=Decimal(100), paid_on=date(2026, 3, 2), user=collector,
                       kind=CLAIM)  # fmt: skip
    assert claim_refused.value.audit["details"]["action"] == "payment_claim"
    assert "is open" in claim_refused.value.audit["details"]["reasons"][0]


def test_resolving_the_complaint_lifts_the_hold(db, case, collector, manager):
    complaint = complaints.register_complaint(case, channel="bank", content="x", user=collector)
    db.session.commit()
    complaints.resolve_complaint(complaint, resolution="已致歉并更换催收员", user=manager)
    db.session.commit()
    assert complaint.status == COMPLAINT_RESOLVED and complaint.handler_id == manager.id
    call(case, collector)  # allowed again
    actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert "collection.complaint_registered" in actions
    assert "collection.complaint_resolved" in actions
    with pytest.raises(Conflict):
        complaints.resolve_complaint(complaint, resolution="again", user=manager)


def test_the_hold_lasts_while_any_complaint_is_open(db, case, collector, manager):
    first = complaints.register_complaint(case, channel="phone", content="a", user=collector)
    complaints.register_complaint(case, channel="regulator", content="b", user=collector)
    complaints.resolve_complaint(first, resolution="done", user=manager)
    with pytest.raises(CaseRefused):
        call(case, collector)


def test_a_held_case_may_still_be_reassigned(db, case, collector, manager, make_user, on):
    """Moving a case away from the collector complained about is part of handling it."""
    complaints.register_complaint(case, channel="phone", content="x", user=collector)
    other = make_user("collector", contracts=[on])
    outcome = assign([case], holder=other, user=manager)
    assert outcome.changed == [case] and case.holder_id == other.id
    with pytest.raises(CaseRefused):
        call(case, other)  # the new holder is held too


def test_the_deadline_is_the_contracts(db, case, collector, on):
    settings_for(on).complaint_deadline_hours = 24
    complaint = complaints.register_complaint(case, channel="phone", content="x", user=collector,
                                              at=AT)  # fmt: skip
    assert complaint.due_at == AT + timedelta(hours=24)


def test_register_and_resolve_check_who_and_what(db, case, collector, make_user, on):
    stranger = make_user("collector", contracts=[on])
    with pytest.raises(NotAllowed):
        complaints.register_complaint(case, channel="phone", content="x", user=stranger)
    with pytest.raises(InvalidInput) as caught:
        complaints.register_complaint(case, channel="fax", content=" ", user=collector)
    assert set(caught.value.fields) == {"channel", "content"}
    complaint = complaints.register_complaint(case, channel="phone", content="x", user=collector)
    with pytest.raises(NotAllowed):
        complaints.resolve_complaint(complaint, resolution="done", user=collector)


def test_the_list_puts_open_ones_first_the_most_overdue_on_top(db, on, collector, manager):
    cases = make_cases(db, on, count=4, holder_id=collector.id)
    now = utcnow()
    late = complaints.register_complaint(cases[0], channel="phone", content="late", user=collector,
                                         at=now - timedelta(hours=80))  # fmt: skip
    later = complaints.register_complaint(cases[1], channel="phone", content="later",
                                          user=collector, at=now - timedelta(hours=100))  # fmt: skip
    fresh = complaints.register_complaint(cases[2], channel="phone", content="fresh",
                                          user=collector, at=now)  # fmt: skip
    done = complaints.register_complaint(cases[3], channel="phone", content="done",
                                         user=collector, at=now - timedelta(hours=200))  # fmt: skip
    complaints.resolve_complaint(done, resolution="ok", user=manager)
    db.session.commit()
    order = db.session.scalars(complaints.complaints_query(manager)).all()
    assert order == [later, late, fresh, done]
    assert [complaints.is_overdue(c) for c in order] == [True, True, False, False]
    assert db.session.scalars(complaints.complaints_query(manager, status=COMPLAINT_OPEN)).all() == [
        later, late, fresh,
    ]  # fmt: skip
    assert db.session.scalars(complaints.complaints_query(collector)).all() == order


# -- pages -------------------------------------------------------------------------------------


def test_the_case_page_shows_the_hold_and_registers_a_complaint(client, login_as, db, on):
    user = login_as("collector", contracts=[on])
    (case,) = make_cases(db, on, holder_id=user.id)
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert f"/m/collection/cases/{case.id}/complaints" in page
    bad = client.post(
        f"/m/collection/cases/{case.id}/complaints", data={"complaint-channel": "phone"}
    )
    assert bad.status_code == 422
    response = client.post(
        f"/m/collection/cases/{case.id}/complaints",
        data={"complaint-channel": "phone", "complaint-content": "投诉"},
    )
    assert response.status_code == 302
    complaint = db.session.scalar(select(Complaint))
    assert (complaint.case_id, complaint.registered_by_id) == (case.id, user.id)
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "complaint-hold" in page


def test_complaint_pages_need_the_permission_and_a_visible_case(client, login_as, db, on):
    (case,) = make_cases(db, on)  # in the pool
    login_as("collector", contracts=[on])
    assert client.get("/m/collection/complaints").status_code == 403
    assert client.get(f"/m/collection/cases/{case.id}/complaints").status_code == 404
    login_as("legal", contracts=[on])  # sees the case, neither works it nor handles
    assert client.get(f"/m/collection/cases/{case.id}/complaints").status_code == 403
    assert client.get("/m/collection/complaints").status_code == 403


def test_qa_inspectors_handle_complaints(client, login_as, db, on, case, collector):
    complaint = complaints.register_complaint(case, channel="phone", content="态度恶劣",
                                              user=collector)  # fmt: skip
    db.session.commit()
    inspector = login_as("qa_inspector", contracts=[on], locale="en")
    assert inspector.can("collection.handle_complaints")
    listing = client.get("/m/collection/complaints").get_data(as_text=True)
    assert case.serial in listing and "unresolved" in listing
    response = client.post(
        f"/m/collection/complaints/{complaint.id}", data={"resolution": "已回访"}
    )
    assert response.status_code == 302
    db.session.refresh(complaint)
    assert (complaint.status, complaint.handler_id) == (COMPLAINT_RESOLVED, inspector.id)


def test_the_complaint_form_ids_do_not_clash_with_the_record_form(client, login_as, db, on):
    user = login_as("collector", contracts=[on])
    (case,) = make_cases(db, on, holder_id=user.id)
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert 'id="complaint-channel"' in page and 'id="complaint-content"' in page
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_a_handler_lists_and_resolves(client, login_as, db, on, case, collector):
    complaint = complaints.register_complaint(case, channel="letter", content="内容", user=collector,
                                              at=utcnow() - timedelta(hours=100))  # fmt: skip
    db.session.commit()
    login_as("manager", contracts=[on])
    listing = client.get("/m/collection/complaints").get_data(as_text=True)
    assert case.serial in listing and "outcome-denied" in listing  # overdue is marked
    assert client.post(f"/m/collection/complaints/{complaint.id}", data={}).status_code == 422
    response = client.post(
        f"/m/collection/complaints/{complaint.id}", data={"resolution": "已处理"}
    )
    assert response.status_code == 302
    db.session.refresh(complaint)
    assert complaint.status == COMPLAINT_RESOLVED and complaint.resolution == "已处理"


def test_a_contract_without_the_module_has_no_complaint_pages(client, login_as, db, contract):
    off = contract()
    login_as("manager", contracts=[off])
    (case,) = make_cases(db, off)
    assert client.get(f"/m/collection/cases/{case.id}/complaints").status_code == 404


# -- API ---------------------------------------------------------------------------------------


def test_the_api_registers_lists_and_resolves(client, make_user, db, on):
    manager = make_user("manager", contracts=[on])
    _token, plain = issue_token(manager, "test")
    db.session.commit()
    headers = {"Authorization": f"Bearer {plain}"}
    (case,) = make_cases(db, on)
    base = "/m/collection/api"
    created = client.post(f"{base}/cases/{case.id}/complaints", headers=headers,
                          json={"channel": "regulator", "content": "银保监转来"})  # fmt: skip
    assert created.status_code == 201 and created.json["status"] == "open"
    assert created.json["overdue"] is False
    listed = client.get(f"{base}/complaints?status=open", headers=headers).json
    assert [c["id"] for c in listed["items"]] == [created.json["id"]]
    resolved = client.post(f"{base}/complaints/{created.json['id']}/resolve", headers=headers,
                           json={"resolution": "已回复监管"})  # fmt: skip
    assert resolved.status_code == 200 and resolved.json["status"] == "resolved"
    again = client.post(f"{base}/complaints/{created.json['id']}/resolve", headers=headers,
                        json={"resolution": "x"})  # fmt: skip
    assert again.status_code == 409
    assert client.post(f"{base}/cases/999999/complaints", headers=headers,
                       json={"channel": "phone", "content": "x"}).status_code == 404  # fmt: skip
