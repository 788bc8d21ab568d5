"""The collection module's report sections: gate denials, complaints, promises and each user's
scorecard, each figure counted in SQL over seeded rows (the scorecard's checked against a
count of the raw rows in Python), and narrowed to what the asking user may see."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest

from core.audit.services import record
from core.cases.models import CLAIM, Activity, CaseAssignment
from core.cases.services import CaseRefused, record_activity, record_payment
from core.plugins import hooks_for
from core.report_sections import ReportSection
from core.types import agency_zone, utcnow
from plugins.collection import complaints, day_figures
from plugins.collection.models import Complaint, Promise, ResultCode
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
    promise(bob_case, bob, "80.00", "replaced", created_days_ago=2)  # the pending one took over
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
    assert list(sections) == [
        "collection.denials",
        "collection.complaints",
        "collection.promises",
        "collection.scorecard",
    ]
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
         "pending": 1, "pending_amount": Decimal("150.50"), "replaced": 0,
         "replaced_amount": Decimal("0.00"), "kept_rate": Decimal("0.5000")},
        {"collector": "Bob", "made": 2, "made_amount": Decimal("280.00"), "kept": 0,
         "kept_amount": Decimal("0.00"), "broken": 0, "broken_amount": Decimal("0.00"),
         "pending": 1, "pending_amount": Decimal("200.00"), "replaced": 1,
         "replaced_amount": Decimal("80.00"), "kept_rate": None},
    ]  # fmt: skip
    for row in rows:  # every promise made is in one of the four
        assert row["made"] == row["kept"] + row["broken"] + row["pending"] + row["replaced"]
        assert row["made_amount"] == sum(
            row[f"{state}_amount"] for state in ("kept", "broken", "pending", "replaced")
        )


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


# -- the scorecard -------------------------------------------------------------------------------

DAY, HOUR = timedelta(days=1), timedelta(hours=1)


@pytest.fixture
def scored(db, contract, make_user, english):
    """Records, promises, assignments and complaints for Ann and Bob on one contract, some of
    them outside the period or on another contract; the period is the last 30 days."""
    on = contract(modules=["collection"])
    elsewhere = contract(modules=["collection"])
    manager = make_user("manager", contracts=[on, elsewhere])
    ann = make_user("collector", username="ann", name="Ann", contracts=[on, elsewhere])
    bob = make_user("collector", username="bob", name="Bob", contracts=[on])
    # A code the agency added: its outcome, not its name, makes it a right-party contact.
    db.session.add(ResultCode(contract_id=on.id, code="talked", label="Talked to the debtor",
                              outcome="right_party", position=500))  # fmt: skip
    now = utcnow()
    cases = make_cases(db, on, count=9, holder_id=ann.id)
    (other,) = make_cases(db, elsewhere, holder_id=ann.id)

    def record_(case, user, ago, result, *, kind="contact", source="manual"):
        entry = Activity(case_id=case.id, at=now - ago, kind=kind, channel="phone",
                         result=result, user_id=user.id if user else None, source=source)  # fmt: skip
        db.session.add(entry)
        db.session.flush()
        return entry

    record_(cases[0], ann, 2 * DAY, "promise_to_pay")
    record_(cases[0], ann, 3 * DAY, "no_answer")
    record_(cases[0], ann, 40 * DAY, "refuses")  # before the period
    record_(cases[0], ann, 1 * DAY, "", kind="visit")  # not a contact record
    record_(cases[1], ann, 1 * DAY, "talked")
    record_(cases[1], ann, 1 * DAY, "承诺还款", source="import")  # the bank's wording
    record_(cases[2], ann, 1 * DAY, "sms_sent")  # the module's own SMS entry
    record_(cases[2], ann, 1 * DAY, "无人接听", source="import")
    record_(other, ann, 1 * DAY, "promise_to_pay")  # another contract

    def promise(case, user, status, made_ago, judged_ago=None):
        entry = record_(case, user, made_ago, "promise_to_pay")
        db.session.add(Promise(case_id=case.id, activity_id=entry.id, user_id=user.id,
                               amount=Decimal("100.00"), due_on=now.date(), status=status,
                               created_at=now - made_ago,
                               evaluated_at=now - judged_ago if judged_ago else None))  # fmt: skip

    promise(cases[3], ann, "kept", 2 * DAY, 1 * DAY)
    promise(cases[3], ann, "broken", 40 * DAY, 1 * DAY)  # made before, judged in the period
    promise(cases[3], ann, "replaced", 2 * DAY, 1 * DAY)  # never judged
    promise(cases[3], ann, "pending", 2 * DAY)
    promise(cases[3], ann, "kept", 40 * DAY, 35 * DAY)  # judged before the period
    promise(cases[4], bob, "broken", 5 * DAY, 2 * DAY)

    def held(case, user, since, until=None):
        db.session.add(CaseAssignment(case_id=case.id, user_id=user.id, assigned_at=now - since,
                                      ended_at=now - until if until else None))  # fmt: skip

    # First-contact deadlines (48 hours by default).
    held(cases[5], ann, 10 * DAY)
    record_(cases[5], ann, 9 * DAY, "no_answer")  # on time
    held(cases[6], ann, 10 * DAY)
    record_(cases[6], ann, 5 * DAY, "no_answer")  # late
    held(cases[7], ann, 10 * DAY)  # never contacted: due, missed
    held(cases[8], ann, 1 * DAY)  # its deadline is still ahead
    held(cases[4], bob, 20 * DAY, 19 * DAY)  # given up before the deadline: not Bob's
    held(cases[4], ann, 19 * DAY)
    record_(cases[4], ann, 18 * DAY, "no_answer")  # on time, for Ann
    held(cases[2], bob, 10 * DAY, 9 * DAY)
    record_(cases[2], bob, 9.5 * DAY, "wrong_person")  # on time, before Bob gave it up
    held(cases[2], ann, 9 * DAY)  # already contacted: no deadline for Ann
    held(cases[1], bob, 40 * DAY)  # deadline before the period
    record_(cases[0], None, 15 * DAY, "无人接听", source="import")
    held(cases[0], ann, 12 * DAY)  # contacted before it was assigned: no deadline

    def complaint(case, ago):
        db.session.add(Complaint(case_id=case.id, contract_id=on.id, channel="phone",
                                 content="x", registered_at=now - ago,
                                 due_at=now - ago + 72 * HOUR))  # fmt: skip

    complaint(cases[4], 18.5 * DAY)  # Ann held it then
    complaint(cases[2], 9.5 * DAY)  # Bob held it then
    complaint(cases[2], 35 * DAY)  # before the period
    for case in (cases[0], cases[1]):
        record("case.action_denied", obj=case, user=ann, outcome="denied",
               details={"action": "contact"})  # fmt: skip
    record("case.action_denied", obj=other, user=ann, outcome="denied",
           details={"action": "contact"})  # fmt: skip
    # The records were built around record_activity (and its hook): counted by a rebuild.
    day_figures.rebuild()
    db.session.commit()
    today = now.astimezone(agency_zone()).date()
    return {"on": on, "manager": manager, "ann": ann, "bob": bob, "now": now,
            "start": today - timedelta(days=30), "end": today + timedelta(days=1)}  # fmt: skip


def expected_scorecard(db, scored) -> dict[int, dict]:
    """The scorecard counted from the raw rows in Python, by the rules the section states."""
    from core.cases.models import Case

    on, now = scored["on"], scored["now"]
    zone = agency_zone()
    begin = datetime.combine(scored["start"], time(0), tzinfo=zone)
    finish = datetime.combine(scored["end"], time(0), tzinfo=zone)
    case_ids = {c.id for c in db.session.scalars(db.select(Case).filter_by(contract_id=on.id))}
    codes = {r.code: r.outcome for r in db.session.scalars(db.select(ResultCode))}
    reached = {"promise_to_pay", "refuses", "negotiating", "claims_paid", "承诺还款"} | {
        code for code, outcome in codes.items() if outcome == "right_party"
    }
    out: dict[int, dict] = {}

    def bump(user_id, key, n=1):
        out.setdefault(user_id, {}).setdefault(key, 0)
        out[user_id][key] += n

    activities = [a for a in db.session.scalars(db.select(Activity)) if a.case_id in case_ids]
    for a in activities:
        if a.kind == "contact" and begin <= a.at < finish and a.user_id and a.result not in (
            "sms_sent", "sms_queued", "sms_failed", "letter_printed"
        ):  # fmt: skip
            bump(a.user_id, "attempts")
            bump(a.user_id, "right_party", a.result in reached)
    for p in db.session.scalars(db.select(Promise)):
        if p.case_id not in case_ids:
            continue
        if begin <= p.created_at < finish:
            bump(p.user_id, "promises_made")
        if p.status in ("kept", "broken") and begin <= p.evaluated_at < finish:
            bump(p.user_id, f"promises_{p.status}")
            bump(p.user_id, "promises_judged")
    first = {}
    for a in activities:
        if a.kind == "contact":
            first[a.case_id] = min(first.get(a.case_id, a.at), a.at)
    assignments = list(db.session.scalars(db.select(CaseAssignment)))
    for held in assignments:
        if held.case_id not in case_ids:
            continue
        deadline, contact = held.assigned_at + 48 * HOUR, first.get(held.case_id)
        if not begin <= deadline < min(finish, now):
            continue
        if contact is not None and contact < held.assigned_at:
            continue
        ended = held.ended_at
        if ended is not None and ended < deadline and (contact is None or contact > ended):
            continue
        bump(held.user_id, "first_contacts_due")
        bump(held.user_id, "first_contacts_on_time", contact is not None and contact <= deadline)
    for c in db.session.scalars(db.select(Complaint).filter_by(contract_id=on.id)):
        if begin <= c.registered_at < finish:
            for held in assignments:
                if held.case_id == c.case_id and held.assigned_at <= c.registered_at and (
                    held.ended_at is None or held.ended_at > c.registered_at
                ):  # fmt: skip
                    bump(held.user_id, "complaints")
    from core.audit.models import AuditEntry

    for entry in db.session.scalars(db.select(AuditEntry).filter_by(action="case.action_denied")):
        if int(entry.object_id) in case_ids and begin <= entry.at < finish:
            bump(entry.user_id, "refusals")
    return out


def scorecard_rows(scored, user) -> dict[int, dict]:
    section = sections_for(scored, user)["collection.scorecard"]
    return {row["user_id"]: row for row in section.rows}


def test_scorecard_counts_each_users_figures_from_the_raw_rows(db, scored):
    rows = scorecard_rows(scored, scored["manager"])
    expected = expected_scorecard(db, scored)
    ann, bob = scored["ann"].id, scored["bob"].id
    assert set(rows) == {ann, bob} == set(expected)
    for user_id, figures in expected.items():
        for key, value in figures.items():
            assert rows[user_id][key] == value, (user_id, key)
    # The figures as seeded, so the independent count above cannot share a mistake.
    assert {k: rows[ann][k] for k in ("attempts", "right_party", "promises_made",
            "promises_kept", "promises_broken", "promises_judged", "first_contacts_due",
            "first_contacts_on_time", "complaints", "refusals")} == {
        "attempts": 11, "right_party": 6, "promises_made": 3, "promises_kept": 1,
        "promises_broken": 1, "promises_judged": 2, "first_contacts_due": 4,
        "first_contacts_on_time": 2, "complaints": 1, "refusals": 2,
    }  # fmt: skip
    assert rows[bob]["first_contacts_due"] == 1 and rows[bob]["first_contacts_on_time"] == 1
    assert rows[bob]["complaints"] == 1 and rows[bob]["promises_broken"] == 1
    assert rows[ann]["user"] == "Ann"


def test_scorecard_names_its_user_key_and_measures(scored):
    section = sections_for(scored, scored["manager"])["collection.scorecard"]
    assert section.user_key == "user_id"
    keys = {key for key, _title in section.columns}
    for row in section.rows:
        assert set(row) == keys
    measures = {m.key: m for m in section.measures}
    assert list(measures) == [
        "contact_rate", "kept_rate", "first_contact_compliance", "complaints", "refusals",
    ]  # fmt: skip
    for measure in measures.values():
        assert measure.numerator in keys
        assert measure.denominator is None or measure.denominator in keys
    assert (measures["kept_rate"].numerator, measures["kept_rate"].denominator) == (
        "promises_kept", "promises_judged")  # fmt: skip
    assert not measures["complaints"].higher_is_better and measures["contact_rate"].higher_is_better


def test_a_collector_sees_only_their_own_scorecard(scored):
    rows = scorecard_rows(scored, scored["ann"])
    assert list(rows) == [scored["ann"].id]
    assert rows == {k: v for k, v in scorecard_rows(scored, scored["manager"]).items()
                    if k == scored["ann"].id}  # fmt: skip


def test_a_report_about_one_collector_gets_only_their_figures(scored):
    """A manager's report filtered on a collector (core.report_sections.narrow): the
    scorecard and the refusals hold that collector's figures, the same as in the manager's
    unfiltered report."""
    from core.report_sections import one_pass

    everyone = sections_for(scored, scored["manager"])
    with one_pass([scored["on"].id], people=[scored["bob"].id]):
        about_bob = sections_for(scored, scored["manager"])
    bob = scored["bob"]
    rows = {row["user_id"]: row for row in about_bob["collection.scorecard"].rows}
    assert list(rows) == [bob.id]
    assert rows[bob.id] == scorecard_rows(scored, scored["manager"])[bob.id]
    # Only Ann was refused: none of it is Bob's.
    assert {row["user"] for row in everyone["collection.denials"].rows} == {"ann"}
    assert about_bob["collection.denials"].rows == []


def test_one_pass_over_contracts_reads_them_at_once_with_the_same_figures(db, scored, contract):
    """Inside one_pass the per-day figures of every contract are read in one statement,
    and every contract still gets its own figures, the same as asked alone."""
    from sqlalchemy import event

    from core.report_sections import one_pass

    alone = scorecard_rows(scored, scored["manager"])
    other = contract(modules=["collection"])
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        with one_pass([scored["on"].id, other.id]):
            together = scorecard_rows(scored, scored["manager"])
            found = hooks_for(other).report_sections(
                contract=other, start=scored["start"], end=scored["end"], user=scored["manager"]
            )
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert together == alone
    assert by_key(found)["collection.scorecard"].rows == []
    reads = [s for s in statements if "FROM collection_day_figures" in s]
    assert len(reads) == 1


def test_only_the_sections_a_report_shows_are_computed(seeded):
    from core.report_sections import one_pass

    with one_pass([seeded["on"].id], {"collection.scorecard"}):
        shown = sections_for(seeded, seeded["manager"])
    assert list(shown) == ["collection.scorecard"]
