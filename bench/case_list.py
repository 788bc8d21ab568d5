"""Time the batch-management case list (its page of rows and its count) at a million cases.

    python bench/case_list.py                      # SQLite file under /tmp, then PostgreSQL
    python bench/case_list.py --only sqlite --reuse
    python bench/case_list.py --postgres postgresql://postgres@127.0.0.1:5432/bench_cases

Builds Maple's real schema (``core.migrate.upgrade_all``) in a fresh SQLite file and in a
PostgreSQL database it creates or empties (never one named ``test``), loads ``--rows`` cases
with a raw executemany (SQLite) or COPY (PostgreSQL) across a few clients, contracts, batches,
areas, buckets and statuses, then times ``core.cases.filters.find_cases`` — the function the
page and the API call — for a mix of filters, as a manager (every contract) and as a collector
bound to two contracts. Prints p50 and p95 per kind of query and overall. Never asserts.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红文玉兰"
AREAS = ["苏南", "苏北", "苏中", "杭州", "宁波", "上海", "深圳", "广州", "南京", "无锡"]
CITIES = [("江苏", "南京"), ("江苏", "苏州"), ("浙江", "杭州"), ("上海", "上海"), ("广东", "深圳")]
#: status → share of cases
STATUS_MIX = [("normal", 80), ("paused", 8), ("closed", 6), ("returned", 4), ("settled", 2)]
CONTRACTS = 8
BATCHES_PER_CONTRACT = 25
PASSWORD = "bench-password-123"


def bucket_of(days: int) -> str:
    return "M6+" if days > 180 else f"M{max(1, -(-days // 30))}"


# -- the database -------------------------------------------------------------------------------


def fresh_postgres(url: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    if not name or name in ("test", "postgres", "template0", "template1"):
        sys.exit(f"refusing to empty the database {name!r}")
    admin = make_url(url).set(database="postgres", drivername="postgresql")
    dsn = admin.render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def make_app(url: str):
    from core import create_app

    os.environ.setdefault("MAPLE_INSTANCE_PATH", tempfile.mkdtemp(prefix="maple-bench-"))
    return create_app({"DATABASE_URL": url, "AUTO_MIGRATE": False})


def seed_people(rows: int):
    """Clients, contracts, batches and users; returns (contract ids, batch plan, holder ids)."""
    from sqlalchemy import select

    from core.auth.models import Role
    from core.auth.services import create_user
    from core.batches.models import IMPORTED, Batch
    from core.clients.services import save_client, save_contract
    from core.extensions import db

    roles = {role.name: role for role in db.session.scalars(select(Role))}
    contracts = []
    for c in range(CONTRACTS):
        if c % 2 == 0:
            client = save_client(None, name=f"银行{c // 2 + 1}", code=f"BK{c // 2 + 1}", actor=None)
        contracts.append(
            save_contract(
                None,
                number=f"HT-{c + 1:03d}",
                client=client,
                start_date=date(2024, 1, 1),
                actor=None,
            )
        )
    db.session.flush()
    batches = []  # (batch id, contract id, area, entrust date, number of cases)
    per_batch = rows // (CONTRACTS * BATCHES_PER_CONTRACT)
    rng = random.Random(3)
    for contract in contracts:
        for b in range(BATCHES_PER_CONTRACT):
            entrusted = date(2024, 1, 5) + timedelta(days=14 * b)
            batch = Batch(contract_id=contract.id, batch_no=f"{contract.number}-B{b + 1:02d}",
                          entrust_date=entrusted, status=IMPORTED, area=rng.choice(AREAS))  # fmt: skip
            db.session.add(batch)
            batches.append([batch, contract.id, entrusted, per_batch])
    batches[-1][3] += rows - per_batch * len(batches)
    collectors = [
        create_user(
            username=f"collector{n}",
            display_name=f"催收员{n}",
            password=PASSWORD,
            role=roles["collector"],
            contracts=contracts[n % CONTRACTS : n % CONTRACTS + 2],
            actor=None,
        )
        for n in range(40)
    ]
    create_user(username="manager", display_name="经理", password=PASSWORD,
                role=roles["manager"], actor=None)  # fmt: skip
    db.session.commit()
    plan = [(batch.id, contract_id, batch.area, entrusted, n)
            for batch, contract_id, entrusted, n in batches]  # fmt: skip
    return plan, [u.id for u in collectors]


COLUMNS = [
    "id",
    "contract_id",
    "batch_id",
    "serial",
    "archive_no",
    "card_no",
    "account_no",
    "id_type",
    "id_no",
    "card_tail",
    "id_tail",
    "name",
    "gender",
    "birthday",
    "entrusted_amount",
    "balance",
    "principal",
    "interest",
    "late_fee",
    "days_overdue",
    "bucket",
    "overdue_date",
    "currency",
    "mobile",
    "email",
    "employer",
    "entrust_date",
    "area",
    "province",
    "city",
    "remark",
    "timezone",
    "status",
    "status_reason",
    "holder_id",
    "created_at",
    "updated_at",
]


def case_rows(plan, holders, seed: int = 11):
    """Realistic cases: lognormal amounts, 1–720 days, most cases normal, 70% held."""
    rng = random.Random(seed)
    statuses = [s for s, weight in STATUS_MIX for _ in range(weight)]
    names = [a + b + c for a in SURNAMES for b in GIVEN for c in ("", *GIVEN[:12])]
    now = datetime(2026, 3, 1, tzinfo=UTC)
    n = 0
    for batch_id, contract_id, area, entrusted, count in plan:
        for _ in range(count):
            n += 1
            days = min(720, int(rng.expovariate(1 / 120)) + 1)
            amount = Decimal(min(500_000, round(rng.lognormvariate(9.6, 1.0), 2))).quantize(
                Decimal("0.01")
            )
            principal = (amount * Decimal("0.9")).quantize(Decimal("0.01"))
            born = date(1960, 1, 1) + timedelta(days=rng.randint(0, 14000))
            card = f"6222{contract_id:02d}{rng.randint(0, 10**12 - 1):012d}{n % 10}"
            id_no = f"3201{rng.randint(10, 99)}{born:%Y%m%d}{rng.randint(0, 999):03d}{rng.choice('0123456789X')}"
            province, city = CITIES[n % len(CITIES)]
            status = rng.choice(statuses)
            yield (
                n, contract_id, batch_id, f"S{contract_id:02d}-{n:08d}", f"A{n:09d}", card,
                f"0101{n:012d}", "身份证", id_no, card[-4:], id_no[-4:], rng.choice(names),
                rng.choice("男女"), born, amount, amount, principal, amount - principal,
                Decimal("0.00"), days, bucket_of(days), entrusted - timedelta(days=days), "CNY",
                f"13{rng.randint(0, 999_999_999):09d}", "", f"{city}某某科技有限公司", entrusted,
                area, province, city, "", "", status, "" if status == "normal" else "银行要求",
                rng.choice(holders) if rng.random() < 0.7 else None, now, now,
            )  # fmt: skip


def load_cases(rows: int, dialect: str) -> float:
    """Drop the secondary indexes of ``cases``, bulk-load, re-create them, analyse."""
    from core.cases.models import Case
    from core.extensions import db

    plan, holders = seed_people(rows)
    table = Case.__table__
    start = time.perf_counter()
    engine = db.engine
    with engine.begin() as conn:
        for index in table.indexes:
            index.drop(conn)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if dialect == "postgresql":
            copy_sql = f"COPY cases ({', '.join(COLUMNS)}) FROM STDIN"
            with cursor.copy(copy_sql) as copy:
                for row in case_rows(plan, holders):
                    copy.write_row(row)
            cursor.execute("SELECT setval('cases_id_seq', (SELECT max(id) FROM cases))")
        else:
            sql = (
                f"INSERT INTO cases ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
            )
            chunk = []
            for row in case_rows(plan, holders):
                chunk.append(tuple(_sqlite_value(v) for v in row))
                if len(chunk) == 50_000:
                    cursor.executemany(sql, chunk)
                    chunk = []
            cursor.executemany(sql, chunk)
        raw.commit()
    finally:
        raw.close()
    with engine.begin() as conn:
        for index in table.indexes:
            index.create(conn)
    # Statistics as a running Maple has them: autovacuum (PostgreSQL), or ``maple db upgrade``
    # / an import's refresh (SQLite: core.migrate.refresh_statistics).
    if dialect == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        from core.migrate import refresh_statistics

        refresh_statistics()
    return time.perf_counter() - start


def _sqlite_value(value):
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


# -- the queries --------------------------------------------------------------------------------


def query_mix(collector_contracts: list[int], name_prefix: str, card_tail: str) -> list:
    """(kind, query string) for the list: what users type into the filter form."""
    contract = collector_contracts[0]
    return [
        ("no filter", {}),
        ("by contract", {"contract": contract}),
        ("by status", {"status": "paused"}),
        ("area", {"area": "苏南"}),
        ("bucket + area", {"bucket": "M3", "area": "苏南"}),
        ("amount range", {"amount_min": "50000", "amount_max": "80000"}),
        ("days overdue range", {"days_min": "90", "days_max": "180"}),
        ("card tail search", {"q": card_tail}),
        ("name prefix search", {"q": name_prefix}),
        ("sorted by amount desc", {"sort": "amount", "dir": "desc"}),
        ("status, amount desc", {"status": "normal", "sort": "amount", "dir": "desc"}),
        ("deep page (200)", {"page": 200}),
    ]


def time_queries(repeat: int, exact: bool = False) -> dict:
    from sqlalchemy import select

    from core.auth.models import User
    from core.cases.filters import CaseFilter, find_cases
    from core.extensions import db

    manager = db.session.scalar(select(User).filter_by(username="manager"))
    collector = db.session.scalar(
        select(User).filter_by(username="collector6")
    )  # the last two contracts
    mix = query_mix([c.id for c in collector.contracts], "王伟", "1234")
    options = {"cap": None} if exact else {}
    timings: dict = {}
    for who, user in (("manager", manager), ("collector", collector)):
        for kind, args in mix:
            args = {k: str(v) for k, v in args.items()}
            page = int(args.pop("page", 1))
            case_filter = CaseFilter.from_args(args)
            result = find_cases(user, case_filter, page=page, per_page=50, **options)  # warm-up
            db.session.rollback()
            samples = []
            for _ in range(repeat):
                start = time.perf_counter()
                result = find_cases(user, case_filter, page=page, per_page=50, **options)
                samples.append((time.perf_counter() - start) * 1000)
                db.session.rollback()
            total = f"{result.total:,}" + ("" if result.exact else "+")
            timings[(kind, who)] = (samples, total, len(result.rows))
    return timings


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report(label: str, timings: dict) -> None:
    print(f"\n{label}: find_cases (count + page of 50), ms")
    print(f"{'query':<24}{'who':<11}{'p50':>8}{'p95':>8}  {'total':>9} rows")
    everything = []
    for (kind, who), (samples, total, rows) in timings.items():
        everything += samples
        print(
            f"{kind:<24}{who:<11}{pct(samples, 50):8.1f}{pct(samples, 95):8.1f}  {total:>9} {rows}"
        )
    print(f"{'overall':<35}{pct(everything, 50):8.1f}{pct(everything, 95):8.1f}")


def run(label: str, url: str, rows: int, repeat: int, reuse: bool, exact: bool) -> None:
    from sqlalchemy import func, select

    from core.cases.models import Case
    from core.extensions import db
    from core.migrate import upgrade_all

    dialect = "postgresql" if url.startswith("postgres") else "sqlite"
    if not reuse:
        if dialect == "postgresql":
            fresh_postgres(url)
        elif os.path.exists(url.removeprefix("sqlite:///")):
            for suffix in ("", "-wal", "-shm"):
                Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    app = make_app(url)
    with app.app_context():
        if not reuse:
            upgrade_all()
            seconds = load_cases(rows, dialect)
            print(f"{label}: loaded {rows:,} cases in {seconds:.1f}s (indexes included)")
        count = db.session.scalar(select(func.count()).select_from(Case))
        print(f"{label}: {count:,} cases")
        report(label + (" (exact counts)" if exact else ""), time_queries(repeat, exact))
        db.session.remove()
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sqlite", default="/tmp/maple-bench-cases.db")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/bench_cases")
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--repeat", type=int, default=15, help="timed runs per query and user")
    parser.add_argument("--reuse", action="store_true", help="keep the loaded data")
    parser.add_argument(
        "--exact-count", action="store_true", help="count exactly (no cap), for comparison"
    )
    args = parser.parse_args()
    if args.only != "postgresql":
        run(
            "SQLite",
            "sqlite:///" + args.sqlite,
            args.rows,
            args.repeat,
            args.reuse,
            args.exact_count,
        )
    if args.only != "sqlite":
        run("PostgreSQL", args.postgres, args.rows, args.repeat, args.reuse, args.exact_count)


if __name__ == "__main__":
    main()
