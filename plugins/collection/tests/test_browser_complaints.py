"""A complaint in real Chromium: registered on the case page, the case held, listed with its
deadline, resolved by a manager, the hold lifted."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.testing.fixtures import sign_in
from plugins.collection.models import COMPLAINT_RESOLVED, Complaint
from plugins.collection.tests.work_kit import SHANGHAI, held_cases, make_world

pytestmark = pytest.mark.browser


def test_a_manager_registers_a_complaint_the_case_is_held_until_it_is_resolved(
    live_server, browser_page, db, contract, make_user
):
    world = make_world(db, contract, make_user)
    (case,) = held_cases(db, world, world.li)
    page = browser_page
    sign_in(page, live_server, "manager")

    page.goto(f"{live_server}/cases/{case.id}")
    assert page.locator("#collection-hold").count() == 0
    form = page.locator("#complaint-form")
    form.locator("#complaint-channel").select_option("phone")
    form.locator("#complaint-content").fill("债务人投诉催收员语气恶劣")
    form.locator("button[type=submit]").click()
    page.wait_for_selector(".flash-success")
    assert page.url.startswith(f"{live_server}/cases/{case.id}")
    hold = page.locator("#collection-hold")
    assert hold.count() == 1 and "complaint #" in hold.inner_text()
    assert page.locator(".complaint-hold").count() == 1
    assert page.locator("#record-form").count() == 0  # no record while the case is held

    db.session.expire_all()
    complaint = db.session.scalar(select(Complaint).filter_by(case_id=case.id))
    page.click("a[href='/m/collection/complaints']")
    page.wait_for_url(f"{live_server}/m/collection/complaints")
    row = page.locator("table.complaints tbody tr", has_text=case.serial)
    assert row.count() == 1
    deadline = f"{complaint.due_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}"
    text = row.inner_text()
    assert deadline in text and "due in" in text and "unresolved" in text

    row.locator(f"a[href='/m/collection/complaints/{complaint.id}']").click()
    page.wait_for_url(f"{live_server}/m/collection/complaints/{complaint.id}")
    page.locator("textarea[name=resolution]").fill("已向债务人致歉，更换催收员")
    page.locator("button[type=submit]", has_text="Resolve").click()
    page.wait_for_selector(".flash-success")

    page.goto(f"{live_server}/cases/{case.id}")
    assert page.locator("#collection-hold").count() == 0
    assert page.locator(".complaint-hold").count() == 0
    assert page.locator("#record-form").count() == 1
    db.session.expire_all()
    complaint = db.session.get(Complaint, complaint.id)
    assert (complaint.status, complaint.handler_id) == (COMPLAINT_RESOLVED, world.manager.id)
