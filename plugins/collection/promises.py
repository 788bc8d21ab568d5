"""Promises to pay (PTP): made on a record, judged kept or broken against repayments.

A promise is **kept** once the confirmed repayments on its case dated from the day it was
made up to and including its due date add up to its amount (a payment after the due date
does not keep it). It is **broken** once its due date has passed in the agency's zone without
being kept. Partial payments are counted (``paid_amount``) but keep nothing.

A case has at most one pending promise: a new promise **replaces** the pending ones made
before it (status ``replaced``, audited as ``collection.promise_replaced``). A replaced promise
is never judged again; it counts neither as kept nor as broken and is in no queue. A promise
larger than the case's balance is refused when it is recorded.

Judged on each confirmed payment (``after_payment_recorded``) and by the daily job
``maple collection evaluate-promises``. A payment confirmed late but dated within a broken
promise's window (a claim the bank confirmed days later) turns that promise kept.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from core.audit.services import record
from core.cases.models import CONFIRMED, Activity, Case, Payment
from core.extensions import db
from core.types import agency_zone, utcnow
from plugins.collection.models import PROMISE_BROKEN, PROMISE_KEPT, PROMISE_PENDING, Promise

#: Pending promises judged per transaction by the daily job.
CHUNK = 500

#: A pending promise a later promise on the same case took the place of (never judged).
PROMISE_REPLACED = "replaced"


def promise_made(case: Case, activity: Activity) -> Promise:
    """Store the promise a contact record carries (one per record); it replaces the case's
    pending promises made before it."""
    existing = db.session.scalar(select(Promise).filter_by(activity_id=activity.id))
    if existing is not None:
        return existing
    earlier = db.session.scalars(
        select(Promise).where(
            Promise.case_id == case.id,
            Promise.status == PROMISE_PENDING,
            Promise.created_at <= activity.at,
        )
    ).all()
    for old in earlier:
        old.status, old.evaluated_at = PROMISE_REPLACED, utcnow()
        record(
            "collection.promise_replaced",
            obj=old,
            user=activity.user,
            details={"case": case.id, "amount": str(old.amount), "due_on": old.due_on.isoformat(),
                     "by_activity": activity.id},
        )  # fmt: skip
    promise = Promise(
        case_id=case.id,
        contract_id=case.contract_id,
        activity_id=activity.id,
        user_id=activity.user_id,
        amount=Decimal(activity.promise_amount),
        due_on=activity.promise_date,
        status=PROMISE_PENDING,
        paid_amount=Decimal(0),
        # Made when the conversation happened, not when it was typed in: its window of
        # counted repayments starts that day.
        created_at=activity.at,
    )
    db.session.add(promise)
    db.session.flush()
    return promise


def made_on(promise: Promise) -> date:
    """The agency-local day the promise was made: the first day repayments count."""
    return promise.created_at.astimezone(agency_zone()).date()


def paid_towards(promise: Promise) -> Decimal:
    """Confirmed repayments on the case dated within the promise's window."""
    total = db.session.scalar(
        select(func.coalesce(func.sum(Payment.amount), 0)).where(
            Payment.case_id == promise.case_id,
            Payment.status == CONFIRMED,
            Payment.paid_on >= made_on(promise),
            Payment.paid_on <= promise.due_on,
        )
    )
    return Decimal(total or 0).quantize(Decimal("0.01"))


def evaluate(promise: Promise, today: date | None = None, user=None) -> str:
    """Judge one promise as of ``today`` (the agency's day); returns its status."""
    today = today or utcnow().astimezone(agency_zone()).date()
    paid = paid_towards(promise)
    promise.paid_amount = paid
    if paid >= promise.amount:
        status = PROMISE_KEPT
    elif today > promise.due_on:
        status = PROMISE_BROKEN
    else:
        status = PROMISE_PENDING
    if status != promise.status:
        promise.status = status
        promise.evaluated_at = utcnow() if status != PROMISE_PENDING else None
        record(
            f"collection.promise_{status}",
            obj=promise,
            user=user,
            details={"case": promise.case_id, "amount": str(promise.amount),
                     "due_on": promise.due_on.isoformat(), "paid": str(paid)},
        )  # fmt: skip
    db.session.flush()
    return promise.status


def payment_recorded(case: Case, payment: Payment, user=None) -> list[Promise]:
    """Judge the case's promises a confirmed payment may keep: pending ones, and broken ones
    whose window holds the payment's date."""
    promises = db.session.scalars(
        select(Promise).where(
            Promise.case_id == case.id,
            Promise.status.in_((PROMISE_PENDING, PROMISE_BROKEN)),
        )
    ).all()
    judged = []
    for promise in promises:
        in_window = made_on(promise) <= payment.paid_on <= promise.due_on
        if promise.status == PROMISE_PENDING or in_window:
            evaluate(promise, user=user)
            judged.append(promise)
    return judged


def evaluate_due(today: date | None = None, *, commit=None) -> dict[str, int]:
    """The daily job: judge every pending promise due before ``today`` (agency's day).

    ``commit``, when given, is called after each chunk, so a long run keeps its progress.
    :return: how many became kept and broken.
    """
    today = today or utcnow().astimezone(agency_zone()).date()
    counts = {PROMISE_KEPT: 0, PROMISE_BROKEN: 0}
    last_id = 0
    while True:
        chunk = db.session.scalars(
            select(Promise)
            .where(
                Promise.status == PROMISE_PENDING,
                Promise.due_on < today,
                Promise.id > last_id,
            )
            .order_by(Promise.id)
            .limit(CHUNK)
        ).all()
        if not chunk:
            break
        for promise in chunk:
            status = evaluate(promise, today)
            if status in counts:
                counts[status] += 1
        last_id = chunk[-1].id
        if commit is not None:
            commit()
    return counts


def promises_of_case(case: Case) -> list[Promise]:
    return list(
        db.session.scalars(
            select(Promise)
            .filter_by(case_id=case.id)
            .order_by(Promise.due_on.desc(), Promise.id.desc())
        )
    )
