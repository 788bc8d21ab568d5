"""Batch management (批次管理: the case list, its operations and export) and the case page."""

from __future__ import annotations

import os
import tempfile
from urllib.parse import parse_qsl

from flask import (
    Blueprint,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from core.audit.services import record
from core.auth.permissions import require
from core.batches.models import Batch, CategoryOption
from core.batches.services import AREA, BATCH_STATUSES
from core.cases import jobs as case_jobs
from core.cases import services
from core.cases.filters import BUCKETS, CaseFilter, count_cases, find_cases, ids_query, where
from core.cases.models import (
    STATUSES,
    Activity,
    Case,
    CaseAssignment,
    Payment,
)
from core.cases.panels import collect_panels
from core.cases.services import can_see_case
from core.clients.services import can_see_contract, visible_contracts_query
from core.errors import UserError
from core.exports import services as exports
from core.extensions import db
from core.jobs.models import Job
from core.jobs.services import own_job, status
from core.plugins import hooks_for
from core.web.filters import CASE_STATUSES
from core.web.paging import Page

cases = Blueprint("cases", __name__, url_prefix="/cases")

PAGE_SIZES = (20, 50, 100, 200)


def _visible_case(case_id: int) -> Case:
    """The case, or 404 when it does not exist or the user may not see it."""
    case = db.session.get(Case, case_id) if 0 < case_id <= 2**31 - 1 else None
    if case is None or not can_see_case(current_user, case):
        abort(404)
    return case


# -- batch management: the list ------------------------------------------------------------------


def _filter_choices() -> dict:
    contracts = db.session.scalars(visible_contracts_query(current_user)).all()
    clients = sorted({c.client for c in contracts}, key=lambda c: c.name)
    areas = db.session.scalars(
        select(CategoryOption.value)
        .filter_by(kind=AREA)
        .order_by(CategoryOption.position, CategoryOption.id)
    ).all()
    return {
        "contracts": contracts,
        "clients": clients,
        "areas": areas,
        "statuses": {key: CASE_STATUSES[key] for key in STATUSES},
        "batch_statuses": BATCH_STATUSES,
        "buckets": BUCKETS,
    }


@cases.route("/")
@require("core.cases.view")
def index():
    case_filter = CaseFilter.from_args(request.args)
    per_page = request.args.get("per_page", 50, type=int)
    per_page = per_page if per_page in PAGE_SIZES else 50
    found = find_cases(
        current_user,
        case_filter,
        page=min(request.args.get("page", 1, type=int) or 1, 2**31 - 1),
        per_page=per_page,
    )
    page = Page(found.page, per_page, found.total, found.rows, exact=found.exact)
    unmasked = bool(request.args.get("unmask")) and current_user.can("core.pii.unmask")
    if unmasked:
        record(
            "cases.list_unmasked",
            object_type="cases",
            details={"filter": case_filter.as_args(), "page": page.page, "rows": len(page.items)},
        )
        db.session.commit()
    batch = db.session.get(Batch, case_filter.batch) if case_filter.batch else None
    if batch is not None and not can_see_contract(current_user, batch.contract):
        batch = None  # the filter finds none of its cases; its number is not shown either
    return render_template(
        "core/cases/index.html",
        page=page,
        filter=case_filter,
        query=request.query_string.decode(),
        unmasked=unmasked,
        operations=services.STATUS_CHANGES,
        batch=batch,
        per_page=per_page,
        page_sizes=PAGE_SIZES,
        sorts=_sort_links(case_filter),
        **_filter_choices(),
    )


def _sort_links(case_filter: CaseFilter) -> dict:
    """Column → (URL sorting by it, current direction or None)."""
    args = request.args.to_dict()
    args.pop("page", None)
    links = {}
    for key in ("serial", "name", "amount", "balance", "days", "bucket", "entrust_date", "status"):
        current = case_filter.dir if case_filter.sort == key else None
        direction = "desc" if current == "asc" else "asc"
        links[key] = (url_for("cases.index", **{**args, "sort": key, "dir": direction}), current)
    return links


def _filter_from_form() -> tuple[CaseFilter, str]:
    """The filter a POST carries in its ``query`` field: the list's own query string."""
    query = request.form.get("query", "")
    return CaseFilter.from_args(MultiDict(parse_qsl(query))), query


def _back(query: str):
    return redirect(url_for("cases.index") + (f"?{query}" if query else ""))


# -- operations: pause, close, resume ---------------------------------------------------------


@cases.route("/operate", methods=["POST"])
@require("core.cases.operate")
def operate():
    case_filter, query = _filter_from_form()
    operation = request.form.get("operation", "")
    reason = request.form.get("reason", "")
    scope = request.form.get("scope", "selected")
    if scope == "all":
        limit = case_jobs.inline_limit()
        if count_cases(current_user, case_filter, cap=limit) > limit:
            try:
                job = case_jobs.start_operation_job(current_user, case_filter, operation, reason)
            except UserError as error:
                db.session.rollback()
                flash(error.message, "error")
                return _back(query)
            return redirect(url_for("cases.operation_job", job_id=job.id))
        ids = ids_query(current_user, case_filter)
    else:
        chosen = [int(v) for v in request.form.getlist("case") if v.isdigit() and len(v) < 11]
        if not chosen:
            flash(_("Select cases first, or choose the whole filter result."), "error")
            return _back(query)
        ids = list(
            db.session.scalars(
                select(Case.id).where(Case.id.in_(chosen), *where(current_user, CaseFilter()))
            )
        )
    try:
        outcome = services.change_status_of(ids, operation, reason, current_user)
    except UserError as error:
        db.session.rollback()
        flash(error.message, "error")
        return _back(query)
    db.session.commit()
    title = str(OPERATION_TITLES.get(operation, operation))
    flash(
        ngettext(
            "%(op)s: %(num)d case changed.",
            "%(op)s: %(num)d cases changed.",
            outcome.changed,
            op=title,
        ),
        "success" if outcome.changed else "info",
    )
    if outcome.skipped:
        details = "; ".join(f"{n} × {why}" for why, n in sorted(outcome.skipped.items()))
        flash(
            _(
                "%(num)d skipped: %(details)s.",
                num=outcome.skipped_total,
                details=details,
            ),
            "info",
        )
    return _back(query)


OPERATION_TITLES = {"pause": _l("Pause"), "close": _l("Close"), "resume": _l("Resume")}


def _own_operation_job(job_id: str) -> Job:
    """An operation job of the signed-in user's; anyone else's answers 404."""
    job = own_job(job_id, current_user, case_jobs.OPERATION_JOB)
    if job is None:
        abort(404)
    return job


@cases.route("/jobs/<job_id>")
@require("core.cases.operate")
def operation_job(job_id):
    job = _own_operation_job(job_id)
    state = status(job)
    titles = {name: str(title) for name, title in OPERATION_TITLES.items()}
    return render_template("core/cases/operation_job.html", job=job, state=state, titles=titles)


@cases.route("/jobs/<job_id>/status")
@require("core.cases.operate")
def operation_job_status(job_id):
    return jsonify(status(_own_operation_job(job_id)))


# -- export -----------------------------------------------------------------------------------


@cases.route("/export", methods=["POST"])
@require("core.cases.export")
def export():
    case_filter, _query = _filter_from_form()
    fmt = request.form.get("format", "xlsx")
    if fmt not in exports.FORMATS:
        abort(400)
    unmasked = exports.may_unmask(current_user, bool(request.form.get("unmask")))
    limit = exports.inline_limit()
    if count_cases(current_user, case_filter, cap=limit) > limit:
        job = exports.start_export_job(current_user, case_filter, fmt, unmasked)
        return redirect(url_for("exports.show", job_id=job.id))
    handle, path = tempfile.mkstemp(suffix=f".{fmt}")
    os.close(handle)
    try:
        rows = exports.write_export(current_user, case_filter, fmt, path, unmasked=unmasked)
        exports.audit_export(current_user, case_filter, fmt, rows, unmasked)
        db.session.commit()
        stream = open(path, "rb")  # noqa: SIM115 - send_file closes it
    finally:
        os.remove(path)  # the open handle keeps the data until the response is sent
    return send_file(
        stream,
        mimetype=exports.FORMATS[fmt],
        as_attachment=True,
        download_name=exports.download_name(fmt),
    )


# -- the case page ----------------------------------------------------------------------------


def _render(case: Case, unmasked: bool):
    panels = collect_panels(
        hooks_for(case.contract).case_detail_panels(case=case, user=current_user)
    )
    activities = db.session.scalars(
        select(Activity)
        .filter_by(case_id=case.id)
        .order_by(Activity.at.desc(), Activity.id.desc())
        .limit(200)
    ).all()
    payments = db.session.scalars(
        select(Payment).filter_by(case_id=case.id).order_by(Payment.paid_on.desc(), Payment.id)
    ).all()
    assignments = db.session.scalars(
        select(CaseAssignment)
        .filter_by(case_id=case.id)
        .order_by(CaseAssignment.assigned_at.desc(), CaseAssignment.id.desc())
    ).all()
    titles: dict = {}
    for answer in hooks_for(case.contract).activity_titles(contract=case.contract):
        titles.update(answer or {})
    return render_template(
        "core/case_detail.html",
        case=case,
        panels=panels,
        unmasked=unmasked,
        titles=titles,
        activities=activities,
        payments=payments,
        assignments=assignments,
    )


@cases.route("/<int:case_id>")
@require("core.cases.view")
def detail(case_id):
    return _render(_visible_case(case_id), unmasked=False)


@cases.route("/<int:case_id>/unmask", methods=["POST"])
@require("core.pii.unmask")
def unmask(case_id):
    case = _visible_case(case_id)
    record("case.unmasked", obj=case, details={"fields": ["id_no", "card_no", "mobile"]})
    db.session.commit()
    return _render(case, unmasked=True)
