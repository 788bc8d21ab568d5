"""Time Maple's case export against a bare xlsxwriter (or csv) write of the same rows.

    python bench/export_speed.py [--rows 100000] [--postgres URL]

Loads ``--rows`` cases (as bench/case_list.py does) into a fresh SQLite file, or into the
PostgreSQL database given, then runs each measurement in its own process so each peak RSS
is its own:

- ``maple``: ``core.exports.services.write_export`` — the query (a server-side cursor of plain
  tuples), masking, status titles, formula-safe text, the constant-memory writer;
- ``bare``: the same cells, already fetched, masked and in memory, written with xlsxwriter in
  constant-memory mode with one typed ``write_*`` call per cell (or one ``csv.writer`` row).

Prints both times, their ratio and peak RSS. Never asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _manager():
    from sqlalchemy import select

    from core.auth.models import User
    from core.extensions import db

    return db.session.scalar(select(User).filter_by(username="manager"))


def measure_maple(fmt: str) -> dict:
    from core.cases.filters import CaseFilter
    from core.exports.services import write_export

    user = _manager()
    path = tempfile.mktemp(suffix=f".{fmt}")
    before = rss_mb()
    start = time.perf_counter()
    rows = write_export(user, CaseFilter(), fmt, path, unmasked=False)
    seconds = time.perf_counter() - start
    size = os.path.getsize(path)
    os.remove(path)
    return {"seconds": seconds, "rows": rows, "rss_before": before, "rss_peak": rss_mb(),
            "bytes": size}  # fmt: skip


def cells() -> tuple[list, list]:
    """Every exported cell of every row, as Maple writes it: (kinds, rows of final values)."""
    from core.cases.filters import CaseFilter
    from core.exports import services

    plan = services._row_plan(False)
    statuses = services._status_titles()
    out = []
    for row in services._rows(_manager(), CaseFilter()):
        values = []
        for index, kind, mask in plan:
            value = row[index]
            if value is None or value == "":
                values.append(None)
            elif kind == services.TEXT:
                values.append(services.csv_safe(mask(value) if mask else value))
            elif kind == services.STATUS:
                values.append(statuses.get(value, value))
            else:
                values.append(value)
        out.append(values)
    return [kind for _i, kind, _m in plan], out


def bare_xlsx(kinds: list, rows: list, path: str) -> None:
    import xlsxwriter

    from core.exports.services import COLUMNS, DATE, MONEY, NUMBER

    book = xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_formulas": False,
                                      "strings_to_urls": False, "strings_to_numbers": False})  # fmt: skip
    sheet = book.add_worksheet("案件")
    bold = book.add_format({"bold": True, "bg_color": "#F2F2F2"})
    money = book.add_format({"num_format": "#,##0.00"})
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    for col, (_key, header, _kind, _mask) in enumerate(COLUMNS):
        sheet.write_string(0, col, header, bold)
    write_string, write_number, write_datetime = (
        sheet.write_string, sheet.write_number, sheet.write_datetime)  # fmt: skip
    writers = []
    for kind in kinds:
        if kind == MONEY:
            writers.append((write_number, money))
        elif kind == DATE:
            writers.append((write_datetime, day))
        elif kind == NUMBER:
            writers.append((write_number, None))
        else:
            writers.append((write_string, None))
    for n, row in enumerate(rows, 1):
        for col, value in enumerate(row):
            if value is not None:
                write, fmt = writers[col]
                write(n, col, value, fmt)
    book.close()


def bare_csv(kinds: list, rows: list, path: str) -> None:
    import csv

    from core.exports.services import COLUMNS, DATE, MONEY

    with open(path, "w", encoding="utf-8-sig", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow([header for _key, header, _kind, _mask in COLUMNS])
        for row in rows:
            out = []
            for kind, value in zip(kinds, row, strict=True):
                if value is None:
                    out.append("")
                elif kind == MONEY:
                    out.append(f"{value:.2f}")
                elif kind == DATE:
                    out.append(value.isoformat())
                else:
                    out.append(value)
            writer.writerow(out)


def measure_bare(fmt: str) -> dict:
    kinds, rows = cells()
    path = tempfile.mktemp(suffix=f".{fmt}")
    before = rss_mb()
    start = time.perf_counter()
    (bare_xlsx if fmt == "xlsx" else bare_csv)(kinds, rows, path)
    seconds = time.perf_counter() - start
    size = os.path.getsize(path)
    os.remove(path)
    return {"seconds": seconds, "rows": len(rows), "rss_before": before, "rss_peak": rss_mb(),
            "bytes": size}  # fmt: skip


def child(part: str, fmt: str, url: str) -> None:
    """One measurement in this process; prints a JSON line."""
    from case_list import make_app

    app = make_app(url)
    with app.app_context(), app.test_request_context():
        result = (measure_maple if part == "maple" else measure_bare)(fmt)
    print(json.dumps(result))


def prepare(url: str, rows: int) -> None:
    from case_list import fresh_postgres, load_cases, make_app

    from core.migrate import upgrade_all

    if url.startswith("postgres"):
        fresh_postgres(url)
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    app = make_app(url)
    with app.app_context():
        upgrade_all()
        load_cases(rows, "postgresql" if url.startswith("postgres") else "sqlite")


def run(part: str, fmt: str, url: str) -> dict:
    command = [sys.executable, __file__, "--child", part, "--format", fmt, "--url", url]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        print(done.stderr, file=sys.stderr)
        return {}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--sqlite", default="/tmp/maple-bench-export.db")
    parser.add_argument("--postgres", help="measure on this PostgreSQL database instead")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (best is kept)")
    parser.add_argument("--formats", default="xlsx,csv")
    parser.add_argument("--reuse", action="store_true", help="keep the loaded data")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--format", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.format, args.url)
        return
    url = args.postgres or "sqlite:///" + args.sqlite
    if not args.reuse:
        prepare(url, args.rows)
    print(f"export of {args.rows:,} rows × 18 columns from {url.split('://')[0]}, masked, "
          f"best of {args.repeat} (each run its own process)")  # fmt: skip
    for fmt in args.formats.split(","):
        results = {}
        for part in ("maple", "bare"):
            runs = [run(part, fmt, url) for _ in range(args.repeat)]
            runs = [r for r in runs if r]
            results[part] = min(runs, key=lambda r: r["seconds"])
            results[part]["all"] = [round(r["seconds"], 2) for r in runs]
        maple, bare = results["maple"], results["bare"]
        print(f"{fmt}: maple {maple['seconds']:.2f}s {maple['all']}, peak RSS "
              f"{maple['rss_peak']:.0f} MB (+{maple['rss_peak'] - maple['rss_before']:.0f} MB "
              f"while writing), {maple['bytes'] / 1e6:.1f} MB file")  # fmt: skip
        print(f"{fmt}: bare  {bare['seconds']:.2f}s {bare['all']}, peak RSS "
              f"{bare['rss_peak']:.0f} MB (rows held in memory: "
              f"{bare['rss_before']:.0f} MB before writing)")  # fmt: skip
        print(f"{fmt}: ratio {maple['seconds'] / bare['seconds']:.2f}× "
              f"({maple['rows'] / maple['seconds']:,.0f} rows/s)")  # fmt: skip


if __name__ == "__main__":
    main()
