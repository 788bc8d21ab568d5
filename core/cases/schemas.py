"""What the API sends for cases (personal numbers masked) and reads for case operations."""

from __future__ import annotations

from flask_babel import gettext as _
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from core.api.schemas import MAX_ID, Text
from core.cases.filters import CaseFilterSchema
from core.cases.services import STATUS_CHANGES
from core.masking import mask_card, mask_id, mask_mobile, mask_name


def _masked(attribute: str, mask):
    return fields.Function(lambda obj: mask(getattr(obj, attribute) or ""), dump_only=True)


class _CaseFields(Schema):
    """What every view of a case sends: identity, masked numbers, debt and state."""

    id = fields.Integer()
    serial = fields.String()
    name = _masked("name", mask_name)
    id_no = _masked("id_no", mask_id)
    card_no = _masked("card_no", mask_card)
    mobile = _masked("mobile", mask_mobile)
    entrusted_amount = fields.Decimal(as_string=True, metadata={"type": "string"})
    balance = fields.Decimal(as_string=True, metadata={"type": "string"})
    days_overdue = fields.Integer(allow_none=True)
    bucket = fields.String()
    entrust_date = fields.Date(allow_none=True)
    area = fields.String()
    status = fields.String()
    status_reason = fields.String()


class CaseRowSchema(_CaseFields):
    """A case as listed: its numbers masked as on the page."""

    batch_no = fields.String(allow_none=True)
    client = fields.String(attribute="client_name")
    contract = fields.String(attribute="contract_number")
    holder = fields.String(allow_none=True)


class CaseListQuerySchema(CaseFilterSchema):
    """The case list's query string: the batch management filters, and the page wanted."""

    page = fields.Integer(load_default=1, validate=validate.Range(1, MAX_ID))
    per_page = fields.Integer(
        load_default=50, validate=validate.Range(1, 200), metadata={"description": "at most 200"}
    )


class CasePageSchema(Schema):
    total = fields.Integer(metadata={"description": "exact up to 10,000 (see total_exact)"})
    total_exact = fields.Boolean(metadata={"description": "false: there are more than total"})
    page = fields.Integer()
    per_page = fields.Integer()
    items = fields.List(fields.Nested(CaseRowSchema))


class CaseSchema(_CaseFields):
    """One case with its placement and debt; personal numbers masked."""

    contract_id = fields.Integer()
    batch_id = fields.Integer(allow_none=True)
    archive_no = fields.String()
    return_date = fields.Date(allow_none=True)
    holder_id = fields.Integer(allow_none=True)


class CaseOperationSchema(Schema):
    """Pause, close or resume the cases named, or every case a filter finds."""

    operation = fields.String(required=True, validate=validate.OneOf(tuple(STATUS_CHANGES)))
    reason = Text(required=True, validate=validate.Length(min=1, max=500))
    case_ids = fields.List(fields.Integer(validate=validate.Range(1, MAX_ID)))
    #: The list's filter, as its query parameters (``{"area": "苏南", "status": "normal"}``).
    filter = fields.Dict(keys=fields.String(), values=fields.String())

    @validates_schema
    def one_target(self, data, **kwargs):
        if ("case_ids" in data) == ("filter" in data):
            raise ValidationError(_("Send either case_ids or filter."), "case_ids")


class OperationOutcomeSchema(Schema):
    changed = fields.Integer()
    skipped = fields.Dict(keys=fields.String(), values=fields.Integer())


class ExportRequestSchema(Schema):
    format = fields.String(load_default="xlsx", validate=validate.OneOf(("xlsx", "csv")))
    filter = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    unmask = fields.Boolean(load_default=False)


class JobSchema(Schema):
    """A job's progress: queued → running → done or failed; rows ``done`` of ``total``."""

    id = fields.String()
    #: What the job does: imports.dry_run, imports.commit, exports.cases …
    name = fields.String()
    status = fields.String()
    done = fields.Integer()
    total = fields.Integer()
    result = fields.Dict()
    error = fields.String()
