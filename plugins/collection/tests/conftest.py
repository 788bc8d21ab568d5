"""Fixtures the collection module's tests share."""

from __future__ import annotations

import pytest
from flask_babel import force_locale

from plugins.collection.tests.work_kit import make_world


@pytest.fixture
def english(app):
    """The test's own calls in English: services raise their messages translated."""
    with force_locale("en"):
        yield


@pytest.fixture
def english_by_default(app_config):
    """English as the app's default language: imports and pages nobody chose a language for."""
    app_config["BABEL_DEFAULT_LOCALE"] = "en"


@pytest.fixture
def world(db, contract, make_user):
    """A collection contract with its collectors, team leader and manager (work_kit.World)."""
    return make_world(db, contract, make_user)
