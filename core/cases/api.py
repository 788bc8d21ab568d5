"""The JSON API for batches, cases, case operations and exports (on the ``api`` blueprint).

The case list takes the page's filter as query parameters (``q``, ``area``, ``batch_status``,
``batch_no``, ``batch``, ``client``, ``contract``, ``status``, ``amount_min``, ``amount_max``,
``days_min``, ``days_max``, ``bucket``, ``sort``, ``dir``) plus ``page`` and ``per_page``:
one schema, :class:`core.cases.filters.CaseFilterSchema`, reads them for the page, the export
and the API (which declares it, so the OpenAPI document lists each as a query parameter), and
one :class:`core.cases.filters.CaseFilter` turns them into SQL.
"""

from __future__ import annotations

from flask import abort, request, send_file
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from core.api.endpoint import endpoint
from core.api.views import api
from core.batches import services as batch_services
from core.batches.models import Batch
from core.batches.schemas import BatchSchema, current_values
from core.cases import services
from core.cases.filters import CaseFilter, find_cases, ids_query, where
from core.cases.models import Case
from core.cases.schemas import (
    CaseListQuerySchema,
    CaseOperationSchema,
    CasePageSchema,
    CaseSchema,
    ExportRequestSchema,
    JobSchema,
    OperationOutcomeSchema,
)
from core.cases.services import can_see_case
from core.clients.services import can_see_contract
from core.errors import InvalidInput, NotFound
from core.exports import services as exports
from core.extensions import db
from core.imports.services import remove_uploads
from core.jobs.models import DONE, Job
from core.jobs.services import status

MAX_ID = 2**31 - 1


def _visible(model, object_id: int):
    row = db.session.get(model, object_id) if 0 < object_id <= MAX_ID else None
    if row is None or not can_see_contract(current_user, row.contract):
        abort(404)
    if isinstance(row, Case) and not can_see_case(current_user, row):
        abort(404)
    return row


def _check_contract(contract) -> None:
    if not can_see_contract(current_user, contract):
        raise InvalidInput(
            _("Some fields are not valid; see the messages by field."),
            fields={"contract_id": [_("Not found: %(value)s.", value=contract.id)]},
        )


def _filter(args) -> CaseFilter:
    case_filter = CaseFilter.from_args(args)
    if case_filter.errors:
        raise InvalidInput(
            _("Some fields are not valid; see the messages by field."), fields=case_filter.errors
        )
    return case_filter


# -- batches ----------------------------------------------------------------------------------


@api.route("/batches")
@endpoint(
    permission="core.batches.manage",
    response=BatchSchema,
    many=True,
    summary="List the batches of your contracts",
    tag="batches",
)
def list_batches():
    """``?status=not_imported`` or ``imported`` narrows the list."""
    query = batch_services.visible_batches_query(current_user).order_by(Batch.id)
    if request.args.get("status"):
        query = query.where(Batch.status == request.args["status"])
    return db.session.scalars(query).all()


@api.route("/batches", methods=["POST"])
@endpoint(
    permission="core.batches.manage",
    body=BatchSchema,
    response=BatchSchema,
    status=201,
    summary="Create a batch",
    tag="batches",
)
def create_batch(data):
    _check_contract(data["contract"])
    batch = batch_services.save_batch(None, actor=current_user, **data)
    db.session.commit()
    return batch


@api.route("/batches/<int:batch_id>")
@endpoint(
    permission="core.batches.manage", response=BatchSchema, summary="Read a batch", tag="batches"
)
def get_batch(batch_id):
    return _visible(Batch, batch_id)


@api.route("/batches/<int:batch_id>", methods=["PATCH"])
@endpoint(
    permission="core.batches.manage",
    body=BatchSchema(partial=True),
    response=BatchSchema,
    summary="Change a batch",
    tag="batches",
)
def update_batch(batch_id, data):
    """Only the fields sent change."""
    batch = _visible(Batch, batch_id)
    if "contract" in data:
        _check_contract(data["contract"])
    batch_services.save_batch(batch, actor=current_user, **(current_values(batch) | data))
    db.session.commit()
    return batch


@api.route("/batches/<int:batch_id>", methods=["DELETE"])
@endpoint(permission="core.batches.manage", status=204, summary="Delete a batch", tag="batches")
def delete_batch(batch_id):
    """Refused with 409 while the batch holds cases."""
    uploads = batch_services.delete_batch(_visible(Batch, batch_id), actor=current_user)
    db.session.commit()
    remove_uploads(uploads)
    return "", 204


# -- cases ------------------------------------------------------------------------------------


@api.route("/cases")
@endpoint(
    permission="core.cases.view",
    query=CaseListQuerySchema,
    response=CasePageSchema,
    summary="List cases with the batch management filters",
    tag="cases",
)
def list_cases(query):
    """Personal numbers are masked. Filters as on the page; ``page`` and ``per_page`` (≤ 200).

    ``total`` is exact up to 10,000; beyond, it is 10,000 and ``total_exact`` is false.
    A page past the last one answers the last page (its number is in ``page``).
    """
    page, per_page = query.pop("page"), query.pop("per_page")
    case_filter = CaseFilter(**query)
    found = find_cases(current_user, case_filter, page=page, per_page=per_page)
    return {
        "total": found.total,
        "total_exact": found.exact,
        "page": found.page,
        "per_page": per_page,
        "items": found.rows,
    }


@api.route("/cases/<int:case_id>")
@endpoint(permission="core.cases.view", response=CaseSchema, summary="Read a case", tag="cases")
def get_case(case_id):
    """Personal numbers are masked."""
    return _visible(Case, case_id)


@api.route("/cases/operations", methods=["POST"])
@endpoint(
    permission="core.cases.operate",
    body=CaseOperationSchema,
    response=OperationOutcomeSchema,
    summary="Pause, close or resume cases",
    tag="cases",
)
def operate_cases(data):
    """Cases not in a state the operation allows are skipped and counted by reason."""
    if "filter" in data:
        ids = ids_query(current_user, _filter(data["filter"]))
    else:
        ids = list(
            db.session.scalars(
                select(Case.id).where(
                    Case.id.in_(data["case_ids"]), *where(current_user, CaseFilter())
                )
            )
        )
    outcome = services.change_status_of(ids, data["operation"], data["reason"], current_user)
    db.session.commit()
    return {"changed": outcome.changed, "skipped": outcome.skipped}


# -- exports ----------------------------------------------------------------------------------


@api.route("/exports", methods=["POST"])
@endpoint(
    permission="core.cases.export",
    body=ExportRequestSchema,
    response=JobSchema,
    status=202,
    summary="Export the cases a filter finds, as a job",
    tag="exports",
)
def start_export(data):
    """Poll the job; when it is done, fetch the file from ``/exports/{job_id}/file``."""
    unmasked = exports.may_unmask(current_user, data["unmask"])
    job = exports.start_export_job(current_user, _filter(data["filter"]), data["format"], unmasked)
    return status(job)


def _own_job(job_id: str) -> Job:
    job = db.session.get(Job, job_id) if len(job_id) <= 36 else None
    if job is None or job.name != exports.JOB_NAME or job.user_id != current_user.id:
        raise NotFound(_("There is no such export."))
    return job


@api.route("/exports/<job_id>")
@endpoint(
    permission="core.cases.export",
    response=JobSchema,
    summary="An export's progress",
    tag="exports",
)
def export_status(job_id):
    return status(_own_job(job_id))


@api.route("/exports/<job_id>/file")
@endpoint(
    permission="core.cases.export",
    produces=tuple(exports.FORMATS.values()),
    summary="Download a finished export",
    tag="exports",
)
def export_file(job_id):
    """The .xlsx or .csv file, for the user who started the export only."""
    import os

    job = _own_job(job_id)
    path = exports.stored_path((job.result or {}).get("file", "")) if job.status == DONE else ""
    if not path or not os.path.exists(path):
        raise NotFound(_("The export is not ready."))
    fmt = job.result.get("format", "xlsx")
    return send_file(
        path,
        mimetype=exports.FORMATS[fmt],
        as_attachment=True,
        download_name=job.result.get("download_name") or f"cases.{fmt}",
    )
