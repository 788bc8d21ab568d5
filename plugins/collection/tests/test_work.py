"""Result codes, CaseWork upkeep, the workbench queues, the record form and the case panel."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from core.audit.models import AuditEntry
from core.cases.models import PAUSED, Activity, CaseContact
from core.cases.services import assign, record_activity
from core.modules import enable_module
from core.types import utcnow
from plugins.collection import results, work
from plugins.collection.models import CaseWork, Promise, ResultCode
from plugins.collection.tests.work_kit import (
    SHANGHAI,
    held_cases,
    sign_in_as,
    yesterday,
)
from tests.support.cases import make_cases

# Imports run without a user, in the default language: English here, as checked below.
pytestmark = pytest.mark.usefixtures("english_by_default")


def codes(db, contract):
    return {row.code: row for row in results.codes_for(contract)}


# -- result codes --------------------------------------------------------------------------------


def test_result_codes_are_seeded_when_the_module_is_switched_on(db, contract):
    on = contract(modules=["collection"])
    seeded = codes(db, on)
    assert seeded["promise_to_pay"].outcome == "promise"
    assert seeded["no_answer"].outcome == "unanswered"
    assert seeded["invalid_number"].outcome == "invalid_number"
    assert seeded["wrong_person"].outcome == "wrong_person"
    assert seeded["claims_paid"].outcome == "claims_paid"
    assert seeded["complaint"].outcome == "complaint"
    positions = [row.position for row in results.codes_for(on)]
    assert positions == sorted(positions)
    assert results.ensure_defaults(on) == 0  # switching on again adds nothing


def test_a_contract_without_codes_gets_them_lazily(db, contract):
    on = contract(modules=["collection"])
    for row in results.codes_for(on):
        db.session.delete(row)
    db.session.commit()
    assert results.codes_for(on) == []
    assert len(results.codes_for(on, create=True)) == len(results.DEFAULT_CODES)


def test_a_default_label_is_translated_until_renamed(db, contract):
    on = contract(modules=["collection"])
    row = codes(db, on)["no_answer"]
    with force_locale("en"):
        assert results.title(row) == "No answer"
    row.label = "无人接听（三次）"
    assert results.title(row) == "无人接听（三次）"


def test_the_gate_counts_an_added_unanswered_code_and_a_bank_wording(db, world):
    (case,) = held_cases(db, world, world.li)
    results.add_code(
        world.contract, code="voicemail", label="语音信箱", outcome="unanswered", user=None
    )
    db.session.commit()
    for n, result in enumerate(["voicemail", "无人接听", "关机", "voicemail", "no_answer", "busy"]):
        record_activity(case, None, at=yesterday(9, n), channel="phone", target=case.mobile,
                        result=result)  # fmt: skip
    from core.cases.services import CaseRefused

    with force_locale("en"), pytest.raises(CaseRefused) as refused:
        record_activity(case, None, at=yesterday(9, 30), channel="phone", target=case.mobile,
                        result="no_answer")  # fmt: skip
    assert "already has 6 unanswered calls today" in refused.value.message


def test_a_code_renamed_to_mean_reached_no_longer_counts(db, world):
    (case,) = held_cases(db, world, world.li)
    row = codes(db, world.contract)["busy"]
    results.update_code(row, label="Busy", outcome="right_party", active=True, user=None)
    for n in range(7):
        record_activity(case, None, at=yesterday(10, n), channel="phone", target=case.mobile,
                        result="busy")  # fmt: skip


# -- CaseWork upkeep -----------------------------------------------------------------------------


def test_assignment_sets_holder_and_first_contact_deadline(db, world):
    before = utcnow()
    (case,) = held_cases(db, world, world.li)
    row = db.session.get(CaseWork, case.id)
    assert row.holder_id == world.li.id
    assert row.assigned_at >= before
    assert row.first_contact_due - row.assigned_at == timedelta(hours=48)


def test_a_record_ends_the_deadline_and_keeps_result_and_follow_up(db, world):
    (case,) = held_cases(db, world, world.li)
    follow_up = yesterday(15)
    work.record_contact(case, world.li, at=yesterday(10), channel="phone",
                        contact_type="debtor", target=case.mobile, result="refuses",
                        follow_up_at=follow_up)  # fmt: skip
    row = db.session.get(CaseWork, case.id)
    assert row.first_contact_due is None
    assert row.first_contacted_at == yesterday(10)
    assert row.last_contact_at == yesterday(10) and row.last_result == "refuses"
    assert row.follow_up_at == follow_up
    entry = db.session.scalar(select(Activity).filter_by(case_id=case.id))
    assert datetime.fromisoformat(entry.data["follow_up_at"]) == follow_up
    # A record entered later for an earlier time moves the first contact, not the latest.
    record_activity(case, None, at=yesterday(9), channel="phone", target=case.mobile,
                    result="no_answer")  # fmt: skip
    assert row.first_contacted_at == yesterday(9)
    assert row.last_result == "refuses" and row.follow_up_at == follow_up


def test_reassignment_restarts_the_deadline_only_for_an_uncontacted_case(db, world):
    fresh, worked = held_cases(db, world, world.li, count=2)
    work.record_contact(worked, world.li, at=yesterday(10), channel="phone",
                        contact_type="debtor", target=worked.mobile, result="refuses")  # fmt: skip
    first_due = db.session.get(CaseWork, fresh.id).first_contact_due
    assign([fresh, worked], holder=world.wang, user=world.manager)
    fresh_row, worked_row = db.session.get(CaseWork, fresh.id), db.session.get(CaseWork, worked.id)
    assert fresh_row.holder_id == worked_row.holder_id == world.wang.id
    assert fresh_row.first_contact_due >= first_due
    assert worked_row.first_contact_due is None
    assign([fresh], holder=None, user=world.manager)
    assert fresh_row.holder_id is None and fresh_row.first_contact_due is None


def test_a_promise_record_creates_a_promise(db, world):
    (case,) = held_cases(db, world, world.li)
    due = date.today() + timedelta(days=3)
    entry = work.record_contact(case, world.li, at=yesterday(10), channel="phone",
                                contact_type="debtor", target=case.mobile,
                                result="promise_to_pay", promise_amount=Decimal(500),
                                promise_date=due)  # fmt: skip
    promise = db.session.scalar(select(Promise).filter_by(case_id=case.id))
    assert (promise.activity_id, promise.amount, promise.due_on) == (entry.id, Decimal(500), due)
    assert promise.user_id == world.li.id and promise.status == "pending"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"result": "promise_to_pay"}, "promise_amount"),
        ({"result": "refuses", "promise_amount": Decimal(5), "promise_date": date.today()},
         "promise_amount"),
        ({"result": "no_such_code"}, "result"),
        ({"result": "refuses", "follow_up_at": yesterday(9)}, "follow_up_at"),
    ],
)  # fmt: skip
def test_record_contact_checks_result_promise_and_follow_up(db, world, fields, field):
    from core.errors import InvalidInput

    (case,) = held_cases(db, world, world.li)
    with pytest.raises(InvalidInput) as caught:
        work.record_contact(case, world.li, at=yesterday(10), channel="phone",
                            contact_type="debtor", target=case.mobile, **fields)  # fmt: skip
    assert field in caught.value.fields


# -- queues ---------------------------------------------------------------------------------------


def test_each_queue_holds_its_cases_in_urgency_order(db, world):
    new_late, new_soon, promised, broken, follow, settled_case = held_cases(
        db, world, world.li, count=6
    )
    held_cases(db, world, world.wang, count=2)  # someone else's: in none of li's queues
    db.session.get(CaseWork, new_late.id).first_contact_due = utcnow() - timedelta(hours=1)
    today = utcnow().astimezone(SHANGHAI).date()
    work.record_contact(promised, world.li, at=yesterday(10), channel="phone",
                        contact_type="debtor", target=promised.mobile, result="promise_to_pay",
                        promise_amount=Decimal(100), promise_date=today)  # fmt: skip
    work.record_contact(broken, world.li, at=yesterday(10), channel="phone",
                        contact_type="debtor", target=broken.mobile, result="promise_to_pay",
                        promise_amount=Decimal(100), promise_date=today)  # fmt: skip
    promise = db.session.scalar(select(Promise).filter_by(case_id=broken.id))
    promise.status, promise.evaluated_at = "broken", utcnow() - timedelta(hours=1)
    work.record_contact(follow, world.li, at=yesterday(10), channel="phone",
                        contact_type="debtor", target=follow.mobile, result="refuses",
                        follow_up_at=yesterday(11))  # fmt: skip
    work.record_contact(settled_case, world.li, at=yesterday(10), channel="phone",
                        contact_type="debtor", target=settled_case.mobile, result="refuses",
                        follow_up_at=yesterday(11))  # fmt: skip
    settled_case.status = "settled"
    db.session.commit()

    queues = work.Queues(world.li, work.MINE)
    ids = {q: [case.id for case, _row in queues.page(q, 1, 50)[0]] for q in work.QUEUES}
    assert ids["new"] == [new_late.id, new_soon.id]  # overdue first
    assert ids["promises"] == [promised.id]
    assert ids["broken"] == [broken.id]
    assert ids["follow_ups"] == [follow.id]  # the settled one is not worked any more
    assert len(ids["all"]) == 6
    assert queues.counts() == {"new": 2, "promises": 1, "broken": 1, "follow_ups": 1, "all": 6}
    assert queues.next_case_id("new") == new_late.id
    assert queues.next_case_id("new", skip=new_late.id) == new_soon.id

    # A contact after the promise broke takes the case off the broken queue.
    work.record_contact(broken, world.li, at=utcnow() - timedelta(minutes=1), channel="other",
                        contact_type="debtor", result="left_message")  # fmt: skip
    assert work.Queues(world.li, work.MINE).count("broken") == 0


def test_a_promise_past_its_day_is_in_the_broken_queue_before_the_daily_job(db, world):
    (case,) = held_cases(db, world, world.li)
    today = utcnow().astimezone(SHANGHAI).date()
    work.record_contact(case, world.li, at=yesterday(10) - timedelta(days=3), channel="phone",
                        contact_type="debtor", target=case.mobile, result="promise_to_pay",
                        promise_amount=Decimal(100), promise_date=today - timedelta(days=1))  # fmt: skip
    db.session.commit()
    assert db.session.scalar(select(Promise).filter_by(case_id=case.id)).status == "pending"
    queues = work.Queues(world.li, work.MINE)
    assert [c.id for c, _row in queues.page("broken", 1, 50)[0]] == [case.id]
    assert work.promises_of([case.id], work.BROKEN, today)[case.id].due_on < today


def test_team_scope_and_filters(db, world):
    held_cases(db, world, world.li, count=2, bucket="M1")
    (wangs,) = held_cases(db, world, world.wang, name="欧阳锋", bucket="M3")
    assert work.scopes_for(world.li) == ["mine"]
    assert work.scopes_for(world.leader) == ["mine", "team"]
    assert work.Queues(world.leader, work.TEAM).count("all") == 3
    found = work.Queues(world.leader, work.TEAM, work.QueueFilter(q="欧阳")).page("all", 1, 50)
    assert [case.id for case, _row in found[0]] == [wangs.id]
    assert work.Queues(world.leader, work.TEAM, work.QueueFilter(bucket="M1")).count("all") == 2
    other = make_cases(db, world.contract)  # in the pool: in no one's queue
    assert work.Queues(world.manager, work.EVERYONE).count("all") == 3 + len(other)


def test_a_contract_without_the_module_has_no_queues(db, world, contract):
    off = contract()
    world.li.contracts.append(off)
    (case,) = make_cases(db, off)
    assign([case], holder=world.li, user=world.manager)
    db.session.commit()
    assert work.Queues(world.li, work.MINE).count("all") == 0
    enable_module(off, "collection", None)
    db.session.commit()
    assert work.Queues(world.li, work.MINE).count("all") == 1


# -- pages -----------------------------------------------------------------------------------------


def test_workbench_shows_queues_with_counts_and_the_deadline(client, db, world):
    first, _second = held_cases(db, world, world.li, count=2)
    db.session.get(CaseWork, first.id).first_contact_due = utcnow() - timedelta(hours=2)
    db.session.commit()
    sign_in_as(client, db, world.li)
    page = client.get("/m/collection/").get_data(as_text=True)
    assert 'data-queue="new"' in page and "overdue by 2 h" in page
    assert first.serial in page and "min left" in page
    response = client.get("/m/collection/next?queue=new")
    assert response.status_code == 302
    assert response.location.startswith(f"/cases/{first.id}?")


def test_workbench_answers_only_who_works_cases(client, db, world, login_as):
    login_as("client_viewer", client=world.contract.client)
    assert client.get("/m/collection/").status_code == 403
    assert client.get("/m/collection/queues").status_code == 403
    sign_in_as(client, db, world.manager)
    assert client.get("/m/collection/queues").status_code == 200


def test_the_case_page_shows_the_panel_with_masked_numbers_and_forms(client, db, world):
    (case,) = held_cases(db, world, world.li)
    db.session.add(CaseContact(case_id=case.id, name="张父", relation="父亲",
                               phone="13700000001"))  # fmt: skip
    db.session.add(CaseContact(case_id=case.id, name="张母", relation="母亲",
                               phone="13700000002", do_not_contact=True))  # fmt: skip
    db.session.commit()
    sign_in_as(client, db, world.li)
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert 'id="collection-work"' in page and 'id="record-form"' in page
    assert 'id="claim-form"' in page
    assert case.mobile not in page and "137****0001" in page
    assert "contact:" in page  # a contact is offered by id, never by its number
    mother = db.session.scalar(select(CaseContact).filter_by(name="张母"))
    assert f'value="contact:{mother.id}"' not in page  # do-not-contact is never offered


def test_a_reader_who_may_not_work_the_case_sees_no_forms(client, db, world, login_as):
    (case,) = held_cases(db, world, world.li)
    login_as("qa_inspector", contracts=[world.contract])
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert 'id="collection-work"' in page and 'id="record-form"' not in page
    assert client.get(f"/m/collection/cases/{case.id}/record").status_code == 403


def test_a_collector_cannot_see_or_work_anothers_case(client, db, world):
    (theirs,) = held_cases(db, world, world.wang)
    sign_in_as(client, db, world.li)
    assert client.get(f"/cases/{theirs.id}").status_code == 404
    assert client.get(f"/m/collection/cases/{theirs.id}/record").status_code == 404
    response = client.post(f"/m/collection/cases/{theirs.id}/record", data={"result": "refuses"})
    assert response.status_code == 404
    assert client.post(f"/m/collection/cases/{theirs.id}/claim").status_code == 404
    assert db.session.scalar(select(Activity).filter_by(case_id=theirs.id)) is None


def record_form(case, when, **extra):
    """The record form as a collector fills it: a call to the debtor's first phone."""
    return {"at": when.strftime("%Y-%m-%dT%H:%M"), "channel": "phone", "contact_type": "debtor",
            "target": f"phone:{case.phones[0].id}", "result": "refuses", "note": "",
            **extra}  # fmt: skip


def test_the_record_form_saves_a_promise(client, db, world):
    (case,) = held_cases(db, world, world.li)
    due = (utcnow().astimezone(SHANGHAI) + timedelta(days=2)).date()
    sign_in_as(client, db, world.li)
    phone = case.phones[0]
    response = client.post(
        f"/m/collection/cases/{case.id}/record?queue=new",
        data=record_form(case, yesterday(10, 15), target=f"phone:{phone.id}", result="promise_to_pay",
                         promise_amount="800.00", promise_date=due.isoformat(), note="下周还"),
    )  # fmt: skip
    assert response.status_code == 302
    assert response.location.startswith(f"/cases/{case.id}?queue=new")
    entry = db.session.scalar(select(Activity).filter_by(case_id=case.id))
    assert entry.target == case.mobile and entry.at == yesterday(10, 15)
    assert entry.user_id == world.li.id and entry.note == "下周还"
    assert db.session.scalar(select(Promise).filter_by(case_id=case.id)).amount == Decimal(800)


def test_a_promise_without_its_amount_re_renders_with_the_field_error(client, db, world):
    (case,) = held_cases(db, world, world.li)
    sign_in_as(client, db, world.li)
    response = client.post(f"/m/collection/cases/{case.id}/record",
                           data=record_form(case, yesterday(10), result="promise_to_pay"))  # fmt: skip
    assert response.status_code == 422
    assert "A promise needs the promised amount." in response.get_data(as_text=True)
    assert db.session.scalar(select(Activity)) is None


def test_a_call_at_22_30_is_refused_with_the_rule_and_audited(client, db, world):
    (case,) = held_cases(db, world, world.li)
    sign_in_as(client, db, world.li)
    response = client.post(f"/m/collection/cases/{case.id}/record",
                           data=record_form(case, yesterday(22, 30)))  # fmt: skip
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Outside the contact hours 08:00–22:00 (debtor&#39;s time)" in page
    assert "a contact at 22:30" in page
    assert db.session.scalar(select(Activity)) is None
    denied = db.session.scalar(select(AuditEntry).filter_by(action="case.action_denied"))
    assert denied.user_id == world.li.id and denied.object_id == str(case.id)


def test_a_contacts_number_cannot_be_recorded_as_the_debtor(client, db, world):
    (case,) = held_cases(db, world, world.li)
    contact = CaseContact(case_id=case.id, name="张父", relation="父亲", phone="13700000001")
    db.session.add(contact)
    db.session.commit()
    sign_in_as(client, db, world.li)
    response = client.post(f"/m/collection/cases/{case.id}/record",
                           data=record_form(case, yesterday(10), target=f"contact:{contact.id}"))  # fmt: skip
    assert response.status_code == 400
    assert "a contact&#39;s, not the debtor&#39;s" in response.get_data(as_text=True)
    # As a relative, the third-party rule answers: the debtor is not unreachable yet.
    response = client.post(f"/m/collection/cases/{case.id}/record",
                           data=record_form(case, yesterday(10), target=f"contact:{contact.id}",
                                            contact_type="relative"))  # fmt: skip
    assert response.status_code == 409
    assert "only once the debtor is unreachable" in response.get_data(as_text=True)


def test_a_paused_case_is_refused_through_the_form(client, db, world):
    (case,) = held_cases(db, world, world.li)
    case.status, case.status_reason = PAUSED, "银行要求暂停"
    db.session.commit()
    sign_in_as(client, db, world.li)
    response = client.post(f"/m/collection/cases/{case.id}/record",
                           data=record_form(case, yesterday(10)))  # fmt: skip
    assert response.status_code == 409
    assert "cannot be worked" in response.get_data(as_text=True)
    assert db.session.scalar(select(Activity)) is None


def test_a_paused_case_is_refused_through_the_records_import(db, world, app_config, tmp_path):
    import io

    from core.batches.models import Batch
    from core.imports import services
    from tests.support.workbooks import xlsx_bytes

    app_config["UPLOAD_FOLDER"] = str(tmp_path)
    batch = Batch(contract_id=world.contract.id, batch_no="IMP", entrust_date=date(2026, 3, 1))
    db.session.add(batch)
    db.session.commit()
    paused, normal = held_cases(db, world, world.li, count=2, batch_id=batch.id)
    paused.status = PAUSED
    db.session.commit()
    when = yesterday(10).strftime("%Y-%m-%d %H:%M")
    rows = [["个案序列号", "催收时间", "催收方式", "催收结果", "承诺金额", "承诺日期"],
            [normal.serial, when, "电话", "承诺还款", "300", date.today().isoformat()],
            [paused.serial, when, "电话", "无人接听", "", ""]]  # fmt: skip
    with force_locale("en"):
        run = services.start_import(batch, "activities", io.BytesIO(xlsx_bytes(rows)), "r.xlsx",
                                    None)  # fmt: skip
        db.session.commit()
        report = services.commit(run.id, skip_invalid=True)
    assert report["created"] == 1 and report["rejected"] == 1
    assert "cannot be worked" in report["errors"][0][2]
    # The imported promise became a Promise, and the record ended the first-contact deadline.
    assert db.session.scalar(select(Promise).filter_by(case_id=normal.id)).amount == 300
    assert db.session.get(CaseWork, normal.id).first_contact_due is None


# -- settings --------------------------------------------------------------------------------------


def test_settings_page_saves_limits_and_edits_result_codes(client, db, world):
    sign_in_as(client, db, world.manager)
    url = f"/m/collection/settings/{world.contract.id}"
    assert world.contract.number in client.get("/m/collection/settings").get_data(as_text=True)
    page = client.get(url).get_data(as_text=True)
    assert "08:00 – 22:00" in page and "No answer" in page
    form = {"max_unanswered_calls_per_day": "4", "third_party_after_failures": "2",
            "first_contact_hours": "24", "complaint_deadline_hours": "48",
            "agency_name": "枫叶催收", "agency_phone": "025-12345678"}  # fmt: skip
    assert client.post(url, data=form).status_code == 302
    from plugins.collection.compliance import settings_for

    row = settings_for(world.contract)
    db.session.refresh(row)
    assert (row.max_unanswered_calls_per_day, row.first_contact_hours) == (4, 24)
    assert row.agency_name == "枫叶催收"
    bad = client.post(url, data=form | {"first_contact_hours": "0"})
    assert bad.status_code == 422

    response = client.post(f"{url}/codes/new",
                           data={"new-code": "voicemail", "new-label": "语音信箱",
                                 "new-outcome": "unanswered"})  # fmt: skip
    assert response.status_code == 302
    added = db.session.scalar(select(ResultCode).filter_by(code="voicemail"))
    assert added.outcome == "unanswered" and added.position > 100
    duplicate = client.post(
        f"{url}/codes/new", data={"new-code": "voicemail", "new-label": "x", "new-outcome": "other"}
    )
    assert duplicate.status_code == 422

    rows = results.codes_for(world.contract)
    edit = {}
    for r in rows:
        edit[f"label_{r.id}"] = "没人接" if r.code == "no_answer" else results.title(r)
        edit[f"outcome_{r.id}"] = r.outcome
        if r.code != "complaint":
            edit[f"active_{r.id}"] = "1"
    assert client.post(f"{url}/codes", data=edit).status_code == 302
    by_code = codes(db, world.contract)
    for r in by_code.values():
        db.session.refresh(r)
    assert by_code["no_answer"].label == "没人接" and by_code["no_answer"].code == "no_answer"
    assert not by_code["complaint"].active
    assert by_code["promise_to_pay"].label == "Promise to pay"  # unchanged: still translated

    second = rows[1]
    client.post(f"{url}/codes/{second.id}/move", data={"direction": "up"})
    assert results.codes_for(world.contract)[0].id == second.id
    assert (
        db.session.scalar(select(AuditEntry).filter_by(action="collection.settings_changed"))
        is not None
    )


def test_settings_answer_404_for_a_contract_without_the_module(client, db, world, contract):
    off = contract()
    world.manager.contracts.append(off)
    db.session.commit()
    sign_in_as(client, db, world.manager)
    assert client.get(f"/m/collection/settings/{off.id}").status_code == 404


def test_the_case_page_timeline_names_results_and_entry_kinds(db, contract, login_as, client):
    from datetime import UTC, datetime

    from core.cases.services import record_activity
    from tests.support.cases import make_cases

    on = contract(modules=("collection",))
    manager = login_as("manager", contracts=[on], locale="en")
    (case,) = make_cases(db, on)
    at = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
    record_activity(case, manager, at=at, result="no_answer", target=case.mobile)
    record_activity(case, manager, at=at, kind="payment_claim", channel="other")
    db.session.commit()
    page = client.get(f"/cases/{case.id}").text
    assert "No answer" in page and "Payment claim" in page and ">no_answer<" not in page
