"""The scorecard's figures per agency-local day, contract and user (``collection_day_figures``),
so that a report over months sums a few rows per collector and day instead of every contact
record and promise of the period (``core.day_totals``).

- attempts and right-party contacts: counted as each contact record is written (the module's
  ``after_activity_recorded``). A record written while the module was off for its contract
  never reached the hook: switching the module on rebuilds that contract's rows.
- right-party depends on what the contract's result codes mean *now* (as the scorecard has
  always read them): a change of a code's outcome or label rebuilds the contract's rows.
- promises made, kept and broken: kept by the ORM as promises are written (``models.py``),
  each on its day, so a promise judged again (broken, then kept by a late payment) moves.

Everything is rebuilt from the rows, set-wise, by ``maple db rebuild-totals``.
"""

from __future__ import annotations

from sqlalchemy import Integer, cast, func, select
from sqlalchemy import case as when

from core import day_totals
from core.cases.models import Activity, Case
from core.clients.models import ContractModule
from core.extensions import db
from plugins.collection.models import PROMISE_BROKEN, PROMISE_KEPT, DayFigures, Promise
from plugins.collection.results import (
    RIGHT_PARTY_OUTCOMES,
    SYSTEM_RESULTS,
    results_with_outcomes,
    results_with_outcomes_of,
)

KEYS = ["day", "contract_id", "user_id"]
RECORD_FIGURES = ["attempts", "right_party"]


def is_attempt(activity: Activity) -> bool:
    """A contact record a collector made: the module's own SMS and letter entries aside."""
    return (
        activity.kind == "contact"
        and activity.result is not None
        and activity.result not in SYSTEM_RESULTS
    )


def activity_recorded(case: Case, activity: Activity) -> None:
    """Count a new record on its day (the module's ``after_activity_recorded``)."""
    if not is_attempt(activity):
        return
    reached = activity.result in results_with_outcomes(case.contract, RIGHT_PARTY_OUTCOMES)
    keys = {
        "day": day_totals.local_date(activity.at),
        "contract_id": case.contract_id,
        "user_id": activity.user_id if activity.user_id is not None else day_totals.NO_USER,
    }
    day_totals.add(DayFigures.__table__, keys, {"attempts": 1, "right_party": int(reached)})


def _count(condition):
    return func.coalesce(func.sum(cast(when((condition, 1), else_=0), Integer)), 0)


def _user(column):
    return func.coalesce(column, day_totals.NO_USER)


def _add_records(contract_id: int, reached: set[str], connection=None) -> None:
    """Add one contract's records, one grouped INSERT … SELECT per stretch of one UTC offset
    (its right-party results are the contract's own, hence a statement per contract)."""

    def per_day(day, begin, end):
        return (
            select(
                day.label("day"),
                Activity.contract_id,
                _user(Activity.user_id),
                func.count(Activity.id),
                _count(Activity.result.in_(sorted(reached))),
            )
            .where(
                Activity.contract_id == contract_id,
                Activity.kind == "contact",
                Activity.result.not_in(sorted(SYSTEM_RESULTS)),
                Activity.at >= begin,
                Activity.at < end,
            )
            .group_by(day, Activity.contract_id, Activity.user_id)
        )

    day_totals.add_selected(
        DayFigures.__table__, KEYS, RECORD_FIGURES, Activity.at, per_day, connection=connection
    )


def _add_promises(contract_id: int | None, connection=None) -> None:
    """Add the promises (of one contract, or of all): made on their day, and kept or broken on
    the day they were judged so."""
    only = [] if contract_id is None else [Promise.contract_id == contract_id]

    def made(day, begin, end):
        return (
            select(
                day.label("day"),
                Promise.contract_id,
                _user(Promise.user_id),
                func.count(Promise.id),
            )
            .where(*only, Promise.created_at >= begin, Promise.created_at < end)
            .group_by(day, Promise.contract_id, Promise.user_id)
        )

    def judged(day, begin, end):
        return (
            select(
                day.label("day"),
                Promise.contract_id,
                _user(Promise.user_id),
                _count(Promise.status == PROMISE_KEPT),
                _count(Promise.status == PROMISE_BROKEN),
            )
            .where(
                *only,
                Promise.status.in_((PROMISE_KEPT, PROMISE_BROKEN)),
                Promise.evaluated_at >= begin,
                Promise.evaluated_at < end,
            )
            .group_by(day, Promise.contract_id, Promise.user_id)
        )

    table = DayFigures.__table__
    day_totals.add_selected(
        table, KEYS, ["promises_made"], Promise.created_at, made, connection=connection
    )
    day_totals.add_selected(
        table,
        KEYS,
        ["promises_kept", "promises_broken"],
        Promise.evaluated_at,
        judged,
        connection=connection,
    )


def _contracts_with_the_module(connection=None) -> list[int]:
    query = select(ContractModule.contract_id).where(ContractModule.module == "collection")
    return sorted((connection or db.session).scalars(query))


def rebuild(connection=None) -> None:
    """Fill the whole table again from the records and promises (``connection``: a
    migration's; the session's by default). Records count on the contracts that have the
    module on, as the hook counts them."""
    executor = connection or db.session
    executor.execute(DayFigures.__table__.delete())
    contract_ids = _contracts_with_the_module(connection)
    reached = results_with_outcomes_of(contract_ids, RIGHT_PARTY_OUTCOMES, connection=connection)
    for contract_id in contract_ids:
        _add_records(contract_id, reached[contract_id], connection)
    _add_promises(None, connection)


def rebuild_contract(contract) -> None:
    """Fill one contract's rows again: after the module was switched on for it (records
    written while it was off never reached the hook) or a result's meaning changed."""
    table = DayFigures.__table__
    db.session.execute(table.delete().where(table.c.contract_id == contract.id))
    _add_records(contract.id, results_with_outcomes(contract, RIGHT_PARTY_OUTCOMES))
    _add_promises(contract.id)
