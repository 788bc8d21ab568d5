"""Per-day totals of the timeline (``activity_day_totals``): kept by the ORM as entries are
written, changed and deleted, rebuilt set-wise to the same rows, days cut at the agency's
local midnight, also across a daylight-saving change."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from support.cases import make_cases

from core import day_totals
from core.cases import services
from core.cases.models import Activity, ActivityDayTotal

SHANGHAI = ZoneInfo("Asia/Shanghai")


def stored(db) -> dict:
    """The table as ``{(day, contract, user, kind): (records, promises, cents)}``, zero rows
    left out (an update may leave one at zero)."""
    rows = db.session.execute(select(ActivityDayTotal)).scalars()
    found = {
        (r.day, r.contract_id, r.user_id, r.kind): (r.records, r.promises, r.promised_cents)
        for r in rows
    }
    return {key: figures for key, figures in found.items() if any(figures)}


def recomputed(db, zone=SHANGHAI) -> dict:
    """The same sums, counted here from every entry of the timeline."""
    sums: dict[tuple, list[int]] = {}
    for entry in db.session.scalars(select(Activity)):
        key = (
            entry.at.astimezone(zone).date(),
            entry.contract_id,
            entry.user_id or day_totals.NO_USER,
            entry.kind,
        )
        figures = sums.setdefault(key, [0, 0, 0])
        figures[0] += 1
        if entry.promise_amount is not None:
            figures[1] += 1
            figures[2] += int(entry.promise_amount * 100)
    return {key: tuple(figures) for key, figures in sums.items()}


def rebuilt(db) -> dict:
    services.rebuild_activity_day_totals()
    db.session.commit()
    return stored(db)


@pytest.fixture
def timeline(db, contract, make_user):
    """Two contracts' cases and two collectors' records around local midnight."""
    first, second = contract(), contract()
    cases = make_cases(db, first, count=2) + make_cases(db, second, count=1)
    alice, bob = make_user("collector", username="alice"), make_user("collector", username="bob")
    # 15:59 and 16:00 UTC: 23:59 on the 1st and 00:00 on the 2nd in Shanghai.
    moments = [
        datetime(2026, 3, 1, 15, 59, tzinfo=UTC),
        datetime(2026, 3, 1, 16, 0, tzinfo=UTC),
        datetime(2026, 3, 2, 1, 30, tzinfo=UTC),
    ]
    entries = []
    for n, (case, user, at) in enumerate(
        [
            (cases[0], alice, moments[0]),
            (cases[0], alice, moments[1]),
            (cases[1], bob, moments[1]),
            (cases[2], alice, moments[2]),
            (cases[2], None, moments[2]),  # an import's record: no user
        ]
    ):
        promise = Decimal("100.05") * (n + 1) if n % 2 == 0 else None
        entries.append(
            Activity(case_id=case.id, at=at, user_id=user.id if user else None,
                     promise_amount=promise, promise_date=date(2026, 3, 9) if promise else None)
        )  # fmt: skip
    db.session.add_all(entries)
    db.session.commit()
    return entries


def test_entries_written_are_summed_per_local_day(db, timeline):
    table = stored(db)
    assert table == recomputed(db)
    days = Counter()
    for (day, *_rest), (records, _promises, _cents) in table.items():
        days[day] += records
    # The record at 23:59 local counts on the 1st, those from midnight on the 2nd.
    assert days == {date(2026, 3, 1): 1, date(2026, 3, 2): 4}
    no_user = [key for key in table if key[2] == day_totals.NO_USER]
    assert len(no_user) == 1
    assert sum(cents for _r, _p, cents in table.values()) == 10005 + 30015 + 50025


def test_changes_and_deletions_move_the_figures(db, timeline):
    moved, promised, gone = timeline[0], timeline[1], timeline[3]
    moved.at = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)  # another day
    promised.promise_amount, promised.promise_date = Decimal("12.34"), date(2026, 3, 20)
    gone_key = (date(2026, 3, 2), gone.contract_id, gone.user_id, "contact")
    db.session.delete(gone)
    db.session.commit()
    table = stored(db)
    assert table == recomputed(db)
    assert (date(2026, 3, 1), moved.contract_id, moved.user_id, "contact") not in table
    assert gone_key not in table
    assert rebuilt(db) == table


def test_the_rebuild_gives_the_rows_the_orm_kept(db, timeline):
    kept = stored(db)
    db.session.execute(ActivityDayTotal.__table__.delete())
    db.session.commit()
    assert stored(db) == {}
    assert rebuilt(db) == kept


def test_an_entry_recorded_through_the_service_counts(db, contract, make_user):
    collector = make_user("collector")
    (case,) = make_cases(db, contract(), count=1)
    case.holder_id = collector.id
    db.session.commit()
    services.record_activity(
        case, collector, at=datetime(2026, 3, 3, 2, 0, tzinfo=UTC), result="promise_to_pay",
        promise_amount=Decimal("88.80"), promise_date=date(2026, 3, 10),
    )  # fmt: skip
    db.session.commit()
    assert stored(db) == {
        (date(2026, 3, 3), case.contract_id, collector.id, "contact"): (1, 1, 8880)
    }


def test_the_command_rebuilds_every_table(app, db, timeline):
    kept = stored(db)
    db.session.execute(ActivityDayTotal.__table__.delete())
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["db", "rebuild-totals"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert stored(db) == kept


@pytest.fixture
def berlin(app):
    """An agency in a zone with daylight saving (CET → CEST on 29 March 2026, 01:00 UTC)."""
    app.config["BABEL_DEFAULT_TIMEZONE"] = "Europe/Berlin"
    yield ZoneInfo("Europe/Berlin")
    app.config["BABEL_DEFAULT_TIMEZONE"] = "Asia/Shanghai"


def test_days_follow_a_daylight_saving_change(db, contract, berlin):
    (case,) = make_cases(db, contract(), count=1)
    change = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    moments = [
        datetime(2026, 3, 28, 22, 59, tzinfo=UTC),  # 23:59 CET on the 28th
        datetime(2026, 3, 28, 23, 0, tzinfo=UTC),  # 00:00 CET on the 29th
        change - timedelta(seconds=1),  # 01:59:59 CET
        change,  # 03:00 CEST
        datetime(2026, 3, 29, 21, 59, tzinfo=UTC),  # 23:59 CEST on the 29th
        datetime(2026, 3, 29, 22, 0, tzinfo=UTC),  # 00:00 CEST on the 30th
    ]
    db.session.add_all(Activity(case_id=case.id, at=at) for at in moments)
    db.session.commit()
    expected = {
        (date(2026, 3, 28), case.contract_id, day_totals.NO_USER, "contact"): (1, 0, 0),
        (date(2026, 3, 29), case.contract_id, day_totals.NO_USER, "contact"): (4, 0, 0),
        (date(2026, 3, 30), case.contract_id, day_totals.NO_USER, "contact"): (1, 0, 0),
    }
    assert stored(db) == recomputed(db, berlin) == expected
    assert rebuilt(db) == expected


def test_fixed_offsets_cut_at_each_change(app, berlin):
    first = datetime(2026, 1, 1, tzinfo=UTC)
    last = datetime(2026, 12, 31, tzinfo=UTC)
    stretches = day_totals.fixed_offsets(first, last)
    assert [(begin, offset) for begin, _end, offset in stretches] == [
        (first, timedelta(hours=1)),
        (datetime(2026, 3, 29, 1, 0, tzinfo=UTC), timedelta(hours=2)),
        (datetime(2026, 10, 25, 1, 0, tzinfo=UTC), timedelta(hours=1)),
    ]
    assert stretches[-1][1] > last
    app.config["BABEL_DEFAULT_TIMEZONE"] = "Asia/Shanghai"
    assert day_totals.fixed_offsets(first, last) == [
        (first, last + timedelta(microseconds=1), timedelta(hours=8))
    ]


# -- each case's first contact -----------------------------------------------------------------


def first_contacts(db) -> dict:
    from core.cases.models import Case

    db.session.expire_all()
    return {case.id: case.first_contact_at for case in db.session.scalars(select(Case))}


def test_a_cases_first_contact_follows_its_contact_records(db, contract):
    from core.cases.services import rebuild_first_contacts

    first, second = make_cases(db, contract(), count=2)
    day = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)
    later = Activity(case_id=first.id, at=day + timedelta(days=2))
    visit = Activity(case_id=first.id, at=day - timedelta(days=9), kind="visit")  # no contact
    db.session.add_all([later, visit])
    db.session.commit()
    assert first_contacts(db) == {first.id: later.at, second.id: None}
    earliest = Activity(case_id=first.id, at=day)
    db.session.add(earliest)
    db.session.flush()
    assert first.first_contact_at == day  # the case in the session is told at once
    db.session.commit()
    assert first_contacts(db)[first.id] == day
    earliest.at = day + timedelta(days=5)  # corrected: the other record is now the first
    db.session.commit()
    assert first_contacts(db)[first.id] == later.at
    db.session.delete(later)
    db.session.commit()
    assert first_contacts(db)[first.id] == day + timedelta(days=5)
    kept = first_contacts(db)
    db.session.execute(db.text("UPDATE cases SET first_contact_at = NULL"))
    db.session.commit()
    rebuild_first_contacts()
    db.session.commit()
    assert first_contacts(db) == kept
