"""The import pages: batches to import into, upload, mapping and preview, report, commit."""

from __future__ import annotations

from datetime import datetime

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge

from core import masking
from core.auth.permissions import require
from core.batches.models import IMPORTED, NOT_IMPORTED, Batch
from core.clients.models import Contract
from core.clients.services import can_see_contract, visible_contracts_query
from core.errors import InvalidInput, UserError
from core.extensions import db
from core.imports import (
    jobs,  # noqa: F401 - registers the job functions
    services,
)
from core.imports.kinds import MATCH_KEYS
from core.imports.models import ImportRun
from core.jobs.models import Job
from core.jobs.services import enqueue
from core.jobs.services import status as job_status
from core.web.filters import label

imports = Blueprint("imports", __name__, url_prefix="/imports")


MAX_ID = 2**31 - 1


def _visible_batch(batch_id: int) -> Batch:
    batch = db.session.get(Batch, batch_id) if 0 < batch_id <= MAX_ID else None
    if batch is None or not can_see_contract(current_user, batch.contract):
        abort(404)
    return batch


def _visible_run(run_id: int) -> ImportRun:
    run = db.session.get(ImportRun, run_id) if 0 < run_id <= MAX_ID else None
    if run is None or not can_see_contract(current_user, run.batch.contract):
        abort(404)
    return run


@imports.errorhandler(RequestEntityTooLarge)
def too_large(_error):
    from core.web.setup import error_response

    limit = (current_app.config["MAX_CONTENT_LENGTH"] or 0) // 2**20
    return error_response(
        413,
        _("The file is larger than %(mb)d MB, the most Maple accepts in one upload. Split it "
          "into smaller files, or ask an administrator to raise the limit.", mb=limit),
    )  # fmt: skip


@imports.route("/")
@require("core.imports.run")
def index():
    status = request.args.get("status", NOT_IMPORTED)
    if status not in (NOT_IMPORTED, IMPORTED):
        status = NOT_IMPORTED
    contract_ids = visible_contracts_query(current_user).with_only_columns(Contract.id)
    query = (
        select(Batch)
        .where(Batch.contract_id.in_(contract_ids), Batch.status == status)
        .order_by(Batch.entrust_date.desc(), Batch.id.desc())
    )
    number = min(request.args.get("page", 1, type=int) or 1, MAX_ID)
    page = db.paginate(query, page=number, per_page=50, error_out=False)
    return render_template("core/imports/index.html", page=page, status=status)


def _render_batch(batch: Batch, status: int = 200):
    runs = db.session.scalars(
        select(ImportRun).filter_by(batch_id=batch.id).order_by(ImportRun.id.desc()).limit(30)
    ).all()
    kinds = services.offered_kinds(batch.contract)
    return (
        render_template("core/imports/batch.html", batch=batch, runs=runs, kinds=kinds),
        status,
    )


@imports.route("/batches/<int:batch_id>")
@require("core.imports.run")
def batch_page(batch_id):
    return _render_batch(_visible_batch(batch_id))


@imports.route("/batches/<int:batch_id>/upload", methods=["POST"])
@require("core.imports.run")
def upload(batch_id):
    batch = _visible_batch(batch_id)
    upload_file = request.files.get("file")
    if upload_file is None or not upload_file.filename:
        flash(_("Choose a file to upload."), "error")
        return _render_batch(batch, 400)
    try:
        run = services.start_import(
            batch, request.form.get("kind", "cases"), upload_file.stream, upload_file.filename,
            current_user,
        )  # fmt: skip
    except UserError as error:
        db.session.rollback()
        flash(error.message, "error")
        return _render_batch(batch, error.status_code)
    db.session.commit()
    return redirect(url_for("imports.run_page", run_id=run.id))


def _job(run: ImportRun) -> dict | None:
    job = db.session.get(Job, run.job_id) if run.job_id else None
    return job_status(job) if job else None


def _masker(name: str):
    if name in ("card_no", "account_no"):
        return masking.mask_card
    if name == "id_no":
        return masking.mask_id
    if name in ("mobile", "home_phone", "work_phone", "number") or name.endswith("_phone"):
        return masking.mask_mobile
    if name == "name" or name.endswith("_name") and name != "client_name":
        return masking.mask_name
    return None


#: Fields read into stored codes (``M``, ``home``, ``sms`` …): previewed by their title.
CODED_FIELDS = {"gender": "gender", "phone_kind": "phone_kind", "address_kind": "address_kind",
                "channel": "channel", "contact_type": "contact_type"}  # fmt: skip


def preview_value(name: str, value) -> str:
    """A previewed value, personal numbers always masked (the preview is no audited unmask)."""
    if name in CODED_FIELDS:
        return str(label(value, CODED_FIELDS[name]))
    if isinstance(value, datetime):  # stored in UTC: shown in the agency's zone, like elsewhere
        return format_datetime(value, "yyyy-MM-dd HH:mm")
    text = str(value)
    mask = _masker(name)
    return text if mask is None else mask(text)


def _render_run(run: ImportRun, *, problems=None, status: int = 200):
    kind = services.kind_for(run.batch.contract, run.kind)
    try:
        rows = services.preview(run) if run.status != services.COMMITTED else []
    except UserError as error:
        rows, problems = [], {**(problems or {}), "file": [error.message]}
    job = _job(run)
    running = job is not None and job["status"] in ("queued", "running")
    errors = (run.report or {}).get("errors", [])
    return (
        render_template(
            "core/imports/run.html", run=run, kind=kind, fields=kind.schema.cells(), rows=rows,
            problems=problems or {}, job=job, running=running, errors=errors[:200],
            error_count=len(errors), match_keys=MATCH_KEYS, report=run.report or {},
            columns=list(zip(run.columns["headers"], run.columns["mapping"], strict=True)),
            hidden=set(run.columns.get("hidden", [])), preview_value=preview_value,
        ),
        status,
    )  # fmt: skip


@imports.route("/runs/<int:run_id>", methods=["GET", "POST"])
@require("core.imports.run")
def run_page(run_id):
    run = _visible_run(run_id)
    if request.method == "GET":
        return _render_run(run)
    services.check_idle(run)  # a 409 page while committed or while its job runs
    headers = run.columns["headers"]
    mapping = [request.form.get(f"column-{i}", "") for i in range(len(headers))]
    try:
        services.set_mapping(
            run, mapping, match_key=request.form.get("match_key", ""),
            skip_invalid=bool(request.form.get("skip_invalid")),
        )  # fmt: skip
    except InvalidInput as error:
        db.session.rollback()
        return _render_run(run, problems=error.fields, status=422)
    db.session.commit()
    job = enqueue("imports.dry_run", {"run_id": run.id, "user_id": current_user.id}, current_user)
    run = db.session.get(ImportRun, run_id)
    run.job_id = job.id
    db.session.commit()
    return redirect(url_for("imports.run_page", run_id=run.id))


@imports.route("/runs/<int:run_id>/commit", methods=["POST"])
@require("core.imports.run")
def commit(run_id):
    run = _visible_run(run_id)
    services.check_idle(run)  # a second click while the import runs starts nothing
    if run.status != services.VALIDATED:
        flash(_("Check the file with a dry run before importing it."), "error")
        return redirect(url_for("imports.run_page", run_id=run.id))
    run.skip_invalid = bool(request.form.get("skip_invalid"))
    db.session.commit()
    job = enqueue("imports.commit", {"run_id": run.id, "user_id": current_user.id}, current_user)
    run = db.session.get(ImportRun, run_id)
    run.job_id = job.id
    db.session.commit()
    return redirect(url_for("imports.run_page", run_id=run.id))


@imports.route("/runs/<int:run_id>/status.json")
@require("core.imports.run")
def run_status(run_id):
    run = _visible_run(run_id)
    job = _job(run) or {"status": "none", "done": 0, "total": 0}
    return jsonify(
        {"run": run.id, "run_status": run.status, "job": {
            key: job.get(key) for key in ("status", "done", "total", "error")}}
    )  # fmt: skip


@imports.route("/runs/<int:run_id>/errors.xlsx")
@require("core.imports.run")
def error_workbook(run_id):
    run = _visible_run(run_id)
    if not (run.report or {}).get("errors"):
        abort(404)
    return send_file(
        services.error_workbook(run),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name=f"import-{run.id}-rejected.xlsx",
    )


@imports.route("/templates/<kind>.xlsx")
@require("core.imports.run")
def template(kind):
    found = services.all_kinds().get(kind)
    if found is None:
        abort(404)
    return send_file(
        services.template_workbook(found),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name=f"maple-{kind}-template.xlsx",
    )
