"""Export jobs: their progress page, progress as JSON, and the finished file."""

from __future__ import annotations

import os

from flask import Blueprint, abort, jsonify, render_template, send_file
from flask_login import current_user

from core.auth.permissions import require
from core.exports import services
from core.jobs.models import DONE, Job
from core.jobs.services import own_job, status

exports = Blueprint("exports", __name__, url_prefix="/exports")


def _own_job(job_id: str) -> Job:
    """An export job of the signed-in user's; anyone else's answers 404."""
    job = own_job(job_id, current_user, services.JOB_NAME)
    if job is None:
        abort(404)
    return job


@exports.route("/<job_id>")
@require("core.cases.export")
def show(job_id):
    job = _own_job(job_id)
    return render_template("core/cases/export_job.html", job=job, state=status(job))


@exports.route("/<job_id>/status")
@require("core.cases.export")
def progress(job_id):
    return jsonify(status(_own_job(job_id)))


@exports.route("/<job_id>/download")
@require("core.cases.export")
def download(job_id):
    job = _own_job(job_id)
    if job.status != DONE:
        abort(404)
    result = job.result or {}
    fmt = result.get("format", "xlsx")
    path = services.stored_path(result.get("file", ""))
    if not os.path.exists(path):
        abort(404)
    return send_file(
        path,
        mimetype=services.FORMATS.get(fmt, "application/octet-stream"),
        as_attachment=True,
        download_name=result.get("download_name") or f"cases.{fmt}",
    )
