"""Running long work as jobs: in a thread of this process, or on RQ workers over Redis.

A job function is registered by name and receives a :class:`JobContext` plus the job's
parameters; it reports progress with ``ctx.progress(done, total)`` and commits its own unit
of work. Progress lives outside the database (in memory, or in Redis for RQ) because the
work's own transaction may hold SQLite's write lock for the whole run.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from flask import current_app, has_app_context

from core.errors import NotAllowed, UserError
from core.extensions import db
from core.jobs.models import DONE, FAILED, QUEUED, RUNNING, Job
from core.types import utcnow

log = logging.getLogger(__name__)

#: name → function(ctx, **params) returning a JSON-able result.
JOB_FUNCTIONS: dict[str, Callable] = {}
RQ_QUEUE = "maple"


def job_function(name: str):
    """Register a function as the job ``name``."""

    def decorator(function):
        JOB_FUNCTIONS[name] = function
        return function

    return decorator


class MemoryProgress:
    """Progress of the jobs of this process (the embedded, in-process worker)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._values: dict[str, tuple[int, int]] = {}

    def set(self, job_id: str, done: int, total: int) -> None:
        with self._lock:
            self._values[job_id] = (done, total)

    def get(self, job_id: str) -> tuple[int, int] | None:
        with self._lock:
            return self._values.get(job_id)


class RedisProgress:
    """Progress shared between RQ workers and the web processes."""

    def __init__(self, url: str):
        from redis import Redis

        self._redis = Redis.from_url(url)

    def set(self, job_id: str, done: int, total: int) -> None:
        self._redis.set(f"maple:job:{job_id}", f"{done}/{total}", ex=24 * 3600)

    def get(self, job_id: str) -> tuple[int, int] | None:
        value = self._redis.get(f"maple:job:{job_id}")
        if value is None:
            return None
        done, total = value.decode().split("/")
        return int(done), int(total)


def _progress_store():
    store = current_app.extensions.get("maple_progress")
    if store is None:
        url = current_app.config["REDIS_URL"]
        store = RedisProgress(url) if url else MemoryProgress()
        current_app.extensions["maple_progress"] = store
    return store


class JobContext:
    def __init__(self, job: Job):
        self.job = job
        self._store = _progress_store()

    def progress(self, done: int, total: int) -> None:
        self._store.set(self.job.id, done, total)

    def user_who_may(self, permission: str, refusal: str):
        """The user who started the job, if they still hold ``permission`` now it runs.

        A job may wait in a queue; a user deactivated or stripped of the permission
        meanwhile must not have it done in their name.
        """
        from core.auth.models import User

        user = db.session.get(User, self.job.user_id) if self.job.user_id else None
        if user is None or not user.active or not user.can(permission):
            raise NotAllowed(refusal)
        return user


def own_job(job_id: str, user, name: str | None = None) -> Job | None:
    """The job ``job_id`` if ``user`` started it (and it is a ``name`` job); else None.

    A job is seen only by its own user: its progress and result may name their data.
    """
    job = db.session.get(Job, job_id) if len(job_id) <= 36 else None
    if job is None or job.user_id != user.id or (name is not None and job.name != name):
        return None
    return job


def enqueue(name: str, params: dict, user) -> Job:
    """Create the job and hand it to a worker. Commits, so the worker can see the job."""
    if name not in JOB_FUNCTIONS:
        raise LookupError(f"no job function named {name!r}")
    job = Job(id=str(uuid.uuid4()), name=name, params=params, user_id=user.id if user else None)
    db.session.add(job)
    db.session.commit()
    app = current_app._get_current_object()
    if app.config["REDIS_URL"]:
        from redis import Redis
        from rq import Queue

        queue = Queue(RQ_QUEUE, connection=Redis.from_url(app.config["REDIS_URL"]))
        queue.enqueue(run_in_worker, job.id, job_timeout=6 * 3600)
    elif app.config.get("JOBS_INLINE"):
        _run_in_fresh_context(app, job.id)
    else:
        _executor(app).submit(_run_in_fresh_context, app, job.id)
    return job


def _executor(app) -> ThreadPoolExecutor:
    executor = app.extensions.get("maple_executor")
    if executor is None:
        executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="maple-job")
        app.extensions["maple_executor"] = executor
    return executor


def _run_in_fresh_context(app, job_id: str) -> None:
    with app.app_context():  # a session of its own, apart from any request's
        run(job_id)


_worker_app = None


def run_in_worker(job_id: str) -> None:
    """The RQ entry point: use the worker's app (``maple worker``) or build one, then run."""
    global _worker_app
    if has_app_context():
        app = current_app._get_current_object()
    else:
        if _worker_app is None:
            from core import create_app

            _worker_app = create_app()
        app = _worker_app
    _run_in_fresh_context(app, job_id)


def run(job_id: str) -> None:
    job = db.session.get(Job, job_id)
    if job is None or job.status != QUEUED:
        return
    job.status, job.started_at = RUNNING, utcnow()
    db.session.commit()
    try:
        result = JOB_FUNCTIONS[job.name](JobContext(job), **job.params)
    except UserError as error:
        _finish(job_id, FAILED, error=error.message)
    except Exception:  # the job fails; the worker goes on with the next one
        log.exception("job %s (%s) failed", job_id, job.name)
        _finish(job_id, FAILED, error="internal error")
    else:
        _finish(job_id, DONE, result=result or {})


def _finish(job_id: str, status: str, *, result: dict | None = None, error: str = "") -> None:
    db.session.rollback()  # whatever the function left uncommitted is not part of its result
    job = db.session.get(Job, job_id)
    job.status, job.finished_at = status, utcnow()
    job.result, job.error = result or {}, error
    job.done, job.total = _progress_store().get(job_id) or (job.done, job.total)
    db.session.commit()


def status(job: Job) -> dict:
    """What a page or the CLI shows: state, rows done of total, and the result or error."""
    live = _progress_store().get(job.id) if job.status in (QUEUED, RUNNING) else None
    done, total = live or (job.done, job.total)
    return {
        "id": job.id,
        "name": job.name,
        "status": job.status,
        "done": done,
        "total": total,
        "result": job.result,
        "error": job.error,
    }
