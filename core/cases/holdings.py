"""Holdings per day (``holding_day_changes``): the holders' history as changes per
agency-local day, so that what every holder held at the end of a day is a sum over a few rows
per holder and day rather than every open assignment joined to its case.

An assignment adds its case (one case, its entrusted amount) on the local day it began and
takes it away on the local day it ended. A case counts at the end of day ``E`` for the
assignment with ``assigned_at`` before ``E``'s next midnight and ``ended_at`` unset or not
before it: exactly the rule ``case_assignments`` answers directly, as the sum of the
changes of days up to ``E``.

The entrusted amount is the case's as it stands (as when the history is read directly): a
change of what a case contributes is written as taking the case out with its old figures
and putting it back with the new ones (:func:`changing`), in the writer's transaction, for
every assignment of the case. The writers are set-wise statements (``assign``, an import
updating entrusted amounts), so this is no ORM listener.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import contextmanager

from sqlalchemy import func, literal, select

from core import day_totals
from core.cases.models import Case, CaseAssignment, HoldingChange
from core.extensions import db

KEYS = ["day", "contract_id", "batch_id", "user_id", "team_id"]
#: The keys stored for a case in no batch and an assignment to no team (with
#: ``day_totals.NO_USER`` for the pool): a key column cannot be NULL.
NO_BATCH = NO_TEAM = 0
FIGURES = ["cases", "entrusted_cents"]
#: Case ids per statement when cases are taken out and put back.
CHUNK = 500


def _add_changes(sign: int, case_ids: list[int] | None = None, *, connection=None) -> None:
    """Add (``sign`` 1) or take away (−1) the changes the assignments of ``case_ids`` (every
    case: None) make, with their cases' present figures."""
    among = () if case_ids is None else (CaseAssignment.case_id.in_(case_ids),)
    for moment, direction in ((CaseAssignment.assigned_at, 1), (CaseAssignment.ended_at, -1)):
        factor = sign * direction

        def per_day(day, begin, end, moment=moment, factor=factor):
            user = func.coalesce(CaseAssignment.user_id, day_totals.NO_USER)
            team = func.coalesce(CaseAssignment.team_id, NO_TEAM)
            batch = func.coalesce(Case.batch_id, NO_BATCH)
            keys = (day, Case.contract_id, batch, user, team)
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
            HoldingChange.__table__, KEYS, FIGURES, moment, per_day, among=among,
            connection=connection,
        )  # fmt: skip


@contextmanager
def changing(case_ids: Iterable[int]):
    """Around a change of the cases' assignments or entrusted amounts: takes the cases'
    holdings out before, puts them back after (flushing the session's pending rows first),
    so the changes per day follow."""
    ids = sorted(set(case_ids))
    for start in range(0, len(ids), CHUNK):
        _add_changes(-1, ids[start : start + CHUNK])
    yield
    db.session.flush()
    for start in range(0, len(ids), CHUNK):
        _add_changes(1, ids[start : start + CHUNK])


def rebuild_holdings(connection=None) -> None:
    """Fill ``holding_day_changes`` again from every assignment (after a bulk load, or a
    change of the agency's time zone; ``connection``: a migration's)."""
    (db.session if connection is None else connection).execute(HoldingChange.__table__.delete())
    _add_changes(1, connection=connection)
