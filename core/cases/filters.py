"""The one case filter: read from a query string, turned into SQL for the page, export and API.

::

    case_filter = CaseFilter.from_args(request.args)   # bad values are dropped, and listed
    rows = db.session.execute(list_query(current_user, case_filter).limit(50))
    total = count_cases(current_user, case_filter)

Every condition is on ``cases`` itself (batch and client conditions are ``IN`` subqueries),
so the count needs no join and each filter can use the indexes on ``cases``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from marshmallow import EXCLUDE, Schema, ValidationError, validate
from marshmallow import fields as mf
from sqlalchemy import Float, and_, cast, false, func, or_, select

from core.auth.models import User
from core.batches.models import IMPORTED, NOT_IMPORTED, Batch
from core.cases.models import STATUSES, Case
from core.clients.models import Client, Contract
from core.clients.services import visible_contracts_query

#: Columns the list may be sorted by: name in the URL → column.
SORTS = {
    "id": Case.id,
    "serial": Case.serial,
    "name": Case.name,
    "amount": Case.entrusted_amount,
    "balance": Case.balance,
    "days": Case.days_overdue,
    "bucket": Case.bucket,
    "status": Case.status,
    "entrust_date": Case.entrust_date,
    "area": Case.area,
    "batch": Case.batch_id,
}

BUCKETS = ("M1", "M2", "M3", "M4", "M5", "M6", "M6+")
MAX_ID = 2**31 - 1


class CaseFilterSchema(Schema):
    """What the case list accepts in its query string (and the API in its parameters)."""

    class Meta:
        unknown = EXCLUDE

    q = mf.String(validate=validate.Length(max=64), metadata={"description": "name, number"})
    area = mf.String(validate=validate.Length(max=120))
    batch_status = mf.String(validate=validate.OneOf((NOT_IMPORTED, IMPORTED)))
    batch_no = mf.String(validate=validate.Length(max=64))
    batch = mf.Integer(validate=validate.Range(1, MAX_ID))
    client = mf.Integer(validate=validate.Range(1, MAX_ID))
    contract = mf.Integer(validate=validate.Range(1, MAX_ID))
    status = mf.String(validate=validate.OneOf(STATUSES))
    amount_min = mf.Decimal(places=2, validate=validate.Range(0, 10**12))
    amount_max = mf.Decimal(places=2, validate=validate.Range(0, 10**12))
    days_min = mf.Integer(validate=validate.Range(0, 100_000))
    days_max = mf.Integer(validate=validate.Range(0, 100_000))
    bucket = mf.String(validate=validate.OneOf(BUCKETS))
    sort = mf.String(validate=validate.OneOf(tuple(SORTS)))
    dir = mf.String(validate=validate.OneOf(("asc", "desc")))


FIELD_TITLES = {
    "q": _l("Search"),
    "area": _l("Collection area"),
    "batch_status": _l("Batch status"),
    "batch_no": _l("Batch no."),
    "batch": _l("Batch"),
    "client": _l("Client"),
    "contract": _l("Contract"),
    "status": _l("Case status"),
    "amount_min": _l("Amount from"),
    "amount_max": _l("Amount to"),
    "days_min": _l("Days past due from"),
    "days_max": _l("Days past due to"),
    "bucket": _l("Bucket"),
    "sort": _l("Sort"),
    "dir": _l("Direction"),
}


@dataclass
class CaseFilter:
    q: str = ""
    area: str = ""
    batch_status: str = ""
    batch_no: str = ""
    batch: int | None = None
    client: int | None = None
    contract: int | None = None
    status: str = ""
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    days_min: int | None = None
    days_max: int | None = None
    bucket: str = ""
    sort: str = "id"
    dir: str = "asc"
    #: field → messages for the values that were dropped.
    errors: dict = field(default_factory=dict)

    @classmethod
    def from_args(cls, args) -> CaseFilter:
        """Read a query string (a MultiDict or a dict); blank values mean "any"."""
        raw = {}
        for name in CaseFilterSchema().fields:
            value = args.get(name)
            if isinstance(value, str):
                value = value.strip()
            if value not in (None, ""):
                raw[name] = value
        schema = CaseFilterSchema()
        try:
            data, errors = schema.load(raw), {}
        except ValidationError as error:
            errors = error.messages
            data = schema.load({k: v for k, v in raw.items() if k not in errors})
        return cls(**{k: v for k, v in data.items() if v is not None}, errors=errors)

    def as_args(self) -> dict:
        """The filter as query-string values (no empty ones): for links, hidden fields, audit."""
        out = {}
        for f in fields(self):
            if f.name == "errors":
                continue
            value = getattr(self, f.name)
            if value in (None, "") or (f.name, value) in (("sort", "id"), ("dir", "asc")):
                continue
            out[f.name] = str(value)
        return out

    # -- SQL ------------------------------------------------------------------------------------

    def conditions(self) -> list:
        c = []
        if self.area:
            c.append(Case.area == self.area)
        if self.status:
            c.append(Case.status == self.status)
        if self.bucket:
            c.append(Case.bucket == self.bucket)
        if self.batch is not None:
            c.append(Case.batch_id == self.batch)
        if self.contract is not None:
            c.append(Case.contract_id == self.contract)
        if self.client is not None:
            c.append(
                Case.contract_id.in_(select(Contract.id).where(Contract.client_id == self.client))
            )
        if self.batch_status or self.batch_no:
            batches = select(Batch.id)
            if self.batch_status:
                batches = batches.where(Batch.status == self.batch_status)
            if self.batch_no:
                batches = batches.where(Batch.batch_no == self.batch_no)
            c.append(Case.batch_id.in_(batches))
        if self.amount_min is not None:
            c.append(Case.entrusted_amount >= self.amount_min)
        if self.amount_max is not None:
            c.append(Case.entrusted_amount <= self.amount_max)
        if self.days_min is not None:
            c.append(Case.days_overdue >= self.days_min)
        if self.days_max is not None:
            c.append(Case.days_overdue <= self.days_max)
        if self.q:
            c.append(search_condition(self.q))
        return c

    def order_by(self) -> list:
        column = SORTS.get(self.sort, Case.id)
        if self.dir == "desc":
            return [column.desc(), Case.id.desc()]
        return [column.asc(), Case.id.asc()]


_TAIL = re.compile(r"[0-9]{3}[0-9Xx]")
_MASKED = re.compile(r"([0-9]*)\*+([0-9Xx]{4})")
_NUMBER = re.compile(r"[0-9]{6,}[0-9Xx]")


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_condition(q: str):
    """What the search box matches, each through an index where the number allows it.

    - four characters (``1234``): the last four of the card (``card_tail``) or of the ID;
    - a masked number as shown (``622202******1234``, ``110***********123X``, ``138****5678``):
      tail and leading digits of the card, the ID or the mobile;
    - a whole number: card, ID, account or mobile number;
    - anything else: the case serial, the archive number, or a name (its beginning).
    """
    q = q.strip()
    if _TAIL.fullmatch(q):
        return or_(Case.card_tail == q, Case.id_tail == q.upper())
    masked = _MASKED.fullmatch(q)
    if masked:
        head, tail = masked.group(1), masked.group(2).upper()
        pattern = _escape_like(head) + "%"
        options = [
            and_(Case.card_tail == tail, Case.card_no.like(pattern, escape="\\")),
            and_(Case.id_tail == tail, Case.id_no.like(pattern, escape="\\")),
        ]
        if len(q) == 11:
            options.append(Case.mobile.like(f"{pattern}{tail}", escape="\\"))
        return or_(*options)
    if _NUMBER.fullmatch(q):
        return or_(
            Case.card_no == q,
            Case.id_no == q.upper(),
            Case.account_no == q,
            Case.mobile == q,
            Case.serial == q,
            Case.archive_no == q,
        )
    return or_(
        Case.serial == q,
        Case.archive_no == q,
        Case.name == q,
        Case.name.like(_escape_like(q) + "%", escape="\\"),
    )


def visibility_condition(user):
    """Cases of the contracts ``user`` may see (no condition for who sees them all)."""
    if user is None:
        return false()
    if user.can("core.contracts.view_all"):
        return None
    contract_ids = visible_contracts_query(user).with_only_columns(Contract.id).order_by(None)
    return Case.contract_id.in_(contract_ids)


def where(user, case_filter: CaseFilter) -> list:
    conditions = case_filter.conditions()
    visible = visibility_condition(user)
    if visible is not None:
        conditions.append(visible)
    return conditions


def ids_query(user, case_filter: CaseFilter):
    """``select(Case.id)`` of the filter's result, in id order (for operations)."""
    return select(Case.id).where(*where(user, case_filter)).order_by(Case.id)


def count_cases(user, case_filter: CaseFilter) -> int:
    """The number of cases the filter finds: a count over ``cases`` alone, with no join."""
    from core.extensions import db

    query = select(func.count()).select_from(Case).where(*where(user, case_filter))
    return db.session.scalar(query)


#: The columns of a listed or exported row, in order: (key, SQL expression).
def row_columns(*, for_export: bool = False):
    holder = User.display_name.label("holder")
    amount = Case.entrusted_amount
    balance = Case.balance
    if for_export:  # floats straight from the driver: no Decimal per cell
        amount, balance = cast(amount, Float), cast(balance, Float)
    return [
        Case.id,
        Case.serial,
        Batch.batch_no,
        Client.name.label("client_name"),
        Contract.number.label("contract_number"),
        Case.name,
        Case.id_no,
        Case.card_no,
        Case.mobile,
        amount.label("entrusted_amount"),
        balance.label("balance"),
        Case.days_overdue,
        Case.bucket,
        Case.entrust_date,
        Case.return_date,
        Case.area,
        Case.status,
        Case.status_reason,
        holder,
    ]


def list_query(user, case_filter: CaseFilter, *, for_export: bool = False):
    """Rows (not entities) of the filter's result with their batch, client and holder, sorted."""
    return (
        select(*row_columns(for_export=for_export))
        .select_from(Case)
        .outerjoin(Batch, Batch.id == Case.batch_id)
        .join(Contract, Contract.id == Case.contract_id)
        .join(Client, Client.id == Contract.client_id)
        .outerjoin(User, User.id == Case.holder_id)
        .where(*where(user, case_filter))
        .order_by(*case_filter.order_by())
    )
