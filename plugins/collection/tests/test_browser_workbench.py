"""A collector's day in real Chromium: workbench, next case, a promise, a refused night call."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.cases.models import Activity
from core.testing.fixtures import sign_in
from core.types import utcnow
from plugins.collection.models import CaseWork, Promise
from plugins.collection.tests.work_kit import SHANGHAI, held_cases, make_world, yesterday

pytestmark = pytest.mark.browser


def test_a_collector_works_the_next_case_and_is_refused_a_call_at_22_30(
    live_server, browser_page, db, contract, make_user
):
    world = make_world(db, contract, make_user)
    urgent, _later = held_cases(db, world, world.li, count=2, entrusted_amount=Decimal(3000))
    db.session.get(CaseWork, urgent.id).first_contact_due = utcnow() - timedelta(hours=1)
    db.session.commit()
    page = browser_page
    sign_in(page, live_server, "li")

    page.click("nav.sidebar a[href='/m/collection/']")
    page.wait_for_url(f"{live_server}/m/collection/")
    assert page.locator("a[data-queue=new] .count").inner_text() == "2"
    assert page.locator(f"tr[data-case='{urgent.id}'] .deadline").count() == 1

    page.click("#next-case")
    page.wait_for_url(f"{live_server}/cases/{urgent.id}?*")
    form = page.locator("#record-form")
    form.locator("[name=at]").fill(yesterday(10, 30).strftime("%Y-%m-%dT%H:%M"))
    form.locator("[name=target]").select_option(f"phone:{urgent.phones[0].id}")
    form.locator("[name=result]").select_option("promise_to_pay")
    due = (utcnow().astimezone(SHANGHAI) + timedelta(days=3)).date()
    form.locator("[name=promise_amount]").fill("1000.00")
    form.locator("[name=promise_date]").fill(due.isoformat())
    form.locator("button[type=submit]").click()
    page.wait_for_selector(".flash-success")
    assert page.locator("#promises .promise-pending").count() == 1

    form = page.locator("#record-form")
    form.locator("[name=at]").fill(yesterday(22, 30).strftime("%Y-%m-%dT%H:%M"))
    form.locator("[name=target]").select_option(f"phone:{urgent.phones[0].id}")
    form.locator("[name=result]").select_option("no_answer")
    form.locator("button[type=submit]").click()
    refusal = page.locator(".flash-error")
    refusal.wait_for()
    text = refusal.inner_text()
    assert "08:00" in text and "22:00" in text and urgent.serial in text  # the rule, and when

    db.session.expire_all()
    entries = db.session.scalars(select(Activity).filter_by(case_id=urgent.id)).all()
    assert [e.result for e in entries] == ["promise_to_pay"]
    assert db.session.scalar(select(Promise).filter_by(case_id=urgent.id)).amount == 1000
