"""A manager allocates in real Chromium: an area's cases, even by amount, previewed, committed."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from core.cases.models import Case
from core.testing.fixtures import sign_in
from tests.support.cases import make_batch, make_cases

pytestmark = pytest.mark.browser


def test_a_manager_allocates_an_areas_cases_evenly_by_amount(
    live_server, browser_page, db, contract, make_user
):
    k = contract(modules=["collection"])
    south, north = make_batch(db, k, area="苏南"), make_batch(db, k, area="苏北")
    amounts = [Decimal(n) for n in ("9000.00", "5000.00", "3000.00", "500.00")]
    chosen = [make_cases(db, k, south, entrusted_amount=amount)[0] for amount in amounts]
    others = make_cases(db, k, north, 2)
    wang = make_user("collector", username="wang", name="王芳", contracts=[k])
    zhao = make_user("collector", username="zhao", name="赵磊", contracts=[k])
    make_user("manager", username="mia", contracts=[k], locale="en")
    page = browser_page
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, live_server, "mia")

    page.click("nav.sidebar a[href='/m/collection/allocation/']")
    page.wait_for_url(f"{live_server}/m/collection/allocation/")
    page.locator("#case-filter [name=area]").select_option("苏南")
    page.locator("#case-filter button[type=submit]").click()
    page.wait_for_url("**/allocation/?*area=*")
    assert page.locator("#cases tbody tr").count() == 4

    form = page.locator("#allocate")
    form.locator("[name=scope]").select_option("all")
    form.locator("#strategy-choice").select_option("even_amount")
    form.locator(f"#collector-{wang.id}").check()
    form.locator(f"#collector-{zhao.id}").check()
    page.click("#preview")
    page.wait_for_url("**/allocation/plans/*")

    chosen_text = page.locator("#plan-cases").inner_text()
    assert "Collection area: 苏南" in chosen_text and "area=" not in chosen_text
    rows = {
        name: page.locator(f"#plan-summary tr[data-target='user:{user.id}'] td").all_inner_texts()
        for name, user in (("wang", wang), ("zhao", zhao))
    }
    # name, before (cases, money), coming in (cases, money), going out, after (cases, money)
    assert rows["wang"][0].startswith("王芳") and rows["wang"][3:5] == ["1", "¥9,000.00"]
    assert rows["zhao"][0].startswith("赵磊") and rows["zhao"][3:5] == ["3", "¥8,500.00"]
    assert rows["zhao"][7:9] == ["3", "¥8,500.00"]

    page.click("#commit")
    page.wait_for_selector("#plan-result")
    assert "4 cases allocated." in page.locator("#plan-result").inner_text()
    done = page.locator(f"#result-targets tr[data-target='user:{zhao.id}'] td").all_inner_texts()
    assert done[1:3] == ["3", "3"]

    db.session.expire_all()
    held = dict(db.session.execute(select(Case.id, Case.holder_id)).all())
    assert held[chosen[0].id] == wang.id
    assert {held[c.id] for c in chosen[1:]} == {zhao.id}
    assert {held[c.id] for c in others} == {None}
