"""Time Maple's full import of a bank workbook against the floor (parse + raw executemany).

    python bench/import_speed.py /tmp/bank-100k.xlsx [DATABASE_URL]

Without a URL a fresh SQLite file under /tmp is used. Prints rows/s and peak RSS.
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path


def floor(path: str, url: str) -> float:
    import python_calamine
    from sqlalchemy import Column, MetaData, Table, Text, create_engine, insert

    start = time.perf_counter()
    sheet = python_calamine.CalamineWorkbook.from_path(path).get_sheet_by_index(0)
    rows = sheet.to_python()
    header, body = rows[0], rows[1:]
    engine = create_engine(url)
    meta = MetaData()
    table = Table("floor_rows", meta, *[Column(f"c{i}", Text) for i in range(len(header))])
    meta.drop_all(engine)
    meta.create_all(engine)
    params = [{f"c{i}": str(v) for i, v in enumerate(row)} for row in body]
    with engine.begin() as connection:
        connection.execute(insert(table), params)
    meta.drop_all(engine)
    return time.perf_counter() - start


def maple(path: str, url: str) -> tuple[float, dict]:
    from core import create_app
    from core.batches.models import Batch
    from core.clients.services import save_client, save_contract
    from core.extensions import db
    from core.imports import services
    from core.migrate import upgrade_all

    instance = tempfile.mkdtemp()
    os.environ["MAPLE_INSTANCE_PATH"] = instance
    app = create_app({"DATABASE_URL": url, "AUTO_MIGRATE": False})
    with app.app_context():
        upgrade_all()
        client = save_client(None, name=f"江苏中行{time.time()}", code=f"J{int(time.time())}",
                             actor=None)  # fmt: skip
        contract = save_contract(None, number=f"K{time.time()}", client=client,
                                 start_date=date(2015, 1, 1), actor=None)  # fmt: skip
        batch = Batch(contract_id=contract.id, batch_no="BENCH", entrust_date=date(2015, 6, 10))
        db.session.add(batch)
        db.session.commit()
        start = time.perf_counter()
        run = services.start_import_from_path(batch, "cases", Path(path), None)
        db.session.commit()
        report = services.commit(run.id)
        return time.perf_counter() - start, report


if __name__ == "__main__":
    workbook = sys.argv[1]
    url = sys.argv[2] if len(sys.argv) > 2 else "sqlite:///" + tempfile.mktemp(suffix=".db")
    floor_seconds = floor(workbook, url.replace("postgresql://", "postgresql+psycopg://"))
    seconds, report = maple(workbook, url)
    rows = report["rows_read"]
    print(f"floor: {floor_seconds:.2f}s  ({rows / floor_seconds:,.0f} rows/s)")
    print(f"maple: {seconds:.2f}s  ({rows / seconds:,.0f} rows/s), created {report['created']}, "
          f"rejected {report['rejected']}, ratio {seconds / floor_seconds:.2f}×")  # fmt: skip
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
