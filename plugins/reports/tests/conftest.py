"""Fixtures the reports module's tests share: languages, and a small module of our own
(``gauges``) that adds a report section, so the pages and sections are tested without
importing another plugin."""

from __future__ import annotations

import types
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core import hookimpl
from core.auth.models import User
from core.cases import holdings
from core.cases.models import CONFIRMED, Case, CaseAssignment, Payment
from core.cases.services import assign, record_payment
from core.extensions import db as _db
from core.modules import ModuleInfo
from core.report_sections import ReportSection, narrow
from tests.support.cases import make_cases

GAUGES = "gauges"


def held_cases_section(contract, start, end, user) -> ReportSection:
    """Per holder: cases held on ``contract``, their balance and the share repaid; a user
    who does not see the whole contract sees only their own row, a report filtered on a
    team or a collector only theirs."""
    query = (
        select(
            User.display_name,
            func.count(Case.id),
            func.sum(Case.balance),
            func.sum(Case.entrusted_amount),
        )
        .join(User, User.id == Case.holder_id)
        .where(Case.contract_id == contract.id)
        .group_by(User.id, User.display_name)
        .order_by(User.display_name)
    )
    people = narrow(None if user.can("core.cases.view_contract") else [user.id])
    if people is not None:
        query = query.where(Case.holder_id.in_(people))
    rows = [
        {
            "collector": name,
            "cases": int(count),
            "balance": Decimal(balance).quantize(Decimal("0.01")),
            "repaid_rate": ((Decimal(entrusted) - Decimal(balance)) / Decimal(entrusted)).quantize(
                Decimal("0.0001")
            ),
        }
        for name, count, balance, entrusted in _db.session.execute(query)
    ]
    return ReportSection(
        key="gauges.held",
        title="Cases held",
        columns=[
            ("collector", "Collector"),
            ("cases", "Cases"),
            ("balance", "Balance"),
            ("repaid_rate", "Repaid"),
        ],
        rows=rows,
        order=700,
        note="Counted as the cases stand now.",
    )


def _make_gauges_plugin() -> types.ModuleType:
    plugin = types.ModuleType("reports_test_gauges")
    plugin.MODULE = ModuleInfo(GAUGES, "Gauges")
    plugin.report_sections = hookimpl(held_cases_section)
    return plugin


GAUGES_PLUGIN = _make_gauges_plugin()


@pytest.fixture
def with_gauges(app_config):
    """Maple started with the ``gauges`` module (asked for before ``app``)."""
    app_config["PLUGIN_MODULES"] = [*app_config.get("PLUGIN_MODULES", ()), GAUGES_PLUGIN]


@pytest.fixture
def world(db, contract, make_user):
    """Two clients' contracts with reports and gauges on (ask for ``with_gauges`` before the
    app starts); Ann and Bob collect on the first, Ann on the second too; repayments in March
    on each (and one in April)."""
    first = contract(modules=["reports", "gauges"])
    second = contract(modules=["reports", "gauges"])
    manager = make_user("manager", contracts=[first, second])
    ann = make_user("collector", username="ann", name="Ann", contracts=[first, second])
    bob = make_user("collector", username="bob", name="Bob", contracts=[first])
    ann_cases = make_cases(db, first, count=2, entrust_date=date(2026, 2, 1))
    bob_cases = make_cases(db, first, count=1, entrust_date=date(2026, 2, 1))
    other_cases = make_cases(db, second, count=2, entrust_date=date(2026, 2, 1))
    assign(ann_cases, holder=ann, user=manager)
    assign(bob_cases, holder=bob, user=manager)
    assign(other_cases, holder=ann, user=manager)
    # Held since February: a March payment is the holder's (recovery attributes it so).
    with holdings.changing(case.id for case in ann_cases + bob_cases + other_cases):
        for held in db.session.scalars(select(CaseAssignment)):
            held.assigned_at = datetime(2026, 2, 1, tzinfo=UTC)
    db.session.commit()
    amounts = [
        (ann_cases[0], "100.10", date(2026, 3, 2)),
        (ann_cases[1], "1234.56", date(2026, 3, 15)),
        (bob_cases[0], "0.07", date(2026, 3, 31)),
        (other_cases[0], "999.99", date(2026, 3, 3)),
        (other_cases[1], "50.00", date(2026, 4, 1)),  # outside March
    ]
    for case, amount, paid_on in amounts:
        record_payment(case, amount=Decimal(amount), paid_on=paid_on, user=manager)
    db.session.commit()
    return {"first": first, "second": second, "manager": manager, "ann": ann, "bob": bob}


def confirmed_in_march(contract_ids) -> Decimal:
    """The expected figure, from the payment rows themselves."""
    payments = _db.session.scalars(select(Payment).where(Payment.status == CONFIRMED)).all()
    return sum(
        (
            p.amount
            for p in payments
            if p.case.contract_id in contract_ids
            and date(2026, 3, 1) <= p.paid_on <= date(2026, 3, 31)
        ),
        Decimal(0),
    )


@pytest.fixture
def sign_in_as(client, db):
    """``sign_in_as(user)``: the test client signed in as ``user``, in English unless asked."""

    def sign_in(user, locale="en"):
        _sign_in(client, db, user, locale)

    return sign_in


def _sign_in(client, db, user, locale):
    """Sign ``user`` in on the test client, with their language (English unless asked)."""
    from core.auth.services import start_session

    user.locale = locale
    session = start_session(user, "127.0.0.1")
    db.session.commit()
    with client.session_transaction() as flask_session:
        flask_session["_user_id"] = session.id
        flask_session["_fresh"] = True
