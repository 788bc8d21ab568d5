"""Per-day totals: a small table holding, per agency-local day and a few keys, the sums of a
large table's rows, so that a report over a period reads a few hundred rows per day instead
of every record of the period.

A totals table is derived data. Its owner keeps it as rows are written (:func:`add`, an
upsert that adds, safe against a concurrent writer of the same row) and can rebuild it from
the rows set-wise (:func:`add_selected`), which the ``maple db rebuild-totals`` command does
for every owner (hook ``rebuild_day_totals``), for instance after the agency's time zone
(``BABEL_DEFAULT_TIMEZONE``) changed: a row's day is the agency-local day it happened on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import BigInteger, Date, Table, cast, event, func, inspect
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core.extensions import db
from core.types import agency_zone

#: The key a totals table stores for "no user" (an import's or the system's rows): a key
#: column cannot be NULL, as two NULLs are never the same key.
NO_USER = 0


def local_date(moment: datetime) -> date:
    """The agency-local day of an aware datetime."""
    return moment.astimezone(agency_zone()).date()


def cents(column):
    """SQL: a money column in whole cents. Sums of cents are exact on both databases (SQLite
    would add the amounts as floating point), so a total equals the sum of its rows."""
    return cast(func.round(column * 100), BigInteger)


def from_cents(value) -> Decimal:
    """A sum of :func:`cents` as money (``None``, an empty sum, is zero)."""
    return (Decimal(int(value or 0)) / 100).quantize(Decimal("0.01"))


def writer(connection=None):
    """``(executor, dialect name)`` of whoever writes: ``connection`` (a migration's or a
    mapper event's), else the session."""
    if connection is None:
        return db.session, db.session.get_bind().dialect.name
    return connection, connection.dialect.name


def _insert(table: Table, connection=None):
    bind = db.session.get_bind() if connection is None else connection
    return (postgresql_insert if bind.dialect.name == "postgresql" else sqlite_insert)(table)


def _adding(statement, table: Table, keys: Iterable[str], figures: Iterable[str]):
    """``statement`` (an insert) turned into an upsert that adds its figures to the row's."""
    return statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: table.c[name] + statement.excluded[name] for name in figures},
    )


def add(table: Table, keys: dict, figures: dict, *, connection=None) -> None:
    """Add ``figures`` (column → number, negative to take away) to ``table``'s row at ``keys``
    (column → value, the table's primary key), created at zero when missing.

    ``connection``: the one to write on (a mapper event's); the session's by default.
    """
    statement = _insert(table, connection).values(**keys, **figures)
    statement = _adding(statement, table, keys, figures)
    (connection or db.session).execute(statement)


def kept_by_rows(model, table: Table, watched: tuple[str, ...], contribution: Callable) -> None:
    """Keep ``table`` the sum of ``model``'s rows as the ORM writes them (mapper events, in
    the writing transaction). ``contribution(values)`` says what a row whose ``watched``
    attributes hold ``values`` (name → value) adds: a list of ``(keys, figures)`` (a row may
    count on two days, as a promise made one day and judged another). An insert adds the
    row's contribution, a delete takes it away, an update of a watched attribute moves it
    from what the old values gave to what the new ones give.

    A bulk statement bypasses the ORM: whoever writes rows so rebuilds the table.
    """

    def values(target, *, before: bool) -> dict:
        attributes = inspect(target).attrs
        found = {}
        for name in watched:
            history = attributes[name].history
            if before and history.has_changes():
                # A value set where there was none has no deleted entry: it was None.
                found[name] = history.deleted[0] if history.deleted else None
            else:
                found[name] = getattr(target, name)
        return found

    def apply(connection, old: dict | None, new: dict | None) -> None:
        changes: dict[tuple, dict] = {}
        for sign, row in ((-1, old), (1, new)):
            for keys, figures in contribution(row) if row is not None else ():
                change = changes.setdefault(tuple(sorted(keys.items())), {})
                for name, value in figures.items():
                    change[name] = change.get(name, 0) + sign * value
        for keys, change in changes.items():
            if any(change.values()):
                add(table, dict(keys), change, connection=connection)

    for name in watched:
        # An update must know the value it replaces, even one not loaded when it was set.
        event.listen(getattr(model, name), "set", _nothing, active_history=True)

    @event.listens_for(model, "after_insert")
    def inserted(mapper, connection, target) -> None:
        apply(connection, None, values(target, before=False))

    @event.listens_for(model, "after_update")
    def updated(mapper, connection, target) -> None:
        attributes = inspect(target).attrs
        if any(attributes[name].history.has_changes() for name in watched):
            apply(connection, values(target, before=True), values(target, before=False))

    @event.listens_for(model, "after_delete")
    def deleted(mapper, connection, target) -> None:
        apply(connection, values(target, before=True), None)


def _nothing(*_event) -> None:
    """A listener whose registration alone matters (``active_history``)."""


def sqlite_day_of(column, offset: timedelta):
    """SQL (SQLite): the local day of UTC datetime ``column`` in a zone ``offset`` ahead of
    UTC."""
    return func.date(column, f"{int(offset.total_seconds() // 60):+d} minutes")


def fixed_offsets(first: datetime, last: datetime) -> list[tuple[datetime, datetime, timedelta]]:
    """``(begin, end, offset)``: the instants from ``first`` to ``last`` (included) cut where
    the agency's zone changes its offset from UTC (daylight saving), so that within each
    stretch a local day is the UTC time plus one offset. One stretch in a zone without
    daylight saving (China)."""
    zone = agency_zone()
    first, last = first.astimezone(UTC), last.astimezone(UTC)

    def offset(moment: datetime) -> timedelta:
        return moment.astimezone(zone).utcoffset()

    stretches, begin = [], first
    step = timedelta(hours=6)
    while True:
        here = offset(begin)
        probe = begin
        while probe <= last and offset(probe) == here:
            probe += step
        if probe > last and offset(last) == here:
            stretches.append((begin, last + timedelta(microseconds=1), here))
            return stretches
        # The change lies in (probe - step, probe]: halve down to the microsecond.
        low, high = probe - step, probe
        while high - low > timedelta(microseconds=1):
            middle = low + (high - low) // 2
            low, high = (middle, high) if offset(middle) == here else (low, middle)
        stretches.append((begin, high, here))
        begin = high


#: Bounds beyond any instant a row holds, for a select over every instant.
EARLIEST, LATEST = datetime(1, 1, 2, tzinfo=UTC), datetime(9999, 12, 30, tzinfo=UTC)


def add_selected(
    table: Table,
    keys: list[str],
    figures: list[str],
    moment_column,
    select_for: Callable,
    *,
    among=(),
    connection=None,
) -> None:
    """Add to ``table`` the sums a set-wise ``select`` computes: ``select_for(day, begin,
    end)`` returns a select of the ``keys`` then the ``figures`` columns, grouped by the
    keys, over the rows whose ``moment_column`` lies in ``[begin, end)``, with ``day`` the
    SQL local day of that column.

    PostgreSQL converts each instant in the agency's zone itself: one call over every
    instant. SQLite knows no zones: one call per stretch of one UTC offset (a day cut by a
    daylight-saving change adds up from both stretches), the stretches covering the moments
    of the rows meeting ``among`` (conditions; the selects must apply them too), every row
    by default. ``connection``: as for :func:`add`.
    """
    executor, dialect = writer(connection)
    if dialect == "postgresql":
        local_day = cast(func.timezone(agency_zone().key, moment_column), Date)
        query = select_for(local_day, EARLIEST, LATEST)
        add_from_select(table, keys, figures, query, connection=connection)
        return
    first, last = executor.execute(
        db.select(func.min(moment_column), func.max(moment_column)).where(*among)
    ).one()
    if first is None:
        return
    for begin, end, offset in fixed_offsets(_aware(first), _aware(last)):
        query = select_for(sqlite_day_of(moment_column, offset), begin, end)
        add_from_select(table, keys, figures, query, connection=connection)


def add_from_select(table: Table, keys: list[str], figures: list[str], query, *, connection=None):
    """Add to ``table`` the rows ``query`` selects (the ``keys`` then the ``figures``
    columns, one row per key), as :func:`add` adds one. ``connection``: as for :func:`add`."""
    statement = _insert(table, connection).from_select([*keys, *figures], query)
    (db.session if connection is None else connection).execute(
        _adding(statement, table, keys, figures)
    )


def rebuild(
    table: Table, keys: list[str], figures: list[str], moment_column, select_for, *, connection=None
) -> None:
    """Empty ``table`` and fill it again from the rows (see :func:`add_selected`)."""
    (db.session if connection is None else connection).execute(table.delete())
    add_selected(table, keys, figures, moment_column, select_for, connection=connection)


def _aware(moment) -> datetime:
    # Read back by the column type: aware already, but a bare min() on SQLite is text.
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
