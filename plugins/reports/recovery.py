"""Recovery (回款): confirmed repayments per period and per client, contract, batch, team or
collector, with the recovery rate (recovered ÷ entrusted).

A payment counts when it is confirmed (a bank repayment, or a claim the bank confirmed) and
paid on a day of the period, on a case of the scope's contracts (and batch).

**Whose payment it is.** A payment belongs to whoever held the case at the end of the
payment day (agency-local): the ``case_assignments`` row with
``assigned_at < D`` and ``ended_at IS NULL OR ended_at >= D``, where ``D`` is the instant the
next local day begins. Holders follow one another (``assign`` ends the open row at the
instant the next one starts), so at most one row matches; a row that began and ended at the
same instant matches none. A payment on a case nobody held then is "not held"; its team is
the pool row's team, if any. The team is the assignment's team, else the holder's own.

:func:`attributed_payments` is that selection, shared with the commission statement so the
two reconcile to the cent.

**Entrusted** (the rate's denominator): by team or collector, the entrusted amount of the
cases each held at the end of the period (:func:`entrusted_held_at_end`); by client, contract
or batch, of the scope's cases as they stand when the scope is everyone's, else of those its
collectors held at the end of the period (the same cases whichever the breakdown). Sums are
taken in whole cents, so every total equals the sum of its rows on SQLite as on PostgreSQL.
What was held is read from the holdings per day (core.cases.holdings), not per batch: a
report of one batch reads the holders' history itself.

Measured at 1M cases and 420k payments (``bench/report_speed.py``'s data, two cores): one
month, any user, 0.04-0.6 s on either database; six months for a manager 1.2 s on both.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Integer,
    String,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)

from core.auth.models import User
from core.cases import holdings
from core.cases.holdings import NO_TEAM
from core.cases.models import (
    CONFIRMED,
    Case,
    CaseAssignment,
    HoldingChange,
    Payment,
    PaymentDayTotal,
)
from core.clients.models import Contract
from core.day_totals import NO_USER
from core.extensions import db
from plugins.reports.framework import (
    GROUPS,
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
    names_of,
    period_labels,
    period_of_day,
    rate,
    report,
    utc_bounds,
)

ZERO = Decimal("0.00")


# -- whose payment ---------------------------------------------------------------------------


def attributed_payments(
    scope: Scope, *extra_columns, attribute: bool = True, with_cases: bool = True
):
    """``select`` of the scope's counted payments with whom they are attributed to.

    Columns: ``payment_id``, ``case_id``, ``contract_id``, ``batch_id``, ``amount``,
    ``paid_on``, ``holder_id`` (None: not held), ``team_id``, then ``extra_columns``.
    Narrowed by the scope's users: a payment attributed to one of them, or (for a team
    leader or a team filter) to their team. With ``attribute=False`` and a scope of
    everyone's figures, the holders' history is not read (``holder_id`` and ``team_id`` are
    then None): what a breakdown by client, contract or batch needs. With
    ``with_cases=False`` and no batch chosen, the cases are not joined (``batch_id`` is then
    None; ``extra_columns`` may not name them): the payments carry their contract.
    """
    attribute = attribute or scope.user_ids is not None
    with_cases = with_cases or scope.filter.batch is not None
    instant = holdings.end_of_paid_day(scope.filter.start, scope.filter.end)
    holder = User.__table__.alias("holder")
    team_id = func.coalesce(CaseAssignment.team_id, holder.c.team_id)
    query = select(
        Payment.id.label("payment_id"),
        Payment.case_id.label("case_id"),
        Payment.contract_id.label("contract_id"),
        (Case.batch_id if with_cases else null()).label("batch_id"),
        Payment.amount.label("amount"),
        Payment.paid_on.label("paid_on"),
        (CaseAssignment.user_id if attribute else null()).label("holder_id"),
        (team_id if attribute else null()).label("team_id"),
        *extra_columns,
    ).select_from(Payment)
    if with_cases:
        query = query.join(Case, Case.id == Payment.case_id)
    if attribute:
        query = query.outerjoin(CaseAssignment, holdings.holder_then(instant)).outerjoin(
            holder, holder.c.id == CaseAssignment.user_id
        )
    query = query.where(
        Payment.status == CONFIRMED,
        Payment.paid_on >= scope.filter.start,
        Payment.paid_on <= scope.filter.end,
        Payment.contract_id.in_(scope.contract_ids),
    )
    if scope.filter.batch is not None:
        query = query.where(Case.batch_id == scope.filter.batch)
    query = query.where(*scope.held_by(CaseAssignment.user_id, team_id))
    return query


# -- the report ------------------------------------------------------------------------------

PERIOD, GROUP, TOTAL = "period", "group", "total"


def _figures(scope: Scope):
    """The payments' figures per period, per group and in total, in one statement (the
    payments and their holders are read once): ``(per_period, per_group, total)`` where
    per_period maps a label to ``(payments, cases, recovered)``, per_group a key to
    ``(payments, recovered)``, and total is ``(payments, cases, recovered)``."""
    group = scope.filter.group
    extra = [Contract.client_id.label("client_id")] if group == "client" else []
    query = attributed_payments(
        scope,
        cents(Payment.amount).label("cents"),
        *extra,
        attribute=group in HOLDER_GROUPS,
        with_cases=group == "batch",
    )
    if group == "client":
        query = query.join(Contract, Contract.id == Payment.contract_id)
    paid = query.cte("paid").prefix_with("MATERIALIZED")
    key = {
        "client": paid.c.client_id if group == "client" else None,
        "contract": paid.c.contract_id,
        "batch": paid.c.batch_id,
        "team": paid.c.team_id,
        "collector": paid.c.holder_id,
    }[group]
    label = period_of_day(paid.c.paid_on, scope.filter.period)
    no_label, no_key = cast(null(), String), cast(null(), Integer)
    count, cases_paid = func.count(paid.c.payment_id), func.count(paid.c.case_id.distinct())
    recovered = func.sum(paid.c.cents)
    statement = union_all(
        select(literal(PERIOD), label, no_key, count, cases_paid, recovered).group_by(label),
        select(literal(GROUP), no_label, key, count, literal(0), recovered).group_by(key),
        select(literal(TOTAL), no_label, no_key, count, cases_paid, recovered),
    )
    per_period, per_group, total = {}, {}, (0, 0, ZERO)
    for part, period_label, group_key, n, n_cases, sum_cents in db.session.execute(statement):
        if part == PERIOD:
            per_period[period_label] = (n, n_cases, from_cents(sum_cents))
        elif part == GROUP:
            per_group[group_key] = (n, from_cents(sum_cents))
        else:
            total = (n, n_cases, from_cents(sum_cents))
    return per_period, per_group, total


def _period_table(scope: Scope, per_period, total) -> Table:
    columns = [
        # "Day", "Week" or "Month": a bare "Period" reads as a contract's term in Chinese.
        Column("period", str(PERIOD_HEADINGS[scope.filter.period]), TEXT),
        Column("payments", _("Payments"), INT),
        Column("cases", _("Cases paid"), INT),
        Column("recovered", _("Recovered"), MONEY),
    ]
    rows = []
    for key in period_labels(scope.filter.start, scope.filter.end, scope.filter.period):
        n, n_cases, recovered = per_period.get(key, (0, 0, ZERO))
        rows.append({"period": key, "payments": n, "cases": n_cases, "recovered": recovered})
    return Table(
        key="recovery_by_period",
        title=_("Recovered per period"),
        columns=columns,
        rows=rows,
        totals={
            "period": _("Total"),
            "payments": total[0],
            "cases": total[1],
            "recovered": total[2],
        },
        chart=Chart("line", "period", ("recovered",), _("Recovered")),
        note=_(
            "Confirmed repayments (bank repayments and confirmed claims) by the day they were "
            "paid. A case paid in several periods counts once in the total of cases paid."
        ),
    )


def _case_group_key(group: str):
    """The column of ``cases`` (joined to its contract) that ``group`` breaks cases down by."""
    return {"client": Contract.client_id, "contract": Case.contract_id, "batch": Case.batch_id}[
        group
    ]


def _entrusted_of_cases(scope: Scope, group: str):
    """Per client/contract/batch: ``{key: (cases, entrusted)}`` and the totals.

    Everyone's figures (a manager, a client viewer): the scope's cases as they stand. A team's
    or a collector's: the cases they held at the end of the period, as by team or collector
    (:func:`held_at_end_by`), so a collector's entrusted amount is the same whichever way
    their report is broken down, for a past period too.
    """
    if scope.user_ids is not None:
        held = _held_at_end(scope, by_batch=group == "batch")
        key = held.c.batch_id if group == "batch" else held.c.contract_id
        per_group = select(key, func.sum(held.c.cases), func.sum(held.c.cents)).group_by(key)
        if group == "client":
            key = Contract.client_id
            per_group = (
                select(key, func.sum(held.c.cases), func.sum(held.c.cents))
                .join(Contract, Contract.id == held.c.contract_id)
                .group_by(key)
            )
        found = {k: (int(n), from_cents(c)) for k, n, c in db.session.execute(per_group)}
        total = (sum(n for n, _ in found.values()), sum((e for _, e in found.values()), ZERO))
        return found, total
    # Every case of the contracts: two scans of the (contract, amount) index beat writing a
    # million rows aside.
    key = _case_group_key(group)
    conditions = scope.case_conditions()
    amount = func.sum(cents(Case.entrusted_amount))
    per_group = select(key, func.count(Case.id), amount).where(*conditions).group_by(key)
    if group == "client":
        per_group = per_group.join(Contract, Contract.id == Case.contract_id)
    found = {k: (n, from_cents(total)) for k, n, total in db.session.execute(per_group)}
    n, total = db.session.execute(select(func.count(Case.id), amount).where(*conditions)).one()
    return found, (n, from_cents(total))


def _held_at_end(scope: Scope, *, by_batch: bool = False):
    """CTE: the scope's cases held at the end of the period, grouped by holder, team and
    contract (``holder_id``, ``team_id``, ``contract_id``, ``cases``, ``cents``; and
    ``batch_id`` with ``by_batch``): a few rows per collector, from which every breakdown by
    collector or team is summed.

    Read from the holdings per day (``holding_day_changes``, core.cases.holdings): the
    changes of every day up to the period's last, summed. That is the assignment covering
    the instant the next day begins, with the case's entrusted amount as it stands, as the
    history itself would answer (:func:`_held_at_end_in_history`, which a batch needs: the
    holdings are not kept per batch), in a few rows per holder and day instead of every open
    assignment joined to its case.
    """
    if by_batch or scope.filter.batch is not None:
        return _held_at_end_in_history(scope, by_batch=by_batch)
    changes = HoldingChange.__table__.c
    holder, holder_id, team_id = _holder_and_team(changes)
    keys = [holder_id.label("holder_id"), team_id.label("team_id"), changes.contract_id]
    held = (
        select(*keys, func.sum(changes.cases).label("cases"),
               func.sum(changes.entrusted_cents).label("cents"))
        .outerjoin(holder, holder.c.id == changes.user_id)
        .where(
            changes.day <= scope.filter.end,
            changes.contract_id.in_(scope.contract_ids),
            *scope.held_by(changes.user_id, team_id),
        )
        .group_by(*keys)
        # A holder who held cases once and holds none now leaves sums of zero behind.
        .having(func.sum(changes.cases) != 0)
    )  # fmt: skip
    return held.cte("held").prefix_with("MATERIALIZED")


def _held_at_end_in_history(scope: Scope, *, by_batch: bool = False):
    """:func:`_held_at_end` read from the holders' history itself: every assignment open at
    the end of the period joined to its case (for its batch)."""
    _start, end = utc_bounds(scope.filter.start, scope.filter.end_exclusive)
    holder = User.__table__.alias("holder")
    team_id = func.coalesce(CaseAssignment.team_id, holder.c.team_id)
    keys = [
        CaseAssignment.user_id.label("holder_id"),
        team_id.label("team_id"),
        Case.contract_id.label("contract_id"),
    ]
    if by_batch:
        keys.append(Case.batch_id.label("batch_id"))
    held = (
        select(*keys, func.count(CaseAssignment.case_id).label("cases"),
               func.sum(cents(Case.entrusted_amount)).label("cents"))
        .join(Case, Case.id == CaseAssignment.case_id)
        .outerjoin(holder, holder.c.id == CaseAssignment.user_id)
        .where(
            CaseAssignment.assigned_at < end,
            or_(CaseAssignment.ended_at.is_(None), CaseAssignment.ended_at >= end),
            Case.contract_id.in_(scope.contract_ids),
            *scope.held_by(CaseAssignment.user_id, team_id),
        )
        .group_by(*keys)
    )  # fmt: skip
    if scope.filter.batch is not None:
        held = held.where(Case.batch_id == scope.filter.batch)
    return held.cte("held").prefix_with("MATERIALIZED")


def _holder_and_team(row):
    """The ``users`` alias to join and the holder and team of a per-day table's ``row``
    (columns ``user_id`` and ``team_id`` with core.cases.holdings' "none" keys): the
    assignment's team, else the holder's own, as the history is read directly."""
    holder = User.__table__.alias("holder")
    team_id = func.coalesce(func.nullif(row.team_id, NO_TEAM), holder.c.team_id)
    return holder, func.nullif(row.user_id, NO_USER), team_id


def paid_per_holder(scope: Scope):
    """CTE: the scope's recovered money per holder and team (``holder_id``, ``team_id``,
    ``cents``), attributed as :func:`attributed_payments` attributes each payment, read from
    the per-day totals (``payment_day_totals``) instead of every payment; with a batch
    chosen, from the batch's payments (the totals are not kept per batch)."""
    if scope.filter.batch is not None:
        paid = attributed_payments(scope).subquery("attributed")
        keys = [paid.c.holder_id, paid.c.team_id]
        query = select(*keys, func.sum(cents(paid.c.amount)).label("cents")).group_by(*keys)
        return query.cte("paid").prefix_with("MATERIALIZED")
    paid = PaymentDayTotal.__table__.c
    holder, holder_id, team_id = _holder_and_team(paid)
    keys = [holder_id.label("holder_id"), team_id.label("team_id")]
    query = (
        select(*keys, func.sum(paid.paid_cents).label("cents"))
        .outerjoin(holder, holder.c.id == paid.user_id)
        .where(
            paid.day >= scope.filter.start,
            paid.day <= scope.filter.end,
            paid.contract_id.in_(scope.contract_ids),
            *scope.held_by(paid.user_id, team_id),
        )
        .group_by(*keys)
    )
    return query.cte("paid").prefix_with("MATERIALIZED")


def held_at_end_by(scope: Scope, groups, within=None) -> dict:
    """Per collector and/or team (``groups``): ``{key: (cases, entrusted)}`` of the cases
    each held at the end of the period, in one statement. With ``within`` (contract ids),
    also the same counted over those contracts only, under ``(group, "within")``.

    :return: ``{group: {key: (cases, entrusted)}}`` (and ``{(group, "within"): ...}``).
    """
    held = _held_at_end(scope)
    column = {"collector": held.c.holder_id, "team": held.c.team_id}
    parts, found = [], {}
    for group in groups:
        key = column[group]
        parts.append(
            select(literal(group), literal(""), key, func.sum(held.c.cases), func.sum(held.c.cents))
            .where(key.is_not(None))
            .group_by(key)
        )
        found[group] = {}
        if within is not None:
            parts.append(
                select(literal(group), literal("within"), key, func.sum(held.c.cases),
                       func.sum(held.c.cents))
                .where(key.is_not(None), held.c.contract_id.in_(list(within)))
                .group_by(key)
            )  # fmt: skip
            found[(group, "within")] = {}
    for group, part, k, n, sum_cents in db.session.execute(union_all(*parts)):
        found[(group, part) if part else group][k] = (int(n), from_cents(sum_cents))
    return found


def entrusted_held_at_end(scope: Scope, group: str):
    """Per team/collector: ``{key: (cases, entrusted)}`` of the cases they held at the end of
    the period (the assignment covering the instant the day after it begins, the rule that
    attributes a payment), and the totals: each case has one holder then, so the totals are
    the sums of the rows. The rankings count the same
    (:func:`held_at_end_by`), so the two reports agree.

    Why the end of the period and not "held at any time in it": at 1M cases the latter needs
    every overlapping (holder, case) pair made distinct, 2.2-2.3 s on PostgreSQL for one
    month before the payments are read, where the end of the period is a sum of the holdings
    per day. A case handed over mid-period
    counts for its new holder only, while the payments before the hand-over stay the
    previous holder's.
    """
    per_group = held_at_end_by(scope, [group])[group]
    total = (sum(n for n, _ in per_group.values()), sum((e for _, e in per_group.values()), ZERO))
    return per_group, total


HOLDER_GROUPS = ("team", "collector")


def _group_table(scope: Scope, recovered, total) -> Table:
    group = scope.filter.group
    if group in HOLDER_GROUPS:
        entrusted, (total_cases, total_entrusted) = entrusted_held_at_end(scope, group)
    else:
        entrusted, (total_cases, total_entrusted) = _entrusted_of_cases(scope, group)
    count, total_recovered = total[0], total[2]
    names = names_of(group, set(entrusted) | set(recovered))
    nobody = {
        "client": _("(no client)"),
        "contract": _("(no contract)"),
        "batch": _("(no batch)"),
        "team": _("(no team)"),
        "collector": _("(not held)"),
    }[group]
    rows = []
    for k in set(entrusted) | set(recovered):
        cases, entrusted_amount = entrusted.get(k, (0, None if k is None else ZERO))
        payments, recovered_amount = recovered.get(k, (0, ZERO))
        rows.append(
            {
                "name": str(names.get(k, nobody)) if k is not None else nobody,
                "entrusted": entrusted_amount,
                "cases": cases,
                "recovered": recovered_amount,
                "payments": payments,
                "rate": rate(recovered_amount, entrusted_amount),
            }
        )
    rows.sort(key=lambda row: (row["name"] == nobody, row["name"]))
    if group in HOLDER_GROUPS:
        note = _(
            "Entrusted: the entrusted amount of the cases each held at the end of the period. "
            "Recovered: each payment goes to whoever held the case at the end of the day it "
            "was paid (a case handed over mid-period: the payments before go to the previous "
            "holder; a payment on a case nobody held is not held, with no entrusted amount). "
            "Rate: recovered ÷ entrusted."
        )
    elif scope.user_ids is not None:
        note = _(
            "Entrusted: the entrusted amount of the cases of each %(group)s held at the end of "
            "the period by the collectors of the report. Recovered: confirmed repayments paid "
            "in the period, each counted for whoever held the case at the end of its day. "
            "Rate: recovered ÷ entrusted.",
            group=str(_labels_title(group)).lower(),
        )
    else:
        note = _(
            "Entrusted: the entrusted amount of the cases of each %(group)s in the report's "
            "scope, as they stand. Recovered: confirmed repayments paid in the period. "
            "Rate: recovered ÷ entrusted.",
            group=str(_labels_title(group)).lower(),
        )
    return Table(
        key="recovery_by_group",
        title=_("Recovery by %(group)s", group=str(_labels_title(group)).lower()),
        columns=[
            Column("name", str(_labels_title(group)), TEXT),
            Column("entrusted", _("Entrusted"), MONEY),
            Column("cases", _("Cases"), INT),
            Column("recovered", _("Recovered"), MONEY),
            Column("payments", _("Payments"), INT),
            Column("rate", _("Recovery rate"), RATE),
        ],
        rows=rows,
        totals={
            "name": _("Total"),
            "entrusted": total_entrusted,
            "cases": total_cases,
            "recovered": total_recovered,
            "payments": count,
            "rate": rate(total_recovered, total_entrusted),
        },
        chart=Chart("bar", "name", ("recovered",), _("Recovered")),
        note=note,
    )


def _labels_title(group: str):
    return GROUPS[group]


@report(
    "recovery",
    _l("Recovery"),
    uses_period=True,
    uses_group=True,
    order=10,
    description=_l(
        "Confirmed repayments per day, week or month, and by client, contract, batch, team or "
        "collector, with the recovery rate (recovered ÷ entrusted)."
    ),
)
def recovery(scope: Scope) -> ReportResult:
    """Recovered money per period and per group, with the recovery rate."""
    if scope.empty:
        scope = _nothing(scope)
    per_period, per_group, total = _figures(scope)
    return ReportResult(
        tables=[_period_table(scope, per_period, total), _group_table(scope, per_group, total)]
    )


def _nothing(scope: Scope) -> Scope:
    """A scope that counts nothing, so an empty report still shows its periods and totals."""
    return replace(scope, contract_ids=[], user_ids=[], team_ids=[])
