"""Month-end bucket snapshots (账龄快照) and the roll-rate matrix (迁徙率) read from them.

A case's bucket is only known as it is now, so the movement of buckets month to month needs a
record of where each case stood at each month's end: :func:`take_snapshot` writes one
:class:`~plugins.reports.models.BucketSnapshot` row per case, copying in the case's bucket and
status from the previous month's snapshot, so that one month's movements are read from that
month's rows alone (:func:`roll_counts`). ``maple reports snapshot`` takes it from cron.

Everything is set-wise in SQL: the snapshot is one ``INSERT … SELECT … LEFT JOIN``, the matrix
one ``GROUP BY month, previous_bucket, bucket, status``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import and_, delete, func, insert, literal, or_, select, update

from core.cases.filters import BUCKETS
from core.cases.models import CLOSED, RETURNED, SETTLED, Case
from core.clients.models import ContractModule
from core.extensions import db
from core.types import agency_zone, utcnow
from plugins.reports.framework import MODULE_NAME, Scope, month_start, next_month, previous_month
from plugins.reports.models import BucketSnapshot

#: Statuses that end a case's collection: the matrix shows them as columns of their own.
ENDED = (SETTLED, CLOSED, RETURNED)


def default_snapshot_month(today: date | None = None) -> date:
    """The month ``maple reports snapshot`` takes without ``--month``.

    Run on the 1st (the cron job at month start), the month that just ended; on any other day
    the current month, as it stands so far (taking it again at its end replaces it).
    """
    today = today or datetime.now(agency_zone()).date()
    return previous_month(today) if today.day == 1 else month_start(today)


def take_snapshot(month: date) -> int:
    """Write the snapshot of ``month`` (any day of it): one row per case of every contract
    with the reports module on, as the case stands now. Returns how many rows were written.

    A snapshot taken again replaces the month's rows (delete and insert in the caller's
    transaction, so readers see the old rows or the new ones, never a mix), and the following
    month's snapshot, if there is one, takes the new buckets as its previous ones. The caller
    commits.
    """
    month = month_start(month)
    contract_ids = list(
        db.session.scalars(
            select(ContractModule.contract_id).where(ContractModule.module == MODULE_NAME)
        )
    )
    db.session.execute(delete(BucketSnapshot).where(BucketSnapshot.month == month))
    if not contract_ids:
        return 0
    before = BucketSnapshot.__table__.alias("before")
    rows = (
        select(
            literal(month, BucketSnapshot.month.type),
            Case.id,
            Case.contract_id,
            Case.batch_id,
            Case.holder_id,
            Case.team_id,
            Case.bucket,
            Case.status,
            Case.balance,
            func.coalesce(before.c.bucket, ""),
            func.coalesce(before.c.status, ""),
            literal(utcnow(), BucketSnapshot.taken_at.type),
        )
        .select_from(Case)
        .outerjoin(
            before,
            and_(before.c.month == previous_month(month), before.c.case_id == Case.id),
        )
        .where(Case.contract_id.in_(contract_ids))
    )
    columns = [
        "month", "case_id", "contract_id", "batch_id", "holder_id", "team_id", "bucket",
        "status", "balance", "previous_bucket", "previous_status", "taken_at",
    ]  # fmt: skip
    db.session.execute(insert(BucketSnapshot).from_select(columns, rows))
    _relink_next_month(month)
    return db.session.scalar(
        select(func.count()).select_from(BucketSnapshot).where(BucketSnapshot.month == month)
    )


def _relink_next_month(month: date) -> None:
    """Give the next month's snapshot (when taken already) this month's buckets as previous.

    Only the rows whose previous bucket or status changed are written (a join, then the
    cases no longer in this month): most of a million rows stay as they are.
    """
    following = next_month(month)
    if not months_taken([following]):
        return
    later, now = BucketSnapshot, BucketSnapshot.__table__.alias("now")
    db.session.execute(
        update(later)
        .where(
            later.month == following,
            now.c.month == month,
            now.c.case_id == later.case_id,
            or_(later.previous_bucket != now.c.bucket, later.previous_status != now.c.status),
        )
        .values(previous_bucket=now.c.bucket, previous_status=now.c.status)
        .execution_options(synchronize_session=False)
    )
    in_month = select(now.c.case_id).where(now.c.month == month, now.c.case_id == later.case_id)
    db.session.execute(
        update(later)
        .where(
            later.month == following,
            or_(later.previous_bucket != "", later.previous_status != ""),
            ~in_month.exists(),
        )
        .values(previous_bucket="", previous_status="")
        .execution_options(synchronize_session=False)
    )


def refresh_statistics() -> None:
    """Bring the planner's view of the snapshots up to date, after a snapshot was committed.

    The roll-rate matrix reads a month from ``ix_reports_bucket_snapshots_movement`` alone.
    PostgreSQL does so only for pages its visibility map marks all-visible (``VACUUM``; a
    month just written otherwise costs a heap fetch a row: 1.26 s instead of 0.16 s at 1M
    cases), and SQLite picks that index only with the table's statistics (``ANALYZE``).
    """
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM (ANALYZE) reports_bucket_snapshots")
    else:
        with db.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE reports_bucket_snapshots")


# -- the roll-rate matrix ----------------------------------------------------------------------


def snapshot_conditions(scope: Scope, months: list[date]) -> list:
    """Conditions on the snapshot rows ``scope`` counts for ``months``.

    The same reach as :meth:`Scope.case_conditions`, read from the copies the snapshot keeps
    (contract, batch, holder, team). A case that had ended (settled, closed, returned) by the
    previous month's end and is still ended is no movement of this month: left out.
    """
    conditions = [
        BucketSnapshot.month.in_(months),
        BucketSnapshot.contract_id.in_(scope.contract_ids),
        ~and_(BucketSnapshot.previous_status.in_(ENDED), BucketSnapshot.status.in_(ENDED)),
    ]
    if scope.filter.batch is not None:
        conditions.append(BucketSnapshot.batch_id == scope.filter.batch)
    return conditions + scope.held_by(BucketSnapshot.holder_id, BucketSnapshot.team_id)


def moved_to(bucket: str, status: str) -> str:
    """Where a case stands at a month's end: its status when it ended, else its bucket (""
    for none or one outside M1…M6+)."""
    if status in ENDED:
        return status
    return bucket if bucket in BUCKETS else ""


def came_from(previous_bucket: str) -> str:
    """The bucket at the previous month's end ("" for a case new this month or without one)."""
    return previous_bucket if previous_bucket in BUCKETS else ""


@dataclass
class RollCounts:
    """The cases of the roll-rate matrices of some months."""

    #: ``(month, previous bucket, moved to) → cases`` (see :func:`came_from`, :func:`moved_to`).
    cells: dict = field(default_factory=dict)
    #: ``(month, moved to) → cases``: the matrices' totals rows.
    totals: dict = field(default_factory=dict)


def roll_counts(scope: Scope, months: list[date]) -> RollCounts:
    """Count the snapshot rows of ``months`` in ``scope`` by previous bucket and by where the
    cases stand now.

    One ``GROUP BY month, previous_bucket, bucket, status`` on the plain columns, in the order
    of ``ix_reports_bucket_snapshots_movement`` (index only, no sort: 0.6 s for two months of
    a million cases on SQLite, where grouping by the categories themselves sorts and took
    2.2 s). The totals per (month, bucket, status) are summed by the database over the same
    groups (a window); the few groups are then put in their matrix cells.
    """
    counts = RollCounts()
    if scope.empty or not months:
        return counts
    snapshot = BucketSnapshot
    groups = (
        snapshot.month,
        snapshot.previous_bucket,
        snapshot.bucket,
        snapshot.status,
    )
    column_total = func.sum(func.count()).over(
        partition_by=(snapshot.month, snapshot.bucket, snapshot.status)
    )
    query = (
        select(*groups, func.count(), column_total)
        .where(*snapshot_conditions(scope, months))
        .group_by(*groups)
    )
    seen_columns = set()
    for month, previous, bucket, status, cases, total in db.session.execute(query):
        month = _as_date(month)
        cell = (month, came_from(previous), moved_to(bucket, status))
        counts.cells[cell] = counts.cells.get(cell, 0) + cases
        if (month, bucket, status) not in seen_columns:  # one total per window partition
            seen_columns.add((month, bucket, status))
            column = (month, moved_to(bucket, status))
            counts.totals[column] = counts.totals.get(column, 0) + int(total)
    return counts


def months_taken(months: list[date]) -> list[date]:
    """Which of ``months`` have a snapshot (of any contract): one indexed probe per month."""
    return [
        month
        for month in months
        if db.session.scalar(
            select(BucketSnapshot.case_id).where(BucketSnapshot.month == month).limit(1)
        )
        is not None
    ]


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
