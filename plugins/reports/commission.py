"""Commission (佣金): what the agency earns on the money it recovered, per contract and month,
itemised per payment so a client can check every line; and the contract's tiers by bucket.

The payments are the recovery report's (:func:`plugins.reports.recovery.attributed_payments`),
so for the same scope and period the recovered totals agree to the cent. A payment earns the
contract's tier for the case's bucket (the bucket the case has now), else the contract's flat
``commission_rate``, until its month is closed (:func:`close_month`, 结算确认): the bucket
and rate of each of the month's payments are then kept, so the statement no longer changes.
The commission of one payment is rounded half-up to the cent, in SQL
and in whole numbers so PostgreSQL and SQLite agree exactly::

    cents = (round(amount × 100) × round(rate × 10 000) + 5 000) ÷ 10 000   (integer division)

Totals are sums of those cents, in SQL.

A page's build (``Scope.full`` False) reads only the first :data:`PAGE_LINES` itemised lines
(the totals come from the month statement, which counts them all); the Excel file and a job
read every line. Over six months at 1M cases (396 000 lines) that is what keeps the page
under 2 s.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    cast,
    delete,
    func,
    insert,
    literal,
    null,
    select,
    union_all,
)

from core.audit.services import record
from core.cases.filters import BUCKETS
from core.cases.models import Case, Payment
from core.clients.models import Contract
from core.day_totals import local_date
from core.errors import Conflict, UserError
from core.extensions import db
from core.masking import mask_name
from core.types import utcnow
from plugins.reports.framework import (
    DATE,
    INT,
    MONEY,
    PAGE_ROWS,
    RATE,
    TEXT,
    Column,
    ReportFilter,
    ReportResult,
    Scope,
    Table,
    cents,
    from_cents,
    month_start,
    next_month,
    period_labels,
    period_of_day,
    previous_month,
    report,
    report_contract_ids,
)
from plugins.reports.models import ClosedCommissionLine, CommissionClosing, CommissionTier
from plugins.reports.recovery import ZERO, attributed_payments

#: A page's build reads this many itemised lines at most; the Excel file has them all.
PAGE_LINES = PAGE_ROWS
HUNDRED = Decimal(100)


def commission_cents(amount, rate):
    """SQL: the commission of one payment in whole cents, rounded half-up (amounts are
    positive, so integer division rounds down)."""
    rate_units = cast(func.round(rate * 10000), BigInteger)
    return (cents(amount) * rate_units + 5000) // 10000


def _lines(scope: Scope, *, itemised: bool = True):
    """The scope's payments with their amount and commission in cents; ``itemised`` adds
    what a statement line shows (contract, case, bucket, rate), which the monthly figures
    do without (fewer columns to set aside).

    A payment of a closed month is priced at the bucket and rate kept when it was closed;
    any other at the contract's tier for the case's bucket now, else its flat rate.
    """
    closed = ClosedCommissionLine
    rate = func.coalesce(closed.rate, CommissionTier.rate, Contract.commission_rate)
    shown = (
        [
            Case.serial.label("serial"),
            Case.name.label("debtor"),
            func.coalesce(closed.bucket, Case.bucket).label("bucket"),
            Contract.number.label("contract_number"),
            rate.label("rate"),
        ]
        if itemised
        else []
    )
    return (
        attributed_payments(
            scope,
            *shown,
            cents(Payment.amount).label("amount_cents"),
            commission_cents(Payment.amount, rate).label("cents"),
            closed.payment_id.label("closed_payment_id"),
            attribute=False,
        )
        .join(Contract, Contract.id == Case.contract_id)
        .outerjoin(closed, closed.payment_id == Payment.id)
        .outerjoin(
            CommissionTier,
            (CommissionTier.contract_id == Case.contract_id)
            & (CommissionTier.bucket == Case.bucket),
        )
    )


def _month_figures(scope: Scope):
    """``({(contract_id, month): (payments, recovered, commission)}, totals)`` in one
    statement: the payments are read once for the months and the total."""
    lines = _lines(scope, itemised=False).cte("lines").prefix_with("MATERIALIZED")
    month = period_of_day(lines.c.paid_on, "month")
    figures = (
        func.count(lines.c.payment_id),
        func.sum(lines.c.amount_cents),
        func.sum(lines.c.cents),
        func.count(lines.c.closed_payment_id),
    )
    statement = union_all(
        select(literal("month"), lines.c.contract_id, month, *figures).group_by(
            lines.c.contract_id, month
        ),
        select(literal("total"), cast(null(), Integer), cast(null(), String), *figures),
    )
    found, total = {}, (0, ZERO, ZERO)
    for part, contract_id, key, n, amount_cents, earned, kept in db.session.execute(statement):
        values = (n, from_cents(amount_cents), from_cents(earned))
        if part == "month":
            found[(contract_id, key)] = (*values, int(kept or 0))
        else:
            total = values
    return found, total


def _month_table(scope: Scope, found, total) -> Table:
    contracts = {
        contract_id: number
        for contract_id, number in db.session.execute(
            select(Contract.id, Contract.number).where(Contract.id.in_(scope.contract_ids))
        )
    }
    closed = closings_in(scope)
    rows, late = [], 0
    months = period_labels(scope.filter.start, scope.filter.end, "month")
    for contract_id, number in sorted(contracts.items(), key=lambda item: item[1]):
        for key in months:
            n, amount, earned, kept = found.get((contract_id, key), (0, ZERO, ZERO, 0))
            closing = closed.get((contract_id, key))
            if closing is not None:
                late += n - kept
            rows.append(
                {
                    "contract": number,
                    "month": key,
                    "statement": _("Closed %(day)s", day=local_date(closing.closed_at))
                    if closing is not None
                    else _("Open"),
                    "payments": n,
                    "recovered": amount,
                    "commission": earned,
                }
            )
    note = _(
        "Confirmed repayments paid in the month, as in the recovery report; the commission is "
        "the sum of the itemised lines. A closed month keeps the bucket and rate each payment "
        "was priced at when it was closed."
    )
    if late:
        note += " " + _(
            "%(n)d payments of closed months were confirmed after the month was closed: they "
            "are priced at today's rates and were not in the statement as closed.",
            n=late,
        )
    return Table(
        key="commission_by_month",
        title=_("Commission per contract and month"),
        columns=[
            Column("contract", _("Contract"), TEXT),
            Column("month", _("Month"), TEXT),
            Column("statement", _("Statement"), TEXT),
            Column("payments", _("Payments"), INT),
            Column("recovered", _("Recovered"), MONEY),
            Column("commission", _("Commission amount"), MONEY),
        ],
        rows=rows,
        totals={
            "contract": _("Total"),
            "month": "",
            "statement": "",
            "payments": total[0],
            "recovered": total[1],
            "commission": total[2],
        },
        note=note,
    )


def _line_query(scope: Scope):
    """The itemised lines of ``scope``, in statement order (contract, day paid, payment)."""
    lines = _lines(scope).subquery("lines")
    return select(
        lines.c.paid_on,
        lines.c.contract_number,
        lines.c.serial,
        lines.c.debtor,
        lines.c.bucket,
        lines.c.amount,
        lines.c.rate,
        lines.c.cents,
    ).order_by(lines.c.contract_number, lines.c.paid_on, lines.c.payment_id)


def _first_lines(scope: Scope, wanted: int) -> list:
    """The first ``wanted`` lines of the statement, asked contract by contract in the
    statement's order until there are enough.

    Why not one statement with a LIMIT: ordered by contract number, the database must join
    every payment of the period to its case before it knows which come first (the whole
    month statement's work again: 1-3 s over six months at 1M cases). For one contract the
    lines come in the order of the (paid_on) index, each case looked up by its key, and
    reading stops at ``wanted``.
    """
    contract_ids = db.session.scalars(
        select(Contract.id).where(Contract.id.in_(scope.contract_ids)).order_by(Contract.number)
    ).all()
    found = []
    for contract_id in contract_ids:
        one_contract = replace(scope, contract_ids=[contract_id])
        found.extend(db.session.execute(_line_query(one_contract).limit(wanted - len(found))))
        if len(found) >= wanted:
            break
    return found


def _itemised_table(scope: Scope, total) -> Table:
    """Every payment with its rate and commission (a page's build: the first
    :data:`PAGE_LINES`, with ``row_count`` saying how many there are); the totals are the
    statement's (the same payments, summed in SQL by :func:`_month_figures`)."""
    line_count = total[0]
    cut = not scope.full and line_count > PAGE_LINES
    if cut:
        found = _first_lines(scope, PAGE_LINES)
    else:
        found = db.session.execute(_line_query(scope))
    # A statement can run to hundreds of thousands of lines: each row is built plainly.
    rows = [
        {
            "paid_on": paid_on,
            "contract": number,
            "serial": serial,
            "debtor": mask_name(debtor) if debtor else "",
            "bucket": bucket or "",
            # Numeric columns come back as Decimal with their scale (two, four places).
            "amount": amount,
            "rate": rate,
            "commission": Decimal(earned).scaleb(-2),
        }
        for paid_on, number, serial, debtor, bucket, amount, rate, earned in found
    ]
    note = _(
        "One line per confirmed payment. Rate: the contract's tier for the case's bucket, "
        "else its flat rate (in a closed month: the bucket and rate kept when it was closed); "
        "each line's commission is rounded half-up to the cent."
    )
    return Table(
        key="commission_lines",
        title=_("Itemised payments"),
        columns=[
            Column("paid_on", _("Paid on"), DATE),
            Column("contract", _("Contract"), TEXT),
            Column("serial", _("Case serial no."), TEXT),
            Column("debtor", _("Debtor"), TEXT),
            Column("bucket", _("Bucket"), TEXT),
            Column("amount", _("Amount"), MONEY),
            Column("rate", _("Rate"), RATE),
            Column("commission", _("Commission amount"), MONEY),
        ],
        rows=rows,
        totals={
            "paid_on": _("Total"),
            "amount": total[1],
            "commission": total[2],
        },
        note=note,
        row_count=line_count if cut else None,
    )


@report(
    "commission",
    _l("Commission statement"),
    permission="reports.commission",
    filters=("client", "contract", "batch"),
    links=(
        (_l("Commission tiers"), "reports.commission_tiers", "reports.manage_commission"),
        (_l("Closing months"), "reports.commission_closings", "reports.manage_commission"),
    ),
    order=50,
    description=_l(
        "The agency's commission per contract and month, itemised per confirmed payment with "
        "the case's bucket and rate, so the client can check every line."
    ),
)
def commission(scope: Scope) -> ReportResult:
    """Commission per contract and month, and every payment it is earned on."""
    if scope.empty:
        scope = replace(scope, contract_ids=[], user_ids=[], team_ids=[])
    found, total = _month_figures(scope)
    return ReportResult(tables=[_month_table(scope, found, total), _itemised_table(scope, total)])


# -- closing a month (结算确认) -----------------------------------------------------------------


def closings_in(scope: Scope) -> dict[tuple[int, str], CommissionClosing]:
    """``{(contract id, "YYYY-MM"): closing}`` of the scope's contracts in its period."""
    query = select(CommissionClosing).where(
        CommissionClosing.contract_id.in_(scope.contract_ids),
        CommissionClosing.month >= scope.filter.start.replace(day=1),
        CommissionClosing.month <= scope.filter.end,
    )
    return {(c.contract_id, c.month.strftime("%Y-%m")): c for c in db.session.scalars(query)}


def close_month(contract: Contract, month: date, user) -> CommissionClosing:
    """Close ``contract``'s commission month (the month of ``month``): keep the bucket and
    rate of each of its payments and the statement's totals, so later changes of tiers or of
    cases' buckets leave it as it was. Audited.

    :raises UserError: the month is not over yet.
    :raises Conflict: it is closed already.
    """
    month = month_start(month)
    last = next_month(month) - timedelta(days=1)
    if last >= local_date(utcnow()):
        raise UserError(_("A month can be closed once it is over."))
    if _closing(contract.id, month) is not None:
        raise Conflict(
            _("%(month)s of %(number)s is closed already.",
              month=month.strftime("%Y-%m"), number=contract.number)
        )  # fmt: skip
    closing = CommissionClosing(contract_id=contract.id, month=month, closed_by_id=user.id)
    db.session.add(closing)
    db.session.flush()
    scope = Scope(user, ReportFilter(start=month, end=last), [contract.id], None, None, True)
    lines = _lines(scope).subquery("lines")
    db.session.execute(
        insert(ClosedCommissionLine).from_select(
            ["payment_id", "closing_id", "bucket", "rate"],
            select(lines.c.payment_id, literal(closing.id), lines.c.bucket, lines.c.rate),
        )
    )
    _found, (payments, recovered, commission) = _month_figures(scope)
    closing.payments = payments
    closing.recovered_cents = int(recovered * 100)
    closing.commission_cents = int(commission * 100)
    record(
        "reports.commission_closed",
        obj=contract,
        user=user,
        details={"month": month.strftime("%Y-%m"), "payments": payments,
                 "recovered": str(recovered), "commission": str(commission)},
    )  # fmt: skip
    db.session.flush()
    return closing


def reopen_month(contract: Contract, month: date, user) -> None:
    """Reopen a closed month: its payments are priced at today's tiers again. Audited.

    :raises Conflict: it is not closed.
    """
    closing = _closing(contract.id, month.replace(day=1))
    if closing is None:
        raise Conflict(
            _("%(month)s of %(number)s is not closed.",
              month=month.strftime("%Y-%m"), number=contract.number)
        )  # fmt: skip
    record(
        "reports.commission_reopened",
        obj=contract,
        user=user,
        details={"month": closing.month.strftime("%Y-%m"), "payments": closing.payments,
                 "recovered": str(from_cents(closing.recovered_cents)),
                 "commission": str(from_cents(closing.commission_cents))},
    )  # fmt: skip
    db.session.execute(
        delete(ClosedCommissionLine).where(ClosedCommissionLine.closing_id == closing.id)
    )
    db.session.delete(closing)
    db.session.flush()


def _closing(contract_id: int, month: date) -> CommissionClosing | None:
    return db.session.scalar(
        select(CommissionClosing).filter_by(contract_id=contract_id, month=month)
    )


def closing_months(
    contract: Contract, count: int = 12
) -> list[tuple[date, CommissionClosing | None]]:
    """The contract's last ``count`` months that are over, newest first, each with its
    closing (None: open)."""
    closed = {
        c.month: c
        for c in db.session.scalars(
            select(CommissionClosing).where(CommissionClosing.contract_id == contract.id)
        )
    }
    month, out = month_start(local_date(utcnow())), []
    for _n in range(count):
        month = previous_month(month)
        out.append((month, closed.get(month)))
    return out


# -- commission tiers (the settings) -------------------------------------------------------


def tier_contracts(user) -> list[Contract]:
    """The contracts whose tiers ``user`` may edit: visible, with the reports module on."""
    ids = report_contract_ids(user)
    if not ids:
        return []
    return list(
        db.session.scalars(select(Contract).where(Contract.id.in_(ids)).order_by(Contract.number))
    )


def tier_contract(user, contract_id: int) -> Contract | None:
    """The contract ``contract_id`` if ``user`` may edit its tiers, else None (a 404)."""
    if contract_id not in report_contract_ids(user):
        return None
    return db.session.get(Contract, contract_id)


def tiers_of(contract: Contract) -> dict[str, Decimal]:
    """bucket → rate (a fraction) of the contract's tiers."""
    return dict(
        db.session.execute(
            select(CommissionTier.bucket, CommissionTier.rate).where(
                CommissionTier.contract_id == contract.id
            )
        ).all()
    )


def as_percent(rate: Decimal | None) -> str:
    """A fraction as the percentage the tiers page shows (0.1250 → ``12.50``)."""
    if rate is None:
        return ""
    return str((Decimal(rate) * HUNDRED).quantize(Decimal("0.01")))


def parse_percent(text: str | None) -> Decimal | None:
    """A percentage typed on the tiers page as a fraction; None when blank.

    :raises ValueError: with the message to show beside the field.
    """
    text = (text or "").strip().rstrip("%").strip()
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(_("Enter a percentage, like 12.5.")) from None
    if not value.is_finite():
        raise ValueError(_("Enter a percentage, like 12.5."))
    if value < 0 or value > 100:
        raise ValueError(_("A rate is between 0 and 100."))
    if value != value.quantize(Decimal("0.01")):
        raise ValueError(_("A rate has at most two decimals."))
    return (value / HUNDRED).quantize(Decimal("0.0001"))


def save_tiers(contract: Contract, percents: dict[str, str | None], user) -> dict[str, Decimal]:
    """Set the contract's rate per bucket from the percentages typed (blank: the flat rate).

    Every bucket is checked before anything changes; the change is audited.

    :raises UserError: naming each bucket whose value is not a rate, nothing saved.
    :return: bucket → rate of the tiers now set.
    """
    wanted, errors = {}, {}
    for bucket in BUCKETS:
        try:
            value = parse_percent(percents.get(bucket))
        except ValueError as error:
            errors[bucket] = [str(error)]
            continue
        if value is not None:
            wanted[bucket] = value
    if errors:
        raise UserError(
            _("Some rates are not valid; nothing was saved: %(buckets)s.",
              buckets=", ".join(errors)),
            fields=errors,
        )  # fmt: skip
    before = tiers_of(contract)
    rows = {
        row.bucket: row
        for row in db.session.scalars(
            select(CommissionTier).where(CommissionTier.contract_id == contract.id)
        )
    }
    for bucket, row in rows.items():
        if bucket not in wanted:
            db.session.delete(row)
    for bucket, value in wanted.items():
        if bucket in rows:
            rows[bucket].rate = value
        else:
            db.session.add(CommissionTier(contract_id=contract.id, bucket=bucket, rate=value))
    db.session.flush()
    if before != wanted:
        record(
            "reports.commission_tiers_saved",
            obj=contract,
            user=user,
            details={
                "before": {b: str(r) for b, r in sorted(before.items())},
                "after": {b: str(r) for b, r in sorted(wanted.items())},
            },
        )
    return wanted
