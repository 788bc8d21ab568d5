"""Review fixes: out-of-range ids, unseen batches, import commit races, masked previews."""

from __future__ import annotations

import io
from datetime import date

import pytest
from sqlalchemy import func, select, update
from support.cases import make_batch, make_cases
from support.workbooks import cases_xlsx

from core.batches.models import Batch
from core.cases import filters
from core.cases.models import Case
from core.errors import Conflict
from core.imports import services
from core.imports.models import ImportRun
from core.jobs.models import QUEUED, Job

HUGE = "9" * 25


@pytest.fixture(autouse=True)
def inline_jobs(app_config, tmp_path):
    app_config["JOBS_INLINE"] = True
    app_config["UPLOAD_FOLDER"] = str(tmp_path / "uploads")


@pytest.fixture
def setup(db, contract, login_as):
    c = contract()
    batch = Batch(contract_id=c.id, batch_no="B1", entrust_date=date(2015, 6, 10))
    db.session.add(batch)
    db.session.commit()
    user = login_as("admin", contracts=[c], locale="en")
    return batch, user


def validated_run(client, db, batch, count=3) -> ImportRun:
    client.post(
        f"/imports/batches/{batch.id}/upload",
        data={"kind": "cases", "file": (io.BytesIO(cases_xlsx(count)), "cases.xlsx")},
        content_type="multipart/form-data",
    )
    run = db.session.scalar(select(ImportRun).order_by(ImportRun.id.desc()))
    form = {f"column-{i}": name for i, name in enumerate(run.columns["mapping"])}
    assert client.post(f"/imports/runs/{run.id}", data=form).status_code == 302
    db.session.expire_all()
    run = db.session.get(ImportRun, run.id)
    assert run.status == services.VALIDATED
    return run


def case_count(db) -> int:
    return db.session.scalar(select(func.count()).select_from(Case))


def test_import_pages_answer_404_for_ids_out_of_range(client, setup):
    for url in (f"/imports/batches/{HUGE}", f"/imports/runs/{HUGE}",
                f"/imports/runs/{HUGE}/status.json", f"/imports/runs/{HUGE}/errors.xlsx"):  # fmt: skip
        assert client.get(url).status_code == 404, url
    assert client.get(f"/imports/?page={HUGE}").status_code == 200


def test_case_list_survives_a_huge_page_past_the_count_cap(client, db, contract, login_as,
                                                           monkeypatch):  # fmt: skip
    c = contract()
    make_cases(db, c, make_batch(db, c), 4)
    login_as("admin", contracts=[c])
    monkeypatch.setattr(filters, "COUNT_CAP", 2)  # the count is no longer exact
    assert client.get(f"/cases/?page={HUGE}").status_code == 200


def test_case_list_does_not_name_a_batch_of_an_unseen_contract(client, db, contract, login_as):
    mine, other = contract(), contract()
    make_cases(db, mine, make_batch(db, mine), 1)
    hidden = make_batch(db, other, "SECRET-BATCH-7")
    login_as("collector", contracts=[mine])
    html = client.get(f"/cases/?batch={hidden.id}").get_data(as_text=True)
    assert "SECRET-BATCH-7" not in html


def test_commit_that_waited_for_the_lock_refuses_a_run_committed_meanwhile(
    client, db, setup, monkeypatch
):
    batch, user = setup
    run = validated_run(client, db, batch)
    real_lock = services.lock_batch

    def another_commit_finishes_first(batch_id, **kwargs):
        # While this commit waited for the lock, another commit of the run finished.
        db.session.execute(
            update(ImportRun).where(ImportRun.id == run.id).values(status=services.COMMITTED)
        )
        db.session.commit()
        real_lock(batch_id, **kwargs)

    monkeypatch.setattr(services, "lock_batch", another_commit_finishes_first)
    with pytest.raises(Conflict):
        services.commit(run.id, user=user)
    db.session.rollback()
    assert case_count(db) == 0  # nothing imported a second time


def test_dry_run_finishing_after_the_commit_leaves_the_run_committed(client, db, setup):
    batch, user = setup
    run = validated_run(client, db, batch)
    services.commit(run.id, user=user)
    db.session.expire_all()
    run = db.session.get(ImportRun, run.id)
    services.dry_run(run, user=user)  # a dry run queued before the commit ends late
    db.session.expire_all()
    assert db.session.get(ImportRun, run.id).status == services.COMMITTED
    assert client.post(f"/imports/runs/{run.id}/commit", data={}).status_code == 409
    assert case_count(db) == 3


def test_import_pages_start_nothing_while_the_runs_job_is_running(client, db, setup):
    batch, user = setup
    run = validated_run(client, db, batch)
    job = Job(id="busy-job", name="imports.commit", params={}, user_id=user.id, status=QUEUED)
    db.session.add(job)
    db.session.get(ImportRun, run.id).job_id = job.id
    db.session.commit()
    jobs_before = db.session.scalar(select(func.count()).select_from(Job))
    assert client.post(f"/imports/runs/{run.id}/commit", data={}).status_code == 409
    form = {f"column-{i}": name for i, name in enumerate(run.columns["mapping"])}
    assert client.post(f"/imports/runs/{run.id}", data=form).status_code == 409
    assert db.session.scalar(select(func.count()).select_from(Job)) == jobs_before
    assert case_count(db) == 0


def test_import_preview_is_masked_even_for_a_user_who_may_unmask(client, db, setup):
    batch, user = setup
    assert user.can("core.pii.unmask")
    client.post(
        f"/imports/batches/{batch.id}/upload",
        data={"kind": "cases", "file": (io.BytesIO(cases_xlsx(2)), "cases.xlsx")},
        content_type="multipart/form-data",
    )
    run = db.session.scalar(select(ImportRun))
    html = client.get(f"/imports/runs/{run.id}").get_data(as_text=True)
    assert "13800000001" not in html and "138****0001" in html
