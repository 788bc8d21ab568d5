"""Second review of the workbench: claims within the balance, the record and claim pages of a
case that cannot be worked, a complaint result that registers a complaint, record dates and
the latest-records layout."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.cases.models import PAUSED, Activity, Case, Payment
from core.cases.services import work_refusals
from core.types import utcnow
from plugins.collection import complaints, payments, work
from plugins.collection.models import Complaint
from plugins.collection.tests.work_kit import (
    SHANGHAI,
    Api,
    held_cases,
    sign_in_as,
    yesterday,
)


def today():
    return utcnow().astimezone(SHANGHAI).date()


def record_form(case, when, **extra):
    return {"at": when.strftime("%Y-%m-%dT%H:%M"), "channel": "phone", "contact_type": "debtor",
            "target": f"phone:{case.phones[0].id}", "result": "refuses", "note": "",
            **extra}  # fmt: skip


def call(case, when, **extra):
    return {"at": when.isoformat(), "channel": "phone", "contact_type": "debtor",
            "target": case.mobile, "result": "refuses", **extra}  # fmt: skip


def claim_form(amount, **extra):
    return {"claim-amount": amount, "claim-paid_on": today().isoformat(), "claim-payer": "",
            "claim-channel": "wechat", "claim-note": "", **extra}  # fmt: skip


def tomorrow_at(hour, minute=0):
    day = today() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


# -- 1. a claim is never more than the balance ---------------------------------------------------


def test_a_claim_larger_than_the_balance_is_refused_by_the_form_and_the_api(client, db, world):
    (case,) = held_cases(db, world, world.li, entrusted_amount=Decimal("1000.00"))
    sign_in_as(client, db, world.li)
    response = client.post(f"/m/collection/cases/{case.id}/claim", data=claim_form("1e20"))
    assert response.status_code == 422
    assert "more than the case&#39;s balance (¥1,000.00)" in response.get_data(as_text=True)
    api = Api(client, db, world.li)
    answer = api.post(f"/cases/{case.id}/claims",
                      json={"amount": "100000000000000000000", "paid_on": today().isoformat()})  # fmt: skip
    assert answer.status_code == 422
    assert "balance" in answer.json["error"]["fields"]["amount"][0]
    assert db.session.scalar(select(Payment)) is None
    # The whole balance may be claimed.
    ok = api.post(f"/cases/{case.id}/claims", json={"amount": "1000.00", "paid_on": str(today())})
    assert ok.status_code == 201


def test_confirming_a_claim_larger_than_the_balance_now_is_refused(client, db, world):
    (case,) = held_cases(db, world, world.li, entrusted_amount=Decimal("1000.00"))
    first = payments.claim_payment(case, world.li, amount="800", paid_on=today())
    second = payments.claim_payment(case, world.li, amount="600", paid_on=today())
    db.session.commit()
    api = Api(client, db, world.manager)
    assert api.post(f"/claims/{first.id}/confirm").status_code == 200
    answer = api.post(f"/claims/{second.id}/confirm")
    assert answer.status_code == 409
    assert "more than the case's balance now (¥200.00)" in answer.json["error"]["message"]
    sign_in_as(client, db, world.manager)
    page = client.post(f"/m/collection/payments/{second.id}/confirm", follow_redirects=True)
    assert "more than the case&#39;s balance now" in page.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Payment, second.id).status == "pending"
    assert db.session.get(Case, case.id).balance == Decimal("200.00")


# -- 2. the record and claim pages of a case that cannot be worked -------------------------------


@pytest.mark.parametrize("page", ["record", "claim"])
def test_the_pages_of_a_held_case_say_why_instead_of_the_form(client, db, world, page):
    (case,) = held_cases(db, world, world.li)
    complaints.register_complaint(case, channel="phone", content="态度差", user=world.manager)
    db.session.commit()
    sign_in_as(client, db, world.li)
    response = client.get(f"/m/collection/cases/{case.id}/{page}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="collection-hold"' in html and "This case cannot be worked now." in html
    assert "complaint #" in html
    assert f'id="{page}-form"' not in html


@pytest.mark.parametrize("page", ["record", "claim"])
def test_the_pages_of_a_paused_case_say_why_instead_of_the_form(client, db, world, page):
    (case,) = held_cases(db, world, world.li)
    case.status, case.status_reason = PAUSED, "银行要求暂停"
    db.session.commit()
    sign_in_as(client, db, world.li)
    html = client.get(f"/m/collection/cases/{case.id}/{page}").get_data(as_text=True)
    assert 'id="collection-hold"' in html and f'id="{page}-form"' not in html
    # A workable case still shows its form.
    (other,) = held_cases(db, world, world.li)
    html = client.get(f"/m/collection/cases/{other.id}/{page}").get_data(as_text=True)
    assert f'id="{page}-form"' in html and 'id="collection-hold"' not in html


# -- 3. a complaint result registers a complaint -------------------------------------------------


def test_a_complaint_result_registers_a_complaint_and_holds_the_case(client, db, world):
    (case,) = held_cases(db, world, world.li)
    sign_in_as(client, db, world.li)
    response = client.post(
        f"/m/collection/cases/{case.id}/record",
        data=record_form(case, yesterday(10), result="complaint", note="说要向银保监会投诉"),
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Record saved." in html
    complaint = db.session.scalar(select(Complaint).filter_by(case_id=case.id))
    assert f"Complaint #{complaint.id} registered" in html
    assert (complaint.channel, complaint.content) == ("phone", "说要向银保监会投诉")
    assert complaint.registered_by_id == world.li.id and complaint.status == "open"
    entry = db.session.scalar(select(Activity).filter_by(case_id=case.id, kind="contact"))
    assert entry.data["complaint_id"] == complaint.id
    assert work_refusals(case, world.li, "contact")  # held
    assert 'id="record-form"' not in html


def test_a_complaint_result_through_the_api_without_a_note_says_where_it_came_from(
    client, db, world
):
    (case,) = held_cases(db, world, world.li)
    answer = Api(client, db, world.li).post(
        f"/cases/{case.id}/records", json=call(case, yesterday(11, 5), result="complaint")
    )
    assert answer.status_code == 201
    complaint = db.session.scalar(select(Complaint).filter_by(case_id=case.id))
    assert answer.json["complaint_id"] == complaint.id
    assert "collection record" in complaint.content and "11:05" in complaint.content


# -- 4. record dates -----------------------------------------------------------------------------


def test_a_record_before_the_entrust_date_is_refused(client, db, world):
    (case,) = held_cases(db, world, world.li, entrust_date=today())
    sign_in_as(client, db, world.li)
    response = client.post(f"/m/collection/cases/{case.id}/record",
                           data=record_form(case, yesterday(10)))  # fmt: skip
    assert response.status_code == 422
    assert "before the case was entrusted" in response.get_data(as_text=True)
    assert db.session.scalar(select(Activity)) is None


def test_a_promise_more_than_a_year_ahead_is_refused(client, db, world):
    (case,) = held_cases(db, world, world.li)
    api = Api(client, db, world.li)
    far = (today() + timedelta(days=366)).isoformat()
    answer = api.post(f"/cases/{case.id}/records",
                      json=call(case, yesterday(10), result="promise_to_pay",
                                promise_amount="100.00", promise_date=far))  # fmt: skip
    assert answer.status_code == 422
    assert "365 days" in answer.json["error"]["fields"]["promise_date"][0]


@pytest.mark.parametrize(
    "follow_up, message",
    [
        (lambda: tomorrow_at(23, 30), "within the contact hours 08:00–22:00"),
        (lambda: tomorrow_at(7, 0), "it is 07:00 there"),
        (lambda: tomorrow_at(10) + timedelta(days=400), "365 days"),
    ],
)
def test_a_follow_up_outside_the_contact_hours_or_too_far_is_refused(
    client, db, world, follow_up, message
):
    (case,) = held_cases(db, world, world.li)
    api = Api(client, db, world.li)
    answer = api.post(f"/cases/{case.id}/records",
                      json=call(case, yesterday(10), follow_up_at=follow_up().isoformat()))  # fmt: skip
    assert answer.status_code == 422
    assert message in answer.json["error"]["fields"]["follow_up_at"][0]


def test_a_follow_up_is_checked_in_the_debtors_time(client, db, world):
    # The agency types Shanghai time; the window is the debtor's (New York, 12 or 13 h behind).
    (case,) = held_cases(db, world, world.li)
    case.timezone = "America/New_York"
    db.session.commit()
    api = Api(client, db, world.li)
    early = api.post(f"/cases/{case.id}/records",
                     json=call(case, yesterday(10), follow_up_at=tomorrow_at(9).isoformat()))  # fmt: skip
    assert early.status_code == 201
    late = api.post(f"/cases/{case.id}/records",
                    json=call(case, yesterday(10, 5),
                              follow_up_at=tomorrow_at(23).isoformat()))  # fmt: skip
    # 23:00 in Shanghai is 10:00 or 11:00 in New York: inside the window there.
    assert late.status_code == 201
    # Noon in Shanghai is 23:00 or midnight in New York: outside it.
    noon = api.post(f"/cases/{case.id}/records",
                    json=call(case, yesterday(10, 10),
                              follow_up_at=tomorrow_at(12).isoformat()))  # fmt: skip
    assert noon.status_code == 422
    assert "(America/New_York)" in noon.json["error"]["fields"]["follow_up_at"][0]


# -- 5. layout -----------------------------------------------------------------------------------


def test_the_latest_records_wrap_long_notes_and_the_tabs_scroll(client, db, world):
    css = client.get("/m/collection/work.css").get_data(as_text=True)
    assert "#collection-records td.note { overflow-wrap: anywhere;" in css
    assert "#collection-records td.kind { white-space: nowrap; }" in css
    assert ".tabs.queue-tabs a { flex: 0 0 auto; white-space: nowrap; }" in css
    (case,) = held_cases(db, world, world.li)
    sign_in_as(client, db, world.li)
    client.post(f"/m/collection/cases/{case.id}/record",
                data=record_form(case, yesterday(10), note="x" * 300))  # fmt: skip
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert '<td class="note">' + "x" * 300 in page
    assert 'class="tabs queue-tabs"' in client.get("/m/collection/").get_data(as_text=True)


@pytest.mark.browser
def test_the_panel_and_the_tabs_fit_in_chinese_at_1400_and_390(
    live_server, browser_page, db, world
):
    from core.testing.fixtures import sign_in

    (case,) = held_cases(db, world, world.li)
    world.li.locale = "zh_CN"
    work.record_contact(case, world.li, at=yesterday(10), channel="phone", contact_type="debtor",
                        result="refuses", target=case.mobile, note="长" * 20 + "x" * 400)  # fmt: skip
    payments.claim_payment(case, world.li, amount="100", paid_on=today(), note="微信转账")
    db.session.commit()
    page = browser_page
    page.set_viewport_size({"width": 1400, "height": 900})
    sign_in(page, live_server, "li")
    page.goto(f"{live_server}/cases/{case.id}")
    panel = page.locator("#collection-work").bounding_box()
    table = page.locator("#collection-records").bounding_box()
    assert table["x"] + table["width"] <= panel["x"] + panel["width"] + 1
    kind = page.locator("#collection-records td.kind", has_text="CP（待查账还款）")
    line = page.locator("#collection-records td.kind").last.bounding_box()["height"]
    assert kind.bounding_box()["height"] <= line + 1  # one line, not a character per line
    assert kind.bounding_box()["width"] > 80
    page.locator("#collection-records").screenshot(path="/tmp/work_records_1400.png")

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server}/m/collection/")
    for tab in page.locator(".queue-tabs a").all():
        box = tab.bounding_box()
        assert box["height"] < 50 and box["width"] > 60, tab.inner_text()
    page.screenshot(path="/tmp/work_tabs_390.png", full_page=True)
