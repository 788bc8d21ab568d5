"""Maple's full import of a bank workbook against the floor, on SQLite and PostgreSQL, in one run.

    python bench/import_speed.py                       # 100 000 rows, SQLite and PostgreSQL
    python bench/import_speed.py --rows 20000 --repeat 2
    python bench/import_speed.py --postgres postgresql://postgres@127.0.0.1:5432/bench_maple
    python bench/import_speed.py --no-postgres

The workbook is written by ``generate_workbook.py`` (kept under /tmp and reused). For each
database it prints:

- the floor: python-calamine parse (``get_sheet_by_index`` + ``to_python``) plus ONE raw
  DBAPI ``executemany`` of the parsed rows (as text) into a plain 24-column table with no
  index, committed. Nothing can import the file faster than that.
- Maple's full import, as the web and the CLI run it: ``start_import`` (store, hash, the
  zip-bomb / DTD / macro checks, parse, header detection, mapping) then ``commit`` (take the
  batch lock, normalise and validate every row, duplicate checks, serials, insert the cases
  with their phones and addresses, audit, hooks, commit). Rows/s and the ratio to the floor.
- the peak RSS of the import: each import runs in a fresh subprocess (nothing of the floor
  is in it) and reports ``getrusage(RUSAGE_SELF).ru_maxrss``, app start-up included.

The SQLite database is a fresh file per run (WAL, as Maple runs it). The PostgreSQL database
(default ``bench_maple``) is created if missing and emptied (schema ``public`` dropped) by
the script: never point it at a database you care about. Scripts print; they never assert.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/bench_maple"


# -- the floor ----------------------------------------------------------------------------------


def parse(path: str) -> tuple[float, list[tuple]]:
    """Seconds to parse the first sheet with python-calamine, and its body rows as text."""
    import python_calamine

    start = time.perf_counter()
    rows = python_calamine.CalamineWorkbook.from_path(path).get_sheet_by_index(0).to_python()
    body = [tuple(str(value) for value in row) for row in rows[1:]]
    return time.perf_counter() - start, body


def floor_sqlite(path: str) -> dict:
    seconds_parse, body = parse(path)
    db_path = tempfile.mktemp(suffix="-floor.db")
    connection = sqlite3.connect(db_path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    width = len(body[0])
    connection.execute(f"CREATE TABLE floor_rows ({', '.join(f'c{i} TEXT' for i in range(width))})")
    start = time.perf_counter()
    connection.execute("BEGIN")
    connection.executemany(f"INSERT INTO floor_rows VALUES ({', '.join('?' * width)})", body)
    connection.execute("COMMIT")
    seconds_insert = time.perf_counter() - start
    connection.close()
    for suffix in ("", "-wal", "-shm"):
        Path(db_path + suffix).unlink(missing_ok=True)
    return {"parse": seconds_parse, "insert": seconds_insert, "rows": len(body)}


def floor_postgres(path: str, url: str) -> dict:
    import psycopg

    seconds_parse, body = parse(path)
    width = len(body[0])
    with psycopg.connect(url) as connection:
        connection.execute("DROP TABLE IF EXISTS floor_rows")
        connection.execute(
            f"CREATE TABLE floor_rows ({', '.join(f'c{i} text' for i in range(width))})"
        )
        connection.commit()
        start = time.perf_counter()
        with connection.cursor() as cursor:  # psycopg 3 pipelines executemany
            cursor.executemany(f"INSERT INTO floor_rows VALUES ({', '.join(['%s'] * width)})", body)
        connection.commit()
        seconds_insert = time.perf_counter() - start
        connection.execute("DROP TABLE floor_rows")
        connection.commit()
    return {"parse": seconds_parse, "insert": seconds_insert, "rows": len(body)}


def prepare_postgres(url: str) -> None:
    """Create the bench database if missing, and empty it."""
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[1].split("?")[0]
    server = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(server, autocommit=True) as connection:
        found = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if found.fetchone() is None:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("DROP SCHEMA IF EXISTS public CASCADE")
        connection.execute("CREATE SCHEMA public")


# -- Maple's import (run in a fresh subprocess) ---------------------------------------------------


def _rss_now_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _maple_app(url: str):
    """A Maple app on ``url`` with its schema, a client, a contract and an empty batch."""
    from datetime import date

    instance = tempfile.mkdtemp(prefix="maple-bench-")
    os.environ["MAPLE_INSTANCE_PATH"] = instance
    from core import create_app
    from core.batches.models import Batch
    from core.clients.services import save_client, save_contract
    from core.extensions import db
    from core.migrate import upgrade_all

    app = create_app({"DATABASE_URL": url, "AUTO_MIGRATE": False})
    with app.app_context():
        upgrade_all()
        client = save_client(None, name="江苏中行", code="JSZ", actor=None)
        contract = save_contract(None, number="K-BENCH", client=client,
                                 start_date=date(2015, 1, 1), actor=None)  # fmt: skip
        batch = Batch(contract_id=contract.id, batch_no="BENCH", entrust_date=date(2015, 6, 10))
        db.session.add(batch)
        db.session.commit()
        batch_id = batch.id
    return app, instance, batch_id


#: The workbook's 24 columns (generate_workbook.HEADERS), as ``cases`` columns; None: a
#: column ``cases`` has no place for (home/work phone and addresses go to other tables).
CASE_COLUMN_OF = (
    "serial", "archive_no", "card_no", "account_no", "id_no", "name", "gender", "birthday",
    "entrusted_amount", "principal", "interest", "late_fee", "days_overdue", "bucket",
    "overdue_date", "mobile", None, "employer", None, None, "entrust_date", "area", "province",
    "city",
)  # fmt: skip
#: NOT NULL columns of ``cases`` the workbook does not fill, and what the floor gives them.
CASE_CONSTANTS = (
    ("id_type", ""), ("currency", "CNY"), ("email", ""), ("remark", ""), ("timezone", ""),
    ("status", "normal"), ("status_reason", ""),
)  # fmt: skip


def floor_cases_table(path: str, url: str) -> dict:
    """The indexed floor (run in a fresh subprocess, on a scratch database).

    The same calamine parse, then ONE raw DBAPI ``executemany`` of the parsed rows into
    Maple's real ``cases`` table (its indexes, unique serial and foreign keys), committed:
    the 21 workbook values that have a ``cases`` column, as parsed (text; the days overdue
    as an integer), plus what NOT NULL requires (contract, batch, card/ID tails, balance,
    status, timestamps …). No normalising, no checks, no phones or addresses.
    """
    from datetime import UTC, datetime

    from core.extensions import db

    app, instance, batch_id = _maple_app(url)
    with app.app_context():
        from core.batches.models import Batch

        contract_id = db.session.get(Batch, batch_id).contract_id
        seconds_parse, body = parse(path)
        start = time.perf_counter()
        kept = [i for i, name in enumerate(CASE_COLUMN_OF) if name]
        days = CASE_COLUMN_OF.index("days_overdue")
        card, id_no = CASE_COLUMN_OF.index("card_no"), CASE_COLUMN_OF.index("id_no")
        amount = CASE_COLUMN_OF.index("entrusted_amount")
        now = datetime.now(UTC).replace(tzinfo=None).isoformat(" ")
        columns = [CASE_COLUMN_OF[i] for i in kept] + [
            "contract_id", "batch_id", "card_tail", "id_tail", "balance", "created_at",
            "updated_at", *(name for name, _value in CASE_CONSTANTS),
        ]  # fmt: skip
        constants = tuple(value for _name, value in CASE_CONSTANTS)
        rows = []
        for row in body:
            values = [row[i] for i in kept]
            values[kept.index(days)] = int(float(row[days])) if row[days] else None
            rows.append((*values, contract_id, batch_id, row[card][-4:], row[id_no][-4:],
                         row[amount], now, now, *constants))  # fmt: skip
        seconds_shape = time.perf_counter() - start
        db.session.remove()
        pooled = db.engine.raw_connection()  # Maple's connection settings (WAL …)
        raw = pooled.driver_connection
        marks = ", ".join(["?" if url.startswith("sqlite") else "%s"] * len(columns))
        sql_insert = f"INSERT INTO cases ({', '.join(columns)}) VALUES ({marks})"
        start = time.perf_counter()
        cursor = raw.cursor()
        if url.startswith("sqlite"):
            cursor.execute("BEGIN")
        cursor.executemany(sql_insert, rows)  # psycopg 3 pipelines it
        raw.commit()
        seconds_insert = time.perf_counter() - start
        pooled.close()
        db.engine.dispose()
    shutil.rmtree(instance, ignore_errors=True)
    return {"parse": seconds_parse, "shape": seconds_shape, "insert": seconds_insert,
            "rows": len(body)}  # fmt: skip


def maple_import(path: str, url: str) -> dict:
    from core.batches.models import Batch
    from core.extensions import db
    from core.imports import services

    app, instance, batch_id = _maple_app(url)
    with app.app_context():
        batch = db.session.get(Batch, batch_id)
        rss_before = _rss_now_mb()
        start = time.perf_counter()
        run = services.start_import_from_path(batch, "cases", Path(path), None)
        db.session.commit()
        uploaded = time.perf_counter()
        report = services.commit(run.id)
        end = time.perf_counter()
    shutil.rmtree(instance, ignore_errors=True)
    return {
        "upload": uploaded - start,
        "commit": end - uploaded,
        "total": end - start,
        "rows_read": report["rows_read"],
        "created": report["created"],
        "rejected": report["rejected"],
        "committed": report.get("committed", False),
        "rss_before_mb": rss_before,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def in_subprocess(path: str, url: str, mode: str = "--child") -> dict:
    done = subprocess.run(
        [sys.executable, __file__, mode, path, url],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if url.startswith("sqlite:///"):
        for suffix in ("", "-wal", "-shm"):
            Path(url[len("sqlite:///") :] + suffix).unlink(missing_ok=True)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- report ----------------------------------------------------------------------------------------


def best(results: list[dict], key: str) -> dict:
    good = [r for r in results if "error" not in r]
    return min(good, key=lambda r: r[key]) if good else results[0]


def show(database: str, floors: list[dict], indexed: list[dict], imports: list[dict]) -> None:
    floor = best(floors, "total")
    print(f"\n{database}")
    print(f"  floor 1 (plain table)  {floor['total']:6.2f} s  {floor['rows'] / floor['total']:>8,.0f}"
          f" rows/s   (calamine parse {floor['parse']:.2f} s + raw executemany into a 24-column"
          f" text table without indexes {floor['insert']:.2f} s)")  # fmt: skip
    second = best(indexed, "total")
    if "error" in second:
        print(f"  floor 2 (cases table)  failed: {second['error']}")
        second = None
    else:
        print(f"  floor 2 (cases table)  {second['total']:6.2f} s  "
              f"{second['rows'] / second['total']:>8,.0f} rows/s   (calamine parse"
              f" {second['parse']:.2f} s + raw executemany into Maple's cases table, its indexes"
              f" and foreign keys {second['insert']:.2f} s; not counted: shaping"
              f" {second['shape']:.2f} s)")  # fmt: skip
    result = best(imports, "total")
    if "error" in result:
        print(f"  maple  failed: {result['error']}")
        return
    rows = result["rows_read"]
    ratio_2 = f" / {result['total'] / second['total']:.2f}× floor 2" if second else ""
    print(f"  maple                  {result['total']:6.2f} s  {rows / result['total']:>8,.0f}"
          f" rows/s   ratio {result['total'] / floor['total']:.2f}× floor 1{ratio_2}"
          f"   (upload+checks+parse {result['upload']:.2f} s, commit {result['commit']:.2f} s;"
          f" created {result['created']:,}, rejected {result['rejected']:,})")  # fmt: skip
    print(
        f"  peak RSS of the import process {result['peak_rss_mb']:.0f} MB"
        f" ({result['rss_before_mb']:.0f} MB before the import)"
    )
    if len(imports) > 1:

        def runs(results):
            return ", ".join(f"{r.get('total', float('nan')):.2f}" for r in results)

        print(f"  all runs: floor 1 {runs(floors)} s; floor 2 {runs(indexed)} s;"
              f" maple {runs(imports)} s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--workbook", help="an existing workbook (default: generated)")
    parser.add_argument("--postgres", default=DEFAULT_PG, help="emptied by the script")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement; best kept")
    args = parser.parse_args()

    workbook = args.workbook or f"/tmp/maple-bench-{args.rows}.xlsx"
    if not Path(workbook).exists():
        import generate_workbook

        print(f"writing {workbook} …", flush=True)
        generate_workbook.write(workbook, args.rows)
    print(f"workbook {workbook}: {args.rows:,} rows × 24 columns; "
          f"{os.cpu_count()} CPUs; best of {args.repeat}")  # fmt: skip
    print("peak RSS: each Maple import runs in a fresh subprocess; getrusage ru_maxrss there")

    def timed(result: dict) -> dict:
        if "error" not in result:
            result["total"] = result["parse"] + result["insert"]
        return result

    def sqlite_url() -> str:
        return "sqlite:///" + tempfile.mktemp(".db")

    floors, indexed, imports = [], [], []
    for _ in range(args.repeat):
        floors.append(timed(floor_sqlite(workbook)))
        indexed.append(timed(in_subprocess(workbook, sqlite_url(), "--child-floor-cases")))
        imports.append(in_subprocess(workbook, sqlite_url()))
    show("SQLite (WAL)", floors, indexed, imports)

    if not args.no_postgres:
        floors, indexed, imports = [], [], []
        for _ in range(args.repeat):
            prepare_postgres(args.postgres)
            floors.append(timed(floor_postgres(workbook, args.postgres)))
            prepare_postgres(args.postgres)
            indexed.append(timed(in_subprocess(workbook, args.postgres, "--child-floor-cases")))
            prepare_postgres(args.postgres)
            imports.append(in_subprocess(workbook, args.postgres))
        show(f"PostgreSQL ({args.postgres.rsplit('@', 1)[-1]})", floors, indexed, imports)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(maple_import(sys.argv[2], sys.argv[3])))
    elif len(sys.argv) == 4 and sys.argv[1] == "--child-floor-cases":
        print(json.dumps(floor_cases_table(sys.argv[2], sys.argv[3])))
    else:
        main()
