"""The workbench's JSON API: collection records, promises, payment claims and the queues.

Like the pages, the endpoints that work cases are open to any token holder and ask
:func:`plugins.collection.access.may_work` (three permissions grant it); a case the user may
not see, or whose contract has the module off, is "not found". A record a rule refuses
answers 409 with the rule's message, and the refusal is audited.
"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import func, select

from core import masking
from core.api.endpoint import endpoint
from core.api.schemas import Text
from core.cases.filters import BUCKETS
from core.cases.models import Activity, Case
from core.cases.services import CHANNELS, CONTACT_TYPES
from core.errors import InvalidInput, NotFound
from core.extensions import db
from plugins.collection import payments as claims
from plugins.collection import work
from plugins.collection.access import WORK_PERMISSIONS, case_or_404, workable_case
from plugins.collection.api import collection_api
from plugins.collection.models import PROMISE_BROKEN, PROMISE_KEPT, PROMISE_PENDING, Promise
from plugins.collection.payments import PAYMENT_CHANNELS
from plugins.collection.promises import PROMISE_REPLACED, promises_of_case

TAG = "collection work"
MAX_ID = 2**31 - 1


def _masked_target(entry: Activity) -> str:
    """Like the core's API, personal numbers leave masked: a number as 138****1234, an
    address by its first characters."""
    if not entry.target:
        return ""
    if entry.channel in ("phone", "sms"):
        return masking.mask_mobile(entry.target)
    return entry.target[:6] + "****"


# -- schemas ---------------------------------------------------------------------------------------


class RecordSchema(Schema):
    """A collection record (催记). Personal numbers and names are masked in answers."""

    id = fields.Integer(dump_only=True)
    case_id = fields.Integer(dump_only=True)
    at = fields.AwareDateTime(required=True, metadata={"example": "2026-03-02T10:30:00+08:00"})
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    contact_type = fields.String(load_default="debtor", validate=validate.OneOf(CONTACT_TYPES))
    contact_name = Text(load_default="", validate=validate.Length(max=120))
    #: The number or address used, as dialled; answered masked.
    target = Text(load_default="", validate=validate.Length(max=300))
    result = fields.String(required=True, validate=validate.Length(min=1, max=40))
    note = Text(load_default="", validate=validate.Length(max=2000))
    follow_up_at = fields.AwareDateTime(load_default=None, allow_none=True)
    promise_amount = fields.Decimal(
        places=2, as_string=True, load_default=None, allow_none=True,
        metadata={"type": "string", "format": "decimal", "example": "500.00"},
    )  # fmt: skip
    promise_date = fields.Date(load_default=None, allow_none=True)
    user_id = fields.Integer(dump_only=True, allow_none=True)
    source = fields.String(dump_only=True)


class RecordOutSchema(RecordSchema):
    """A record as answered: the number, the contact's name and the follow-up as stored."""

    target = fields.Function(_masked_target)
    contact_name = fields.Function(lambda entry: masking.mask_name(entry.contact_name))
    follow_up_at = fields.Function(
        lambda entry: (entry.data or {}).get("follow_up_at"),
        metadata={"type": "string", "format": "date-time"},
    )
    #: The complaint a record whose result is a complaint registered (the case is held).
    complaint_id = fields.Function(
        lambda entry: (entry.data or {}).get("complaint_id"),
        metadata={"type": "integer", "nullable": True},
    )


class PromiseSchema(Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    activity_id = fields.Integer()
    user_id = fields.Integer(allow_none=True)
    amount = fields.Decimal(places=2, as_string=True, metadata={"type": "string"})
    due_on = fields.Date()
    status = fields.String(
        metadata={"enum": [PROMISE_PENDING, PROMISE_KEPT, PROMISE_BROKEN, PROMISE_REPLACED]}
    )
    paid_amount = fields.Decimal(places=2, as_string=True, metadata={"type": "string"})
    evaluated_at = fields.AwareDateTime(allow_none=True)
    created_at = fields.AwareDateTime()


class PromiseQuerySchema(Schema):
    status = fields.String(
        validate=validate.OneOf((PROMISE_PENDING, PROMISE_KEPT, PROMISE_BROKEN, PROMISE_REPLACED))
    )


def positive(value) -> None:
    # Not validate.Range: the OpenAPI document would then give this string field a minimum.
    if value <= 0:
        raise ValidationError(_("A payment must be a positive amount."))


class ClaimSchema(Schema):
    """A payment claim (CP): what the debtor says they paid, pending until confirmed."""

    id = fields.Integer(dump_only=True)
    case_id = fields.Integer(dump_only=True)
    amount = fields.Decimal(
        places=2, as_string=True, required=True, validate=positive,
        metadata={"type": "string", "format": "decimal", "example": "1200.00"},
    )  # fmt: skip
    paid_on = fields.Date(required=True)
    payer = Text(load_default="", validate=validate.Length(max=120))
    channel = fields.String(load_default="", validate=validate.OneOf(("", *PAYMENT_CHANNELS)))
    note = Text(load_default="", load_only=True, validate=validate.Length(max=2000))
    status = fields.String(dump_only=True)
    #: Why a rejected claim was rejected.
    status_reason = fields.String(dump_only=True)
    recorded_by_id = fields.Integer(dump_only=True, allow_none=True)
    confirmed_by_id = fields.Integer(dump_only=True, allow_none=True)
    created_at = fields.AwareDateTime(dump_only=True)


class ClaimOutSchema(ClaimSchema):
    """A claim as answered: the payer (usually the debtor) masked like a name."""

    payer = fields.Function(lambda payment: masking.mask_name(payment.payer or ""))


class ClaimPageSchema(Schema):
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    items = fields.List(fields.Nested(ClaimOutSchema))


class PageQuerySchema(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(1, MAX_ID))
    per_page = fields.Integer(load_default=50, validate=validate.Range(1, 200))


class RejectSchema(Schema):
    reason = Text(required=True, validate=validate.Length(min=1, max=200))


class QueueQuerySchema(Schema):
    #: Default: where the workbench lands (the team's cases for a team leader, else the first).
    scope = fields.String(validate=validate.OneOf(tuple(work.SCOPES)))
    q = fields.String(validate=validate.Length(max=64))
    bucket = fields.String(validate=validate.OneOf(BUCKETS))
    contract = fields.Integer(validate=validate.Range(1, MAX_ID))
    sort = fields.String(validate=validate.OneOf(tuple(work.SORTS)))
    dir = fields.String(load_default="asc", validate=validate.OneOf(("asc", "desc")))
    page = fields.Integer(load_default=1, validate=validate.Range(1, MAX_ID))
    per_page = fields.Integer(load_default=50, validate=validate.Range(1, 200))


class QueueCountsSchema(Schema):
    scope = fields.String()
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())


class QueueCaseSchema(Schema):
    id = fields.Integer()
    serial = fields.String()
    name = fields.Function(lambda case: masking.mask_name(case.name))
    contract_id = fields.Integer()
    bucket = fields.String()
    days_overdue = fields.Integer(allow_none=True)
    balance = fields.Decimal(places=2, as_string=True, metadata={"type": "string"})
    status = fields.String()
    holder_id = fields.Integer(allow_none=True)


class QueueRowSchema(Schema):
    case = fields.Nested(QueueCaseSchema)
    first_contact_due = fields.AwareDateTime(allow_none=True)
    last_contact_at = fields.AwareDateTime(allow_none=True)
    last_result = fields.String()
    follow_up_at = fields.AwareDateTime(allow_none=True)


class QueuePageSchema(Schema):
    queue = fields.String()
    scope = fields.String()
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    items = fields.List(fields.Nested(QueueRowSchema))


# -- records ---------------------------------------------------------------------------------------


@collection_api.route("/cases/<int:case_id>/records")
@endpoint(
    permission="core.cases.view",
    response=RecordOutSchema,
    many=True,
    summary="List a case's collection records",
    tag=TAG,
)
def list_records(case_id):
    """Newest first, at most 200; numbers and names masked."""
    case = case_or_404(case_id, current_user)
    return db.session.scalars(
        select(Activity)
        .where(Activity.case_id == case.id, Activity.kind == "contact")
        .order_by(Activity.at.desc(), Activity.id.desc())
        .limit(200)
    ).all()


@collection_api.route("/cases/<int:case_id>/records", methods=["POST"])
@endpoint(
    permission=WORK_PERMISSIONS,
    body=RecordSchema,
    response=RecordOutSchema,
    status=201,
    summary="Record a contact on a case (the compliance rules apply)",
    tag=TAG,
)
def create_record(case_id, data):
    """For who may work the case. ``result`` is one of the contract's active result codes; a
    promise result needs ``promise_amount`` and ``promise_date``. A rule's refusal (contact
    hours, calls per day, third parties, a paused or held case) answers 409 with its reason
    and when the contact is next allowed. A complaint result registers a complaint
    (``complaint_id``), which holds the case."""
    case = workable_case(case_id, current_user)
    entry = work.record_contact(case, current_user, source="api", **data)
    db.session.commit()
    return entry


# -- promises ------------------------------------------------------------------------------------


@collection_api.route("/promises")
@endpoint(
    permission=WORK_PERMISSIONS,
    query=PromiseQuerySchema,
    response=PromiseSchema,
    many=True,
    summary="The promises on the cases you hold",
    tag=TAG,
)
def my_promises(query):
    """Soonest due first, at most 500; ``status`` narrows them."""
    statement = (
        select(Promise)
        .join(Case, Case.id == Promise.case_id)
        .where(Case.holder_id == current_user.id)
        .order_by(Promise.due_on, Promise.id)
        .limit(500)
    )
    if query.get("status"):
        statement = statement.where(Promise.status == query["status"])
    return db.session.scalars(statement).all()


@collection_api.route("/cases/<int:case_id>/promises")
@endpoint(
    permission="core.cases.view",
    response=PromiseSchema,
    many=True,
    summary="A case's promises",
    tag=TAG,
)
def case_promises(case_id):
    return promises_of_case(case_or_404(case_id, current_user))


# -- payment claims ------------------------------------------------------------------------------


@collection_api.route("/cases/<int:case_id>/claims", methods=["POST"])
@endpoint(
    permission=WORK_PERMISSIONS,
    body=ClaimSchema,
    response=ClaimOutSchema,
    status=201,
    summary="Record a payment claim (CP) on a case",
    tag=TAG,
)
def create_claim(case_id, data):
    """For who may work the case; it waits for a manager's confirmation."""
    case = workable_case(case_id, current_user)
    payment = claims.claim_payment(case, current_user, **data)
    db.session.commit()
    return payment


@collection_api.route("/claims")
@endpoint(
    permission="collection.confirm_payments",
    query=PageQuerySchema,
    response=ClaimPageSchema,
    summary="Pending payment claims, oldest first",
    tag=TAG,
)
def pending_claims(query):
    statement = claims.pending_claims_query(current_user)
    total = db.session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    per_page = query["per_page"]
    page = min(query["page"], max(1, -(-total // per_page)))
    rows = db.session.scalars(statement.limit(per_page).offset((page - 1) * per_page)).all()
    return {"total": total, "page": page, "per_page": per_page, "items": rows}


@collection_api.route("/claims/<int:payment_id>/confirm", methods=["POST"])
@endpoint(
    permission="collection.confirm_payments",
    response=ClaimOutSchema,
    summary="Confirm a payment claim (the balance drops; paid in full settles the case)",
    tag=TAG,
)
def confirm_claim(payment_id):
    """409 when the claim was already handled, or is more than what the case owes now."""
    payment = claims.confirm_claim(claims.claim_for(current_user, payment_id), current_user)
    db.session.commit()
    return payment


@collection_api.route("/claims/<int:payment_id>/reject", methods=["POST"])
@endpoint(
    permission="collection.confirm_payments",
    body=RejectSchema,
    response=ClaimOutSchema,
    summary="Reject a payment claim, with a reason",
    tag=TAG,
)
def reject_claim(payment_id, data):
    payment = claims.claim_for(current_user, payment_id)
    claims.reject_claim(payment, current_user, data["reason"])
    db.session.commit()
    return payment


# -- queues ----------------------------------------------------------------------------------------


def _queues(query) -> work.Queues:
    query.setdefault("scope", work.default_scope(current_user))
    if query["scope"] not in work.scopes_for(current_user):
        message = _("You may not see this scope.")
        raise InvalidInput(message, fields={"scope": [message]})
    found = work.QueueFilter(
        q=query.get("q", ""), bucket=query.get("bucket", ""), contract=query.get("contract"),
        sort=query.get("sort", ""), dir=query["dir"],
    )  # fmt: skip
    return work.Queues(current_user, query["scope"], found)


@collection_api.route("/queues")
@endpoint(
    permission=WORK_PERMISSIONS,
    query=QueueQuerySchema,
    response=QueueCountsSchema,
    summary="Your workbench queues and how many cases each holds",
    tag=TAG,
)
def queue_counts(query):
    """``scope``: mine, team (team leaders) or all (managers); by default the one the
    workbench opens on."""
    queues = _queues(query)
    return {"scope": queues.scope, "counts": queues.counts()}


@collection_api.route("/queues/<queue>")
@endpoint(
    permission=WORK_PERMISSIONS,
    query=QueueQuerySchema,
    response=QueuePageSchema,
    summary="A page of one workbench queue, most urgent first",
    tag=TAG,
)
def queue_page(queue, query):
    """``queue``: new, promises, broken, follow_ups or all."""
    if queue not in work.QUEUES:
        raise NotFound(_("There is no such queue."))
    queues = _queues(query)
    rows, total, page = queues.page(queue, query["page"], query["per_page"])
    items = [
        {
            "case": case,
            "first_contact_due": row.first_contact_due if row else None,
            "last_contact_at": row.last_contact_at if row else None,
            "last_result": row.last_result if row else "",
            "follow_up_at": row.follow_up_at if row else None,
        }
        for case, row in rows
    ]
    return {"queue": queue, "scope": query["scope"], "total": total, "page": page,
            "per_page": query["per_page"], "items": items}  # fmt: skip
