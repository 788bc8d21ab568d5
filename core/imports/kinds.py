"""Import kinds: what a kind is, and the kinds of the core (the case file).

A kind pairs a schema (its fields, see :mod:`core.imports.schemas`) with ``apply``, the
function that stores a chunk of checked rows. The pipeline (:mod:`core.imports.services`)
reads and normalises the file, finds the case of each row for kinds that ``match``, and
hands ``apply`` the rows in chunks of a few thousand, with a context (``ctx``) to report
through. ``apply`` must, for every row it receives, call exactly one of
``ctx.created(row)``, ``ctx.updated(row)``, ``ctx.unchanged(row)`` or
``ctx.reject(row, field, reason)``, and write nothing when ``ctx.dry_run`` is true.

A plugin returns more kinds from ``register_import_kinds``; their names start with the
plugin's name, and they are offered only for contracts with the plugin's module on.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, insert, select, tuple_, update

from core.cases import holdings
from core.cases.models import (
    NORMAL,
    Activity,
    Case,
    CaseAddress,
    CaseComment,
    CaseContact,
    CaseInterest,
    CasePhone,
    Payment,
)
from core.errors import UserError
from core.extensions import db
from core.imports import bulk, schemas
from core.types import utcnow

#: The keys that find the case of a row; the user picks one, or it is detected.
MATCH_KEYS = {
    "serial": (("serial",), _l("Case serial no.")),
    "archive_no": (("archive_no",), _l("Archive no.")),
    "card_date": (("card_no", "entrust_date"), _l("Card no. + entrust date")),
    "id_date": (("id_no", "entrust_date"), _l("ID no. + entrust date")),
}


@dataclass(frozen=True)
class ImportKind:
    """A kind of file a batch accepts (new cases, repayments, a module's visit results …)."""

    #: Unique; a plugin's kinds start with its name (``collection_allocation``).
    name: str
    #: Shown on the import page (a lazy_gettext string).
    title: object
    #: The row's marshmallow schema: a :class:`core.imports.schemas.ImportSchema` subclass.
    schema: type
    #: ``apply(ctx, rows)`` stores a chunk of checked rows (see the module's docstring).
    apply: Callable
    #: Whether rows are matched to existing cases (every kind but new cases).
    matches: bool = True
    description: object = ""
    #: The plugin that registered the kind; filled in by the registry.
    plugin: str = field(default="core", compare=False)


@dataclass(slots=True)
class Row:
    """A checked row on its way in: its number in the file, its values, its case."""

    number: int
    data: dict
    case_id: int | None = None


def _in_chunks(values: list, size: int = 900):
    for start in range(0, len(values), size):
        yield values[start : start + size]


# -- new cases --------------------------------------------------------------------------------

#: Case columns filled from a new-case row of the same name.
CASE_COLUMNS = (
    "archive_no", "card_no", "account_no", "id_type", "id_no", "name", "gender", "birthday",
    "entrusted_amount", "principal", "interest", "late_fee", "min_payment", "days_overdue",
    "bucket", "overdue_date", "last_payment_date", "last_payment_amount", "currency", "mobile",
    "email", "employer", "return_date", "area", "province", "city", "remark",
)  # fmt: skip
_NOT_NULL_TEXT = {
    name
    for name in CASE_COLUMNS
    if not Case.__table__.c[name].nullable
    and isinstance(getattr(Case.__table__.c[name].default, "arg", None), str)
}
PHONE_FIELDS = (("mobile", "mobile"), ("home_phone", "home"), ("work_phone", "work"))
ADDRESS_FIELDS = (
    ("home_address", "home"),
    ("work_address", "work"),
    ("hukou_address", "hukou"),
    ("statement_address", "statement"),
)

#: The six bank contacts of a new-case row: position and the row's keys for them.
CONTACT_FIELDS = tuple(
    (position, f"contact{position}_name", f"contact{position}_relation", f"contact{position}_phone")
    for position in range(1, 7)
)


#: Every column of a new case, in the order the bulk insert writes them.
CASE_INSERT_COLUMNS = (
    "id", "contract_id", "batch_id", "serial", *CASE_COLUMNS, "entrust_date", "card_tail",
    "id_tail", "balance", "timezone", "status", "status_reason", "created_at", "updated_at",
)  # fmt: skip
PHONE_INSERT_COLUMNS = ("case_id", "kind", "number", "status", "source", "note")
ADDRESS_INSERT_COLUMNS = ("case_id", "kind", "address", "status", "source")
CONTACT_INSERT_COLUMNS = ("case_id", "position", "name", "relation", "phone", "do_not_contact")
_CASE_VALUES = operator.itemgetter(*CASE_COLUMNS)


def apply_new_cases(ctx, rows: list[Row]) -> None:
    batch = ctx.batch
    seen_serials = ctx.state.setdefault("serials", set())
    seen_cards = ctx.state.setdefault("cards", set())
    candidates = []
    for row in rows:
        data = row.data
        data["entrust_date"] = data["entrust_date"] or batch.entrust_date
        serial = data["serial"]
        if serial:
            if serial in seen_serials:
                ctx.reject(row, "serial", _("Serial %(s)s appears twice in the file.", s=serial))
                continue
            seen_serials.add(serial)
        if data["card_no"]:
            key = (data["card_no"], data["entrust_date"])
            if key in seen_cards:
                ctx.reject(row, "card_no", _("The same card and entrust date appear twice."))
                continue
            seen_cards.add(key)
        candidates.append(row)

    # Cases already stored: one query per chunk and key (a single array/JSON parameter).
    existing = {}
    serials = [row.data["serial"] for row in candidates if row.data["serial"]]
    if serials:
        query = select(Case.serial, Case.batch_id).where(bulk.in_values(Case.serial, serials))
        existing.update(tuple(r) for r in db.session.execute(query))
    batch_nos = ctx.batch_numbers(set(existing.values()))
    cards = {row.data["card_no"] for row in candidates if row.data["card_no"]}
    known_cards = set()
    if cards:
        # The contract is checked here, not in SQL, so the card index drives the query.
        query = select(Case.card_no, Case.entrust_date, Case.contract_id).where(
            bulk.in_values(Case.card_no, cards)
        )
        contract_id = ctx.contract.id
        known_cards.update(
            (card, entrusted)
            for card, entrusted, owner in db.session.execute(query)
            if owner == contract_id
        )

    accepted = []
    for row in candidates:
        data = row.data
        if data["serial"] in existing:
            batch_no = batch_nos.get(existing[data["serial"]], "?")
            ctx.reject(
                row,
                "serial",
                _("A case with serial %(s)s already exists (batch %(b)s).", s=data["serial"], b=batch_no),
            )  # fmt: skip
        elif data["card_no"] and (data["card_no"], data["entrust_date"]) in known_cards:
            ctx.reject(row, "card_no", _("A case with this card and entrust date already exists."))
        else:
            accepted.append(row)
    for row in accepted:
        if not row.data["serial"]:
            row.data["serial"] = ctx.next_serial()
    if not accepted:
        return
    if ctx.dry_run:
        for row in accepted:
            ctx.created(row)
        return

    # Tuples for the driver (see core.imports.bulk): the ids are ours, so the phones,
    # addresses and contacts refer to their case without reading anything back.
    ids = bulk.reserve_ids(Case.__table__, len(accepted))
    now = utcnow()
    contract_id, batch_id, batch_area = ctx.contract.id, batch.id, batch.area or ""
    not_null = [CASE_COLUMNS.index(name) for name in _NOT_NULL_TEXT]
    area_at, currency_at = CASE_COLUMNS.index("area"), CASE_COLUMNS.index("currency")
    phones, addresses, contacts = [], [], []

    def case_rows():
        # A generator: on PostgreSQL the COPY streams each case while the next is built.
        for case_id, row in zip(ids, accepted, strict=True):
            data = row.data
            values = list(_CASE_VALUES(data))
            for index in not_null:
                if values[index] is None:
                    values[index] = ""
            values[currency_at] = values[currency_at] or "CNY"
            values[area_at] = data["area"] or batch_area
            card_no, id_no = data["card_no"] or "", data["id_no"] or ""
            numbers = set()
            for name, kind in PHONE_FIELDS:
                number = data[name]
                if number and number not in numbers:
                    numbers.add(number)
                    phones.append((case_id, kind, number, "valid", "import", ""))
            for name, kind in ADDRESS_FIELDS:
                if data[name]:
                    addresses.append((case_id, kind, data[name], "valid", "import"))
            for position, name_key, relation_key, phone_key in CONTACT_FIELDS:
                name, relation, phone = data[name_key], data[relation_key], data[phone_key]
                if name or relation or phone:
                    contacts.append(
                        (case_id, position, name or "", relation or "", phone or "", False)
                    )
            ctx.created(row)
            yield (case_id, contract_id, batch_id, data["serial"], *values, data["entrust_date"],
                   card_no[-4:], id_no[-4:], data["entrusted_amount"], "", NORMAL, "", now, now)  # fmt: skip

    bulk.insert_rows(Case.__table__, CASE_INSERT_COLUMNS, case_rows())
    bulk.insert_rows(CasePhone.__table__, PHONE_INSERT_COLUMNS, phones)
    bulk.insert_rows(CaseAddress.__table__, ADDRESS_INSERT_COLUMNS, addresses)
    bulk.insert_rows(CaseContact.__table__, CONTACT_INSERT_COLUMNS, contacts)
    ctx.new_case_ids.extend(ids)


# -- update cases ------------------------------------------------------------------------------

UPDATABLE = tuple(
    name for name in schemas.UpdateCaseSchema.cells() if name not in ("serial", "entrust_date")
)


def apply_update_cases(ctx, rows: list[Row]) -> None:
    key_fields = set(MATCH_KEYS[ctx.match_key][0])
    fields = [name for name in UPDATABLE if name not in key_fields and name in ctx.mapped]
    if "entrust_date" in ctx.mapped and "entrust_date" not in key_fields:
        fields.append("entrust_date")
    for source, derived in (("days_overdue", ("bucket",)), ("id_no", ("birthday", "gender"))):
        if source in fields:
            fields.extend(name for name in derived if name not in fields)
    old = {}
    if "entrusted_amount" in fields:
        ids = [row.case_id for row in rows if row.data["entrusted_amount"] is not None]
        for part in _in_chunks(ids):
            query = select(Case.id, Case.entrusted_amount, Case.balance).where(Case.id.in_(part))
            old.update({case_id: (amount, balance) for case_id, amount, balance in db.session.execute(query)})  # fmt: skip
    groups: dict[tuple, list[dict]] = defaultdict(list)
    now = utcnow()
    for row in rows:
        values = {name: row.data[name] for name in fields if row.data[name] is not None}
        if not values:
            ctx.unchanged(row)
            continue
        if "card_no" in values:
            values["card_tail"] = values["card_no"][-4:]
        if "id_no" in values:
            values["id_tail"] = values["id_no"][-4:]
        if "entrusted_amount" in values and row.case_id in old:
            amount, balance = old[row.case_id]
            values["balance"] = (balance or 0) + values["entrusted_amount"] - (amount or 0)
            old[row.case_id] = (values["entrusted_amount"], values["balance"])
        values["updated_at"] = now
        values["_id"] = row.case_id
        groups[tuple(sorted(values))].append(values)
        ctx.updated(row)
    if ctx.dry_run:
        return
    table = Case.__table__
    # A new entrusted amount changes what the case's holders held on every day since.
    entrusted = (
        values["_id"]
        for columns, params in groups.items()
        if "entrusted_amount" in columns
        for values in params
    )
    with holdings.changing(entrusted):
        for columns, params in groups.items():
            statement = (
                update(table)
                .where(table.c.id == bindparam("_id"))
                .values({name: bindparam(name) for name in columns if name != "_id"})
            )
            db.session.execute(statement.execution_options(synchronize_session=False), params)


# -- entries added to cases --------------------------------------------------------------------


def _existing(columns, model, case_ids, *criteria) -> set[tuple]:
    found: set[tuple] = set()
    for part in _in_chunks(sorted(set(case_ids))):
        query = select(*columns).where(model.case_id.in_(part), *criteria)
        found.update(tuple(r) for r in db.session.execute(query))
    return found


def _add_entries(ctx, rows, model, key, existing, values) -> None:
    """Insert one ``model`` row per new entry; an entry already on the case is unchanged."""
    new = []
    for row in rows:
        identity = key(row)
        if identity in existing:
            ctx.unchanged(row)
            continue
        existing.add(identity)
        new.append(values(row))
        ctx.created(row)
    if new and not ctx.dry_run:
        db.session.execute(insert(model.__table__), new)


def apply_comments(ctx, rows: list[Row]) -> None:
    existing = _existing((CaseComment.case_id, CaseComment.body), CaseComment,
                         [r.case_id for r in rows])  # fmt: skip
    now, author = utcnow(), ctx.user.id if ctx.user else None
    _add_entries(
        ctx, rows, CaseComment,
        key=lambda row: (row.case_id, row.data["body"]),
        existing=existing,
        values=lambda row: {"case_id": row.case_id, "body": row.data["body"], "source": "import",
                            "author_id": author, "created_at": now},
    )  # fmt: skip


def apply_interest(ctx, rows: list[Row]) -> None:
    existing = _existing(
        (CaseInterest.case_id, CaseInterest.as_of, CaseInterest.amount), CaseInterest,
        [r.case_id for r in rows],
    )  # fmt: skip
    now = utcnow()
    _add_entries(
        ctx, rows, CaseInterest,
        key=lambda row: (row.case_id, row.data["as_of"], row.data["amount"]),
        existing=existing,
        values=lambda row: {"case_id": row.case_id, "as_of": row.data["as_of"],
                            "amount": row.data["amount"], "note": row.data["note"] or "",
                            "created_at": now},
    )  # fmt: skip
    if ctx.dry_run:
        return
    latest: dict[int, Row] = {}
    for row in rows:
        if row.case_id not in latest or row.data["as_of"] >= latest[row.case_id].data["as_of"]:
            latest[row.case_id] = row
    if latest:
        table = Case.__table__
        statement = (
            update(table).where(table.c.id == bindparam("_id")).values(interest=bindparam("amount"))
        )
        params = [{"_id": cid, "amount": row.data["amount"]} for cid, row in latest.items()]
        db.session.execute(statement.execution_options(synchronize_session=False), params)


def apply_phones(ctx, rows: list[Row]) -> None:
    existing = _existing((CasePhone.case_id, CasePhone.number), CasePhone,
                         [r.case_id for r in rows])  # fmt: skip
    _add_entries(
        ctx, rows, CasePhone,
        key=lambda row: (row.case_id, row.data["number"]),
        existing=existing,
        values=lambda row: {"case_id": row.case_id, "kind": row.data["phone_kind"],
                            "number": row.data["number"], "status": "valid", "source": "import",
                            "note": row.data["note"] or ""},
    )  # fmt: skip


def apply_addresses(ctx, rows: list[Row]) -> None:
    existing = _existing((CaseAddress.case_id, CaseAddress.address), CaseAddress,
                         [r.case_id for r in rows])  # fmt: skip
    _add_entries(
        ctx, rows, CaseAddress,
        key=lambda row: (row.case_id, row.data["address"]),
        existing=existing,
        values=lambda row: {"case_id": row.case_id, "kind": row.data["address_kind"] or "home",
                            "address": row.data["address"], "status": "valid",
                            "source": "import"},
    )  # fmt: skip


# -- the timeline and payments, through the case services (their rules apply) -------------------


def apply_activities(ctx, rows: list[Row]) -> None:
    """Collection records go through ``record_activity``: a rule's refusal rejects the row."""
    from core.cases.services import contact_refusals, record_activity, work_refusals

    cases = ctx.load_cases([row.case_id for row in rows])
    existing = _existing(
        (Activity.case_id, Activity.at, Activity.channel, Activity.target), Activity,
        [r.case_id for r in rows], Activity.source == "import",
    )  # fmt: skip
    for row in rows:
        data, case = row.data, cases[row.case_id]
        identity = (row.case_id, data["at"], data["channel"], data["target"] or "")
        if identity in existing:
            ctx.unchanged(row)
            continue
        existing.add(identity)
        fields = {
            "channel": data["channel"],
            "contact_type": data["contact_type"],
            "target": data["target"] or "",
            "at": data["at"],
        }
        if ctx.dry_run:
            found = work_refusals(case, None, "contact") + contact_refusals(case, None, **fields)
            if found:
                ctx.reject(row, "", "; ".join(found))
            else:
                ctx.created(row)
            continue
        try:
            record_activity(
                case, None, contact_name=data["contact_name"] or "", result=data["result"] or "",
                note=data["note"] or "", promise_amount=data["promise_amount"],
                promise_date=data["promise_date"], source="import",
                data={"import_run": ctx.run.id}, **fields,
            )  # fmt: skip
        except UserError as error:
            ctx.reject(row, "", error.message)
        else:
            ctx.created(row)


def apply_repayments(ctx, rows: list[Row]) -> None:
    """Bank repayments are confirmed payments, through ``record_payment`` (balance, settling)."""
    from core.cases.models import REPAYMENT
    from core.cases.services import record_payment

    cases = ctx.load_cases([row.case_id for row in rows])
    references = [(r.case_id, r.data["reference"]) for r in rows if r.data["reference"]]
    existing: set[tuple] = set()
    for part in _in_chunks(references, 400):
        query = select(Payment.case_id, Payment.reference).where(
            tuple_(Payment.case_id, Payment.reference).in_(part)
        )
        existing.update(tuple(r) for r in db.session.execute(query))
    for row in rows:
        data = row.data
        if data["reference"]:
            identity = (row.case_id, data["reference"])
            if identity in existing:
                ctx.unchanged(row)
                continue
            existing.add(identity)
        if ctx.dry_run:
            ctx.created(row)
            continue
        try:
            record_payment(
                cases[row.case_id], amount=data["amount"], paid_on=data["paid_on"], user=None,
                kind=REPAYMENT, payer=data["payer"] or "", channel=data["channel"] or "",
                reference=data["reference"] or "", source="import",
            )  # fmt: skip
        except UserError as error:
            ctx.reject(row, "", error.message)
        else:
            ctx.created(row)


def core_kinds() -> list[ImportKind]:
    return [
        ImportKind("cases", _l("New cases"), schemas.NewCaseSchema, apply_new_cases,
                   matches=False, description=_l("The bank's case list for this batch.")),
        ImportKind("update_cases", _l("Update cases"), schemas.UpdateCaseSchema,
                   apply_update_cases, description=_l("New values for existing cases; empty "
                                                      "cells leave a value as it is.")),
        ImportKind("comments", _l("Case comments"), schemas.CommentSchema, apply_comments),
        ImportKind("interest", _l("Case interest"), schemas.InterestSchema, apply_interest),
        ImportKind("phones", _l("Case phones"), schemas.PhoneSchema, apply_phones),
        ImportKind("addresses", _l("Case addresses"), schemas.AddressSchema, apply_addresses),
        ImportKind("activities", _l("Collection records"), schemas.ActivitySchema,
                   apply_activities, description=_l("Checked against the contact rules.")),
        ImportKind("repayments", _l("Repayments"), schemas.RepaymentSchema, apply_repayments,
                   description=_l("Confirmed repayments from the bank; a reference is added "
                                  "once.")),
    ]  # fmt: skip
