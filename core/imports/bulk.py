"""Writing an import's rows fast: driver-level bulk inserts, id reservation, one-parameter IN.

SQLAlchemy's Core ``insert().execute(list_of_dicts)`` builds and processes one parameter
dict per row; at 100 000 cases plus their 400 000 phones and addresses that bookkeeping
costs more than the database's own work. The import writes through the driver instead, in
the import's transaction (the session's connection), with values prepared the way
SQLAlchemy would bind them (each column type's bind processor: on SQLite a ``Decimal``
becomes a float and a date an ISO string, exactly as the ORM stores them):

- PostgreSQL: ``COPY … FROM STDIN`` through psycopg (the fastest path PostgreSQL has; it
  streams, and the server maintains indexes while Python prepares the next rows).
- SQLite: ``cursor.executemany`` with tuples.
- Any other database: SQLAlchemy Core ``executemany`` (correct, slower).

Ids are assigned here when the caller needs them (child rows refer to the new cases), so
nothing is read back: PostgreSQL draws them from the table's sequence (concurrency-safe);
SQLite continues from ``max(id)``, which is safe because the import holds SQLite's write
lock from ``BEGIN IMMEDIATE`` (see ``services.lock_batch``). An id taken concurrently
anyway would fail the insert on the primary key: the import rolls back, it never mixes
rows up.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from datetime import date, datetime

from sqlalchemy import Table, bindparam, func, insert, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import String

from core.extensions import db

#: SQLite page cache for the import's connection, in KiB (negative = KiB, SQLite's rule).
#: The default 2 MB makes every index insert of a large batch page in and out; 64 MB keeps
#: the cases table's indexes in memory while 100 000 rows go in (1.6× faster measured).
SQLITE_IMPORT_CACHE_KIB = 65536


def _connection():
    return db.session.connection()


def dialect_name() -> str:
    return _connection().dialect.name


def _driver_connection():
    return _connection().connection.driver_connection


def _check_columns(table: Table, columns: Sequence[str]) -> None:
    """Refuse a column list that would skip a Python-side default SQLAlchemy would fill."""
    given = set(columns)
    for column in table.columns:
        if column.name in given or column.primary_key:
            continue
        if column.default is not None:
            raise ValueError(f"bulk insert into {table.name} must give a value for {column.name}")


def bind_processors(table: Table, columns: Sequence[str]) -> list:
    """Each column's bind processor on this connection's dialect (None where there is none)."""
    dialect = _connection().dialect
    return [table.c[name].type._cached_bind_processor(dialect) for name in columns]


#: Value types whose (Python-level) bind processing is cached per column: dates repeat.
_REPEATING = frozenset({date, datetime})


def prepare(table: Table, columns: Sequence[str], rows: list[tuple]) -> list[tuple]:
    """``rows`` with every value processed as SQLAlchemy would bind it, column by column.

    Only the columns that have a processor are touched; a value repeated in a column (an
    entrust date, a currency) is processed once.
    """
    processors = bind_processors(table, columns)
    active = [(i, p) for i, p in enumerate(processors) if p is not None]
    if not active or not rows:
        return rows
    columns_out = list(zip(*rows, strict=True))
    for index, process in active:
        column = columns_out[index]
        sample = next((value for value in column if value is not None), None)
        if sample.__class__ in _REPEATING:  # dates: few distinct ones, converted once each
            seen: dict = {None: None}
            for value in column:
                if value not in seen:
                    seen[value] = process(value)
            columns_out[index] = [seen[value] for value in column]
        else:  # amounts and the like
            columns_out[index] = [None if value is None else process(value) for value in column]
    return list(zip(*columns_out, strict=True))


def insert_rows(table: Table, columns: Sequence[str], rows: Iterable[tuple]) -> None:
    """Insert ``rows`` (tuples in ``columns`` order) into ``table`` in the import's transaction.

    ``rows`` may be a generator: on PostgreSQL each row is sent as it is produced, so the
    server stores rows while Python builds the next ones.
    """
    if isinstance(rows, list) and not rows:
        return
    _check_columns(table, columns)
    name = dialect_name()
    if name == "postgresql":
        quoted = ", ".join(f'"{c}"' for c in columns)
        statement = f'COPY "{table.name}" ({quoted}) FROM STDIN'
        with _driver_connection().cursor() as cursor, cursor.copy(statement) as copy:
            write = copy.write_row
            for row in prepare_each(table, columns, rows):
                write(row)
        return
    rows = list(rows)
    if not rows:
        return
    if name == "sqlite":
        marks = ", ".join("?" * len(columns))
        cursor = _driver_connection().cursor()
        try:
            cursor.executemany(
                f'INSERT INTO "{table.name}" ({", ".join(columns)}) VALUES ({marks})',
                prepare(table, columns, rows),
            )
        finally:
            cursor.close()
        return
    db.session.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])


def prepare_each(table: Table, columns: Sequence[str], rows: Iterable[tuple]):
    """:func:`prepare`, row by row (a generator): for a stream, and for tables where few
    columns have a processor (on PostgreSQL, only the timestamps)."""
    processors = bind_processors(table, columns)
    active = [(i, p) for i, p in enumerate(processors) if p is not None]
    if not active:
        yield from rows
        return
    seen: dict = {}
    for row in rows:
        row = list(row)
        for index, process in active:
            value = row[index]
            if value is None:
                continue
            if value.__class__ in _REPEATING:
                key = (index, value)
                found = seen.get(key)
                if found is None:
                    found = seen[key] = process(value)
                row[index] = found
            else:
                row[index] = process(value)
        yield row


def reserve_ids(table: Table, count: int) -> list[int]:
    """``count`` new primary-key values for ``table`` (see the module's docstring)."""
    if count <= 0:
        return []
    connection = _connection()
    if connection.dialect.name == "postgresql":
        sequence = connection.scalar(
            text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": table.name}
        )
        result = connection.execute(
            text("SELECT nextval(:sequence) FROM generate_series(1, :count)"),
            {"sequence": sequence, "count": count},
        )
        return [value for (value,) in result]
    highest = connection.scalar(select(table.c.id).order_by(table.c.id.desc()).limit(1)) or 0
    return list(range(highest + 1, highest + 1 + count))


def in_values(column, values: Iterable):
    """``column IN values`` with a single bound parameter, however many values there are.

    Thousands of values per query are fine (PostgreSQL ``IN (SELECT unnest(array))``,
    SQLite ``IN (SELECT value FROM json_each(?))``), so a chunk's duplicate check is one
    query rather than one per 900 values. The values are strings (serials, card numbers).

    Not ``= ANY(array)`` nor a long ``IN (…)`` list on PostgreSQL: once psycopg prepares
    the repeated query, its generic plan may test every row of an index range against the
    whole array (quadratic: an import of 100 000 rows took 90 s). A set-returning subquery
    is a semi-join, hashed or driven by the column's index; linear either way. Use it on an
    indexed column and add no other condition that could offer the planner a worse index.
    """
    values = list(values)
    if dialect_name() == "postgresql":
        array = bindparam(None, values, type_=ARRAY(String))
        return column.in_(select(func.unnest(array)).scalar_subquery())
    if dialect_name() == "sqlite":
        each = func.json_each(json.dumps(values)).table_valued("value")
        return column.in_(select(each.c.value).scalar_subquery())
    return column.in_(values)


@contextmanager
def tuned_for_import():
    """A larger page cache on the import's SQLite connection while it writes; restored after.

    Durability settings are left as they are (the import commits with the usual
    ``synchronous`` level).
    """
    connection = _connection()
    if connection.dialect.name != "sqlite":
        yield
        return
    raw = _driver_connection()
    (previous,) = raw.execute("PRAGMA cache_size").fetchone()
    raw.execute(f"PRAGMA cache_size = -{SQLITE_IMPORT_CACHE_KIB}")
    try:
        yield
    finally:
        raw.execute(f"PRAGMA cache_size = {int(previous)}")
