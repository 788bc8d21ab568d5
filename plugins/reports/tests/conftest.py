"""Fixtures the reports module's tests share: languages, and a small module of our own
(``gauges``) that adds a report section, so the pages and sections are tested without
importing another plugin."""

from __future__ import annotations

import types
from decimal import Decimal

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from core import hookimpl
from core.auth.models import User
from core.cases.models import Case
from core.extensions import db as _db
from core.modules import ModuleInfo
from core.report_sections import ReportSection

GAUGES = "gauges"


@pytest.fixture
def english(app):
    """The test's own calls in English: services raise their messages translated."""
    with force_locale("en"):
        yield


@pytest.fixture
def english_by_default(app_config):
    """English as the app's default language: pages nobody chose a language for."""
    app_config["BABEL_DEFAULT_LOCALE"] = "en"


def held_cases_section(contract, start, end, user) -> ReportSection:
    """Per holder: cases held on ``contract``, their balance and the share repaid; a user
    who does not see the whole contract sees only their own row."""
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
    if not user.can("core.cases.view_contract"):
        query = query.where(Case.holder_id == user.id)
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
