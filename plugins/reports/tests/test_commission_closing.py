"""Closing a commission month (结算确认): the statement of a closed month keeps the bucket and
rate each payment was priced at, whatever changes after; reopening prices it anew; both are
audited, and only a manager of the contract does either."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.audit.models import AuditEntry
from core.cases.services import record_payment
from core.errors import Conflict, UserError
from plugins.reports.commission import close_month, reopen_month, save_tiers
from plugins.reports.models import ClosedCommissionLine, CommissionClosing
from plugins.reports.recovery import recovery
from plugins.reports.tests.test_commission import build, reported, seed, sign_in  # noqa: F401

MARCH = date(2026, 3, 1)


def statement(user, contract):
    by_month, lines = build(user, contract=str(contract.id))
    return by_month, sorted(
        (row["serial"], row["paid_on"], row["amount"], row["bucket"], row["rate"],
         row["commission"]) for row in lines.rows
    )  # fmt: skip


def test_a_closed_month_keeps_its_statement_whatever_changes_after(db, seed, english):  # noqa: F811
    a1 = seed.contract_a1
    before_months, before = statement(seed.manager, a1)
    closing = close_month(a1, MARCH, seed.manager)
    db.session.commit()
    assert closing.payments == len(before)
    assert closing.commission_cents == int(sum(line[-1] for line in before) * 100)
    assert db.session.scalar(
        select(ClosedCommissionLine.bucket).join(CommissionClosing).where(
            CommissionClosing.id == closing.id
        ).limit(1)
    ) is not None  # fmt: skip
    # The client agreed March; then the tiers change and a case moves to another bucket.
    save_tiers(a1, {"M3": "20", "M1": "1"}, seed.manager)
    seed.cases["a1_li"].bucket = "M6+"
    db.session.commit()
    after_months, after = statement(seed.manager, a1)
    assert after == before
    assert after_months.totals == before_months.totals
    (row,) = [r for r in after_months.rows if r["month"] == "2026-03"]
    assert row["statement"].startswith("Closed ")
    # Reopened, March is priced at today's tiers and buckets.
    reopen_month(a1, MARCH, seed.manager)
    db.session.commit()
    _months, reopened = statement(seed.manager, a1)
    assert reopened != before
    assert {line[3] for line in reopened if line[0] == "SEED-A1_LI"} == {"M6+"}
    actions = db.session.scalars(
        select(AuditEntry.action).where(AuditEntry.action.like("reports.commission_%"))
    ).all()
    assert "reports.commission_closed" in actions and "reports.commission_reopened" in actions


def test_a_payment_confirmed_after_closing_is_priced_now_and_named(db, seed, english):  # noqa: F811
    a1 = seed.contract_a1
    close_month(a1, MARCH, seed.manager)
    db.session.commit()
    save_tiers(a1, {"M3": "20"}, seed.manager)
    late = record_payment(
        seed.cases["a1_moved"], amount=Decimal("10.00"), paid_on=date(2026, 3, 30),
        user=seed.manager,
    )  # fmt: skip
    db.session.commit()
    by_month, lines = build(seed.manager, contract=str(a1.id))
    (line,) = [r for r in lines.rows if r["amount"] == late.amount and r["paid_on"] == late.paid_on]
    assert line["rate"] == Decimal("0.2000") and line["commission"] == Decimal("2.00")
    assert "1 payments of closed months were confirmed after the month was closed" in (
        by_month.note
    )
    # The statement still reconciles with the recovery report: the same payments.
    from plugins.reports.framework import ReportFilter, Scope

    report_filter = ReportFilter.from_args({"start": "2026-03-01", "end": "2026-03-31",
                                            "contract": str(a1.id)})  # fmt: skip
    by_period, _by_group = recovery(Scope.of(seed.manager, report_filter)).tables
    assert by_period.totals["recovered"] == lines.totals["amount"]


def test_a_month_not_over_or_closed_twice_is_refused(db, seed, english):  # noqa: F811
    with pytest.raises(UserError, match="once it is over"):
        close_month(seed.contract_a1, date.today().replace(day=1), seed.manager)
    close_month(seed.contract_a1, MARCH, seed.manager)
    with pytest.raises(Conflict):
        close_month(seed.contract_a1, date(2026, 3, 15), seed.manager)
    with pytest.raises(Conflict):
        reopen_month(seed.contract_a2, MARCH, seed.manager)


def test_the_closings_page_closes_and_reopens(db, seed, client, english):  # noqa: F811
    sign_in(client, db, seed.manager)
    page = client.get("/m/reports/commission-closings")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert seed.contract_a1.number in html and seed.contract_off.number not in html
    url = f"/m/reports/commission-closings/{seed.contract_a1.id}/2026-03"
    assert client.post(url, data={"action": "close"}).status_code == 302
    assert db.session.scalar(select(CommissionClosing.month)) == MARCH
    again = client.post(url, data={"action": "close"}, follow_redirects=True)
    assert 'class="flash flash-error"' in again.get_data(as_text=True)
    assert db.session.scalar(select(func.count(CommissionClosing.id))) == 1
    assert client.post(url, data={"action": "reopen"}).status_code == 302
    assert db.session.scalar(select(CommissionClosing.id)) is None
    assert client.post(url, data={"action": "shred"}).status_code == 400
    bad_month = f"/m/reports/commission-closings/{seed.contract_a1.id}/2026-13"
    assert client.post(bad_month, data={"action": "close"}).status_code == 404
    other = f"/m/reports/commission-closings/{seed.contract_off.id}/2026-03"
    assert client.post(other, data={"action": "close"}).status_code == 404
    statement_page = client.get("/m/reports/commission?start=2026-03-01&end=2026-03-31")
    assert 'href="/m/reports/commission-closings"' in statement_page.get_data(as_text=True)


def test_only_managers_close_months(db, seed, client):  # noqa: F811
    url = f"/m/reports/commission-closings/{seed.contract_a1.id}/2026-03"
    for user in (seed.li, seed.viewer_a):
        sign_in(client, db, user)
        assert client.get("/m/reports/commission-closings").status_code == 403
        assert client.post(url, data={"action": "close"}).status_code == 403
    assert db.session.scalar(select(CommissionClosing.id)) is None
