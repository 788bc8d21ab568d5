"""Month-end bucket snapshots (账龄快照) and the roll-rate matrix (迁徙率) read from them.

A case's bucket is only known as it is now, so the movement of buckets month to month needs a
record of where each case stood at each month's end: :func:`take_snapshot` writes one
:class:`~plugins.reports.models.BucketSnapshot` row per case, copying in the case's bucket and
status from the previous month's snapshot, so that one month's movements are read from that
month's rows alone (:func:`roll_counts`). ``maple reports snapshot`` takes it from cron.

Everything is set-wise in SQL: the snapshot is one ``INSERT … SELECT … LEFT JOIN``, the matrix
one ``GROUP BY month, previous bucket, bucket``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, delete, func, insert, literal, select, update

from core.cases.filters import BUCKETS
from core.cases.models import CLOSED, RETURNED, SETTLED, Case
from core.clients.models import ContractModule
from core.extensions import db
from core.types import agency_zone, utcnow
from plugins.reports.framework import MODULE_NAME, Scope
from plugins.reports.models import BucketSnapshot

#: Statuses that end a case's collection: the matrix shows them as columns of their own.
ENDED = (SETTLED, CLOSED, RETURNED)


def month_start(day: date) -> date:
    """The first day of ``day``'s month: the key of its snapshot."""
    return day.replace(day=1)


def previous_month(month: date) -> date:
    return month_start(month_start(month) - timedelta(days=1))


def next_month(month: date) -> date:
    return month_start(month_start(month) + timedelta(days=32))


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
    """Give the next month's snapshot (when taken already) this month's buckets as previous."""
    following = next_month(month)
    if not months_taken([following]):
        return
    now = BucketSnapshot.__table__.alias("now")

    def of_month(column):
        return (
            select(column)
            .where(now.c.month == month, now.c.case_id == BucketSnapshot.case_id)
            .scalar_subquery()
        )

    db.session.execute(
        update(BucketSnapshot)
        .where(BucketSnapshot.month == following)
        .values(
            previous_bucket=func.coalesce(of_month(now.c.bucket), ""),
            previous_status=func.coalesce(of_month(now.c.status), ""),
        )
        .execution_options(synchronize_session=False)
    )


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
    if scope.user_ids is not None:
        holders = BucketSnapshot.holder_id.in_(scope.user_ids)
        if scope.team_ids:
            holders = holders | BucketSnapshot.team_id.in_(scope.team_ids)
        conditions.append(holders)
    return conditions


def moved_to():
    """Where a case stands at the month's end: its status when ended, else its bucket (""
    for none or one outside M1…M6+)."""
    return case(
        (BucketSnapshot.status.in_(ENDED), BucketSnapshot.status),
        (BucketSnapshot.bucket.in_(BUCKETS), BucketSnapshot.bucket),
        else_="",
    )


def came_from():
    """The bucket at the previous month's end ("" for a case new this month or without one)."""
    return case(
        (BucketSnapshot.previous_bucket.in_(BUCKETS), BucketSnapshot.previous_bucket),
        else_="",
    )


def roll_counts(scope: Scope, months: list[date]) -> dict[tuple[date, str, str], int]:
    """``(month, previous bucket, moved to) → cases`` over the snapshots of ``months``."""
    if scope.empty or not months:
        return {}
    origin, target = came_from().label("origin"), moved_to().label("target")
    query = (
        select(BucketSnapshot.month, origin, target, func.count())
        .where(*snapshot_conditions(scope, months))
        .group_by(BucketSnapshot.month, origin, target)
    )
    return {(_as_date(m), o, t): n for m, o, t, n in db.session.execute(query)}


def roll_totals(scope: Scope, months: list[date]) -> dict[tuple[date, str], int]:
    """``(month, moved to) → cases``: the matrices' totals rows, counted over the same rows."""
    if scope.empty or not months:
        return {}
    target = moved_to().label("target")
    query = (
        select(BucketSnapshot.month, target, func.count())
        .where(*snapshot_conditions(scope, months))
        .group_by(BucketSnapshot.month, target)
    )
    return {(_as_date(m), t): n for m, t, n in db.session.execute(query)}


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
