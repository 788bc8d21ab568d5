"""Building a report: inline for an ordinary scope, as a job with progress for a large one.

A report whose scope covers more cases than ``REPORTS_INLINE_CASES`` (default 200 000) is
built by a job; the job's result is the :class:`ReportResult` as JSON (Decimals and dates as
strings, each column saying its kind), restored for the page and the Excel file.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from core.cases.models import Case
from core.errors import NotAllowed, UserError
from core.extensions import db
from core.jobs.services import enqueue, job_function
from plugins.reports.framework import (
    DATE,
    INT,
    MONEY,
    RATE,
    Chart,
    Column,
    ReportFilter,
    ReportResult,
    Scope,
    Table,
    find_report,
)

JOB_NAME = "reports.build"
DEFAULT_INLINE_CASES = 200_000


def inline_limit() -> int:
    return int(current_app.config.get("REPORTS_INLINE_CASES", DEFAULT_INLINE_CASES))


def scope_case_count(scope: Scope, cap: int) -> int:
    """How many cases the scope covers, counted up to ``cap + 1`` (enough to decide)."""
    if scope.empty:
        return 0
    capped = select(Case.id).where(*scope.case_conditions()).limit(cap + 1).subquery()
    return db.session.scalar(select(func.count()).select_from(capped)) or 0


def runs_inline(scope: Scope) -> bool:
    limit = inline_limit()
    return scope_case_count(scope, limit) <= limit


def start_build_job(user, report, report_filter: ReportFilter):
    """Queue the build of a report too large to build while the page waits."""
    params = {"key": report.key, "filter": report_filter.as_args()}
    return enqueue(JOB_NAME, params, user)


@job_function(JOB_NAME)
def build_job(ctx, *, key: str, filter: dict) -> dict:
    report = find_report(key)
    if report is None:
        raise UserError(_("There is no such report."))
    user = ctx.user_who_may("reports.view", _("You may not see reports."))
    if not user.can(report.permission):
        raise NotAllowed(_("You may not see this report."))
    # Every row: the result serves both the job's page (which shows the first rows) and its
    # Excel file (which has them all).
    scope = Scope.of(user, report.read_filter(filter), full=True)
    ctx.progress(0, 1)
    result = report.build(scope)
    ctx.progress(1, 1)
    db.session.rollback()  # a report only reads
    return {"key": key, "filter": filter, "result": dump_result(result)}


# -- the result as JSON ----------------------------------------------------------------------


def _dump_value(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)


def _dump_row(row: dict | None) -> dict | None:
    if row is None:
        return None
    return {str(key): _dump_value(value) for key, value in row.items()}


def dump_result(result: ReportResult) -> dict:
    """``result`` as JSON-able data: what the job keeps and the API answers."""
    return {
        "notes": [str(note) for note in result.notes],
        "tables": [
            {
                "key": table.key,
                "title": str(table.title),
                "columns": [
                    {"key": c.key, "title": str(c.title), "kind": c.kind} for c in table.columns
                ],
                "rows": [_dump_row(row) for row in table.rows],
                "totals": _dump_row(table.totals),
                "chart": None
                if table.chart is None
                else {
                    "kind": table.chart.kind,
                    "label": table.chart.label,
                    "values": list(table.chart.values),
                    "title": str(table.chart.title),
                },
                "note": str(table.note),
                # Set when ``rows`` holds only the table's first rows (a page's build).
                "row_count": table.row_count,
            }
            for table in result.tables
        ],
    }


def _load_value(value, kind: str):
    if value is None or (value == "" and kind in (MONEY, RATE, INT, DATE)):
        return None
    try:
        if kind in (MONEY, RATE):
            return Decimal(value)
        if kind == INT:
            return int(value)
        if kind == DATE:
            return date.fromisoformat(value)
    except (ArithmeticError, ValueError, TypeError):  # a text in a number column stays text
        return value
    return value


def _load_row(row: dict | None, kinds: dict) -> dict | None:
    if row is None:
        return None
    return {key: _load_value(value, kinds.get(key, "")) for key, value in row.items()}


def load_result(data: dict) -> ReportResult:
    """The :class:`ReportResult` that :func:`dump_result` wrote, with Decimals and dates back."""
    tables = []
    for raw in data.get("tables", ()):
        columns = [Column(c["key"], c["title"], c["kind"]) for c in raw["columns"]]
        kinds = {c.key: c.kind for c in columns}
        chart = raw.get("chart")
        tables.append(
            Table(
                key=raw["key"],
                title=raw["title"],
                columns=columns,
                rows=[_load_row(row, kinds) for row in raw.get("rows", ())],
                totals=_load_row(raw.get("totals"), kinds),
                chart=None
                if chart is None
                else Chart(chart["kind"], chart["label"], tuple(chart["values"]), chart["title"]),
                note=raw.get("note", ""),
                row_count=raw.get("row_count"),
            )
        )
    return ReportResult(tables=tables, notes=list(data.get("notes", ())))
