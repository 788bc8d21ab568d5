"""Report pages: the catalogue, one report with its filters, charts and tables, its Excel file,
and the page of a report built as a job."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from flask import (
    Response,
    abort,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import format_decimal, format_percent
from flask_babel import gettext as _
from flask_login import current_user

from core.audit.services import record
from core.auth.guard import deny
from core.auth.permissions import public, require
from core.extensions import db
from core.jobs.models import DONE
from core.jobs.services import own_job, status
from plugins.reports import charts, export, jobs
from plugins.reports.choices import chosen_filter, filter_choices
from plugins.reports.framework import (
    DATE,
    FIELD_TITLES,
    GROUPS,
    INT,
    MONEY,
    PAGE_ROWS,
    PERIODS,
    RATE,
    Report,
    ReportFilter,
    ReportResult,
    Scope,
    find_report,
    reports_for,
)
from plugins.reports.views import reports

STATIC = Path(__file__).resolve().parent.parent / "static"


@reports.route("/reports.css")
@public  # a stylesheet, the same for everyone
def stylesheet():
    return send_from_directory(STATIC, "reports.css", mimetype="text/css")


# -- helpers ---------------------------------------------------------------------------------


def report_or_404(key: str) -> Report:
    """The report ``key``: 404 if there is none, 403 (audited) if the user may not open it."""
    report = find_report(key)
    if report is None:
        abort(404)
    if not report.may_open(current_user):
        deny(report.permission)
    return report


def format_cell(value, kind: str) -> str:
    """A figure as the page shows it: money with separators and two places, rates as
    percentages, counts with separators; empty for a missing value."""
    if value is None or value == "":
        return ""
    if kind == MONEY and isinstance(value, Decimal | int | float):
        return format_decimal(Decimal(value), format="#,##0.00")
    if kind == RATE and isinstance(value, Decimal | int | float):
        return format_percent(Decimal(value), format="#,##0.00%")
    if kind == INT and isinstance(value, int):
        return format_decimal(value, format="#,##0")
    if kind == DATE and hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def page_result(result: ReportResult | None) -> ReportResult | None:
    """``result`` as a page shows it: at most :data:`PAGE_ROWS` rows of each table, a longer
    one saying under it how many rows it has and that the Excel file has them all (a job's
    result has every row; a page's build may have read only the first, ``row_count``)."""
    if result is None:
        return None
    tables = []
    for table in result.tables:
        count = table.row_count if table.row_count is not None else len(table.rows)
        if count > PAGE_ROWS:
            cut = _(
                "The page shows the first %(shown)d of %(total)d lines; the Excel file has "
                "all %(total)d.",
                shown=PAGE_ROWS,
                total=count,
            )
            note = f"{table.note} {cut}" if table.note else cut
            table = replace(table, rows=table.rows[:PAGE_ROWS], note=note, row_count=count)
        tables.append(table)
    return replace(result, tables=tables)


def _page_context(
    report: Report, report_filter: ReportFilter, result, *, job=None, choices=None
) -> dict:
    args = report_filter.as_args()
    if job is not None:
        xlsx_url = url_for("reports.job_xlsx", job_id=job.id)
    else:
        xlsx_url = url_for("reports.export_xlsx", key=report.key, **args)
    return {
        "report": report,
        "filter": report_filter,
        "errors": report_filter.error_messages(),
        "choices": choices or filter_choices(current_user, report, report_filter),
        "field_titles": FIELD_TITLES,
        "periods": PERIODS,
        "groups": GROUPS,
        "result": page_result(result),
        # Drawn from every row: a long table is cut on the page, its chart shows the whole.
        "charts": {t.key: charts.render(t) for t in result.tables} if result else {},
        "described": export.describe_filter(report, report_filter),
        "xlsx_url": xlsx_url if current_user.can("reports.export") else None,
        "cell": format_cell,
        "numeric": (MONEY, RATE, INT),
    }


def audit_export(report: Report, report_filter: ReportFilter) -> None:
    record(
        "reports.exported",
        object_type="reports",
        object_id=report.key,
        details={"report": report.key, "filter": report_filter.as_args(), "format": "xlsx"},
    )
    db.session.commit()


def _xlsx_response(report: Report, report_filter: ReportFilter, result) -> Response:
    content = export.workbook_bytes(report, report_filter, result)
    audit_export(report, report_filter)
    name = export.download_name(report, report_filter)
    return Response(
        content,
        mimetype=export.XLSX_MIMETYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# -- pages -----------------------------------------------------------------------------------


@reports.route("/")
@require("reports.view")
def index():
    return render_template("reports/index.html", reports=reports_for(current_user))


@reports.route("/<key>")
@require("reports.view")
def show(key):
    report = report_or_404(key)
    report_filter, choices = chosen_filter(current_user, report, request.args)
    scope = Scope.of(current_user, report_filter)
    if not jobs.runs_inline(scope):
        job = jobs.start_build_job(current_user, report, report_filter)
        return redirect(url_for("reports.job_page", job_id=job.id))
    result = report.build(scope)
    context = _page_context(report, report_filter, result, choices=choices)
    return render_template("reports/show.html", **context)


@reports.route("/<key>.xlsx")
@require("reports.export")
def export_xlsx(key):
    report = report_or_404(key)
    report_filter, _choices = chosen_filter(current_user, report, request.args)
    scope = Scope.of(current_user, report_filter, full=True)  # the file has every row
    if not jobs.runs_inline(scope):
        job = jobs.start_build_job(current_user, report, report_filter)
        return redirect(url_for("reports.job_page", job_id=job.id))
    return _xlsx_response(report, report_filter, report.build(scope))


# -- a report built as a job -----------------------------------------------------------------


def _own_job(job_id: str):
    """A report job of the signed-in user's; anyone else's answers 404."""
    job = own_job(job_id, current_user, jobs.JOB_NAME)
    if job is None:
        abort(404)
    return job


def _job_report(job) -> tuple[Report, ReportFilter]:
    report = report_or_404(job.params.get("key", ""))
    return report, report.read_filter(job.params.get("filter") or {})


@reports.route("/jobs/<job_id>")
@require("reports.view")
def job_page(job_id):
    job = _own_job(job_id)
    report, report_filter = _job_report(job)
    state = status(job)
    if job.status != DONE:
        context = _page_context(report, report_filter, None, job=job)
        return render_template("reports/job.html", job=job, state=state, **context)
    result = jobs.load_result(job.result.get("result") or {})
    context = _page_context(report, report_filter, result, job=job)
    return render_template("reports/show.html", job=job, **context)


@reports.route("/jobs/<job_id>/status")
@require("reports.view")
def job_status(job_id):
    state = status(_own_job(job_id))
    state.pop("result", None)  # the page reloads to show it
    return jsonify(state)


@reports.route("/jobs/<job_id>.xlsx")
@require("reports.export")
def job_xlsx(job_id):
    job = _own_job(job_id)
    if job.status != DONE:
        abort(404)
    report, report_filter = _job_report(job)
    result = jobs.load_result(job.result.get("result") or {})
    return _xlsx_response(report, report_filter, result)
