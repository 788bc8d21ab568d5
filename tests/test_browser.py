"""Main flows in real Chromium, driven by Playwright."""

import pytest

from core.testing.fixtures import sign_in

pytestmark = pytest.mark.browser


def test_admin_switches_a_module_on_and_sees_its_menu(
    live_server, browser_page, make_user, contract
):
    pytest.importorskip("maple_notes")
    target = contract(number="JSZ-2026-009")
    make_user("admin", username="boss")
    page = browser_page
    sign_in(page, live_server, "boss")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("nav.sidebar a[href='/m/notes/']").count() == 0

    page.goto(f"{live_server}/admin/contracts/{target.id}")
    page.locator("tr[data-module=notes] button").click()
    page.wait_for_selector(".flash-success")
    assert page.locator("tr[data-module=notes] .tag.ok").count() == 1
    notes_link = page.locator("nav.sidebar a[href='/m/notes/']")
    assert notes_link.count() == 1

    notes_link.click()
    page.wait_for_url(f"{live_server}/m/notes/")
    assert "JSZ-2026-009" in page.content()


def test_wrong_password_shows_a_message_and_keeps_the_user_out(
    live_server, browser_page, make_user
):
    make_user("collector", username="li")
    page = browser_page
    page.goto(f"{live_server}/login")
    page.fill("#username", "li")
    page.fill("#password", "wrong-password")
    page.click("button.primary")
    assert page.locator(".flash-error").count() == 1
    assert page.url.endswith("/login")
