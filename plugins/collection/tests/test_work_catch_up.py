"""Switching the module on for a contract already being worked puts its held cases in queues."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.cases.services import assign, record_activity
from core.extensions import db as _db
from core.modules import enable_module
from plugins.collection.models import CaseWork
from tests.support.cases import make_cases


def test_cases_held_before_the_module_was_on_join_the_queues(db, contract, make_user):
    agreement = contract()  # collection still off
    collector = make_user("collector", contracts=[agreement])
    manager = make_user("manager")
    contacted, untouched, pool = make_cases(db, agreement, count=3)
    assign([contacted, untouched], holder=collector, user=manager)
    called = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
    record_activity(contacted, collector, at=called, result="refuses", target=contacted.mobile)
    _db.session.commit()
    assert _db.session.scalar(_db.select(_db.func.count()).select_from(CaseWork)) == 0

    enable_module(agreement, "collection", manager)
    _db.session.commit()

    rows = {row.case_id: row for row in _db.session.scalars(_db.select(CaseWork))}
    assert set(rows) == {contacted.id, untouched.id}  # the pool's case has no holder
    assert rows[contacted.id].first_contact_due is None
    assert rows[contacted.id].first_contacted_at.replace(tzinfo=UTC) == called
    row = rows[untouched.id]
    assert row.holder_id == collector.id and row.first_contacted_at is None
    due = row.first_contact_due.replace(tzinfo=UTC) - row.assigned_at.replace(tzinfo=UTC)
    assert due == timedelta(hours=48)
    enable_module(agreement, "collection", manager)  # already on: nothing added twice
    assert pool.holder_id is None
