"""Payment claims (CP): a collector records what the debtor says they paid, a manager confirms
or rejects it. The money itself is the core's (``record_payment``/``confirm_payment``):
confirming takes it off the balance, settles a case paid in full and fires
``after_payment_recorded``, which judges the case's promises.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _
from sqlalchemy import select

from core.cases import services as cases
from core.cases.filters import visibility_condition
from core.cases.models import CLAIM, PENDING, Case, Payment
from core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from core.extensions import db
from core.types import agency_zone, utcnow
from core.web.filters import money
from plugins.collection.access import may_work
from plugins.collection.work import collection_contract_ids

PAYMENT_CHANNELS = ("bank_transfer", "card", "alipay", "wechat", "cash", "other")


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, fields={field: [message]})


def claim_payment(
    case: Case, user, *, amount, paid_on: date, payer: str = "", channel: str = "",
    note: str = "",
) -> Payment:  # fmt: skip
    """Record a payment claim on ``case`` for ``user``, who must be allowed to work it.

    The note goes on the case's timeline (an entry of kind ``payment_claim``), where the
    collector's colleagues read what the debtor said about the payment.
    """
    if not may_work(user, case):
        raise NotAllowed(_("You may not work this case."))
    try:
        amount = Decimal(str(amount)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        raise _invalid("amount", _("Write an amount such as 1200.50.")) from None
    if amount <= 0:
        raise _invalid("amount", _("A payment must be a positive amount."))
    balance = case.balance or Decimal(0)
    if amount > balance:
        raise _invalid(
            "amount",
            _("The claimed amount is more than the case's balance (%(balance)s).",
              balance=money(balance)),
        )  # fmt: skip
    today = utcnow().astimezone(agency_zone()).date()
    if paid_on > today:
        raise _invalid("paid_on", _("The payment date cannot be in the future."))
    if paid_on < today - timedelta(days=366):
        raise _invalid("paid_on", _("The payment date is more than a year ago."))
    if channel and channel not in PAYMENT_CHANNELS:
        raise _invalid("channel", _("Unknown payment channel."))
    payment = cases.record_payment(
        case, amount=amount, paid_on=paid_on, user=user, kind=CLAIM, payer=(payer or "")[:120],
        channel=channel or "", source="collection",
    )  # fmt: skip
    cases.record_activity(
        case, user, at=utcnow(), kind="payment_claim", channel="other", note=(note or "")[:2000],
        source="collection", data={"payment_id": payment.id, "amount": str(amount),
                                   "paid_on": paid_on.isoformat()},
    )  # fmt: skip
    return payment


def pending_claims_query(user):
    """Pending claims on cases ``user`` may see, on contracts with the module on, oldest first."""
    contract_ids = collection_contract_ids(user)
    query = (
        select(Payment)
        .join(Case, Case.id == Payment.case_id)
        .where(
            Payment.kind == CLAIM,
            Payment.status == PENDING,
            Case.contract_id.in_(contract_ids),
        )
        .order_by(Payment.created_at, Payment.id)
    )
    visible = visibility_condition(user)
    return query if visible is None else query.where(visible)


def claim_for(user, payment_id: int) -> Payment:
    """A claim ``user`` may confirm or reject: on a case they see, its contract with the
    module on; anything else is "not found"."""
    payment = db.session.get(Payment, payment_id) if 0 < payment_id <= 2**31 - 1 else None
    if (
        payment is None
        or payment.kind != CLAIM
        or payment.case.contract_id not in collection_contract_ids(user)
        or not cases.can_see_case(user, payment.case)
    ):
        raise NotFound(_("There is no such payment claim."))
    return payment


def _check_confirmer(payment: Payment, user) -> None:
    if not user.can("collection.confirm_payments"):
        raise NotAllowed(_("You may not confirm or reject payment claims."))
    # Four eyes: whoever took the claim down does not also vouch for it.
    if payment.recorded_by_id == user.id and not user.role.all_permissions:
        raise NotAllowed(_("A claim is confirmed or rejected by someone other than who took it."))


def confirm_claim(payment: Payment, user) -> Payment:
    """Confirm a pending claim: the case's balance drops (settled when paid in full).

    A claim larger than what the case still owes is refused (409): the balance may have
    dropped since the claim was taken (another claim confirmed, a repayment imported)."""
    _check_confirmer(payment, user)
    balance = payment.case.balance or Decimal(0)
    if payment.status == PENDING and payment.amount > balance:
        raise Conflict(
            _("The claim (%(amount)s) is more than the case's balance now (%(balance)s): "
              "reject it, or have the collector take a new claim.",
              amount=money(payment.amount), balance=money(balance))
        )  # fmt: skip
    cases.confirm_payment(payment, user)
    return payment


def reject_claim(payment: Payment, user, reason: str) -> Payment:
    """Reject a pending claim; the reason stays on the payment (the collector who took the
    claim reads it on the case page) and in the audit log."""
    _check_confirmer(payment, user)
    reason = (reason or "").strip()
    if not reason:
        raise _invalid("reason", _("Give a reason for rejecting the claim."))
    cases.reject_payment(payment, user, reason[:200])
    db.session.flush()
    return payment
