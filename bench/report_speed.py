"""Time every report of the reports module at a million cases and five million records.

    python bench/report_speed.py                        # generate, then SQLite and PostgreSQL
    python bench/report_speed.py --reuse --repeat 5     # the data generated last time
    python bench/report_speed.py --cases 20000 --activities 100000 --no-postgres
    python bench/report_speed.py --reuse --only recovery

Generates, in Maple's real schema (``core.migrate.upgrade_all``), a SQLite file and a
PostgreSQL database (created if missing, emptied unless ``--reuse``; never one named
``test``): the cases of ``bench/case_list.py`` (its generator, imported) over 4 clients,
8 contracts and 200 batches, every contract with the collection and reports modules on;
60 collectors in 6 teams with their leaders, a manager and a client viewer; the holders'
history (each held case assigned once, 30% of them handed to another collector half-way);
``--activities`` contact records over six months (realistic result codes, 10% promises,
written by whoever held the case then); confirmed repayments (0.4 per case) plus pending
and rejected claims; two month-end bucket snapshots. Everything is bulk-loaded (``COPY`` on
PostgreSQL, ``executemany`` on SQLite) with the secondary indexes dropped and re-created
after, the per-day totals rebuilt (``maple db rebuild-totals``), then ``VACUUM ANALYZE`` /
``ANALYZE``.

Then, in the same run, calls every registered report's ``build(Scope.of(user, filter))`` —
what the page, the export and the job call — as a manager (one month, and six months per
month), a team leader, a collector and a client viewer, ``--repeat`` times after one
warm-up, and prints p50 and max beside a floor: the plainest SQL over the same rows, timed
the same way. Never asserts.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from array import array
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.case_list import (
    AREAS,
    BATCHES_PER_CONTRACT,
    COLUMNS,
    CONTRACTS,
    PASSWORD,
    _sqlite_value,
    case_rows,
    fresh_postgres,
    make_app,
)

TEAMS = 6
COLLECTORS_PER_TEAM = 10
#: The six months the records and payments cover (agency-local days, both included).
WINDOW_START, WINDOW_END = date(2025, 9, 1), date(2026, 2, 28)
MONTHS = [date(2026, 1, 1), date(2026, 2, 1)]  # month-end bucket snapshots
#: A record's result code → share (per mille) of contact records; promises carry an amount.
RESULT_MIX = [
    ("no_answer", 300), ("switched_off", 70), ("busy", 50), ("rejected_call", 50),
    ("out_of_service", 30), ("invalid_number", 20), ("wrong_person", 20),
    ("left_message", 60), ("third_party_reached", 80), ("negotiating", 120),
    ("refuses", 70), ("promise_to_pay", 100), ("claims_paid", 25), ("complaint", 5),
]  # fmt: skip
CHANNEL_MIX = [("phone", 85), ("sms", 10), ("visit", 3), ("other", 2)]
CONFIRMED_PER_CASE = 0.4
PENDING_SHARE, REJECTED_SHARE = 0.04, 0.025
REASSIGNED = 0.3
REPORT_TABLES = (
    "cases",
    "case_assignments",
    "activities",
    "payments",
    "collection_promises",
    "collection_complaints",
    "reports_bucket_snapshots",
)

ASSIGNMENT_COLUMNS = [
    "id", "case_id", "user_id", "team_id", "assigned_at", "assigned_by_id", "ended_at", "reason",
]  # fmt: skip
ACTIVITY_COLUMNS = [
    "id", "case_id", "kind", "at", "channel", "contact_type", "contact_name", "target",
    "result", "note", "promise_amount", "promise_date", "user_id", "source", "data", "created_at",
    "contract_id",
]  # fmt: skip
PROMISE_COLUMNS = [
    "id", "case_id", "contract_id", "activity_id", "user_id", "amount", "due_on", "status",
    "paid_amount", "evaluated_at", "created_at",
]  # fmt: skip
COMPLAINT_COLUMNS = [
    "id", "case_id", "contract_id", "channel", "content", "registered_by_id", "registered_at",
    "due_at", "status", "handler_id", "resolution", "resolved_at",
]  # fmt: skip
PAYMENT_COLUMNS = [
    "id", "case_id", "kind", "amount", "paid_on", "status", "status_reason", "payer", "channel",
    "reference", "source", "recorded_by_id", "confirmed_by_id", "confirmed_at", "created_at",
    "contract_id",
]  # fmt: skip


def expand(mix):
    """A list in which each value appears as often as its weight: ``rng.choice`` draws from it."""
    return [value for value, weight in mix for _ in range(weight)]


# -- people, contracts, batches -----------------------------------------------------------------


def seed_people(cases: int) -> dict:
    """Clients, contracts (collection + reports on), batches, teams and users.

    Returns the batch plan ``case_rows`` takes, the collectors' ids and teams, and the ids of
    the users the reports are timed for.
    """
    from sqlalchemy import select

    from core.auth.models import Role, Team
    from core.auth.services import create_user
    from core.batches.models import IMPORTED, Batch
    from core.clients.services import save_client, save_contract
    from core.extensions import db
    from core.modules import enable_module

    roles = {role.name: role for role in db.session.scalars(select(Role))}
    contracts, clients = [], []
    for c in range(CONTRACTS):
        if c % 2 == 0:
            client = save_client(None, name=f"银行{c // 2 + 1}", code=f"BK{c // 2 + 1}", actor=None)
            clients.append(client)
        contract = save_contract(
            None,
            number=f"HT-{c + 1:03d}",
            client=client,
            start_date=date(2024, 1, 1),
            commission_rate=Decimal("0.1500") + Decimal("0.0100") * c,
            actor=None,
        )
        contracts.append(contract)
    db.session.flush()
    for contract in contracts:
        for module in ("collection", "reports"):
            enable_module(contract, module, None)
    batches = []
    per_batch = cases // (CONTRACTS * BATCHES_PER_CONTRACT)
    rng = random.Random(3)
    for contract in contracts:
        for b in range(BATCHES_PER_CONTRACT):
            entrusted = date(2024, 1, 5) + timedelta(days=14 * b)
            batch = Batch(contract_id=contract.id, batch_no=f"{contract.number}-B{b + 1:02d}",
                          entrust_date=entrusted, status=IMPORTED, area=rng.choice(AREAS))  # fmt: skip
            db.session.add(batch)
            batches.append([batch, contract.id, entrusted, per_batch])
    batches[-1][3] += cases - per_batch * len(batches)

    teams = [Team(name=f"催收{t + 1}组") for t in range(TEAMS)]
    db.session.add_all(teams)
    db.session.flush()
    collectors = []
    for t, team in enumerate(teams):
        create_user(username=f"leader{t + 1}", display_name=f"组长{t + 1}", password=PASSWORD,
                    role=roles["team_leader"], team=team, contracts=contracts, actor=None)  # fmt: skip
        for n in range(COLLECTORS_PER_TEAM):
            number = t * COLLECTORS_PER_TEAM + n + 1
            collector = create_user(username=f"collector{number}", display_name=f"催收员{number}",
                                    password=PASSWORD, role=roles["collector"], team=team,
                                    contracts=contracts, actor=None)  # fmt: skip
            collectors.append(collector)
    manager = create_user(username="manager", display_name="经理", password=PASSWORD,
                          role=roles["manager"], actor=None)  # fmt: skip
    create_user(username="viewer", display_name="银行1", password=PASSWORD,
                role=roles["client_viewer"], client=clients[0], actor=None)  # fmt: skip
    db.session.commit()
    plan = [(batch.id, contract_id, batch.area, entrusted, n)
            for batch, contract_id, entrusted, n in batches]  # fmt: skip
    return {
        "plan": plan,
        "collectors": [u.id for u in collectors],
        "team_of": {u.id: u.team_id for u in collectors},
        "manager": manager.id,
    }


# -- the rows -----------------------------------------------------------------------------------


class Book:
    """What the later rows need to know of each case, in arrays indexed by case id."""

    def __init__(self, cases: int):
        self.holder = array("i", bytes(4 * (cases + 1)))
        self.previous = array("i", bytes(4 * (cases + 1)))
        #: When the previous holder handed the case over (UTC epoch seconds), 0: never.
        self.switched = array("q", bytes(8 * (cases + 1)))
        self.entrusted_cents = array("q", bytes(8 * (cases + 1)))
        self.entrust_day = array("i", bytes(4 * (cases + 1)))
        self.contract = array("i", bytes(4 * (cases + 1)))
        #: The collection module's rows made along with the records (written after them).
        self.promises: list[tuple] = []
        self.complaints: list[tuple] = []
        self.held: list[int] = []


def cases_with_teams(plan, seeded: dict, book: Book):
    """``case_list.case_rows`` with the holder's team, noting each case in ``book``."""
    holder_at = COLUMNS.index("holder_id")
    amount_at = COLUMNS.index("entrusted_amount")
    entrust_at = COLUMNS.index("entrust_date")
    team_of = seeded["team_of"]
    for row in case_rows(plan, seeded["collectors"]):
        case_id, holder = row[0], row[holder_at]
        book.entrusted_cents[case_id] = int(row[amount_at] * 100)
        book.entrust_day[case_id] = row[entrust_at].toordinal()
        book.contract[case_id] = row[1]
        if holder:
            book.holder[case_id] = holder
            book.held.append(case_id)
        yield (*row, team_of.get(holder))


def window_bounds(zone) -> tuple[int, int]:
    """UTC epoch seconds of the window's first local midnight and the one after it."""
    start = datetime.combine(WINDOW_START, datetime.min.time(), tzinfo=zone)
    end = datetime.combine(WINDOW_END + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    return int(start.timestamp()), int(end.timestamp())


def assignment_rows(book: Book, seeded: dict, zone, seed: int = 21):
    """Each held case assigned on its entrust day; 30% handed over once inside the window."""
    rng = random.Random(seed)
    collectors, team_of, manager = seeded["collectors"], seeded["team_of"], seeded["manager"]
    first, last = window_bounds(zone)
    row_id = 0
    for case_id in book.held:
        holder = book.holder[case_id]
        entrusted = datetime.fromordinal(book.entrust_day[case_id]).replace(hour=10, tzinfo=zone)
        if rng.random() < REASSIGNED:
            previous = rng.choice(collectors)
            while previous == holder:
                previous = rng.choice(collectors)
            switched = rng.randrange(first, last)
            book.previous[case_id], book.switched[case_id] = previous, switched
            at = datetime.fromtimestamp(switched, UTC)
            row_id += 1
            yield (row_id, case_id, previous, team_of[previous], entrusted, manager, at, "")
            row_id += 1
            yield (row_id, case_id, holder, team_of[holder], at, manager, None, "重新分案")
        else:
            row_id += 1
            yield (row_id, case_id, holder, team_of[holder], entrusted, manager, None, "")


def day_weights() -> list[tuple[date, float]]:
    days, day = [], WINDOW_START
    while day <= WINDOW_END:
        days.append((day, (1.0, 1.0, 1.0, 1.0, 1.0, 0.6, 0.3)[day.weekday()]))
        day += timedelta(days=1)
    return days


def per_day(total: int) -> list[tuple[date, int]]:
    """``total`` spread over the window's days, weekends quieter; sums to ``total`` exactly."""
    days = day_weights()
    weight = sum(w for _, w in days)
    counts = [(day, int(total * w / weight)) for day, w in days]
    short = total - sum(n for _, n in counts)
    counts[-1] = (counts[-1][0], counts[-1][1] + short)
    return counts


def activity_rows(book: Book, total: int, zone, seed: int = 31):
    """Contact records in time order on held cases, by whoever held the case at the time."""
    rng = random.Random(seed)
    results, channels = expand(RESULT_MIX), expand(CHANNEL_MIX)
    contact_types = ["debtor"] * 8 + ["spouse", "relative"]
    held = book.held
    row_id = 0
    for day, count in per_day(total):
        midnight = int(datetime.combine(day, datetime.min.time(), tzinfo=zone).timestamp())
        moments = sorted(midnight + rng.randrange(9 * 3600, 21 * 3600) for _ in range(count))
        for moment in moments:
            case_id = held[int(rng.random() * len(held))]
            switched = book.switched[case_id]
            user = (
                book.previous[case_id] if switched and moment < switched else book.holder[case_id]
            )
            channel = channels[int(rng.random() * len(channels))]
            result = results[int(rng.random() * len(results))]
            promise_amount = promise_date = None
            if result == "promise_to_pay":
                cents = max(10_000, book.entrusted_cents[case_id] // rng.choice((10, 5, 3, 1)))
                promise_amount = Decimal(cents // 100)
                promise_date = day + timedelta(days=rng.randint(1, 14))
            at = datetime.fromtimestamp(moment, UTC)
            row_id += 1
            if promise_date is not None:
                book.promises.append(promise_row(book, row_id, case_id, user, at, promise_amount,
                                                 promise_date, zone, rng))  # fmt: skip
            elif result == "complaint":
                book.complaints.append(complaint_row(book, case_id, user, at, rng))
            yield (
                row_id, case_id, "contact", at, channel,
                contact_types[int(rng.random() * 10)], "", f"13{case_id:09d}", result,
                "", promise_amount, promise_date, user, "manual", "{}",
                at + timedelta(seconds=rng.randint(30, 600)), book.contract[case_id],
            )  # fmt: skip


def promise_row(book: Book, activity_id, case_id, user, at, amount, due_on, zone, rng) -> tuple:
    """The collection module's promise for a record: judged the morning after it fell due
    (four in ten kept), pending while not yet due at the window's end."""
    status, paid, judged = "pending", Decimal(0), None
    if due_on <= WINDOW_END:
        kept = rng.random() < 0.4
        status, paid = ("kept", amount) if kept else ("broken", Decimal(0))
        judged = datetime.combine(due_on + timedelta(days=1), datetime.min.time(), tzinfo=zone)
        judged = (judged + timedelta(hours=2)).astimezone(UTC)
    return (len(book.promises) + 1, case_id, book.contract[case_id], activity_id, user, amount,
            due_on, status, paid, judged, at)  # fmt: skip


def complaint_row(book: Book, case_id, user, at, rng) -> tuple:
    """A complaint registered with the record; nine in ten resolved within a day or two."""
    resolved = rng.random() < 0.9
    return (
        len(book.complaints) + 1, case_id, book.contract[case_id],
        rng.choice(("phone", "phone", "bank", "regulator", "letter")), "债务人投诉催收方式",
        user, at, at + timedelta(hours=72), "resolved" if resolved else "open",
        user, "已回访" if resolved else "", at + timedelta(hours=rng.randint(2, 90)) if resolved
        else None,
    )  # fmt: skip


def payment_rows(book: Book, cases: int, seeded: dict, zone, seed: int = 41):
    """Confirmed repayments (bank lists and confirmed claims), then pending and rejected
    claims, in date order; a case never repays more than it owes."""
    rng = random.Random(seed)
    manager = seeded["manager"]
    remaining = array("q", book.entrusted_cents)
    held = book.held
    confirmed = int(cases * CONFIRMED_PER_CASE)
    row_id = 0
    for day, count in per_day(confirmed):
        for _ in range(count):
            case_id = held[int(rng.random() * len(held))] if rng.random() < 0.9 else (
                rng.randint(1, cases)
            )  # fmt: skip
            owed = remaining[case_id]
            if owed <= 0:
                continue
            cents = owed if rng.random() < 0.04 else min(
                owed, max(10_000, int(book.entrusted_cents[case_id] * rng.uniform(0.03, 0.3)))
            )  # fmt: skip
            remaining[case_id] -= cents
            moment = datetime.combine(day, datetime.min.time(), tzinfo=zone) + timedelta(
                days=rng.randint(1, 3), hours=rng.randint(9, 17)
            )
            holder = holder_on(book, case_id, moment)
            claim = holder and rng.random() < 0.4
            row_id += 1
            yield (
                row_id, case_id, "claim" if claim else "repayment", Decimal(cents) / 100, day,
                "confirmed", "", "", rng.choice(("银行代扣", "转账", "柜台", "支付宝")),
                f"R{row_id:09d}", "manual" if claim else "import",
                holder if claim else None, manager, moment.astimezone(UTC),
                moment.astimezone(UTC), book.contract[case_id],
            )  # fmt: skip
    for status, share in (("pending", PENDING_SHARE), ("rejected", REJECTED_SHARE)):
        for day, count in per_day(int(confirmed * share)):
            for _ in range(count):
                case_id = held[int(rng.random() * len(held))]
                cents = max(10_000, int(book.entrusted_cents[case_id] * rng.uniform(0.03, 0.3)))
                moment = datetime.combine(day, datetime.min.time(), tzinfo=zone) + timedelta(
                    hours=rng.randint(9, 20)
                )
                row_id += 1
                yield (
                    row_id, case_id, "claim", Decimal(cents) / 100, day, status,
                    "银行未查到该笔还款" if status == "rejected" else "", "", "转账", "",
                    "manual", holder_on(book, case_id, moment), None, None,
                    moment.astimezone(UTC), book.contract[case_id],
                )  # fmt: skip


def holder_on(book: Book, case_id: int, moment: datetime) -> int | None:
    switched = book.switched[case_id]
    if switched and moment.timestamp() < switched:
        return book.previous[case_id]
    return book.holder[case_id] or None


# -- loading ------------------------------------------------------------------------------------


def copy_rows(cursor, dialect: str, table: str, columns: list[str], rows) -> int:
    """COPY (PostgreSQL) or executemany in chunks (SQLite); returns the number of rows."""
    count = 0
    if dialect == "postgresql":
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        if "id" in columns:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
        return count
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    chunk = []
    for row in rows:
        chunk.append(tuple(_sqlite_value(v) for v in row))
        if len(chunk) == 50_000:
            cursor.executemany(sql, chunk)
            count += len(chunk)
            chunk = []
    cursor.executemany(sql, chunk)
    return count + len(chunk)


def bucket_sql(days: str) -> str:
    """The bucket of ``days`` days overdue, in SQL both databases run (as ``bucket_of``)."""
    whens = " ".join(f"WHEN {days} <= {30 * m} THEN 'M{m}'" for m in range(1, 7))
    return f"CASE {whens} ELSE 'M6+' END"


def snapshot_statements(table) -> list[tuple[str, dict]]:
    """January's snapshot from the cases (days overdue a month and a bit earlier), then
    February's from January's: most cases roll one bucket on, one in ten stays, one in ten
    is cured to M1 — and February's previous bucket (and status) is January's.

    ``table`` is the snapshot table as the models have it now: its team and previous status
    columns are filled when it has them.
    """
    columns = ["month", "case_id", "contract_id", "batch_id", "holder_id"]
    january = [":month", "id", "contract_id", "batch_id", "holder_id"]
    february = [":month", "s.case_id", "s.contract_id", "s.batch_id", "c.holder_id"]
    if "team_id" in table.c:
        columns.append("team_id")
        january.append("team_id")
        february.append("c.team_id")
    columns += ["bucket", "status", "balance", "previous_bucket", "taken_at"]
    january += [bucket_sql("(days_overdue - 59)"), "status", "balance", "''", ":taken"]
    rolled = bucket_sql("(c.days_overdue - 28)")
    february += [
        f"CASE s.case_id % 10 WHEN 0 THEN s.bucket WHEN 1 THEN 'M1' ELSE {rolled} END",
        "c.status",
        "c.balance",
        "s.bucket",
        ":taken",
    ]
    if "previous_status" in table.c:
        columns.append("previous_status")
        january.append("''")
        february.append("s.status")
    into = f"INSERT INTO {table.name} ({', '.join(columns)}) "
    return [
        (
            into + f"SELECT {', '.join(january)} FROM cases",
            {"month": MONTHS[0], "taken": datetime(2026, 1, 31, 16, 5, tzinfo=UTC)},
        ),
        (
            into + f"SELECT {', '.join(february)} FROM {table.name} s "
            "JOIN cases c ON c.id = s.case_id WHERE s.month = :previous",
            {
                "month": MONTHS[1],
                "previous": MONTHS[0],
                "taken": datetime(2026, 2, 28, 16, 5, tzinfo=UTC),
            },
        ),
    ]


BALANCE_UPDATE = (
    "UPDATE cases SET balance = cases.entrusted_amount - paid.total, "
    "last_payment_date = paid.last_day "
    "FROM (SELECT case_id, sum(amount) AS total, max(paid_on) AS last_day FROM payments "
    "WHERE status = 'confirmed' GROUP BY case_id) AS paid WHERE cases.id = paid.case_id"
)


def fresh_statistics() -> None:
    """What a DBA runs after a bulk load or a migration that rewrote tables: ``VACUUM
    ANALYZE`` on PostgreSQL (statistics, and the visibility map its index-only scans need),
    ``ANALYZE`` on SQLite."""
    from core.extensions import db
    from core.migrate import refresh_statistics

    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        refresh_statistics()


def generate(cases: int, activities: int, dialect: str) -> dict:
    """Load everything; returns row counts and seconds per step."""
    from sqlalchemy import text

    from core.extensions import db
    from core.plugins import all_hooks
    from core.types import agency_zone

    zone = agency_zone()
    began = time.perf_counter()
    seeded = seed_people(cases)
    tables = [db.metadata.tables[name] for name in REPORT_TABLES]
    engine = db.engine
    with engine.begin() as conn:
        for table in tables:
            for index in table.indexes:
                index.drop(conn)
    book = Book(cases)
    counts, steps = {}, {}
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for name, columns, rows in (
            ("cases", [*COLUMNS, "team_id"], cases_with_teams(seeded["plan"], seeded, book)),
            ("case_assignments", ASSIGNMENT_COLUMNS, assignment_rows(book, seeded, zone)),
            ("activities", ACTIVITY_COLUMNS, activity_rows(book, activities, zone)),
            ("payments", PAYMENT_COLUMNS, payment_rows(book, cases, seeded, zone)),
            ("collection_promises", PROMISE_COLUMNS, iter(book.promises)),
            ("collection_complaints", COMPLAINT_COLUMNS, iter(book.complaints)),
        ):
            start = time.perf_counter()
            counts[name] = copy_rows(cursor, dialect, name, columns, rows)
            raw.commit()
            steps[name] = time.perf_counter() - start
            print(f"  {name}: {counts[name]:,} rows in {steps[name]:.1f}s", flush=True)
    finally:
        raw.close()
    start = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text(BALANCE_UPDATE))
        for statement, params in snapshot_statements(db.metadata.tables[REPORT_TABLES[-1]]):
            conn.execute(text(statement).bindparams(**params), params)
    steps["balances and snapshots"] = time.perf_counter() - start
    start = time.perf_counter()
    with engine.begin() as conn:
        for table in tables:
            for index in table.indexes:
                index.create(conn)
    steps["indexes"] = time.perf_counter() - start
    # Loaded around the ORM: the per-day totals are rebuilt as `maple db rebuild-totals` does.
    start = time.perf_counter()
    all_hooks().rebuild_day_totals()
    db.session.commit()
    steps["day totals"] = time.perf_counter() - start
    start = time.perf_counter()
    fresh_statistics()
    steps["statistics"] = time.perf_counter() - start
    for step in ("balances and snapshots", "indexes", "day totals", "statistics"):
        print(f"  {step}: {steps[step]:.1f}s", flush=True)
    steps["total"] = time.perf_counter() - began
    return {"counts": counts, "steps": steps}


# -- timing -------------------------------------------------------------------------------------


def month_end(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1) - timedelta(days=1)


ONE_MONTH = {"start": "2026-02-01", "end": "2026-02-28", "period": "day"}
SIX_MONTHS = {"start": WINDOW_START.isoformat(), "end": WINDOW_END.isoformat(), "period": "month"}


def cases_timed() -> list[tuple[str, str, dict]]:
    """(label, username, filter args) of each timed case."""
    return [
        ("manager, 1 month", "manager", ONE_MONTH),
        ("manager, 6 months/month", "manager", SIX_MONTHS),
        ("team leader, 1 month", "leader1", ONE_MONTH),
        ("collector, 1 month", "collector7", ONE_MONTH),
        ("client viewer, 1 month", "viewer", ONE_MONTH),
    ]


def floor_queries(args: dict) -> dict:
    """The plainest SQL reading the rows a report over ``args``'s period reads: one count
    and one sum of a column that is in no index, so the rows themselves are read."""
    from sqlalchemy import func, select

    from core.cases.models import Activity, Case, Payment
    from plugins.reports.framework import utc_bounds
    from plugins.reports.models import BucketSnapshot

    start, end = date.fromisoformat(args["start"]), date.fromisoformat(args["end"])
    after, before = utc_bounds(start, end + timedelta(days=1))
    return {
        "payments": select(func.count(), func.sum(Payment.amount)).where(
            Payment.paid_on.between(start, end), Payment.status == "confirmed"
        ),
        "activities": select(func.count(), func.sum(Activity.promise_amount)).where(
            Activity.at >= after, Activity.at < before
        ),
        "cases": select(func.count(), func.sum(Case.balance)),
        "snapshots": select(func.count(), func.sum(BucketSnapshot.balance)).where(
            BucketSnapshot.month.between(start.replace(day=1), end)
        ),
    }


#: Which floors a report reads, by words in its key; anything else: payments and activities.
FLOOR_OF = [
    (("recovery", "commission"), ("payments",)),
    (("activity", "section"), ("activities",)),
    (("portfolio",), ("cases",)),
    (("roll",), ("snapshots",)),
    (("ranking",), ("payments", "activities")),
]


def floors_for(key: str) -> tuple[str, ...]:
    for words, floors in FLOOR_OF:
        if any(word in key for word in words):
            return floors
    return ("payments", "activities")


#: A report slower than this (seconds) in its warm-up run is timed by that run alone: at
#: 20–100 s a run, repeating it would take the benchmark hours and say nothing more.
SLOW = 10.0


def timed(call, repeat: int) -> list[float]:
    from core.extensions import db

    start = time.perf_counter()
    call()  # warm-up: the first run reads the pages into the cache
    warm_up = time.perf_counter() - start
    db.session.rollback()
    if warm_up > SLOW:
        return [warm_up]
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
        db.session.rollback()
    return samples


def measure(app, repeat: int, only: str | None) -> list[dict]:
    from sqlalchemy import select

    from core.auth.models import User
    from core.extensions import db
    from plugins.reports import catalogue  # noqa: F401  (registers every report)
    from plugins.reports.framework import REPORTS, ReportFilter, Scope

    keys = [key for key in sorted(REPORTS, key=lambda k: REPORTS[k].order) if only in (None, key)]
    if not keys:
        print(f"  no report to time (registered: {', '.join(REPORTS) or 'none'})")
    results = []
    floor_cache: dict = {}
    for label, username, args in cases_timed():
        user = db.session.scalar(select(User).where(User.username == username))
        period = (args["start"], args["end"])
        if period not in floor_cache:
            floor_cache[period] = {
                name: statistics.median(timed(lambda q=query: db.session.execute(q).all(), repeat))
                for name, query in floor_queries(args).items()
            }
        floors = floor_cache[period]
        for key in keys:
            found = REPORTS[key]
            if not (user.can("reports.view") and user.can(found.permission)):
                results.append({"report": key, "case": label, "allowed": False})
                continue
            report_filter = ReportFilter.from_args(args)
            error = None
            try:
                with app.test_request_context():
                    samples = timed(
                        lambda f=found, u=user, r=report_filter: f.build(Scope.of(u, r)), repeat
                    )
            # A report still being written may fail: say so and time the others.
            except Exception as exc:  # noqa: BLE001
                db.session.rollback()
                samples, error = [], f"{type(exc).__name__}: {exc}"[:120]
            floor = sum(floors[name] for name in floors_for(key))
            row = {"report": key, "case": label, "allowed": True, "error": error,
                   "floor": floor, "floors": floors_for(key)}  # fmt: skip
            if samples:
                row.update(p50=statistics.median(samples), max=max(samples), runs=len(samples))
            results.append(row)
            print_row(row, flush=True)
    return results


def print_row(row: dict, flush: bool = False) -> None:
    head = f"  {row['report']:<14}{row['case']:<26}"
    if not row["allowed"]:
        print(head + "not allowed for this user", flush=flush)
    elif row.get("error"):
        print(head + f"failed: {row['error']}", flush=flush)
    else:
        ratio = row["p50"] / row["floor"] if row["floor"] else float("nan")
        verdict = "ok" if row["max"] <= 2 else "OVER 2 s"
        print(
            head + f"p50 {row['p50']:7.3f}s  max {row['max']:7.3f}s  floor {row['floor']:6.3f}s "
            f"({'+'.join(row['floors'])})  ×{ratio:6.1f}  {verdict}"
            + ("  (one run)" if row["runs"] == 1 else ""),
            flush=flush,
        )


def build_missing_indexes(label: str) -> None:
    """Build the indexes the models give the loaded tables that the database lacks (a
    migration changed since the data was generated), and refresh the statistics."""
    from sqlalchemy import inspect

    from core.extensions import db
    from core.migrate import refresh_statistics

    built = []
    for name in REPORT_TABLES:
        table = db.metadata.tables[name]
        present = {index["name"] for index in inspect(db.engine).get_indexes(name)}
        for index in table.indexes:
            if index.name not in present:
                index.create(db.engine)
                built.append(index.name)
    if built:
        refresh_statistics()
        print(f"{label}: built {', '.join(built)}")


def run(label: str, url: str, options) -> None:
    from sqlalchemy import func, select

    from core.cases.models import Activity, Case, Payment
    from core.extensions import db
    from core.migrate import pending, upgrade_all

    dialect = "postgresql" if url.startswith("postgres") else "sqlite"
    if not options.reuse:
        if dialect == "postgresql":
            fresh_postgres(url)
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    app = make_app(url)
    with app.app_context():
        if options.reuse:
            # Reports and their indexes change while the data stays: bring the schema up to
            # date (a new index is built over the generated rows, statistics refreshed).
            lagging = [plugin for plugin, behind in pending().items() if behind]
            if lagging:
                start = time.perf_counter()
                upgrade_all()
                seconds = time.perf_counter() - start
                print(f"{label}: migrated {', '.join(lagging)} in {seconds:.1f}s")
                start = time.perf_counter()
                fresh_statistics()
                print(f"{label}: statistics in {time.perf_counter() - start:.1f}s")
            build_missing_indexes(label)
        else:
            upgrade_all()
            print(f"{label}: generating {options.cases:,} cases, {options.activities:,} records")
            generated = generate(options.cases, options.activities, dialect)
            print(f"{label}: generated in {generated['steps']['total']:.1f}s")
        sizes = {
            model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Case, Activity, Payment)
        }
        print(f"{label}: " + ", ".join(f"{n:,} {name}" for name, n in sizes.items()))
        print(f"{label}: reports, seconds (p50 and max of {options.repeat} after a warm-up)")
        measure(app, options.repeat, options.only)
        db.session.remove()
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--activities", type=int, default=5_000_000)
    parser.add_argument("--sqlite", default="/tmp/maple-report-bench.db")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/bench_reports")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--reuse", action="store_true", help="time the data generated last time")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per report and user")
    parser.add_argument("--only", metavar="KEY", help="time only this report")
    options = parser.parse_args()
    if not options.no_sqlite:
        run("SQLite", "sqlite:///" + options.sqlite, options)
    if not options.no_postgres:
        run("PostgreSQL", options.postgres, options)


if __name__ == "__main__":
    main()
