"""The JSON API for imports (on the ``api`` blueprint): upload, mapping, dry run, commit, jobs.

The same steps as the import pages, through the same services::

    POST  /batches/{batch_id}/imports      multipart/form-data: file, kind → the run (201)
    PATCH /imports/{run_id}                the mapping, the matching key, skip_invalid
    POST  /imports/{run_id}/validate       the dry run, as a job (202)
    GET   /imports/{run_id}                status, mapping, preview and the report
    POST  /imports/{run_id}/commit         the import for good, as a job (202)
    GET   /jobs/{job_id}                   a job's progress and result
    GET   /imports/{run_id}/errors.xlsx    the rejected rows with their reasons

A run of a batch whose contract the caller may not see answers 404, as does another
user's job. Personal numbers in the preview are always masked.
"""

from __future__ import annotations

from flask import send_file
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import Schema, fields, pre_dump, validate

from core.api.endpoint import endpoint
from core.api.schemas import MAX_ID, Text, Upload
from core.api.views import api
from core.auth.permissions import LOGGED_IN
from core.batches.models import Batch
from core.cases.schemas import JobSchema
from core.clients.services import can_see_contract
from core.errors import InvalidInput, NotFound, UserError
from core.extensions import db
from core.imports import (
    jobs,  # noqa: F401 - registers the job functions
    services,
)
from core.imports.kinds import MATCH_KEYS
from core.imports.models import ImportRun
from core.imports.views import _masker
from core.jobs.models import Job
from core.jobs.services import enqueue, own_job, status

PERMISSION = "core.imports.run"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# -- schemas ------------------------------------------------------------------------------------


class ImportUploadSchema(Schema):
    file = Upload(required=True, metadata={"description": "An .xlsx, .xls or .csv file."})
    #: One of the kinds the batch's contract offers.
    kind = Text(
        load_default="cases",
        validate=validate.Length(min=1, max=40),
        metadata={"description": "The import kind: cases, update_cases, repayments …"},
    )


class ImportFieldSchema(Schema):
    """A field of the kind that a column can be mapped to."""

    name = fields.String()
    label = fields.String()
    #: The header of the kind's template.
    header = fields.String()
    required = fields.Boolean()
    aliases = fields.List(fields.String())


class RejectedRowSchema(Schema):
    row = fields.Integer(metadata={"description": "The row's number in the file."})
    column = fields.String(metadata={"description": "The column's header; empty for the row."})
    reason = fields.String()


class ImportReportSchema(Schema):
    """The last dry run's or commit's report; rows read = created + updated + unchanged +
    rejected (unmatched rows are rejected rows whose case was not found)."""

    rows_read = fields.Integer()
    created = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()
    rejected = fields.Integer()
    unmatched = fields.Integer()
    dry_run = fields.Boolean()
    committed = fields.Boolean()
    message = fields.String()
    errors = fields.List(fields.Nested(RejectedRowSchema))
    #: An earlier committed import of the same file into the batch (run, file_name,
    #: committed_at): committing again is refused.
    duplicate_of = fields.Dict()

    @pre_dump
    def rows_as_objects(self, report: dict, **kwargs) -> dict:
        errors = [{"row": r, "column": c, "reason": why} for r, c, why in report.get("errors", [])]
        return {**report, "errors": errors}


class PreviewProblemSchema(Schema):
    column = fields.String()
    reason = fields.String()


class PreviewRowSchema(Schema):
    number = fields.Integer(metadata={"description": "The row's number in the file."})
    values = fields.Dict(
        keys=fields.String(),
        values=fields.String(allow_none=True),
        metadata={"description": "Field → value as read; personal numbers masked."},
    )
    problems = fields.List(fields.Nested(PreviewProblemSchema))


class ImportRunSchema(Schema):
    """An uploaded file on its way in: its columns and mapping, a preview, its last report."""

    id = fields.Integer()
    batch_id = fields.Integer()
    kind = fields.String()
    file_name = fields.String()
    #: uploaded → validated → committed, or failed.
    status = fields.String()
    format = fields.String(metadata={"description": "xlsx, xls or csv"})
    header_row = fields.Integer(
        metadata={"description": "The header's row number in the file (rows above are skipped)."}
    )
    headers = fields.List(fields.String())
    mapping = fields.List(
        fields.String(),
        metadata={"description": 'One field name per column, in order; "" ignores the column.'},
    )
    hidden = fields.List(
        fields.Integer(), metadata={"description": "Columns hidden in the workbook, by index."}
    )
    saved_mapping_used = fields.Boolean()
    match_key = fields.String(
        metadata={"description": "How rows find their case: " + ", ".join(MATCH_KEYS)}
    )
    skip_invalid = fields.Boolean()
    report = fields.Nested(ImportReportSchema)
    #: The run's last dry-run or commit job.
    job = fields.Nested(JobSchema, allow_none=True)
    fields_ = fields.List(fields.Nested(ImportFieldSchema), data_key="fields")
    #: The first rows as mapped (none once committed).
    preview = fields.List(fields.Nested(PreviewRowSchema))
    created_at = fields.AwareDateTime()
    committed_at = fields.AwareDateTime(allow_none=True)

    @pre_dump
    def gather(self, run: ImportRun, **kwargs) -> dict:
        kind = services.kind_for(run.batch.contract, run.kind)
        job = db.session.get(Job, run.job_id) if run.job_id else None
        columns = run.columns or {}
        return {
            **{name: getattr(run, name) for name in _RUN_COLUMNS},
            **{name: columns.get(name, []) for name in ("headers", "mapping", "hidden")},
            "format": columns.get("format", ""),
            "saved_mapping_used": bool(columns.get("saved_mapping_used")),
            "report": run.report or {},
            "job": status(job) if job else None,
            "fields_": [_field(name, cell) for name, cell in kind.schema.cells().items()],
            "preview": _preview(run),
        }


_RUN_COLUMNS = (
    "id", "batch_id", "kind", "file_name", "status", "header_row", "match_key", "skip_invalid",
    "created_at", "committed_at",
)  # fmt: skip


class ImportMappingSchema(Schema):
    """Corrections to a run's mapping; fields left out keep their value."""

    mapping = fields.List(
        fields.String(validate=validate.Length(max=64)),
        metadata={"description": 'One field name per column, in the file\'s order; "" ignores '
                  "the column."},
    )  # fmt: skip
    columns = fields.Dict(
        keys=fields.String(),
        values=fields.String(validate=validate.Length(max=64)),
        metadata={"description": "Header → field name, for the columns to change only."},
    )
    match_key = fields.String(validate=validate.OneOf(tuple(MATCH_KEYS)))
    skip_invalid = fields.Boolean()


# -- helpers ------------------------------------------------------------------------------------


def _field(name: str, cell) -> dict:
    return {
        "name": name,
        "label": str(cell.label),
        "header": cell.header,
        "required": bool(cell.required),
        "aliases": list(cell.aliases),
    }


def _preview(run: ImportRun) -> list[dict]:
    """The first rows as mapped, personal numbers masked (whatever the user may unmask)."""
    if run.status == services.COMMITTED:
        return []
    try:
        rows = services.preview(run)
    except UserError:  # the stored file is gone or unreadable: the rest still shows
        return []
    mapped = set(filter(None, run.columns["mapping"]))
    return [
        {
            "number": row["number"],
            "values": {
                name: _masked(name, value) for name, value in row["data"].items() if name in mapped
            },
            "problems": [{"column": column, "reason": reason} for column, reason in row["errors"]],
        }
        for row in rows
    ]


def _masked(name: str, value) -> str | None:
    if value is None:
        return None
    text = str(value)
    mask = _masker(name)
    return mask(text) if mask else text


def _visible_batch(batch_id: int) -> Batch:
    batch = db.session.get(Batch, batch_id) if 0 < batch_id <= MAX_ID else None
    if batch is None or not can_see_contract(current_user, batch.contract):
        raise NotFound(_("There is no such batch."))
    return batch


def _visible_run(run_id: int) -> ImportRun:
    run = db.session.get(ImportRun, run_id) if 0 < run_id <= MAX_ID else None
    if run is None or not can_see_contract(current_user, run.batch.contract):
        raise NotFound(_("There is no such import."))
    return run


def _check_idle(run: ImportRun) -> None:
    services.check_idle(run)


def _start(run: ImportRun, job_name: str) -> dict:
    job = enqueue(job_name, {"run_id": run.id, "user_id": current_user.id}, current_user)
    run = db.session.get(ImportRun, run.id)
    run.job_id = job.id
    db.session.commit()
    return status(db.session.get(Job, job.id))


# -- endpoints ----------------------------------------------------------------------------------


@api.route("/batches/<int:batch_id>/imports", methods=["POST"])
@endpoint(
    permission=PERMISSION,
    form=ImportUploadSchema,
    response=ImportRunSchema,
    status=201,
    summary="Upload a file into a batch",
    tag="imports",
)
def upload_import(batch_id, data):
    """The file is checked, its header row found and its columns mapped (by the mapping saved
    for the client, then by the aliases); nothing is imported yet. A file that cannot be read
    gets a 4xx naming the problem, and nothing is stored."""
    batch = _visible_batch(batch_id)
    offered = [kind.name for kind in services.offered_kinds(batch.contract)]
    if data["kind"] not in offered:
        raise InvalidInput(
            _("Some fields are not valid; see the messages by field."),
            fields={"kind": [_("Choose one of: %(codes)s.", codes=", ".join(offered))]},
        )
    upload = data["file"]
    run = services.start_import(batch, data["kind"], upload.stream, upload.filename, current_user)
    db.session.commit()
    return run


@api.route("/imports/<int:run_id>")
@endpoint(permission=PERMISSION, response=ImportRunSchema, summary="Read an import", tag="imports")
def get_import(run_id):
    """Its status, mapping, preview, current job and the last dry run's or commit's report."""
    return _visible_run(run_id)


@api.route("/imports/<int:run_id>", methods=["PATCH"])
@endpoint(
    permission=PERMISSION,
    body=ImportMappingSchema,
    response=ImportRunSchema,
    summary="Correct an import's mapping",
    tag="imports",
)
def update_import(run_id, data):
    """Unknown or twice-mapped fields and missing required ones are refused with 422, by field.
    The mapping is saved for the client, so its next file maps itself."""
    run = _visible_run(run_id)
    _check_idle(run)
    headers = run.columns["headers"]
    mapping = list(data.get("mapping", run.columns["mapping"]))
    if len(mapping) != len(headers):
        raise InvalidInput(
            _("Some fields are not valid; see the messages by field."),
            fields={"mapping": [_("Give one field name per column: %(n)d.", n=len(headers))]},
        )
    unknown = {}
    for header, name in data.get("columns", {}).items():
        if header in headers:
            mapping[headers.index(header)] = name
        else:
            unknown[header] = [_("The file has no column with this header.")]
    if unknown:
        raise InvalidInput(
            _("Some fields are not valid; see the messages by field."), fields={"columns": unknown}
        )
    services.set_mapping(
        run,
        mapping,
        match_key=data.get("match_key", run.match_key),
        skip_invalid=data.get("skip_invalid", run.skip_invalid),
    )
    db.session.commit()
    return run


@api.route("/imports/<int:run_id>/validate", methods=["POST"])
@endpoint(
    permission=PERMISSION,
    response=JobSchema,
    status=202,
    summary="Check an import's file (the dry run), as a job",
    tag="imports",
)
def validate_import(run_id):
    """Nothing is stored but the report. Poll the job; then read the import for its report."""
    run = _visible_run(run_id)
    _check_idle(run)
    return _start(run, "imports.dry_run")


@api.route("/imports/<int:run_id>/commit", methods=["POST"])
@endpoint(
    permission=PERMISSION,
    response=JobSchema,
    status=202,
    summary="Import the file for good, as a job",
    tag="imports",
)
def commit_import(run_id):
    """Refused with 409 before a dry run, and while the dry run rejected rows unless the import
    skips invalid rows (set ``skip_invalid`` first). All or nothing otherwise."""
    run = _visible_run(run_id)
    _check_idle(run)
    services.check_ready_to_commit(run, skip_invalid=run.skip_invalid)
    return _start(run, "imports.commit")


@api.route("/imports/<int:run_id>/errors.xlsx")
@endpoint(
    permission=PERMISSION,
    produces=(XLSX,),
    summary="Download an import's rejected rows",
    tag="imports",
)
def import_errors(run_id):
    """The rejected rows as they were in the file, with their row number and reasons."""
    run = _visible_run(run_id)
    if not (run.report or {}).get("errors"):
        raise NotFound(_("This import has no rejected rows."))
    return send_file(
        services.error_workbook(run),
        mimetype=XLSX,
        as_attachment=True,
        download_name=f"import-{run.id}-rejected.xlsx",
    )


@api.route("/jobs/<job_id>")
@endpoint(permission=LOGGED_IN, response=JobSchema, summary="A job's progress", tag="jobs")
def get_job(job_id):
    """Rows done of total while it runs; its result or error when it is over. A job is seen
    only by the user who started it."""
    job = own_job(job_id, current_user)
    if job is None:
        raise NotFound(_("There is no such job."))
    return status(job)
