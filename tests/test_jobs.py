"""Jobs: inline, on the in-process worker, and on RQ over Redis."""

import os
import time

import pytest

from core.errors import UserError
from core.jobs.models import DONE, FAILED, Job
from core.jobs.services import enqueue, job_function, status


@job_function("test.count")
def count_to(ctx, n):
    for i in range(1, n + 1):
        ctx.progress(i, n)
    return {"counted": n}


@job_function("test.refuse")
def refuse(ctx):
    raise UserError("the file is not a workbook")


@job_function("test.crash")
def crash(ctx):
    raise RuntimeError("a bug, with details the user must not see")


def finished(db, job_id, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.expire_all()
        job = db.session.get(Job, job_id)
        if job.status in (DONE, FAILED):
            return job
        time.sleep(0.05)
    raise AssertionError("the job did not finish")


def test_inline_job_reports_its_result_and_progress(app, db, make_user):
    app.config["JOBS_INLINE"] = True
    job = enqueue("test.count", {"n": 5}, make_user("manager"))
    shown = status(finished(db, job.id))
    assert shown["status"] == DONE
    assert (shown["done"], shown["total"]) == (5, 5)
    assert shown["result"] == {"counted": 5}


def test_in_process_worker_runs_the_job_in_the_background(app, db):
    job = enqueue("test.count", {"n": 3}, None)
    assert finished(db, job.id).result == {"counted": 3}


def test_a_users_mistake_fails_the_job_with_its_message(app, db):
    app.config["JOBS_INLINE"] = True
    job = finished(db, enqueue("test.refuse", {}, None).id)
    assert (job.status, job.error) == (FAILED, "the file is not a workbook")


def test_a_crash_fails_the_job_without_leaking_details(app, db):
    app.config["JOBS_INLINE"] = True
    job = finished(db, enqueue("test.crash", {}, None).id)
    assert (job.status, job.error) == (FAILED, "internal error")


REDIS_URL = os.environ.get("MAPLE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_url():
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("MAPLE_REQUIRE_REDIS"):
            pytest.fail(f"Redis does not answer at {REDIS_URL}")
        pytest.skip(f"Redis does not answer at {REDIS_URL}")
    return REDIS_URL


def test_with_redis_the_job_runs_on_an_rq_worker(app, db, redis_url):
    from redis import Redis
    from rq import SimpleWorker

    from core.jobs.services import RQ_QUEUE

    app.config["REDIS_URL"] = redis_url
    app.extensions.pop("maple_progress", None)
    job = enqueue("test.count", {"n": 4}, None)
    assert db.session.get(Job, job.id).status == "queued"  # nothing ran it in this process
    SimpleWorker([RQ_QUEUE], connection=Redis.from_url(redis_url)).work(burst=True)
    shown = status(finished(db, job.id))
    assert shown["result"] == {"counted": 4} and shown["done"] == 4
