"""The JSON API for letter and SMS templates, sending an SMS and the outbox.

The same services as the pages: a template naming an unknown merge field is refused with the
field's name, an SMS passes the compliance gate (409 with the rule, audited) before anything
is stored, numbers leave the server masked.
"""

from __future__ import annotations

from flask import abort
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import Schema, fields, validate
from sqlalchemy import func, select

from core import masking
from core.api.endpoint import endpoint
from core.api.schemas import MAX_ID, Text
from core.clients.models import Contract
from core.clients.services import can_see_contract
from core.errors import InvalidInput, NotAllowed
from core.extensions import db
from core.messaging import FAILED, QUEUED, SENT
from core.modules import is_enabled, require_module
from plugins.collection import messages
from plugins.collection.access import WORK_PERMISSIONS, case_or_404, may_work
from plugins.collection.api import collection_api
from plugins.collection.models import MessageTemplate

TAG = "collection: messages"


class TemplateSchema(Schema):
    id = fields.Integer(dump_only=True)
    contract_id = fields.Integer(required=True, validate=validate.Range(1, MAX_ID))
    channel = fields.String(required=True, validate=validate.OneOf(tuple(messages.CHANNELS)))
    name = Text(required=True, validate=validate.Length(1, 120))
    subject = Text(load_default="", validate=validate.Length(max=200))
    body = Text(required=True, validate=validate.Length(1, messages.LETTER_MAX_LENGTH))
    active = fields.Boolean(load_default=True)
    fields_used = fields.Method("_fields_used", dump_only=True, metadata={"type": "array"})
    updated_at = fields.DateTime(dump_only=True)

    def _fields_used(self, template):
        return messages.fields_in(template.body)


class TemplateChangeSchema(Schema):
    """What a PATCH may change (a template stays in its contract)."""

    channel = fields.String(validate=validate.OneOf(tuple(messages.CHANNELS)))
    name = Text(validate=validate.Length(1, 120))
    subject = Text(validate=validate.Length(max=200))
    body = Text(validate=validate.Length(1, messages.LETTER_MAX_LENGTH))
    active = fields.Boolean()


class TemplateQuerySchema(Schema):
    contract = fields.Integer(validate=validate.Range(1, MAX_ID))
    channel = fields.String(validate=validate.OneOf(tuple(messages.CHANNELS)))


class TemplatePreviewQuerySchema(Schema):
    case = fields.Integer(
        validate=validate.Range(1, MAX_ID),
        metadata={"description": "a case id of the template's contract; none: a sample debtor"},
    )


class TemplatePreviewSchema(Schema):
    template_id = fields.Integer()
    case_id = fields.Integer(allow_none=True)
    subject = fields.String()
    body = fields.String()
    length = fields.Integer()


class SendSmsSchema(Schema):
    template_id = fields.Integer(required=True, validate=validate.Range(1, MAX_ID))
    number = Text(
        required=True,
        validate=validate.Length(1, 32),
        metadata={
            "description": "one of the debtor's numbers that may be contacted, or its key "
            "('m' for the case's mobile, 'p<id>' for a listed phone)"
        },
    )


class OutboxSchema(Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    template_id = fields.Integer(allow_none=True)
    activity_id = fields.Integer(allow_none=True)
    channel = fields.String()
    recipient = fields.Function(lambda m: masking.mask_mobile(m.recipient),
                                metadata={"description": "masked"})  # fmt: skip
    body = fields.String()
    status = fields.String(metadata={"enum": [QUEUED, SENT, FAILED]})
    gateway = fields.String()
    gateway_ref = fields.String()
    error = fields.String()
    created_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)


class OutboxQuerySchema(Schema):
    status = fields.String(validate=validate.OneOf((QUEUED, SENT, FAILED)))
    contract = fields.Integer(validate=validate.Range(1, MAX_ID))
    date_from = fields.Date()
    date_to = fields.Date()
    page = fields.Integer(load_default=1, validate=validate.Range(1, 100_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(1, 200))


class OutboxPageSchema(Schema):
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()
    items = fields.List(fields.Nested(OutboxSchema))


# -- helpers -----------------------------------------------------------------------------------


def _module_contract(contract_id: int) -> Contract:
    """A contract the caller sees with the module on, or a field error naming it."""
    contract = db.session.get(Contract, contract_id)
    if (
        contract is None
        or not can_see_contract(current_user, contract)
        or not is_enabled(contract, "collection")
    ):
        raise InvalidInput(
            _("Some fields are not valid; see the messages by field."),
            fields={"contract_id": [_("Not found: %(value)s.", value=contract_id)]},
        )
    return contract


def _template(template_id: int) -> MessageTemplate:
    template = db.session.get(MessageTemplate, template_id) if 0 < template_id <= MAX_ID else None
    if template is None or not can_see_contract(current_user, template.contract):
        abort(404)
    require_module(template.contract, "collection")
    return template


# -- templates ---------------------------------------------------------------------------------


@collection_api.route("/templates")
@endpoint(
    permission="collection.manage_templates",
    query=TemplateQuerySchema,
    response=TemplateSchema,
    many=True,
    summary="List the letter and SMS templates of your contracts",
    tag=TAG,
)
def list_templates(query):
    ids = [c.id for c in messages.module_contracts(current_user)]
    found = select(MessageTemplate).where(MessageTemplate.contract_id.in_(ids))
    if query.get("contract"):
        found = found.where(MessageTemplate.contract_id == query["contract"])
    if query.get("channel"):
        found = found.where(MessageTemplate.channel == query["channel"])
    order = (MessageTemplate.contract_id, MessageTemplate.channel, MessageTemplate.name)
    return db.session.scalars(found.order_by(*order)).all()


@collection_api.route("/templates", methods=["POST"])
@endpoint(
    permission="collection.manage_templates",
    body=TemplateSchema,
    response=TemplateSchema,
    status=201,
    summary="Create a template (unknown merge fields are refused by name)",
    tag=TAG,
)
def create_template(data):
    contract = _module_contract(data.pop("contract_id"))
    template = messages.save_template(None, contract=contract, user=current_user, **data)
    db.session.commit()
    return template


@collection_api.route("/templates/<int:template_id>", methods=["PATCH"])
@endpoint(
    permission="collection.manage_templates",
    body=TemplateChangeSchema,
    response=TemplateSchema,
    summary="Change a template; only the fields sent change",
    tag=TAG,
)
def update_template(template_id, data):
    template = _template(template_id)
    current = {
        "channel": template.channel,
        "name": template.name,
        "subject": template.subject,
        "body": template.body,
        "active": template.active,
    }
    messages.save_template(
        template, contract=template.contract, user=current_user, **(current | data)
    )
    db.session.commit()
    return template


@collection_api.route("/templates/<int:template_id>/preview")
@endpoint(
    permission=("collection.manage_templates", *WORK_PERMISSIONS),
    query=TemplatePreviewQuerySchema,
    response=TemplatePreviewSchema,
    summary="A template filled for a case (or a sample debtor), as it would be sent",
    tag=TAG,
)
def preview_template(template_id, query):
    """For template managers, and for whoever may work the case named."""
    template = _template(template_id)
    case = case_or_404(query["case"], current_user) if query.get("case") else None
    if case is not None and case.contract_id != template.contract_id:
        raise InvalidInput(
            _("Some fields are not valid; see the messages by field."),
            fields={"case": [_("The case is of another contract than the template.")]},
        )
    allowed = current_user.can("collection.manage_templates") or (
        case is not None and may_work(current_user, case)
    )
    if not allowed:
        raise NotAllowed(_("You may not preview this template."))
    rendered = messages.render(template, case or messages.sample_case(template.contract))
    return {
        "template_id": template.id,
        "case_id": case.id if case else None,
        "subject": rendered.subject,
        "body": rendered.body,
        "length": len(rendered.body),
    }


# -- sending and the outbox --------------------------------------------------------------------


@collection_api.route("/cases/<int:case_id>/sms", methods=["POST"])
@endpoint(
    permission=WORK_PERMISSIONS,
    body=SendSmsSchema,
    response=OutboxSchema,
    status=201,
    summary="Send an SMS to the debtor of a case from a template",
    tag=TAG,
)
def send_sms(case_id, data):
    """Whoever may work the case. Refused with 409 (and audited) when a contact rule or a hold
    refuses it: nothing is stored then. The answer is the outbox row: ``queued`` when no
    gateway sent it (the built-in outbox), else the gateway's status."""
    case = case_or_404(case_id, current_user)
    message = messages.send_sms(
        case, template_id=data["template_id"], number=data["number"], user=current_user
    )
    db.session.commit()
    return message


@collection_api.route("/outbox")
@endpoint(
    permission="collection.manage_templates",
    query=OutboxQuerySchema,
    response=OutboxPageSchema,
    summary="The SMS outbox of the cases you may see, newest first",
    tag=TAG,
)
def list_outbox(query):
    found = messages.outbox_query(
        current_user,
        status=query.get("status", ""),
        contract_id=query.get("contract"),
        date_from=query.get("date_from"),
        date_to=query.get("date_to"),
    )
    total = db.session.scalar(select(func.count()).select_from(found.order_by(None).subquery()))
    page, per_page = query["page"], query["per_page"]
    rows = db.session.scalars(found.limit(per_page).offset((page - 1) * per_page)).all()
    return {"page": page, "per_page": per_page, "total": total, "items": rows}
