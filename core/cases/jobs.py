"""Case operations too large for one request (a whole filter result), run as a job."""

from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _

from core.cases.filters import CaseFilter, ids_query
from core.cases.services import STATUS_CHANGES, change_status, change_status_of
from core.extensions import db
from core.jobs.services import enqueue, job_function

OPERATION_JOB = "cases.change_status"


def inline_limit() -> int:
    """Past this many cases, pausing, closing or resuming a filter result runs as a job."""
    return int(current_app.config["OPERATION_INLINE_MAX_CASES"])


def start_operation_job(user, case_filter: CaseFilter, operation: str, reason: str):
    if operation not in STATUS_CHANGES or not (reason or "").strip():
        change_status([], operation, reason, user)  # the same refusal as inline, at once
    params = {"filter": case_filter.as_args(), "operation": operation, "reason": reason}
    return enqueue(OPERATION_JOB, params, user)


@job_function(OPERATION_JOB)
def change_status_job(ctx, *, filter: dict, operation: str, reason: str) -> dict:
    """The filter is applied again as the job's user, so it reaches only what they may see."""
    user = ctx.user_who_may("core.cases.operate", _("You may not pause, close or resume cases."))
    ids = ids_query(user, CaseFilter.from_args(filter))
    outcome = change_status_of(ids, operation, reason, user, progress=ctx.progress)
    db.session.commit()
    return {"operation": operation, "changed": outcome.changed, "skipped": outcome.skipped}
