"""The reports' JSON API at /m/reports/api (bearer tokens, like /api/v1): the reports a user
may open, and one report's tables for a period and filters (money and rates as strings, so
no figure loses a cent on the way)."""

from __future__ import annotations

from flask import Blueprint, abort, request
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import Schema, fields

from core.api.endpoint import endpoint
from core.errors import NotAllowed, UserError
from plugins.reports import jobs
from plugins.reports.choices import chosen_filter
from plugins.reports.framework import GROUPS, PERIODS, Scope, find_report, reports_for

reports_api = Blueprint("reports_api", __name__, url_prefix="/m/reports/api")
TAG = "reports"


class ReportInfoSchema(Schema):
    key = fields.String()
    title = fields.Function(lambda report: str(report.title))
    description = fields.Function(lambda report: str(report.description or ""))
    uses_period = fields.Boolean()
    uses_group = fields.Boolean()
    filters = fields.List(fields.String())


class ReportQuerySchema(Schema):
    """The report's filter, described for the OpenAPI document; the view checks the values
    itself (:class:`ReportFilter`) and answers 400 naming each bad one."""

    start = fields.String(metadata={"format": "date", "description": "First day (included)"})
    end = fields.String(metadata={"format": "date", "description": "Last day (included)"})
    period = fields.String(metadata={"enum": list(PERIODS)})
    group = fields.String(metadata={"enum": list(GROUPS)})
    client = fields.String(metadata={"description": "Client id"})
    contract = fields.String(metadata={"description": "Contract id"})
    batch = fields.String(metadata={"description": "Batch id"})
    team = fields.String(metadata={"description": "Team id"})
    collector = fields.String(metadata={"description": "Collector's user id"})


class ColumnSchema(Schema):
    key = fields.String()
    title = fields.String()
    kind = fields.String(metadata={"enum": ["text", "int", "money", "rate", "date"]})


class ChartSchema(Schema):
    kind = fields.String(metadata={"enum": ["line", "bar", "pie"]})
    label = fields.String()
    values = fields.List(fields.String())
    title = fields.String()


class TableSchema(Schema):
    key = fields.String()
    title = fields.String()
    columns = fields.List(fields.Nested(ColumnSchema))
    rows = fields.List(
        fields.Dict(),
        metadata={"description": "Money, rates and dates as strings; counts as integers"},
    )
    totals = fields.Dict(allow_none=True)
    chart = fields.Nested(ChartSchema, allow_none=True)
    note = fields.String()


class ReportOutputSchema(Schema):
    key = fields.String()
    title = fields.String()
    filter = fields.Dict(metadata={"description": "The filter the figures were counted with"})
    notes = fields.List(fields.String())
    tables = fields.List(fields.Nested(TableSchema))


@reports_api.route("/reports")
@endpoint(
    permission="reports.view",
    response=ReportInfoSchema,
    many=True,
    summary="The reports you may open",
    tag=TAG,
)
def list_reports():
    return reports_for(current_user)


@reports_api.route("/reports/<key>")
@endpoint(
    permission="reports.view",
    query=ReportQuerySchema,
    response=ReportOutputSchema,
    summary="One report's tables for a period and filters (400 names each bad filter value)",
    tag=TAG,
)
def show_report(key, query):
    """Only the figures you may see: your contracts with reports on (a client viewer their
    client's), and a collector's or team leader's own or their team's. Every row of every
    table: a page shows the first 500 of a long one, this (like the Excel file) them all."""
    report = find_report(key)
    if report is None:
        abort(404)
    if not report.may_open(current_user):
        raise NotAllowed(_("You may not see this report."))
    report_filter, _choices = chosen_filter(current_user, report, request.args)
    if report_filter.errors:
        raise UserError(
            _("Some filter values are not valid; see the messages by field."),
            fields={
                name: [str(message) for message in messages]
                for name, messages in report_filter.errors.items()
            },
        )
    result = report.build(Scope.of(current_user, report_filter, full=True))
    return {
        "key": report.key,
        "title": str(report.title),
        "filter": report_filter.as_args(),
        **jobs.dump_result(result),
    }
