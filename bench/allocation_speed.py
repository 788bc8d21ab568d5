"""Time an allocation's preview and commit (分案) on SQLite and PostgreSQL.

    python bench/allocation_speed.py [--cases 2000] [--postgres URL] [--no-postgres]
                                     [--profile]

Builds a fresh database per run (a temporary SQLite file; the PostgreSQL database given,
default ``bench_alloc``, dropped and re-created), one contract with the collection module,
three collectors, a manager and ``--cases`` cases; then, as the manager, previews "even by
count" over the whole filter result and commits it (``plugins.collection.allocation``: the
same service calls the page and the API make). Prints seconds and cases/s for each;
``--profile`` prints the commit's top functions by cumulative time. Never asserts.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def fresh_postgres(url: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    target = make_url(url)
    name = target.database
    if "test" in name:
        raise SystemExit(f"refusing to drop {name!r}: pick a database only this script uses")
    admin = target.set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def seed(count: int):
    from sqlalchemy import insert, select

    from core.auth.models import Role
    from core.auth.services import create_user, ensure_builtin_roles_and_grants
    from core.batches.models import IMPORTED, Batch
    from core.cases.models import Case
    from core.clients.services import save_client, save_contract
    from core.extensions import db
    from core.modules import enable_module
    from core.plugins import registry

    ensure_builtin_roles_and_grants(registry().permissions)
    client = save_client(None, name="Bench client", code="BENCH", actor=None)
    contract = save_contract(
        None, number="K-BENCH", client=client, start_date=date(2026, 1, 1), actor=None
    )
    enable_module(contract, "collection", None)
    batch = Batch(
        contract_id=contract.id,
        batch_no="B-BENCH",
        entrust_date=date(2026, 3, 1),
        status=IMPORTED,
        area="苏南",
    )
    db.session.add(batch)
    db.session.flush()

    def role(name):
        return db.session.scalar(select(Role).filter_by(name=name))

    people = {}
    for username, role_name in [
        ("a", "collector"),
        ("b", "collector"),
        ("c", "collector"),
        ("mia", "manager"),
    ]:
        people[username] = create_user(
            username=username,
            display_name=username,
            password="bench-password-123",
            role=role(role_name),
            contracts=[contract],
        )
    rows = [
        {
            "contract_id": contract.id,
            "batch_id": batch.id,
            "serial": f"BENCH-{n:07d}",
            "name": "张三",
            "card_no": f"6222020000{n:09d}",
            "card_tail": f"{n:09d}"[-4:],
            "id_no": f"320102198001{n:06d}",
            "mobile": f"138{n:08d}",
            "entrusted_amount": 1000 + n,
            "balance": 1000 + n,
            "days_overdue": 45,
            "bucket": "M2",
            "entrust_date": date(2026, 3, 1),
            "area": "苏南",
            "status": "normal",
        }
        for n in range(1, count + 1)
    ]
    db.session.execute(insert(Case), rows)
    db.session.commit()
    return contract.id, people


def run(label: str, url: str, count: int, profile: bool) -> None:
    from core import create_app
    from core.cases.filters import CaseFilter
    from core.extensions import db
    from core.migrate import upgrade_all
    from plugins.collection import allocation as service

    os.environ.setdefault("MAPLE_INSTANCE_PATH", tempfile.mkdtemp(prefix="maple-bench-"))
    app = create_app({"DATABASE_URL": url, "AUTO_MIGRATE": False})
    with app.app_context(), app.test_request_context():
        upgrade_all()
        contract_id, people = seed(count)
        collectors = [people[u].id for u in ("a", "b", "c")]
        manager = people["mia"]
        start = time.perf_counter()
        plan = service.preview(
            manager,
            service.EVEN_COUNT,
            service.Choice(case_filter=CaseFilter(contract=contract_id)),
            collectors=collectors,
        )
        db.session.commit()
        previewed = time.perf_counter() - start
        profiler = cProfile.Profile() if profile else None
        start = time.perf_counter()
        if profiler:
            profiler.enable()
        result = service.commit_plan(plan, manager)
        db.session.commit()
        if profiler:
            profiler.disable()
        seconds = time.perf_counter() - start
        print(
            f"{label}: {count} cases · preview {previewed:.2f} s ({count / previewed:,.0f}/s) · "
            f"commit {seconds:.2f} s ({count / seconds:,.0f} cases/s, "
            f"{1000 * seconds / count:.2f} ms/case) · changed {result.changed}, "
            f"skipped {result.skipped_total}"
        )
        if profiler:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)
        db.session.remove()
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/bench_alloc")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--profile", action="store_true", help="profile each commit")
    args = parser.parse_args()
    if not args.no_sqlite:
        path = tempfile.mktemp(prefix="maple-bench-alloc-", suffix=".db")
        run("SQLite", f"sqlite:///{path}", args.cases, args.profile)
        for suffix in ("", "-wal", "-shm"):
            Path(path + suffix).unlink(missing_ok=True)
    if not args.no_postgres:
        fresh_postgres(args.postgres)
        run("PostgreSQL", args.postgres, args.cases, args.profile)


if __name__ == "__main__":
    main()
