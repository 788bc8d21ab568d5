"""Fixtures the collection module's tests share."""

from __future__ import annotations

import pytest

from plugins.collection.tests.work_kit import make_world


@pytest.fixture
def world(db, contract, make_user):
    """A collection contract with its collectors, team leader and manager (work_kit.World)."""
    return make_world(db, contract, make_user)
