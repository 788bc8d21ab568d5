"""The collection module's report sections: gate denials, complaints, promises, each figure
counted in SQL over seeded rows, and narrowed to what the asking user may see."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from core.audit.services import record
from core.cases.models import CLAIM, Activity
from core.cases.services import CaseRefused, record_activity, record_payment
from core.plugins import hooks_for
from core.report_sections import ReportSection
from core.types import agency_zone, utcnow
from plugins.collection import complaints
from plugins.collection.models import Promise
from tests.support.cases import make_cases


@pytest.fixture
def seeded(db, contract, make_user, english):
    """Two collectors' cases on one contract, with denials, complaints and promises."""
    on = contract(modules=["collection"])
    elsewhere = contract(modules=["collection"])
    manager = make_user("manager", contracts=[on, elsewhere])
    ann = make_user("collector", username="ann", name="Ann", contracts=[on])
    bob = make_user("collector", username="bob", name="Bob", contracts=[on])
    now = utcnow()
    night = now.astimezone(agency_zone()).replace(hour=23, minute=0) - timedelta(days=1)
    ann_cases = make_cases(db, on, count=3, holder_id=ann.id)
    (bob_case,) = make_cases(db, on, holder_id=bob.id, status="paused")
    (other_case,) = make_cases(db, elsewhere, holder_id=ann.id)

    def denied(case, user, action):
        try:
            if action == "contact":
                record_activity(case, user, at=night, channel="phone", target="13800000000")
            else:
                record_payment(case, amount=Decimal(1), paid_on=now.date(), user=user, kind=CLAIM)
        except CaseRefused as refusal:
            record(**refusal.audit)
        else:  # pragma: no cover - the seed must be refused
            raise AssertionError("not refused")

    denied(ann_cases[0], ann, "contact")
    denied(ann_cases[1], ann, "contact")
    denied(bob_case, bob, "payment_claim")
    denied(other_case, ann, "contact")  # another contract: not in this contract's section

    hours = timedelta(hours=1)
    complaints.register_complaint(ann_cases[0], channel="phone", content="a", user=ann,
                                  at=now - 100 * hours)  # open, overdue  # fmt: skip
    quick = complaints.register_complaint(ann_cases[1], channel="phone", content="b", user=ann,
                                          at=now - 10 * hours)  # fmt: skip
    complaints.resolve_complaint(quick, resolution="ok", user=manager)  # within the deadline
    slow = complaints.register_complaint(bob_case, channel="bank", content="c", user=manager,
                                         at=now - 90 * hours)  # fmt: skip
    complaints.resolve_complaint(slow, resolution="late", user=manager)  # after 72 h
    complaints.register_complaint(ann_cases[2], channel="regulator", content="d", user=ann,
                                  at=now - 40 * timedelta(days=1))  # before the period  # fmt: skip

    def promise(case, user, amount, status, created_days_ago=1):
        activity = Activity(case_id=case.id, at=now, channel="phone", result="promise_to_pay",
                            user_id=user.id)  # fmt: skip
        db.session.add(activity)
        db.session.flush()
        db.session.add(
            Promise(
                case_id=case.id,
                activity_id=activity.id,
                user_id=user.id,
                amount=Decimal(amount),
                due_on=now.date(),
                status=status,
                created_at=now - timedelta(days=created_days_ago),
            )
        )

    promise(ann_cases[0], ann, "500.00", "kept")
    promise(ann_cases[1], ann, "300.00", "broken")
    promise(ann_cases[2], ann, "150.50", "pending")
    promise(bob_case, bob, "200.00", "pending")
    promise(ann_cases[0], ann, "999.00", "kept", created_days_ago=60)  # before the period
    promise(other_case, ann, "777.00", "kept")  # another contract
    db.session.commit()
    today = now.astimezone(agency_zone()).date()
    start, end = today - timedelta(days=30), today + timedelta(days=1)
    return {"on": on, "manager": manager, "ann": ann, "bob": bob, "start": start, "end": end}


def by_key(found) -> dict[str, ReportSection]:
    sections = []
    for result in found:
        sections.extend(result if isinstance(result, list) else [result] if result else [])
    return {section.key: section for section in sections}


def sections_for(seeded, user):
    on = seeded["on"]
    found = hooks_for(on).report_sections(
        contract=on, start=seeded["start"], end=seeded["end"], user=user
    )
    return by_key(found)


def test_hook_report_sections(seeded, contract):
    sections = sections_for(seeded, seeded["manager"])
    assert list(sections) == ["collection.denials", "collection.complaints", "collection.promises"]
    for section in sections.values():
        assert section.title and section.note
        for row in section.rows:
            assert set(row) == {key for key, _title in section.columns}
    off = contract()
    found = hooks_for(off).report_sections(contract=off, start=seeded["start"],
                                           end=seeded["end"], user=seeded["manager"])  # fmt: skip
    assert "collection.denials" not in by_key(found)


def test_denials_are_counted_per_user_and_refused_action(seeded):
    rows = sections_for(seeded, seeded["manager"])["collection.denials"].rows
    assert rows == [
        {"user": "ann", "action": "contact record", "count": 2},
        {"user": "bob", "action": "payment claim", "count": 1},
    ]


def test_complaints_registered_resolved_within_deadline_and_open_overdue(seeded):
    rows = sections_for(seeded, seeded["manager"])["collection.complaints"].rows
    assert rows == [
        {"channel": "through the client (bank)", "registered": 1, "resolved": 1,
         "within_deadline": 0, "open_overdue": 0, "open": 0},
        {"channel": "phone", "registered": 2, "resolved": 1, "within_deadline": 1,
         "open_overdue": 1, "open": 1},
        {"channel": "regulator", "registered": 0, "resolved": 0, "within_deadline": 0,
         "open_overdue": 1, "open": 1},
        {"channel": "Total", "registered": 3, "resolved": 2, "within_deadline": 1,
         "open_overdue": 2, "open": 2},
    ]  # fmt: skip


def test_promises_made_kept_broken_pending_with_amounts(seeded):
    rows = sections_for(seeded, seeded["manager"])["collection.promises"].rows
    assert rows == [
        {"collector": "Ann", "made": 3, "made_amount": Decimal("950.50"), "kept": 1,
         "kept_amount": Decimal("500.00"), "broken": 1, "broken_amount": Decimal("300.00"),
         "pending": 1, "pending_amount": Decimal("150.50"), "kept_rate": "50.0%"},
        {"collector": "Bob", "made": 1, "made_amount": Decimal("200.00"), "kept": 0,
         "kept_amount": Decimal("0.00"), "broken": 0, "broken_amount": Decimal("0.00"),
         "pending": 1, "pending_amount": Decimal("200.00"), "kept_rate": "—"},
    ]  # fmt: skip


def test_a_collector_sees_only_their_own_figures(seeded):
    sections = sections_for(seeded, seeded["ann"])
    assert [row["user"] for row in sections["collection.denials"].rows] == ["ann"]
    assert [row["collector"] for row in sections["collection.promises"].rows] == ["Ann"]
    complaint_rows = sections["collection.complaints"].rows
    assert complaint_rows[-1] == {"channel": "Total", "registered": 2, "resolved": 1,
                                  "within_deadline": 1, "open_overdue": 2, "open": 2}  # fmt: skip


def test_a_user_who_cannot_see_the_contract_gets_nothing(seeded, make_user, contract):
    stranger = make_user("collector", contracts=[contract()])
    assert sections_for(seeded, stranger) == {}
