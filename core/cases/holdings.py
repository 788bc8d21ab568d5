"""What each holder held and was paid, per day: the holders' history as changes per
agency-local day (``holding_day_changes``) and the confirmed payments per day paid with whom
they are attributed to (``payment_day_totals``). A report over a period then sums a few rows
per holder and day instead of joining every assignment to its case, or every payment to the
history.

**Holdings.** An assignment adds its case (one case, its entrusted amount) on the local day it
began and takes it away on the local day it ended. A case counts at the end of day ``E`` for
the assignment with ``assigned_at`` before ``E``'s next midnight and ``ended_at`` unset or
not before it: exactly the rule ``case_assignments`` answers directly, as the sum of the
changes of days up to ``E``. The entrusted amount is the case's as it stands.

**Payments.** A confirmed payment belongs to whoever held its case at the end of the day it
was paid (:func:`end_of_paid_day`), else to nobody (the pool row's team, if any).

**Keeping them.** A change of what a case contributes is written as taking the case out with
its old figures and putting it back with the new ones (:func:`changing`), in the writer's
transaction: every change of the holders' history or of an entrusted amount goes through it.
The writers are set-wise statements (``assign``, an import updating entrusted amounts), so
these are no ORM listeners. A newly confirmed payment is added by :func:`payment_confirmed`.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import contextmanager, suppress
from datetime import date, datetime, time, timedelta

from sqlalchemy import DateTime, and_, case, cast, func, literal, literal_column, or_, select

from core import day_totals
from core.cases.models import (
    CONFIRMED,
    Case,
    CaseAssignment,
    HoldingChange,
    Payment,
    PaymentDayTotal,
)
from core.extensions import db
from core.types import agency_zone

KEYS = ["day", "contract_id", "user_id", "team_id"]
#: The key stored for an assignment to no team (with ``day_totals.NO_USER`` for the pool or
#: nobody): a key column cannot be NULL.
NO_TEAM = 0
#: Case ids per statement when cases are taken out and put back.
CHUNK = 500


def end_of_paid_day(first: date | None, last: date | None, dialect: str = ""):
    """SQL: the UTC instant at which the agency-local day after ``payments.paid_on`` begins,
    for payments paid from ``first`` to ``last``.

    PostgreSQL converts in the agency's zone itself (the days need not be known). SQLite
    knows no zones: the offset of each next midnight is known here, one per stretch of days
    (one stretch in China), and the instants are compared as the text they are stored as.
    """
    if (dialect or db.engine.dialect.name) == "postgresql":
        next_day = cast(Payment.paid_on, DateTime) + literal_column("interval '1 day'")
        return func.timezone(agency_zone().key, next_day)

    def at(offset: timedelta):
        minutes = -int(offset.total_seconds() // 60)
        return func.datetime(Payment.paid_on, "+1 day", f"{minutes:+d} minutes")

    *earlier, (_begin, _end, offset) = _days_of_one_offset(first, last)
    if not earlier:
        return at(offset)
    return case(*((Payment.paid_on <= end, at(o)) for _b, end, o in earlier), else_=at(offset))


def _days_of_one_offset(first: date, last: date) -> list[tuple[date, date, timedelta]]:
    """``(begin, end, offset)``: the days from ``first`` to ``last`` cut where the zone's
    offset at the end of the day changes (daylight saving)."""

    def offset_at_end_of(day: date) -> timedelta:
        midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=agency_zone())
        return midnight.utcoffset()

    found, begin, offset = [], first, offset_at_end_of(first)
    day = first
    while day < last:
        following = day + timedelta(days=1)
        if offset_at_end_of(following) != offset:
            found.append((begin, day, offset))
            begin, offset = following, offset_at_end_of(following)
        day = following
    found.append((begin, last, offset))
    return found


def holder_then(instant):
    """The join condition of ``case_assignments`` to ``payments``: the assignment covering
    ``instant`` (at most one: holders follow one another)."""
    return and_(
        CaseAssignment.case_id == Payment.case_id,
        CaseAssignment.assigned_at < instant,
        or_(CaseAssignment.ended_at.is_(None), CaseAssignment.ended_at >= instant),
    )


def _holder_keys():
    """The holder and team keys of an assignment (of none, in an outer join) as stored: a
    missing one as its "none" key."""
    return (
        func.coalesce(CaseAssignment.user_id, day_totals.NO_USER),
        func.coalesce(CaseAssignment.team_id, NO_TEAM),
    )


# -- holdings ------------------------------------------------------------------------------------


def _add_holdings(sign: int, case_ids: list[int] | None = None, *, connection=None) -> None:
    """Add (``sign`` 1) or take away (−1) the changes the assignments of ``case_ids`` (every
    case: None) make, with their cases' present figures."""
    among = () if case_ids is None else (CaseAssignment.case_id.in_(case_ids),)
    for moment, direction in ((CaseAssignment.assigned_at, 1), (CaseAssignment.ended_at, -1)):
        factor = sign * direction

        def per_day(day, begin, end, moment=moment, factor=factor):
            keys = (day, Case.contract_id, *_holder_keys())
            return (
                select(
                    *keys,
                    literal(factor) * func.count(CaseAssignment.id),
                    literal(factor) * func.sum(day_totals.cents(Case.entrusted_amount)),
                )
                .join(Case, Case.id == CaseAssignment.case_id)
                .where(moment >= begin, moment < end, *among)
                .group_by(*keys)
            )

        day_totals.add_selected(
            HoldingChange.__table__, KEYS, ["cases", "entrusted_cents"], moment, per_day,
            among=among, connection=connection,
        )  # fmt: skip


# -- attributed payments -------------------------------------------------------------------------


def _add_payments(sign: int, *among, connection=None) -> None:
    """Add (``sign`` 1) or take away (−1) the confirmed payments meeting ``among``
    (conditions on ``payments``; every one when none), attributed as the holders' history
    now says."""
    executor, dialect = day_totals.writer(connection)
    among = (Payment.status == CONFIRMED, *among)
    first = last = None
    if dialect != "postgresql":  # the offsets of the days paid are needed (end_of_paid_day)
        first, last = executor.execute(
            select(func.min(Payment.paid_on), func.max(Payment.paid_on)).where(*among)
        ).one()
        if first is None:
            return
        first, last = _day(first), _day(last)
    keys = (Payment.paid_on, Payment.contract_id, *_holder_keys())
    instant = end_of_paid_day(first, last, dialect)
    query = (
        select(
            *keys,
            literal(sign) * func.count(Payment.id),
            literal(sign) * func.sum(day_totals.cents(Payment.amount)),
        )
        .select_from(Payment)
        .outerjoin(CaseAssignment, holder_then(instant))
        .where(*among)
        .group_by(*keys)
    )
    day_totals.add_from_select(
        PaymentDayTotal.__table__, KEYS, ["payments", "paid_cents"], query, connection=connection
    )


def _day(value) -> date:
    # A bare min() on SQLite comes back as text.
    return date.fromisoformat(value) if isinstance(value, str) else value


def payment_confirmed(payment: Payment) -> None:
    """Count a payment just recorded as, or turned, confirmed."""
    db.session.flush()
    _add_payments(1, Payment.id == payment.id)


# -- writers ---------------------------------------------------------------------------------


@contextmanager
def changing(case_ids: Iterable[int]):
    """Around a change of the cases' assignments or entrusted amounts: takes the cases'
    holdings and attributed payments out before, puts them back after (flushing the
    session's pending rows first), so both follow."""
    ids = sorted(set(case_ids))
    for start in range(0, len(ids), CHUNK):
        _add_case_figures(-1, ids[start : start + CHUNK])

    def put_back() -> None:
        db.session.flush()
        for start in range(0, len(ids), CHUNK):
            _add_case_figures(1, ids[start : start + CHUNK])

    try:
        yield
    except Exception:
        # Whatever part of the change was made is put back as it now stands, in case the
        # caller commits anyway; after a failed statement the transaction is lost and rolls
        # back with the rest, so a second failure here is not the one to report.
        with suppress(Exception):
            put_back()
        raise
    put_back()


def _add_case_figures(sign: int, case_ids: list[int]) -> None:
    _add_holdings(sign, case_ids)
    _add_payments(sign, Payment.case_id.in_(case_ids))


def rebuild_holding_changes(connection=None) -> None:
    """Fill ``holding_day_changes`` again from every assignment (``connection``: a
    migration's; the session's by default)."""
    (db.session if connection is None else connection).execute(HoldingChange.__table__.delete())
    _add_holdings(1, connection=connection)


def rebuild_payment_totals(connection=None) -> None:
    """Fill ``payment_day_totals`` again from every confirmed payment."""
    (db.session if connection is None else connection).execute(PaymentDayTotal.__table__.delete())
    _add_payments(1, connection=connection)


def rebuild_holdings() -> None:
    """Both tables, from the history and the payments (``maple db rebuild-totals``: after a
    bulk load, or a change of the agency's time zone)."""
    rebuild_holding_changes()
    rebuild_payment_totals()
