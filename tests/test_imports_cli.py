"""``maple import`` and imports under stress: concurrent imports, a killed import."""

from __future__ import annotations

import importlib.util
import io
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from support.workbooks import CASE_HEADERS, case_row, cases_xlsx, xlsx_bytes

from core.batches.models import IMPORTED, NOT_IMPORTED, Batch
from core.cases.models import Case
from core.imports import services
from core.imports.models import ImportRun

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def uploads(app_config, tmp_path):
    app_config["UPLOAD_FOLDER"] = str(tmp_path / "uploads")
    # Imports run without a user here, so in the default language: make that English, which
    # the messages below are checked in.
    app_config["BABEL_DEFAULT_LOCALE"] = "en"


@pytest.fixture
def batch(db, contract):
    row = Batch(contract_id=contract().id, batch_no="B1", entrust_date=date(2015, 6, 10))
    db.session.add(row)
    db.session.commit()
    return row


def cases(db):
    return db.session.scalar(select(func.count()).select_from(Case))


def invoke(app, *args):
    return app.test_cli_runner().invoke(args=["import", *args])


def test_cli_dry_run_then_import_prints_the_report(app, db, batch, tmp_path):
    path = tmp_path / "cases.xlsx"
    path.write_bytes(xlsx_bytes([CASE_HEADERS, case_row(1), case_row(2, 手机号="12")]))
    result = invoke(app, str(path), "--batch", "B1", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "rejected   1" in result.output and "row 3, 手机号" in result.output
    assert cases(db) == 0
    result = invoke(app, str(path), "--batch", "B1")
    assert result.exit_code == 1 and cases(db) == 0  # all or nothing
    result = invoke(app, str(path), "--batch", "B1", "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert "created    1" in result.output and cases(db) == 1
    again = invoke(app, str(path), "--batch", "B1", "--skip-invalid")
    assert again.exit_code != 0 and "already imported" in again.output
    assert cases(db) == 1


def test_cli_other_kinds_with_a_key(app, db, batch, tmp_path):
    path = tmp_path / "cases.xlsx"
    path.write_bytes(cases_xlsx(2))
    assert invoke(app, str(path), "--batch", "B1").exit_code == 0
    comments = tmp_path / "comments.csv"
    comments.write_text("卡号,委案日期,评语\n6222020200000000001,2015-06-10,已联系\n", "gbk")
    result = invoke(app, str(comments), "--batch", "B1", "--kind", "comments", "--key",
                    "card_date")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "created    1" in result.output


def test_cli_unknown_batch_and_bad_file(app, batch, tmp_path):
    path = tmp_path / "x.xlsx"
    path.write_text("not a workbook")
    assert "no batch" in invoke(app, str(path), "--batch", "NOPE").output
    result = invoke(app, str(path), "--batch", "B1")
    assert result.exit_code != 0 and "not an Excel workbook" in result.output


def test_concurrent_imports_into_one_batch_are_serialised(app, db, batch):
    # The same bytes twice: a workbook saved again carries a new timestamp, a different file.
    same = cases_xlsx(50)
    files = [
        xlsx_bytes([["姓名", "委案金额"]] + [[f"甲{n}", n + 1] for n in range(300)]),
        xlsx_bytes([["姓名", "委案金额"]] + [[f"乙{n}", n + 1] for n in range(300)]),
        same,
        same,  # the same file twice at once: one of them is refused
    ]
    run_ids = []
    for n, data in enumerate(files):
        run = services.start_import(batch, "cases", io.BytesIO(data), f"f{n}.xlsx", None)
        run_ids.append(run.id)
    db.session.commit()
    outcomes: list = []

    def work(run_id):
        with app.app_context():
            try:
                outcomes.append(services.commit(run_id)["created"])
            except Exception as error:  # noqa: BLE001 - the outcome is what is tested
                outcomes.append(str(error))

    threads = [threading.Thread(target=work, args=(run_id,)) for run_id in run_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(map(str, outcomes)).count("300") == 2 and outcomes.count(50) == 1
    refused = [o for o in outcomes if isinstance(o, str) and not o.isdigit()]
    assert len(refused) == 1 and "already imported" in refused[0]
    assert not any("locked" in str(o) for o in outcomes)
    assert cases(db) == 650
    serials = db.session.scalars(select(Case.serial).where(Case.serial.notlike("S-%"))).all()
    assert len(set(serials)) == 600


def _generator():
    spec = importlib.util.spec_from_file_location("gen", ROOT / "bench" / "generate_workbook.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_killed_import_leaves_the_database_as_before(app, db, batch, tmp_path):
    path = _generator().write(str(tmp_path / "big.xlsx"), 16_000)
    env = dict(
        os.environ,
        MAPLE_DATABASE_URL=app.config["DATABASE_URL"],
        MAPLE_INSTANCE_PATH=str(tmp_path / "instance"),
        MAPLE_UPLOAD_FOLDER=str(tmp_path / "uploads"),
        MAPLE_AUTO_MIGRATE="false",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "core.cli", "import", path, "--batch", "B1"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    killed_at = None
    deadline = time.monotonic() + 120
    for line in process.stderr:
        if line.startswith("progress "):
            done, total = map(int, line.split()[1].split("/"))
            if 4000 <= done < total:
                process.send_signal(signal.SIGKILL)
                killed_at = done
                break
        assert time.monotonic() < deadline
    process.wait(30)
    assert killed_at, "the import finished before it could be killed"
    db.session.expire_all()
    assert cases(db) == 0
    assert db.session.get(Batch, batch.id).status == NOT_IMPORTED
    assert db.session.scalar(select(ImportRun).filter_by(status="committed")) is None
    # and the next import runs normally
    result = invoke(app, path, "--batch", "B1")
    assert result.exit_code == 0, result.output
    assert cases(db) == 16_000 and db.session.get(Batch, batch.id).status == IMPORTED
