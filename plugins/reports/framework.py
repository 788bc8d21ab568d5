"""What every report shares: its filter, whose figures a user may see, periods in SQL, and
the result a report returns (tables with their charts), which the page, the Excel export and
the job all draw from.

A report is a function registered with :func:`report`::

    @report("recovery", _l("Recovery"), order=10)
    def recovery(scope: Scope) -> ReportResult:
        ...

It aggregates in SQL (GROUP BY) over ``scope``: the contracts the user may see that have the
reports module on, narrowed by the filter, and — for a collector or a team leader — only the
figures attributed to them or their team.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import EXCLUDE, Schema, validate
from marshmallow import fields as mf
from sqlalchemy import func, select

from core.auth.models import Team, User
from core.batches.models import Batch
from core.cases.filters import holder_condition, load_query, sees_team, visible_contract_ids
from core.cases.models import Case
from core.clients.models import Client, Contract, ContractModule
from core.day_totals import cents, from_cents  # noqa: F401  (the reports sum money so)
from core.extensions import db
from core.types import agency_zone

MODULE_NAME = "reports"
MAX_ID = 2**31 - 1
#: Periods a report's figures are grouped by, and the dimensions it breaks them down by.
PERIODS = {"day": _l("Day"), "week": _l("Week"), "month": _l("Month")}
#: The heading of a table's period column: a week is named by the Monday it starts on, which
#: for the first week may come before the period's start.
PERIOD_HEADINGS = {"day": _l("Day"), "week": _l("Week (from Monday)"), "month": _l("Month")}
GROUPS = {
    "client": _l("Client"),
    "contract": _l("Contract"),
    "batch": _l("Batch"),
    "team": _l("Team"),
    "collector": _l("Collector"),
}
#: The days a report's period may fall between: any agency's records, and no date a sum
#: of days could carry past the calendar's ends.
EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)
#: The longest period a report covers: beyond it a day-by-day table has thousands of rows.
MAX_DAYS = 3 * 366


# -- the filter ------------------------------------------------------------------------------


class ReportFilterSchema(Schema):
    """What a report page accepts in its query string (and the export, and the job)."""

    class Meta:
        unknown = EXCLUDE

    start = mf.Date(validate=validate.Range(EARLIEST, LATEST))
    end = mf.Date(validate=validate.Range(EARLIEST, LATEST))
    period = mf.String(validate=validate.OneOf(tuple(PERIODS), error=_l("Not one of the choices.")))
    group = mf.String(validate=validate.OneOf(tuple(GROUPS), error=_l("Not one of the choices.")))
    client = mf.Integer(validate=validate.Range(1, MAX_ID))
    contract = mf.Integer(validate=validate.Range(1, MAX_ID))
    batch = mf.Integer(validate=validate.Range(1, MAX_ID))
    team = mf.Integer(validate=validate.Range(1, MAX_ID))
    collector = mf.Integer(validate=validate.Range(1, MAX_ID))


FIELD_TITLES = {
    "start": _l("From"),
    "end": _l("To"),
    "period": _l("Per"),
    "group": _l("Broken down by"),
    "client": _l("Client"),
    "contract": _l("Contract"),
    "batch": _l("Batch"),
    "team": _l("Team"),
    "collector": _l("Collector"),
}


@dataclass
class ReportFilter:
    """A report's period (``start`` to ``end``, both included, agency-local days) and filters.

    Bad values are dropped and listed in ``errors`` (the page shows them beside the form);
    the period defaults to the current month up to today.
    """

    start: date
    end: date
    period: str = "day"
    group: str = "contract"
    client: int | None = None
    contract: int | None = None
    batch: int | None = None
    team: int | None = None
    collector: int | None = None
    #: field → messages for the values that were dropped.
    errors: dict = field(default_factory=dict)

    @classmethod
    def from_args(cls, args, *, today: date | None = None) -> ReportFilter:
        today = today or datetime.now(agency_zone()).date()
        data, errors = load_query(ReportFilterSchema(), args)
        start = data.pop("start", None) or today.replace(day=1)
        end = data.pop("end", None) or max(today, start)
        if end < start:
            errors["end"] = [_("The end of the period comes before its start.")]
            end = start
        if (end - start).days >= MAX_DAYS:
            errors["start"] = [_("A report covers at most three years.")]
            start = end - timedelta(days=MAX_DAYS - 1)
        return cls(start=start, end=end, **data, errors=errors)

    @property
    def end_exclusive(self) -> date:
        """The day after the period: the bound half-open SQL ranges take."""
        return self.end + timedelta(days=1)

    def among(self, choices: dict[str, list[tuple[int, str]]]) -> ReportFilter:
        """The filter without the ids its form does not offer (``choices``: field → ``(id,
        label)``): another client's contract, a team or collector the user may not pick. Each
        is dropped with an error naming its field, so that the figures never answer a filter
        the form cannot show."""
        dropped = {
            name: None
            for name, options in choices.items()
            if getattr(self, name) is not None and getattr(self, name) not in dict(options)
        }
        if not dropped:
            return self
        errors = {**self.errors, **{name: [_("Not one of the choices.")] for name in dropped}}
        return replace(self, **dropped, errors=errors)

    def error_messages(self) -> list[str]:
        return [
            f"{FIELD_TITLES.get(name, name)}: {'; '.join(str(m) for m in messages)}"
            for name, messages in self.errors.items()
        ]

    def as_args(self) -> dict:
        """The filter as query-string values (for links, the export, the job, the audit)."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "errors" and value not in (None, ""):
                out[f.name] = value.isoformat() if isinstance(value, date) else str(value)
        return out


# -- whose figures ---------------------------------------------------------------------------


@dataclass
class Scope:
    """What one user's report counts.

    - ``contract_ids``: contracts the user may see, with the reports module on, narrowed by
      the filter's client and contract (an empty list: nothing to count);
    - ``user_ids``: ``None`` when figures of everyone count; otherwise only the figures
      attributed to these users (a collector: themselves; a team leader: their team; the
      team or collector filter narrows either);
    - ``team_ids``: the teams whose pooled cases count besides ``user_ids`` (a team leader's
      team, or the team filtered on); ``None`` with ``user_ids`` ``None``;
    - ``full``: build every row of every table (the Excel file, and a job, whose result
      serves both its page and its file). False (a page): a report may read only the first
      :data:`PAGE_ROWS` rows of a long table, saying how many it has (``Table.row_count``).
    """

    user: User
    filter: ReportFilter
    contract_ids: list[int]
    user_ids: list[int] | None
    team_ids: list[int] | None
    full: bool = False

    @classmethod
    def of(cls, user, report_filter: ReportFilter, *, full: bool = False) -> Scope:
        contract_ids = report_contract_ids(user)
        if report_filter.contract is not None:
            contract_ids = [c for c in contract_ids if c == report_filter.contract]
        if report_filter.client is not None:
            of_client = set(
                db.session.scalars(
                    select(Contract.id).where(Contract.client_id == report_filter.client)
                )
            )
            contract_ids = [c for c in contract_ids if c in of_client]
        user_ids, team_ids = _people(user, report_filter)
        return cls(user, report_filter, contract_ids, user_ids, team_ids, full)

    # Conditions for the reports' queries ----------------------------------------------------

    def case_conditions(self) -> list:
        """Conditions on ``cases`` for the cases the report covers now (stock figures)."""
        conditions = [Case.contract_id.in_(self.contract_ids)]
        if self.filter.batch is not None:
            conditions.append(Case.batch_id == self.filter.batch)
        return conditions + self.held_by(Case.holder_id, Case.team_id)

    def held_by(self, user_column, team_column) -> list:
        """Conditions keeping what is held (by ``user_column``, or pooled to ``team_column``)
        by the scope's users or their teams: none when everyone's figures count."""
        if self.user_ids is None:
            return []
        holders = user_column.in_(self.user_ids)
        if self.team_ids:
            holders = holders | team_column.in_(self.team_ids)
        return [holders]

    def user_condition(self, column) -> list:
        """Conditions keeping only figures attributed (by ``column``) to the scope's users."""
        return [] if self.user_ids is None else [column.in_(self.user_ids)]

    @property
    def empty(self) -> bool:
        return not self.contract_ids or self.user_ids == []


def report_contract_ids(user) -> list[int]:
    """Contracts whose figures ``user`` may see in reports: visible, with the module on."""
    query = (
        select(ContractModule.contract_id)
        .where(ContractModule.module == MODULE_NAME)
        .order_by(ContractModule.contract_id)
    )
    visible = visible_contract_ids(user)
    if visible is not None:
        query = query.where(ContractModule.contract_id.in_(visible))
    return list(db.session.scalars(query))


def _people(user, report_filter: ReportFilter) -> tuple[list[int] | None, list[int] | None]:
    """``(user_ids, team_ids)`` of :class:`Scope`: the user's reach, narrowed by the filter."""
    if holder_condition(user) is None:  # sees every case of their contracts
        user_ids, team_ids = None, None
    elif sees_team(user):
        user_ids = _team_members(user.team_id) | {user.id}
        team_ids = {user.team_id}
    else:
        user_ids, team_ids = {user.id}, set()
    if report_filter.team is not None:
        members = _team_members(report_filter.team)
        user_ids = members if user_ids is None else user_ids & members
        team_ids = {report_filter.team} if team_ids is None else team_ids & {report_filter.team}
    if report_filter.collector is not None:
        wanted = {report_filter.collector}
        user_ids = wanted if user_ids is None else user_ids & wanted
        team_ids = set()
    if user_ids is None:
        return None, None
    return sorted(user_ids), sorted(team_ids or ())


def _team_members(team_id: int) -> set[int]:
    return set(db.session.scalars(select(User.id).where(User.team_id == team_id)))


# -- periods and days in SQL -----------------------------------------------------------------


def _dialect() -> str:
    return db.engine.dialect.name


def utc_bounds(start: date, end_exclusive: date) -> tuple[datetime, datetime]:
    """The UTC instants at which agency-local ``start`` and ``end_exclusive`` begin."""
    zone = agency_zone()
    return (
        datetime.combine(start, time(0), tzinfo=zone).astimezone(UTC),
        datetime.combine(end_exclusive, time(0), tzinfo=zone).astimezone(UTC),
    )


def local_day(column, *, on: date):
    """The agency-local day of a UTC datetime ``column``, as ``YYYY-MM-DD`` text.

    PostgreSQL converts with the zone's rules. SQLite knows no zones: it adds the zone's
    offset on day ``on`` (the period's start), so in a zone with daylight saving a period
    that spans a change counts the hour around midnight by the offset it began with.
    """
    zone = agency_zone()
    if _dialect() == "postgresql":
        return func.to_char(func.timezone(zone.key, column), "YYYY-MM-DD")
    offset = datetime.combine(on, time(12), tzinfo=zone).utcoffset()
    minutes = int(offset.total_seconds() // 60)
    return func.strftime("%Y-%m-%d", column, f"{minutes:+d} minutes")


def period_of_day(day_text, period: str):
    """The period label of a ``YYYY-MM-DD`` text (or a date column): the day itself, the
    Monday its week starts on (``YYYY-MM-DD``), or its month (``YYYY-MM``)."""
    if _dialect() == "postgresql":
        as_date = func.cast(day_text, db.Date)
        if period == "day":
            return func.to_char(as_date, "YYYY-MM-DD")
        if period == "week":
            return func.to_char(func.date_trunc("week", as_date), "YYYY-MM-DD")
        return func.to_char(as_date, "YYYY-MM")
    if period == "day":
        return func.date(day_text)
    if period == "week":
        return func.date(day_text, "-6 days", "weekday 1")
    return func.strftime("%Y-%m", day_text)


def month_start(day: date) -> date:
    """The first day of ``day``'s month."""
    return day.replace(day=1)


def previous_month(month: date) -> date:
    """The first day of the month before ``month``'s."""
    return month_start(month_start(month) - timedelta(days=1))


def next_month(month: date) -> date:
    """The first day of the month after ``month``'s."""
    return month_start(month_start(month) + timedelta(days=32))


def period_label(day: date, period: str) -> str:
    """The label of the period ``day`` falls in: the day itself, the Monday its week starts
    on (``YYYY-MM-DD``), or its month (``YYYY-MM``)."""
    if period == "day":
        return day.isoformat()
    if period == "week":
        return (day - timedelta(days=day.weekday())).isoformat()
    return day.strftime("%Y-%m")


def period_labels(start: date, end: date, period: str) -> list[str]:
    """Every period label from ``start`` to ``end`` (included), in order: empty periods are
    shown as rows of zeros, not left out."""
    labels, day = [], start
    while day <= end:
        labels.append(period_label(day, period))
        if period == "day":
            day += timedelta(days=1)
        elif period == "week":
            day += timedelta(days=7 - day.weekday())
        else:
            day = next_month(day)
    return labels


def names_of(group: str, ids) -> dict:
    """``{id: name}`` of the clients, contracts, batches, teams or collectors (``group``) with
    these ids: a collector by their display name, else their username."""
    ids = [i for i in ids if i is not None]
    if not ids:
        return {}
    key, name = {
        "client": (Client.id, Client.name),
        "contract": (Contract.id, Contract.number),
        "batch": (Batch.id, Batch.batch_no),
        "team": (Team.id, Team.name),
        "collector": (User.id, func.coalesce(func.nullif(User.display_name, ""), User.username)),
    }[group]
    return dict(db.session.execute(select(key, name).where(key.in_(ids))).all())


def rate(numerator, denominator) -> Decimal | None:
    """``numerator ÷ denominator`` as a fraction to four places; None when nothing to divide."""
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.0001"))


# -- what a report returns ------------------------------------------------------------------

#: A page shows at most this many rows of a table; the Excel file has them all.
PAGE_ROWS = 500

#: Kinds of a column: how the page formats it and what the Excel export writes.
TEXT, INT, MONEY, RATE, DATE = "text", "int", "money", "rate", "date"


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    #: text, int, money (Decimal, two places), rate (a fraction, shown as a percentage), date.
    kind: str = TEXT


@dataclass(frozen=True)
class Chart:
    """A chart drawn from its table: categories from ``label`` and one series per ``values``."""

    #: line (over periods), bar (compare groups) or pie (shares of a whole).
    kind: str
    label: str
    values: tuple[str, ...]
    title: str = ""


@dataclass
class Table:
    """One table of a report; the page draws its chart beside it and exports it as a sheet."""

    key: str
    title: str
    columns: list[Column]
    rows: list[dict] = field(default_factory=list)
    #: The totals row (same keys), computed in SQL over the same rows, or None.
    totals: dict | None = None
    chart: Chart | None = None
    #: A sentence under the table saying how the figures were counted.
    note: str = ""
    #: How many rows the table has when ``rows`` holds only its first ones (a page's build,
    #: ``Scope.full`` False); None: ``rows`` is the whole table.
    row_count: int | None = None


@dataclass
class ReportResult:
    tables: list[Table] = field(default_factory=list)
    #: Sentences shown above the tables (what was left out, and why).
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Report:
    key: str
    title: str
    build: Callable[[Scope], ReportResult]
    description: str = ""
    #: Needed besides reports.view.
    permission: str = "reports.view"
    #: Which filter fields the page offers for this report (besides the period).
    filters: tuple[str, ...] = ("client", "contract", "batch", "team", "collector")
    #: Pages the report's header links to: ``(title, endpoint, permission)``, each shown to
    #: who holds its permission (the commission statement links to its tiers).
    links: tuple[tuple[str, str, str], ...] = ()
    #: Whether the report's figures are grouped by ``period`` / broken down by ``group``.
    uses_period: bool = False
    uses_group: bool = False
    order: int = 100

    def may_open(self, user) -> bool:
        return user.can("reports.view") and user.can(self.permission)

    def read_filter(self, args, *, today: date | None = None) -> ReportFilter:
        """The filter of a query string, with only the filters this report offers: a value
        its form has no field for (a collector on the commission statement) is ignored."""
        offered = {"start", "end", "period", "group", *self.filters}
        return ReportFilter.from_args(
            {name: args.get(name) for name in offered if args.get(name) is not None}, today=today
        )


#: key → report, filled by :func:`report` as the report modules are imported.
REPORTS: dict[str, Report] = {}


def report(key: str, title, **options):
    """Register the decorated ``build(scope) -> ReportResult`` as report ``key``."""

    def decorator(build):
        REPORTS[key] = Report(key=key, title=title, build=build, **options)
        return build

    return decorator


def _registered() -> dict[str, Report]:
    from plugins.reports import catalogue  # noqa: F401  (registers every report)

    return REPORTS


def find_report(key: str) -> Report | None:
    return _registered().get(key)


def reports_for(user) -> list[Report]:
    """The reports ``user`` may open, in menu order."""
    return sorted((r for r in _registered().values() if r.may_open(user)), key=lambda r: r.order)
