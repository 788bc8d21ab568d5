"""What a click-through review of the workbench, the case panel, payment confirmation and the
settings found: masked payers, held cases, titles instead of codes, the right promise, …"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.cases.models import PAUSED, Payment
from core.cases.services import record_activity
from core.types import utcnow
from plugins.collection import complaints, payments, results, work
from plugins.collection.models import CaseWork, Promise, ResultCode
from plugins.collection.tests.work_kit import (
    SHANGHAI,
    Api,
    held_cases,
    sign_in_as,
    yesterday,
)

# Imports run without a user, in the default language: English here, as checked below.
pytestmark = pytest.mark.usefixtures("english_by_default")


def today():
    return utcnow().astimezone(SHANGHAI).date()


def promise(db, world, case, amount="100", due=None, at=None):
    work.record_contact(case, world.li, at=at or yesterday(10), channel="phone",
                        contact_type="debtor", target=case.mobile, result="promise_to_pay",
                        promise_amount=Decimal(amount), promise_date=due or today())  # fmt: skip
    db.session.commit()


def hold(db, world, case):
    found = complaints.register_complaint(
        case, channel="phone", content="说催收员态度差", user=world.manager
    )
    db.session.commit()
    return found


def claim(db, world, case, amount="300.00", payer="张三丰"):
    found = payments.claim_payment(case, world.li, amount=Decimal(amount), paid_on=today(),
                                   payer=payer, channel="wechat")  # fmt: skip
    db.session.commit()
    return found


# -- 1. the payer is masked ----------------------------------------------------------------------


def test_the_payment_queue_and_the_api_mask_the_payer(client, db, world):
    (case,) = held_cases(db, world, world.li)
    claim(db, world, case, payer="张三丰")
    sign_in_as(client, db, world.manager)
    page = client.get("/m/collection/payments").get_data(as_text=True)
    assert "张三丰" not in page and "张**" in page
    answer = Api(client, db, world.manager).get("/claims").get_json()
    assert answer["items"][0]["payer"] == "张**"


# -- 2. held cases -------------------------------------------------------------------------------


def test_a_case_on_complaint_hold_says_why_and_offers_no_forms(client, db, world):
    (case,) = held_cases(db, world, world.li)
    found = hold(db, world, case)
    sign_in_as(client, db, world.li)
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert 'id="collection-hold"' in page and f"complaint #{found.id}" in page
    assert 'id="record-form"' not in page and 'id="claim-form"' not in page
    assert 'id="forms-withheld"' in page


def test_a_paused_case_shows_its_status_and_reason_at_the_top(client, db, world):
    (case,) = held_cases(db, world, world.li)
    case.status = PAUSED
    db.session.commit()
    sign_in_as(client, db, world.li)
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert 'id="collection-hold"' in page and "cannot be worked" in page
    assert page.index('id="collection-hold"') < page.index('id="reachable"')
    assert 'id="record-form"' not in page


def test_held_and_paused_cases_are_in_no_action_queue_nor_the_next_case(db, world):
    held, paused, fine = held_cases(db, world, world.li, count=3)
    for case in (held, paused):  # the most urgent ones
        db.session.get(CaseWork, case.id).first_contact_due = utcnow() - timedelta(hours=5)
    hold(db, world, held)
    paused.status = PAUSED
    db.session.commit()
    queues = work.Queues(world.li, work.MINE)
    assert [case.id for case, _row in queues.page("new", 1, 50)[0]] == [fine.id]
    assert queues.next_case_id("new") == fine.id
    assert queues.next_case_id("all") == fine.id
    assert queues.count("all") == 3  # still listed among all cases


def test_the_all_list_marks_a_held_case(client, db, world):
    held, _fine = held_cases(db, world, world.li, count=2)
    hold(db, world, held)
    sign_in_as(client, db, world.li)
    page = client.get("/m/collection/?queue=all").get_data(as_text=True)
    row = page[page.index(f'data-case="{held.id}"') :]
    assert "complaint hold" in row[: row.index("</tr>")]
    assert page.count('class="tag held"') == 1


# -- 3. titles, not codes ------------------------------------------------------------------------


def test_the_panel_shows_result_titles_and_the_modules_own_results(client, db, world):
    (case,) = held_cases(db, world, world.li)
    work.record_contact(case, world.li, at=yesterday(10), channel="phone", contact_type="debtor",
                        target=case.mobile, result="no_answer")  # fmt: skip
    record_activity(case, world.li, at=yesterday(11), channel="sms", contact_type="debtor",
                    target=case.mobile, result="sms_queued", source="collection")  # fmt: skip
    db.session.commit()
    titles = results.titles_for(world.contract)
    assert titles["sms_queued"] == "SMS queued" and titles["letter_printed"] == "Letter printed"
    assert titles["no_answer"] == "No answer"
    sign_in_as(client, db, world.li)
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    panel = page[page.index('id="collection-work"') :]
    assert "SMS queued" in panel and "No answer" in panel
    assert ">sms_queued<" not in panel and ">no_answer<" not in panel


# -- 4. the queue's promise ----------------------------------------------------------------------


def test_the_promise_column_shows_the_promise_the_queue_is_about(client, db, world):
    (case,) = held_cases(db, world, world.li, entrusted_amount=Decimal(5000))
    # Broken earlier, one due today, and a later one due next week (kept already).
    promise(db, world, case, amount="222", due=today(), at=yesterday(8))
    promise(db, world, case, amount="111", due=today(), at=yesterday(9))
    promise(db, world, case, amount="333", due=today() + timedelta(days=7), at=yesterday(10))
    broken, due, later = db.session.scalars(select(Promise).order_by(Promise.id)).all()
    broken.status, broken.evaluated_at = "broken", utcnow()
    due.status = "pending"
    later.status, later.paid_amount = "kept", Decimal(333)
    db.session.commit()
    assert work.promises_of([case.id], work.PROMISES)[case.id].id == due.id
    assert work.promises_of([case.id], work.BROKEN)[case.id].id == broken.id
    sign_in_as(client, db, world.li)
    page = client.get("/m/collection/?queue=promises").get_data(as_text=True)
    assert "¥111.00" in page and "¥333.00" not in page


# -- 5. the payment confirmation page ------------------------------------------------------------


def test_the_confirmation_page_shows_who_recorded_warns_and_asks_before_confirming(
    client, db, world
):

    (case,) = held_cases(db, world, world.li, entrusted_amount=Decimal("200.00"))
    found = claim(db, world, case, amount="150.00")
    case.balance = Decimal("100.00")  # a repayment came in since the claim was taken
    db.session.commit()
    sign_in_as(client, db, world.manager)
    page = client.get("/m/collection/payments").get_data(as_text=True)
    assert "Recorded by" in page and "李催收" in page
    assert "more than the balance" in page
    confirm = page[page.index(f"/payments/{found.id}/confirm") - 200 :]
    assert "data-confirm=" in confirm[: confirm.index("</form>")]
    assert "claim-actions" in page  # the reject form has a row of its own


def test_a_rejected_claim_says_why_in_the_panel(client, db, world):
    (case,) = held_cases(db, world, world.li)
    found = claim(db, world, case)
    sign_in_as(client, db, world.manager)
    response = client.post(f"/m/collection/payments/{found.id}/reject",
                           data={"reason": "银行未查到这笔转账"})  # fmt: skip
    assert response.status_code == 302
    db.session.refresh(found)
    assert (found.status, found.status_reason) == ("rejected", "银行未查到这笔转账")
    sign_in_as(client, db, world.li)
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    row = page[page.index(f'data-claim="{found.id}"') :]
    assert "银行未查到这笔转账" in row[: row.index("</tr>")]


def test_a_claim_on_a_held_case_can_still_be_rejected(db, world):
    (case,) = held_cases(db, world, world.li)
    found = claim(db, world, case)
    hold(db, world, case)
    payments.reject_claim(found, world.manager, "重复登记")
    db.session.commit()
    assert db.session.get(Payment, found.id).status == "rejected"


# -- 6. promises -----------------------------------------------------------------------------------


def test_a_promise_larger_than_the_balance_is_refused(client, db, world):
    (case,) = held_cases(db, world, world.li, entrusted_amount=Decimal("500.00"))
    sign_in_as(client, db, world.li)
    response = client.post(
        f"/m/collection/cases/{case.id}/record",
        data={"at": yesterday(10).strftime("%Y-%m-%dT%H:%M"), "channel": "phone",
              "contact_type": "debtor", "target": f"phone:{case.phones[0].id}",
              "result": "promise_to_pay", "promise_amount": "800.00",
              "promise_date": today().isoformat()},
    )  # fmt: skip
    assert response.status_code == 422
    assert "more than the case&#39;s balance" in response.get_data(as_text=True)
    assert db.session.scalar(select(Promise)) is None


def test_a_new_promise_replaces_the_pending_ones(client, db, world):
    (case,) = held_cases(db, world, world.li, entrusted_amount=Decimal(5000))
    promise(db, world, case, amount="100", due=today(), at=yesterday(9))
    promise(db, world, case, amount="200", due=today() + timedelta(days=2), at=yesterday(10))
    first, second = db.session.scalars(select(Promise).order_by(Promise.id)).all()
    assert (first.status, second.status) == ("replaced", "pending")
    assert work.Queues(world.li, work.MINE).count("promises") == 0  # the one due today is gone
    sign_in_as(client, db, world.li)
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "awaiting payment" in page and "replaced by a later promise" in page


# -- 7. settings in Chinese ----------------------------------------------------------------------


def test_saving_the_codes_in_chinese_keeps_the_default_labels(client, db, world):
    world.manager.locale = "zh_CN"
    db.session.commit()
    sign_in_as(client, db, world.manager)
    url = f"/m/collection/settings/{world.contract.id}"
    page = client.get(url).get_data(as_text=True)
    assert "无人接听" in page  # No answer, shown translated
    rows = results.codes_for(world.contract)
    with client.application.test_request_context(headers={"Accept-Language": "zh-CN"}):
        from flask_babel import force_locale

        with force_locale("zh_CN"):
            shown = {r.id: results.title(r) for r in rows}
    form = {}
    for r in rows:
        form[f"label_{r.id}"] = "没人接" if r.code == "no_answer" else shown[r.id]
        form[f"outcome_{r.id}"] = r.outcome
        form[f"active_{r.id}"] = "1"
    assert client.post(f"{url}/codes", data=form).status_code == 302
    db.session.expire_all()
    stored = {r.code: r.label for r in db.session.scalars(select(ResultCode))}
    assert stored["no_answer"] == "没人接"
    assert stored["promise_to_pay"] == "Promise to pay"
    assert stored["busy"] == "Busy"


def test_moving_a_code_says_so(client, db, world):
    sign_in_as(client, db, world.manager)
    url = f"/m/collection/settings/{world.contract.id}"
    second = results.codes_for(world.contract, create=True)[1]
    db.session.commit()
    page = client.post(f"{url}/codes/{second.id}/move", data={"direction": "up"},
                       follow_redirects=True).get_data(as_text=True)  # fmt: skip
    assert f"{results.title(second)} moved up." in page


# -- 8. the record form on a phone ---------------------------------------------------------------


def test_the_forms_wrap_to_one_column_on_a_narrow_screen(client, db, world):
    (case,) = held_cases(db, world, world.li)
    sign_in_as(client, db, world.li)
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert 'id="record-form" class="collection-form"' in page
    assert "/m/collection/work.css" in page
    css = client.get("/m/collection/work.css").get_data(as_text=True)
    assert "@media (max-width: 640px)" in css and ".collection-form .row" in css


# -- 9. the queues API ---------------------------------------------------------------------------


def test_the_queues_api_defaults_to_the_users_scope_and_answers_json_404(client, db, world):
    held_cases(db, world, world.li, count=2)
    manager = Api(client, db, world.manager).get("/queues")
    assert manager.status_code == 200 and manager.get_json()["scope"] == "all"
    assert manager.get_json()["counts"]["all"] == 2
    leader = Api(client, db, world.leader).get("/queues")
    assert leader.get_json()["scope"] == "team"
    unknown = Api(client, db, world.manager).get("/queues/nonsense")
    assert unknown.status_code == 404 and unknown.is_json
    assert Api(client, db, world.manager).get("/queues/all").get_json()["total"] == 2


# -- 10. the workbench's scope, sort links, back link --------------------------------------------


def test_a_team_leader_lands_on_the_team_and_sort_links_keep_queue_and_scope(client, db, world):
    held_cases(db, world, world.wang)
    sign_in_as(client, db, world.leader)
    page = client.get("/m/collection/").get_data(as_text=True)
    assert "My team" in page.split("</h1>")[0]
    page = client.get("/m/collection/?queue=all&scope=mine").get_data(as_text=True)
    sort_link = page[page.index('class="sort') - 200 : page.index('class="sort')]
    assert "queue=all" in sort_link and "scope=mine" in sort_link


def test_the_panel_links_back_to_the_queue(client, db, world):
    (case,) = held_cases(db, world, world.li)
    sign_in_as(client, db, world.li)
    page = client.get(f"/cases/{case.id}?queue=follow_ups&scope=mine").get_data(as_text=True)
    assert 'id="back-to-queue"' in page and "Back to Follow-ups due" in page
    assert "/m/collection/?queue=follow_ups&amp;scope=mine" in page


# -- 11. ids on the case page --------------------------------------------------------------------


def test_the_record_forms_ids_are_its_own(client, db, world):
    (case,) = held_cases(db, world, world.li)
    sign_in_as(client, db, world.li)
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    form = page[
        page.index('id="record-form"') : page.index("</form>", page.index('id="record-form"'))
    ]
    assert 'for="record-channel"' in form and 'id="record-channel" name="channel"' in form
    assert 'id="channel"' not in form


# -- 12. messages --------------------------------------------------------------------------------


def test_a_negative_claim_says_at_least_one_cent(client, db, world):
    (case,) = held_cases(db, world, world.li)
    sign_in_as(client, db, world.li)
    response = client.post(f"/m/collection/cases/{case.id}/claim",
                           data={"claim-amount": "-5", "claim-paid_on": today().isoformat()})  # fmt: skip
    assert response.status_code == 422
    assert "The amount must be at least 0.01." in response.get_data(as_text=True)


# -- layout, in Chromium -------------------------------------------------------------------------


def _fits(page, selector: str) -> bool:
    """The element's right edge is inside the window (not cut off, no sideways scroll)."""
    box = page.locator(selector).first.bounding_box()
    return box is not None and box["x"] + box["width"] <= page.viewport_size["width"]


@pytest.mark.browser
def test_the_pages_fit_a_desktop_and_a_phone(live_server, browser_page, db, world):
    from core.testing.fixtures import sign_in

    (case,) = held_cases(db, world, world.li, entrusted_amount=Decimal("200.00"))
    claim(db, world, case, amount="150.00")
    case.balance = Decimal("100.00")  # the warning: the balance dropped since the claim
    db.session.commit()
    page = browser_page
    page.set_viewport_size({"width": 1400, "height": 900})
    sign_in(page, live_server, "manager")
    page.goto(f"{live_server}/m/collection/payments")
    assert _fits(page, "#pending-claims input[name=reason]")
    assert _fits(page, "#pending-claims button.danger")
    page.goto(f"{live_server}/m/collection/queues?queue=all")
    assert _fits(page, "#workbench td.holder") and _fits(page, "#workbench td.status")
    page.screenshot(path="/tmp/work_queues_1400.png", full_page=True)

    page.context.clear_cookies()
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server, "li")
    page.goto(f"{live_server}/cases/{case.id}")
    for name in ("channel", "contact_type", "target", "result"):
        box = page.locator(f"#record-form [name={name}]").bounding_box()
        assert box["width"] > 200, name
    page.screenshot(path="/tmp/work_case_390.png", full_page=True)
