"""What the API reads and writes for a batch."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from core.api.schemas import Related, Text
from core.batches.models import Batch
from core.clients.models import Contract


class BatchSchema(Schema):
    id = fields.Integer(dump_only=True)
    contract = Related(Contract, data_key="contract_id", required=True)
    client = fields.Function(lambda batch: batch.contract.client.name, dump_only=True)
    batch_no = Text(required=True, validate=validate.Length(min=1, max=64))
    entrust_date = fields.Date(required=True)
    expected_return_date = fields.Date(allow_none=True)
    #: Options of the category settings (类别设置); "" for none.
    area = Text(load_default="", validate=validate.Length(max=120))
    case_category = Text(load_default="", validate=validate.Length(max=120))
    notes = Text(load_default="")
    #: not_imported (未导入) until the first import commits, then imported (已导入).
    status = fields.String(dump_only=True)
    created_at = fields.AwareDateTime(dump_only=True)


BATCH_FIELDS = (
    "batch_no",
    "entrust_date",
    "expected_return_date",
    "area",
    "case_category",
    "notes",
)


def current_values(batch: Batch) -> dict:
    return {"contract": batch.contract} | {name: getattr(batch, name) for name in BATCH_FIELDS}
