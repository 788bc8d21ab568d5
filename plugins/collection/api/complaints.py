"""The JSON API for complaints: the handlers' list, registering one on a case, resolving one."""

from __future__ import annotations

from flask import abort
from flask_login import current_user
from marshmallow import Schema, fields, validate
from sqlalchemy import func, select

from core.api.endpoint import endpoint
from core.api.schemas import MAX_ID, Text
from core.cases.services import can_see_case
from core.extensions import db
from core.modules import require_module
from plugins.collection import complaints as service
from plugins.collection.access import WORK_PERMISSIONS, case_or_404
from plugins.collection.api import collection_api
from plugins.collection.models import Complaint

TAG = "collection: complaints"


class ComplaintSchema(Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    contract_id = fields.Integer()
    channel = fields.String(metadata={"enum": list(service.CHANNELS)})
    content = fields.String()
    status = fields.String(metadata={"enum": list(service.STATUSES)})
    registered_by_id = fields.Integer(allow_none=True)
    registered_at = fields.DateTime()
    due_at = fields.DateTime()
    overdue = fields.Function(lambda c: service.is_overdue(c), metadata={"type": "boolean"})
    handler_id = fields.Integer(allow_none=True)
    resolution = fields.String()
    resolved_at = fields.DateTime(allow_none=True)


class ComplaintRegisterSchema(Schema):
    channel = fields.String(required=True, validate=validate.OneOf(tuple(service.CHANNELS)))
    content = Text(required=True, validate=validate.Length(1, service.MAX_CONTENT))


class ComplaintResolveSchema(Schema):
    resolution = Text(required=True, validate=validate.Length(1, service.MAX_CONTENT))


class ComplaintQuerySchema(Schema):
    status = fields.String(validate=validate.OneOf(tuple(service.STATUSES)))
    contract = fields.Integer(validate=validate.Range(1, MAX_ID))
    page = fields.Integer(load_default=1, validate=validate.Range(1, 100_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(1, 200))


class ComplaintPageSchema(Schema):
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()
    items = fields.List(fields.Nested(ComplaintSchema))


def _complaint(complaint_id: int) -> Complaint:
    complaint = db.session.get(Complaint, complaint_id) if 0 < complaint_id <= MAX_ID else None
    if complaint is None or not can_see_case(current_user, complaint.case):
        abort(404)
    require_module(complaint.case.contract, "collection")
    return complaint


@collection_api.route("/complaints")
@endpoint(
    permission="collection.handle_complaints",
    query=ComplaintQuerySchema,
    response=ComplaintPageSchema,
    summary="Complaints on the cases you may see: open ones first, the most overdue on top",
    tag=TAG,
)
def list_complaints(query):
    found = service.complaints_query(
        current_user, status=query.get("status", ""), contract_id=query.get("contract")
    )
    total = db.session.scalar(select(func.count()).select_from(found.order_by(None).subquery()))
    page, per_page = query["page"], query["per_page"]
    rows = db.session.scalars(found.limit(per_page).offset((page - 1) * per_page)).all()
    return {"page": page, "per_page": per_page, "total": total, "items": rows}


@collection_api.route("/cases/<int:case_id>/complaints", methods=["POST"])
@endpoint(
    permission=(*WORK_PERMISSIONS, "collection.handle_complaints"),
    body=ComplaintRegisterSchema,
    response=ComplaintSchema,
    status=201,
    summary="Register a complaint on a case; the case is held until it is resolved",
    tag=TAG,
)
def register_complaint(case_id, data):
    """Whoever may work the case, or handles complaints and sees it (403 otherwise)."""
    complaint = service.register_complaint(
        case_or_404(case_id, current_user), user=current_user, **data
    )
    db.session.commit()
    return complaint


@collection_api.route("/complaints/<int:complaint_id>/resolve", methods=["POST"])
@endpoint(
    permission="collection.handle_complaints",
    body=ComplaintResolveSchema,
    response=ComplaintSchema,
    summary="Resolve an open complaint; the case's hold lifts once none is open",
    tag=TAG,
)
def resolve_complaint(complaint_id, data):
    complaint = service.resolve_complaint(
        _complaint(complaint_id), resolution=data["resolution"], user=current_user
    )
    db.session.commit()
    return complaint
