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
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from typing import NamedTuple

from flask_babel import lazy_gettext as _l
from marshmallow import EXCLUDE, Schema, ValidationError, validate
from marshmallow import fields as mf
from sqlalchemy import Float, and_, cast, false, func, literal_column, or_, select, union_all

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


def load_query(schema: Schema, args) -> tuple[dict, dict]:
    """``(values, errors)`` of a query string read with ``schema``: blank values mean "any",
    and a bad value is dropped (the rest still filter) and named in ``errors``, so a page
    shows what was wrong instead of failing."""
    raw = {}
    for name in schema.fields:
        value = args.get(name)
        if isinstance(value, str):
            value = value.strip()
        if value not in (None, ""):
            raw[name] = value
    try:
        return schema.load(raw), {}
    except ValidationError as error:
        errors = dict(error.messages)
        return schema.load({k: v for k, v in raw.items() if k not in errors}), errors


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
        data, errors = load_query(CaseFilterSchema(), args)
        return cls(**{k: v for k, v in data.items() if v is not None}, errors=errors)

    def error_messages(self) -> list[str]:
        """One sentence per field whose value was dropped, named as the form names it."""
        return [
            f"{FIELD_TITLES.get(name, name)}: {'; '.join(str(m) for m in messages)}"
            for name, messages in self.errors.items()
        ]

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

    def conditions(self, *, broad: bool = False) -> list:
        """The filter's conditions on ``cases``. ``broad``: the caller knows (from the count)
        that they keep many rows, which SQLite's planner cannot tell for a range."""
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
        ranges = []
        if self.amount_min is not None:
            ranges.append(Case.entrusted_amount >= self.amount_min)
        if self.amount_max is not None:
            ranges.append(Case.entrusted_amount <= self.amount_max)
        if self.days_min is not None:
            ranges.append(Case.days_overdue >= self.days_min)
        if self.days_max is not None:
            ranges.append(Case.days_overdue <= self.days_max)
        c += [_likely(term) for term in ranges] if broad else ranges
        if self.q:
            c.append(search_condition(self.q))
        return c

    def order_by(self, *, unindexed: bool = False) -> list:
        """The sort, then the id; ``unindexed``: as expressions no index can serve."""
        column = SORTS.get(self.sort, Case.id)
        columns = [column] if column is Case.id else [column, Case.id]
        if unindexed:  # the same values and order, but an expression no index holds
            columns = [func.coalesce(c, c) for c in columns]
        if self.dir == "desc":
            return [c.desc() for c in columns]
        return [c.asc() for c in columns]


_TAIL = re.compile(r"[0-9]{3}[0-9Xx]")
_MASKED = re.compile(r"([0-9]*)\*+([0-9Xx]{4})")
_NUMBER = re.compile(r"[0-9]{6,}[0-9Xx]")


def _dialect() -> str:
    from core.extensions import db

    return db.engine.dialect.name


def _likely(term):
    """``term``, marked as true for about half the rows on SQLite.

    SQLite keeps no statistics on value ranges and guesses that a range keeps 1/64 of the
    rows; for a broad range it then reads the range's index and sorts the lot instead of
    walking the sort order until a page is full. PostgreSQL has histograms: unchanged.
    """
    if _dialect() == "sqlite":
        return func.likelihood(term, literal_column("0.5"))
    return term


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
    return or_(Case.serial == q, Case.archive_no == q, Case.name == q, starts_with(Case.name, q))


def starts_with(column, prefix: str):
    """``column`` begins with ``prefix``, in a form the database answers from an index.

    PostgreSQL: ``LIKE 'prefix%'`` (its ``varchar_pattern_ops`` index serves it in any
    collation). SQLite: ``GLOB 'prefix*'``, which, unlike its case-insensitive ``LIKE``, uses
    the column's ordinary index.
    """
    if _dialect() == "sqlite":
        glob = prefix.replace("[", "[[]").replace("*", "[*]").replace("?", "[?]")
        return column.op("GLOB")(glob + "*")
    return column.like(_escape_like(prefix) + "%", escape="\\")


def visibility_condition(user):
    """Cases ``user`` may see (no condition for who sees them all): those of their contracts,
    and of those only the ones they (or, for a team leader, their team) hold unless they may
    see every case of their contracts."""
    if user is None:
        return false()
    holders = holder_condition(user)
    contract_ids = visible_contract_ids(user)
    if contract_ids is None:
        return holders
    contracts = Case.contract_id.in_(contract_ids) if contract_ids else false()
    return contracts if holders is None else and_(contracts, holders)


def holder_condition(user):
    """``None`` for who sees every case of their contracts; else their own (team's) cases."""
    if user.can("core.cases.view_contract"):
        return None
    if sees_team(user):
        return or_(Case.holder_id == user.id, Case.team_id == user.team_id)
    return Case.holder_id == user.id


def sees_team(user) -> bool:
    """Whether ``user`` sees the cases of their team besides their own (a team leader)."""
    return user.can("core.cases.view_team") and user.team_id is not None


def visible_contract_ids(user) -> list[int] | None:
    """Ids of the contracts ``user`` may see; None for who sees them all.

    The ids themselves (a user has a few contracts), not a subquery: the database then
    knows how many cases they hold and plans the list's query accordingly.
    """
    from core.extensions import db

    if user.can("core.contracts.view_all"):
        return None
    query = visible_contracts_query(user).with_only_columns(Contract.id).order_by(Contract.id)
    return list(db.session.scalars(query))


def where(user, case_filter: CaseFilter, *, broad: bool = False) -> list:
    # Beside a collector's own cases (the selective condition), any range is broad.
    own_cases_only = user is not None and holder_condition(user) is not None
    conditions = case_filter.conditions(broad=broad or own_cases_only)
    visible = visibility_condition(user)
    if visible is not None:
        conditions.append(visible)
    return conditions


def ids_query(user, case_filter: CaseFilter):
    """``select(Case.id)`` of the filter's result, in id order (for operations)."""
    return select(Case.id).where(*where(user, case_filter)).order_by(Case.id)


def count_cases(user, case_filter: CaseFilter, *, cap: int | None = None) -> int:
    """The number of cases the filter finds: a count over ``cases`` alone, with no join.

    With ``cap``, counting stops after ``cap + 1`` cases: the answer is exact up to ``cap``
    and ``cap + 1`` means "more than ``cap``" (an exact count of a million rows costs a scan).
    """
    from core.extensions import db

    conditions = where(user, case_filter)
    if cap is None:
        return db.session.scalar(select(func.count()).select_from(Case).where(*conditions))
    # ``SELECT 1``, not the id: an index holding the filtered columns answers it alone.
    found = select(literal_column("1")).select_from(Case).where(*conditions).limit(cap + 1)
    found = found.subquery()
    return db.session.scalar(select(func.count()).select_from(found))


#: The list counts exactly up to this many cases and says "more than 10000" beyond.
COUNT_CAP = 10_000


class CaseResult(NamedTuple):
    """One page of the list: its rows, the total (exact, or ``COUNT_CAP`` when ``exact`` is
    false, meaning more), and the page number actually shown."""

    rows: list
    total: int
    exact: bool
    page: int


def find_cases(
    user, case_filter: CaseFilter, *, page: int = 1, per_page: int = 50, cap=...
) -> CaseResult:
    """A page of the filter's result and its count: what the page, the API and bench share.

    ``cap``: count exactly up to this many (default ``COUNT_CAP``; None: always exactly).
    A page past the last one (known only when the count is exact) shows the last one.
    """
    from core.extensions import db

    cap = COUNT_CAP if cap is ... else cap
    counted = count_cases(user, case_filter, cap=cap)
    exact = cap is None or counted <= cap
    total = counted if exact else cap
    page = max(1, page)
    if exact:
        page = min(page, max(1, -(-total // per_page)))
    offset = (page - 1) * per_page
    query = page_query(user, case_filter, per_page, offset, broad=not exact)
    rows = db.session.execute(query).all()
    return CaseResult(rows, total, exact, page)


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


def page_query(user, case_filter: CaseFilter, limit: int, offset: int = 0, *, broad=False):
    """``list_query`` for one page: the page's ids are found on ``cases`` alone (its indexes,
    no joins for the rows the offset skips), then only those rows are joined. ``broad``:
    the filter keeps more rows than the count's cap."""
    ids = _page_ids(user, case_filter, limit, offset, broad)
    return (
        _joined(select(*row_columns()))
        .where(Case.id.in_(select(ids.c.id)))
        .order_by(*case_filter.order_by())
    )


#: A user on at most this many contracts gets each contract's slice of the page, merged.
MERGE_CONTRACTS = 20


def _page_ids(user, case_filter: CaseFilter, limit: int, offset: int, broad: bool):
    """The ids of one page, as a subquery.

    Cases are imported batch by batch, so ids cluster by batch and contract, and the
    planners assume they do not: asked for ``contract_id = 7 ORDER BY id LIMIT 50``,
    PostgreSQL walks the primary key expecting a contract-7 row every eight, and passes
    most of the table when contract 7 is the newest. So:

    - one batch or one contract is asked for as a range (``BETWEEN 7 AND 7``, same rows)
      and ordered by it first: its ``(batch_id, id)`` / ``(contract_id, …)`` index is
      then the obvious way to the page;
    - a user on a few contracts gets each contract's first ``offset + limit`` rows that
      way, merged.
    """
    order = case_filter.order_by()

    def first_by(column):  # in the sort's direction, so one index scan serves both
        return [column.desc() if case_filter.dir == "desc" else column.asc(), *order]

    contracts = None if user is None else visible_contract_ids(user)
    holders = None if user is None else holder_condition(user)
    if holders is not None:
        # A collector's cases are a few thousand at most: found from the holder index, then
        # sorted. Sorting by ``coalesce(column, column)`` keeps the planners off the primary
        # key (or an
        # amount index), which they would walk expecting the holder's rows all along it;
        # ranges are marked broad, or SQLite reads a whole contract's range instead.
        conditions = [*case_filter.conditions(broad=True), holders]
        if contracts is not None:
            conditions.append(Case.contract_id.in_(contracts) if contracts else false())
        order = case_filter.order_by(unindexed=True)
        return _slice(conditions, order, limit, offset).subquery("page")
    if contracts is not None and case_filter.contract is not None:
        contracts = [c for c in contracts if c == case_filter.contract]
    elif contracts is None and case_filter.contract is not None:
        contracts = [case_filter.contract]
    if contracts is not None and not contracts:
        return select(Case.id).where(false()).subquery("page")
    rest = replace(case_filter, contract=None)
    if case_filter.batch is not None:
        batch = Case.batch_id.between(case_filter.batch, case_filter.batch)
        rest = replace(rest, batch=None)
        conditions = [*rest.conditions(broad=broad), batch]
        if contracts is not None:
            conditions.append(Case.contract_id.in_(contracts))
        return _slice(conditions, first_by(Case.batch_id), limit, offset).subquery("page")
    conditions = rest.conditions(broad=broad)
    if contracts is None or len(contracts) > MERGE_CONTRACTS:
        if contracts is not None:
            conditions.append(Case.contract_id.in_(contracts))
        return _slice(conditions, order, limit, offset).subquery("page")
    key = SORTS.get(case_filter.sort, Case.id)
    slices = []
    for contract_id in contracts:
        one = _slice(
            [*conditions, Case.contract_id.between(contract_id, contract_id)],
            first_by(Case.contract_id),
            offset + limit,
            0,
            key,
        ).subquery()
        slices.append(select(one.c.id, one.c.sort_key))
    if len(slices) == 1:
        return select(one.c.id).limit(limit).offset(offset).subquery("page")
    merged = union_all(*slices).subquery("merged")
    keys = [merged.c.sort_key, merged.c.id]
    return (
        select(merged.c.id)
        .order_by(*(k.desc() if case_filter.dir == "desc" else k.asc() for k in keys))
        .limit(limit)
        .offset(offset)
        .subquery("page")
    )


def _slice(conditions, order, limit: int, offset: int, key=None):
    columns = [Case.id.label("id")] + ([key.label("sort_key")] if key is not None else [])
    return select(*columns).where(*conditions).order_by(*order).limit(limit).offset(offset)


def _joined(query):
    return (
        query.select_from(Case)
        .outerjoin(Batch, Batch.id == Case.batch_id)
        .join(Contract, Contract.id == Case.contract_id)
        .join(Client, Client.id == Contract.client_id)
        .outerjoin(User, User.id == Case.holder_id)
    )


def list_query(user, case_filter: CaseFilter, *, for_export: bool = False):
    """Rows (not entities) of the filter's result with their batch, client and holder, sorted."""
    return (
        _joined(select(*row_columns(for_export=for_export)))
        .where(*where(user, case_filter))
        .order_by(*case_filter.order_by())
    )
