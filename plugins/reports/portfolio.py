"""Portfolio (案件结构): the cases in scope now, by status, by bucket (账龄) and by collection area.

Stock figures: what the case file holds at the moment the report is opened, so the period of
the filter does not apply. All three tables come from one ``GROUP BY`` over ``cases``; their
rows and totals rows are summed by the database (window functions over the groups), so the
totals equal the sum of the rows to the cent.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from core.cases.filters import BUCKETS
from core.cases.models import STATUSES, Case
from core.cases.services import status_title
from core.extensions import db
from plugins.reports.framework import (
    INT,
    MONEY,
    RATE,
    TEXT,
    Chart,
    Column,
    ReportResult,
    Scope,
    Table,
    cents,
    from_cents,
    period_labels,
    rate,
    report,
)
from plugins.reports.snapshots import ENDED, months_taken, roll_counts

#: Cases, entrusted amount and balance of a group without cases.
ZERO = (0, Decimal("0.00"), Decimal("0.00"))
#: The label of a case without a bucket or without an area.
NONE_LABEL = "—"
#: At most this many areas get a row of their own; the rest are summed into one row.
MAX_AREAS = 50


def _columns(first: Column) -> list[Column]:
    return [
        first,
        Column("cases", _("Cases"), INT),
        Column("entrusted", _("Entrusted amount"), MONEY),
        Column("balance", _("Balance"), MONEY),
        Column("share", _("Share of balance"), RATE),
    ]


def _row(label_key: str, label: str, cases, entrusted, balance, total_balance) -> dict:
    return {
        label_key: label,
        "cases": cases,
        "entrusted": entrusted,
        "balance": balance,
        "share": rate(balance, total_balance),
    }


def stock_figures(scope: Scope) -> tuple[dict, dict, dict, tuple]:
    """``(by status, by bucket, by area, totals)`` of the cases in ``scope``; each maps a value
    to ``(cases, entrusted amount, balance)``.

    One scan of ``cases``: ``GROUP BY status, bucket, area``, with the sums per status, per
    bucket, per area and overall taken by window functions over those groups, in the same
    statement (four ``GROUP BY`` queries read the rows four times: at 1M cases on SQLite,
    1.6 s of CPU against 0.95 s). Every figure is summed by the database.
    """
    # Grouped by expressions, not the bare columns: on the bare ones SQLite walks the status
    # index and fetches every row from the table in that order, 15 % slower than a plain
    # scan (the groups are sorted either way).
    keys = [
        func.coalesce(column, "").label(column.key)
        for column in (Case.status, Case.bucket, Case.area)
    ]
    groups = (
        select(
            *keys,
            func.count().label("cases"),
            func.coalesce(func.sum(cents(Case.entrusted_amount)), 0).label("entrusted"),
            func.coalesce(func.sum(cents(Case.balance)), 0).label("balance"),
        )
        .where(*scope.case_conditions())
        .group_by(*keys)
        .subquery()
    )
    measures = (groups.c.cases, groups.c.entrusted, groups.c.balance)

    def over(partition):
        return [func.sum(measure).over(partition_by=partition) for measure in measures]

    query = select(
        groups.c.status,
        groups.c.bucket,
        groups.c.area,
        *over(groups.c.status),
        *over(groups.c.bucket),
        *over(groups.c.area),
        *over(None),
    )
    by_status, by_bucket, by_area, totals = {}, {}, {}, ZERO
    for status, bucket, area, *sums in db.session.execute(query):
        figures = [
            (int(sums[i]), from_cents(sums[i + 1]), from_cents(sums[i + 2]))
            for i in range(0, 12, 3)
        ]
        by_status[status or ""] = figures[0]
        by_bucket[bucket or ""] = figures[1]
        by_area[area or ""] = figures[2]
        totals = figures[3]
    return by_status, by_bucket, by_area, totals


@report(
    "portfolio",
    _l("Portfolio"),
    order=20,
    description=_l("The cases held now by status, bucket and collection area, with balances."),
)
def portfolio(scope: Scope) -> ReportResult:
    """The portfolio report: three stock tables of the cases in ``scope``."""
    notes = [
        _(
            "These are the cases as they stand now: the period chosen does not apply "
            "(roll rates show how buckets moved month by month)."
        )
    ]
    if scope.empty:
        by_status, by_bucket, by_area, totals = {}, {}, {}, ZERO
    else:
        by_status, by_bucket, by_area, totals = stock_figures(scope)
    total_balance = totals[2]

    def totals_row(label_key: str) -> dict:
        return _row(label_key, _("Total"), *totals, total_balance)

    status_rows = [
        _row("status", status_title(status), *by_status[status], total_balance)
        for status in (*STATUSES, *sorted(set(by_status) - set(STATUSES)))
        if status in by_status
    ]
    bucket_rows = [
        _row("bucket", bucket, *by_bucket.get(bucket, ZERO), total_balance) for bucket in BUCKETS
    ]
    # A bucket outside M1…M6+ (an import that kept the bank's own label) is shown as it is.
    bucket_rows += [
        _row("bucket", bucket, *by_bucket[bucket], total_balance)
        for bucket in sorted(set(by_bucket) - set(BUCKETS) - {""})
    ]
    bucket_rows.append(_row("bucket", NONE_LABEL, *by_bucket.get("", ZERO), total_balance))

    area_rows, area_note = _area_rows(by_area, total_balance)

    tables = [
        Table(
            "by_status",
            _("By status"),
            _columns(Column("status", _("Status"), TEXT)),
            status_rows,
            totals_row("status"),
            Chart("pie", "status", ("balance",), _("Balance by status")),
        ),
        Table(
            "by_bucket",
            _("By bucket"),
            _columns(Column("bucket", _("Bucket"), TEXT)),
            bucket_rows,
            totals_row("bucket"),
            Chart("bar", "bucket", ("balance",), _("Balance by bucket")),
            note=_("— : cases without a bucket (no days overdue given)."),
        ),
        Table(
            "by_area",
            _("By collection area"),
            _columns(Column("area", _("Collection area"), TEXT)),
            area_rows,
            totals_row("area"),
            Chart("bar", "area", ("balance",), _("Balance by collection area")),
            note=area_note,
        ),
    ]
    return ReportResult(tables=tables, notes=notes)


def _area_rows(by_area: dict, total_balance) -> tuple[list[dict], str]:
    """Areas by balance, largest first; beyond :data:`MAX_AREAS` the rest share one row."""
    ordered = sorted(by_area.items(), key=lambda item: (-item[1][2], item[0]))
    rows = [
        _row("area", area or NONE_LABEL, *figures, total_balance)
        for area, figures in ordered[:MAX_AREAS]
    ]
    rest = ordered[MAX_AREAS:]
    if not rest:
        return rows, _("— : cases without a collection area.")
    # Summing the few aggregated rows left over is exact: they are Decimal sums of cents.
    cases = sum(figures[0] for _area, figures in rest)
    entrusted = sum((figures[1] for _area, figures in rest), Decimal("0.00"))
    balance = sum((figures[2] for _area, figures in rest), Decimal("0.00"))
    rows.append(_row("area", _("Other areas"), cases, entrusted, balance, total_balance))
    return rows, _(
        "The %(count)d areas with the largest balances have a row each; %(rest)d more are "
        "summed under Other areas.",
        count=MAX_AREAS,
        rest=len(rest),
    )


# -- roll rates (迁徙率) -------------------------------------------------------------------------


@report(
    "roll_rates",
    _l("Roll rates"),
    order=25,
    description=_l(
        "How the cases of each bucket moved from one month's end to the next (stair-step)."
    ),
)
def roll_rates(scope: Scope) -> ReportResult:
    """The roll-rate report: per month of the period, the matrix of the month's snapshot rows
    (previous bucket × where the case stands at the month's end), and the roll rates by month.
    """
    report_filter = scope.filter
    months = [
        date.fromisoformat(label + "-01")
        for label in period_labels(report_filter.start, report_filter.end, "month")
    ]
    taken = months_taken(months)
    notes = []
    missing = [m for m in months if m not in taken]
    if missing:
        notes.append(
            _(
                "No snapshot was taken for %(months)s. Snapshots are taken by the command "
                "“maple reports snapshot”, run from cron at the start of each month "
                "(5 0 1 * *) for the month just ended.",
                months=", ".join(m.strftime("%Y-%m") for m in missing),
            )
        )
    if not taken:
        return ReportResult(notes=notes)
    counts = roll_counts(scope, taken)
    tables = [_rates_by_month(taken, counts.cells)]
    tables += [_matrix(month, counts.cells, counts.totals) for month in taken]
    return ReportResult(tables=tables, notes=notes)


def _targets() -> list[tuple[str, str]]:
    """Where a case can stand at a month's end, with the column's title: a bucket, none, or
    ended."""
    statuses = [(status, status_title(status)) for status in ENDED]
    return [(bucket, bucket) for bucket in BUCKETS] + [("", NONE_LABEL)] + statuses


def _target_key(target: str) -> str:
    return "to_" + (target.replace("+", "_plus") if target else "none")


def _worse(origin: str, target: str) -> bool:
    return origin in BUCKETS and target in BUCKETS and BUCKETS.index(target) > BUCKETS.index(origin)


def _matrix(month: date, counts: dict, totals: dict) -> Table:
    """One month's stair-step: rows by previous bucket, columns by where the cases are now."""
    targets = _targets()
    columns = [
        Column("previous", _("Previous bucket"), TEXT),
        Column("cases", _("Cases"), INT),
        *(Column(_target_key(t), title, INT) for t, title in targets),
        Column("roll_rate", _("Roll rate"), RATE),
    ]
    rows = []
    for origin in ("", *BUCKETS):
        cells = {_target_key(t): counts.get((month, origin, t), 0) for t, _title in targets}
        cases = sum(cells.values())
        worse = sum(counts.get((month, origin, t), 0) for t in BUCKETS if _worse(origin, t))
        has_worse = origin in BUCKETS and origin != BUCKETS[-1]
        rows.append(
            {
                "previous": origin or _("New or none"),
                "cases": cases,
                **cells,
                "roll_rate": rate(worse, cases) if has_worse else None,
            }
        )
    total_cells = {_target_key(t): totals.get((month, t), 0) for t, _title in targets}
    totals_row = {
        "previous": _("Total"),
        "cases": sum(total_cells.values()),
        **total_cells,
        "roll_rate": None,
    }
    return Table(
        "matrix_" + month.strftime("%Y_%m"),
        _("Movements in %(month)s", month=month.strftime("%Y-%m")),
        columns,
        rows,
        totals_row,
        note=_(
            "Rows: the bucket at the previous month's end (New or none: not in that "
            "snapshot, or without a bucket). Columns: the bucket at this month's end, or the "
            "status of a case that ended. Roll rate: the share of the row's cases that moved "
            "to a worse bucket. Cases that had ended before the month are left out."
        ),
    )


def _rates_by_month(months: list[date], counts: dict) -> Table:
    """Roll rates of each bucket, one row per month: the trend the line chart draws."""
    origins = BUCKETS[:-1]  # from M6+ there is no worse bucket
    columns = [Column("month", _("Month"), TEXT)] + [
        Column(_target_key(o), _("From %(bucket)s", bucket=o), RATE) for o in origins
    ]
    rows = []
    for month in months:
        row = {"month": month.strftime("%Y-%m")}
        for origin in origins:
            cases = sum(n for (m, o, _t), n in counts.items() if m == month and o == origin)
            worse = sum(
                n for (m, o, t), n in counts.items() if m == month and o == origin and _worse(o, t)
            )
            row[_target_key(origin)] = rate(worse, cases)
        rows.append(row)
    return Table(
        "roll_rates",
        _("Roll rates by month"),
        columns,
        rows,
        chart=Chart(
            "line", "month", tuple(_target_key(o) for o in origins), _("Roll rates by month")
        ),
        note=_(
            "The share of the cases in each bucket at the previous month's end that were in "
            "a worse bucket at this month's end."
        ),
    )
