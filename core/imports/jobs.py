"""The import's long work as jobs: the dry run of a file and its commit."""

from __future__ import annotations

from core.auth.models import User
from core.extensions import db
from core.imports import services
from core.imports.models import ImportRun
from core.jobs.services import job_function


def _user(user_id):
    return db.session.get(User, user_id) if user_id else None


@job_function("imports.dry_run")
def dry_run_job(ctx, run_id: int, user_id: int | None = None) -> dict:
    run = db.session.get(ImportRun, run_id)
    report = services.dry_run(run, user=_user(user_id), progress=ctx.progress)
    return {"run": run_id, "message": report.get("message", "")}


@job_function("imports.commit")
def commit_job(ctx, run_id: int, user_id: int | None = None) -> dict:
    report = services.commit(run_id, user=_user(user_id), progress=ctx.progress)
    return {"run": run_id, "committed": report.get("committed", False),
            "message": report.get("message", "")}  # fmt: skip
