"""Activity: what the collectors did in the period.

- contact records (催记) per collector and period, with the promises to pay taken on them,
  counted in SQL from the core's timeline (``activities``, ``kind = "contact"``, by the
  time the contact happened, agency-local days);
- each collector's scorecard (contact rate, kept rate, first-contact compliance,
  complaints, gate refusals), which only the collection module can count: it reports it per
  user through the ``report_sections`` hook (section ``collection.scorecard``), per
  contract; the figures are summed per user over the contracts before any rate is divided;
- the collection module's refusals and complaints sections as they are.

A contract without the collection module adds records but no scorecard: a note says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from core.auth.models import User
from core.cases.models import Activity, ActivityDayTotal, Case
from core.day_totals import NO_USER
from core.extensions import db
from plugins.reports.framework import (
    INT,
    MONEY,
    PERIOD_HEADINGS,
    RATE,
    TEXT,
    Chart,
    Column,
    ReportResult,
    Scope,
    Table,
    cents,
    from_cents,
    local_day,
    names_of,
    period_label,
    period_labels,
    rate,
    report,
    utc_bounds,
)
from plugins.reports.sections import collect_sections, merge_sections

SCORECARD = "collection.scorecard"
DENIALS = "collection.denials"
COMPLAINTS = "collection.complaints"


# -- contact records ---------------------------------------------------------------------------


def records_per_user_and_day(scope: Scope) -> list[tuple]:
    """``(user id or None, local day, records, promises, promised cents)``: the scope's
    contact records in the period, per collector and agency-local day.

    Read from the core's per-day totals (``activity_day_totals``: a few hundred rows a day
    instead of every record); a batch is not among their keys, so with a batch chosen the
    batch's records themselves are counted.
    """
    start, end = scope.filter.start, scope.filter.end
    if scope.filter.batch is None:
        totals = ActivityDayTotal
        query = (
            select(
                totals.user_id,
                totals.day,
                func.sum(totals.records),
                func.sum(totals.promises),
                func.sum(totals.promised_cents),
            )
            .where(
                totals.kind == "contact",
                totals.day >= start,
                totals.day <= end,
                totals.contract_id.in_(scope.contract_ids),
                *scope.user_condition(totals.user_id),
            )
            .group_by(totals.user_id, totals.day)
        )
        return [
            (None if user_id == NO_USER else user_id, day, *figures)
            for user_id, day, *figures in db.session.execute(query)
        ]
    begin, finish = utc_bounds(start, scope.filter.end_exclusive)
    day = local_day(Activity.at, on=start).label("day")
    query = (
        select(
            Activity.user_id,
            day,
            func.count(Activity.id),
            func.count(Activity.promise_amount),
            func.sum(cents(Activity.promise_amount)),
        )
        .join(Case, Case.id == Activity.case_id)
        .where(
            Activity.kind == "contact",
            Activity.at >= begin,
            Activity.at < finish,
            Activity.contract_id.in_(scope.contract_ids),
            Case.batch_id == scope.filter.batch,
            *scope.user_condition(Activity.user_id),
        )
        .group_by(Activity.user_id, day)
    )
    return [(user_id, date.fromisoformat(str(local)), *figures)
            for user_id, local, *figures in db.session.execute(query)]  # fmt: skip


def _record_columns() -> list[Column]:
    return [
        Column("records", _("Contact records"), INT),
        Column("promises", _("Promises taken"), INT),
        Column("promised", _("Amount promised"), MONEY),
    ]


def _record_row(records, promises, promised_cents) -> dict:
    return {
        "records": int(records or 0),
        "promises": int(promises or 0),
        "promised": from_cents(promised_cents),
    }


def _add(into: dict, row: dict) -> None:
    for key in ("records", "promises", "promised"):
        into[key] += row[key]


def records_tables(scope: Scope) -> list[Table]:
    """Records per period (every period of the filter, empty ones as zeros), per collector,
    and per collector and period (only the pairs with records).

    One read, per collector and local day; each of those rows is labelled with its week or
    month here and the counts and whole cents added up exactly, so every table's rows sum to
    its totals.
    """
    period = scope.filter.period
    summed: dict[tuple, list[int]] = {}
    for user_id, day, records, promises, promised_cents in records_per_user_and_day(scope):
        sums = summed.setdefault((user_id, period_label(day, period)), [0, 0, 0])
        sums[0] += int(records or 0)
        sums[1] += int(promises or 0)
        sums[2] += int(promised_cents or 0)
    per_user_period = [(user_id, key, *sums) for (user_id, key), sums in summed.items()]
    totals = _record_row(*(sum(sums[n] for sums in summed.values()) for n in range(3)))
    per_period: dict[str, dict] = {}
    per_user: dict[int | None, dict] = {}
    for user_id, key, *figures in per_user_period:
        row = _record_row(*figures)
        _add(per_period.setdefault(key, _record_row(0, 0, 0)), row)
        _add(per_user.setdefault(user_id, _record_row(0, 0, 0)), row)
    empty = _record_row(0, 0, 0)
    by_period = Table(
        key="activity_by_period",
        title=_("Contact records per period"),
        columns=[Column("period", str(PERIOD_HEADINGS[period]), TEXT), *_record_columns()],
        rows=[
            {"period": key, **per_period.get(key, empty)}
            for key in period_labels(scope.filter.start, scope.filter.end, period)
        ],
        totals={"period": _("Total"), **totals},
        chart=Chart("line", "period", ("records",), _("Contact records")),
        note=_(
            "Contact records by the day the contact happened (agency time), whoever entered "
            "them, imported ones too; SMS and letters the collection module sent are records."
        ),
    )

    names = names_of("collector", per_user)
    nobody = _("(import or system)")

    def name(user_id) -> str:
        return names.get(user_id, str(user_id)) if user_id is not None else nobody

    collector_rows = sorted(
        ({"collector": name(uid), **figures} for uid, figures in per_user.items()),
        key=lambda row: (row["collector"] == nobody, row["collector"]),
    )
    by_collector = Table(
        key="activity_by_collector",
        title=_("Contact records per collector"),
        columns=[Column("collector", _("Collector"), TEXT), *_record_columns()],
        rows=collector_rows,
        totals={"collector": _("Total"), **totals},
        chart=Chart("bar", "collector", ("records",), _("Contact records")),
        note=_("Each record counts for whoever entered it; imported records without one apart."),
    )
    detail_rows = sorted(
        (
            {"collector": name(uid), "period": key, **_record_row(*figures)}
            for uid, key, *figures in per_user_period
        ),
        key=lambda row: (row["collector"] == nobody, row["collector"], row["period"]),
    )
    detail = Table(
        key="activity_by_collector_and_period",
        title=_("Contact records per collector and period"),
        columns=[
            Column("collector", _("Collector"), TEXT),
            Column("period", str(PERIOD_HEADINGS[period]), TEXT),
            *_record_columns(),
        ],
        rows=detail_rows,
        totals={"collector": _("Total"), "period": "", **totals},
        note=_("Only the periods in which a collector has records are listed."),
    )
    return [by_period, by_collector, detail]


# -- the collection module's per-user figures --------------------------------------------------


#: The sections the activity report shows.
SHOWN = frozenset({SCORECARD, DENIALS, COMPLAINTS})


def sections_of(scope: Scope, keys=SHOWN) -> list:
    """The sections (``keys``) the scope's contracts' modules add, asked in one pass: a module
    may read its figures for all the contracts at once, and skip the sections not shown
    (core.report_sections)."""
    return collect_sections(scope, set(keys))


@dataclass
class UserFigures:
    """A per-user section (one with ``user_key``) summed over the contracts that sent it."""

    section: object | None = None
    #: user id → row key → the sum over contracts (counts only).
    by_user: dict[int, dict[str, int]] = field(default_factory=dict)
    #: Contracts (ids) whose modules sent the section.
    contract_ids: list[int] = field(default_factory=list)

    def measure(self, measure, user_ids=None) -> tuple[int, int | None]:
        """``(numerator, denominator)`` of ``measure`` summed over ``user_ids`` (all if None)."""
        numerator, denominator = 0, 0 if measure.denominator else None
        for user_id, row in self.by_user.items():
            if user_ids is not None and user_id not in user_ids:
                continue
            numerator += row.get(measure.numerator, 0)
            if measure.denominator:
                denominator += row.get(measure.denominator, 0)
        return numerator, denominator


def user_figures(scope: Scope, key: str, found=None) -> UserFigures:
    """Section ``key``'s rows summed per user over the scope's contracts (``found``: the
    answer of :func:`collect_sections`, if already asked), kept to the scope's users."""
    found = sections_of(scope, {key}) if found is None else found
    result = UserFigures()
    for contract, section in found:
        if section.key != key or not section.user_key:
            continue
        result.section = result.section or section
        result.contract_ids.append(contract.id)
        for row in section.rows:
            user_id = row.get(section.user_key)
            if user_id is None or (scope.user_ids is not None and user_id not in scope.user_ids):
                continue
            sums = result.by_user.setdefault(user_id, {})
            for column, value in row.items():
                if column != section.user_key and isinstance(value, int):
                    sums[column] = sums.get(column, 0) + value
    return result


def scorecard_table(figures: UserFigures) -> Table:
    """The scorecard's figures per collector, with the rates its measures define."""
    section = figures.section
    # Every figure of the section but the user's id and name: they are counts.
    count_columns = [
        (k, title) for k, title in section.columns if k not in (section.user_key, "user")
    ]
    ratios = [m for m in section.measures if m.denominator]
    names = names_of("collector", figures.by_user)
    rows = []
    for user_id, sums in figures.by_user.items():
        row = {"collector": names.get(user_id, str(user_id))}
        row.update({k: sums.get(k, 0) for k, _title in count_columns})
        for measure in ratios:
            row[measure.key] = rate(*figures.measure(measure, {user_id}))
        rows.append(row)
    rows.sort(key=lambda row: row["collector"])
    totals = {"collector": _("Total")}
    totals.update({k: sum(row[k] for row in rows) for k, _title in count_columns})
    for measure in ratios:
        totals[measure.key] = rate(*figures.measure(measure))
    columns = [Column("collector", _("Collector"), TEXT)]
    columns += [Column(k, str(title), INT) for k, title in count_columns]
    columns += [Column(m.key, str(m.title), RATE) for m in ratios]
    return Table(
        key="activity_scorecard",
        title=_("Contact rate, promises kept and first-contact compliance"),
        columns=columns,
        rows=rows,
        totals=totals,
        chart=Chart("bar", "collector", tuple(m.key for m in ratios), _("Rates")),
        note=" ".join(
            (
                str(section.note),
                _(
                    "Each rate divides the sums over the contracts (contact rate: right-party "
                    "contacts ÷ attempts; kept rate: kept ÷ judged; compliance: on time ÷ due)."
                ),
            )
        ),
    )


def _usernames(user_ids) -> set[str]:
    return set(db.session.scalars(select(User.username).where(User.id.in_(list(user_ids)))))


@report(
    "activity",
    _l("Collection activity"),
    uses_period=True,
    order=30,
    description=_l(
        "Contact records and promises per collector and period; contact rate, kept rate and "
        "first-contact compliance; compliance refusals and complaints."
    ),
)
def activity(scope: Scope) -> ReportResult:
    """Records per collector and period, the collection scorecard, refusals and complaints."""
    if scope.empty:
        scope = Scope(scope.user, scope.filter, [], [], [])
    tables = records_tables(scope)
    notes = []
    found = sections_of(scope)
    figures = user_figures(scope, SCORECARD, found)
    if figures.section is not None:
        tables.append(scorecard_table(figures))
    without = len(set(scope.contract_ids) - set(figures.contract_ids))
    if without:
        notes.append(
            _(
                "%(n)d of the contracts have no collection module: their records are counted, "
                "but contact rate, promises kept, first-contact compliance, refusals and "
                "complaints are the collection module's and come only from the others.",
                n=without,
            )
        )
    parts: dict[str, list] = {}
    wanted = _usernames(scope.user_ids) if scope.user_ids is not None else None
    for contract, section in found:
        if section.key == DENIALS and wanted is not None:
            section = replace(section, rows=[r for r in section.rows if r.get("user") in wanted])
        if section.key in (DENIALS, COMPLAINTS):
            parts.setdefault(section.key, []).append((contract, section))
    for key in (DENIALS, COMPLAINTS):
        if key in parts:
            tables.append(merge_sections(key, parts[key]))
    narrowed = scope.filter.team is not None or scope.filter.collector is not None
    if COMPLAINTS in parts and narrowed:
        notes.append(
            _(
                "The complaints table is per channel: it follows who may see which cases, "
                "not the team or collector chosen."
            )
        )
    return ReportResult(tables=tables, notes=notes)
