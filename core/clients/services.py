"""The rules for clients and contracts, and who may see which contract."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import func, select

from core.audit.services import record_saved
from core.auth.models import user_contracts
from core.clients.models import Client, Contract
from core.errors import Conflict, UserError
from core.extensions import db


def visible_contracts_query(user):
    """``select(Contract)`` narrowed to what ``user`` may see (object-level permission)."""
    query = select(Contract).order_by(Contract.number)
    if user.can("core.contracts.view_all"):
        return query
    if user.client_id is not None:
        return query.where(Contract.client_id == user.client_id)
    mine = select(user_contracts.c.contract_id).where(user_contracts.c.user_id == user.id)
    return query.where(Contract.id.in_(mine))


def can_see_contract(user, contract: Contract) -> bool:
    if user.can("core.contracts.view_all"):
        return True
    if user.client_id is not None:
        return contract.client_id == user.client_id
    return any(c.id == contract.id for c in user.contracts)


def _sees_every_client(user) -> bool:
    return user.can("core.contracts.view_all") or user.can("core.clients.manage")


def visible_clients_query(user):
    """``select(Client)`` narrowed to the clients of contracts ``user`` may see."""
    query = select(Client).order_by(Client.name)
    if _sees_every_client(user):
        return query
    if user.client_id is not None:
        return query.where(Client.id == user.client_id)
    contracts = visible_contracts_query(user).with_only_columns(Contract.client_id).order_by(None)
    return query.where(Client.id.in_(contracts))


def can_see_client(user, client: Client) -> bool:
    if _sees_every_client(user):
        return True
    if user.client_id is not None:
        return client.id == user.client_id
    return any(can_see_contract(user, contract) for contract in client.contracts)


def _new(model):
    """A new row holding its columns' plain defaults now, so rules can check them before a flush."""
    row = model()
    for column in model.__table__.columns:
        if column.default is not None and column.default.is_scalar:
            setattr(row, column.key, column.default.arg)
    return row


def _unique(model, column, value, field: str, message: str, exclude_id=None) -> None:
    query = select(model.id).where(func.lower(column) == value.lower())
    if exclude_id is not None:
        query = query.where(model.id != exclude_id)
    if db.session.scalar(query) is not None:
        raise Conflict(message, fields={field: [_("Already in use.")]})


def save_client(client: Client | None, *, name: str, code: str, notes: str = "", actor) -> Client:
    """Create (``client=None``) or change a client; names and codes are unique."""
    name, code = name.strip(), code.strip().upper()
    if not name or not code:
        raise UserError(_("A client needs a name and a short code."))
    exclude = client.id if client else None
    _unique(Client, Client.name, name, "name", _("A client named %(n)s exists.", n=name), exclude)
    _unique(Client, Client.code, code, "code", _("The code %(c)s is in use.", c=code), exclude)
    created = client is None
    client = client or Client()
    client.name, client.code, client.notes = name, code, notes or ""
    action = "client.created" if created else "client.updated"
    return record_saved(client, action, user=actor, details={"code": code})


CONTRACT_FIELDS = (
    "client",
    "start_date",
    "end_date",
    "timezone",
    "contact_start",
    "contact_end",
    "commission_rate",
    "notes",
)


def save_contract(contract: Contract | None, *, number: str, actor, **fields) -> Contract:
    """Create (``contract=None``) or change a contract after checking its dates and window."""
    number = number.strip()
    if not number:
        raise UserError(_("A contract needs a number."), fields={"number": [_("Required.")]})
    _unique(
        Contract,
        Contract.number,
        number,
        "number",
        _("Contract %(n)s exists.", n=number),
        contract.id if contract else None,
    )
    created = contract is None
    contract = contract or _new(Contract)
    contract.number = number
    for name in CONTRACT_FIELDS:
        if name in fields:
            setattr(contract, name, fields[name])
    if contract.end_date and contract.start_date and contract.end_date < contract.start_date:
        raise UserError(
            _("The contract ends before it starts."),
            fields={"end_date": [_("Must not be before the start date.")]},
        )
    if contract.contact_start >= contract.contact_end:
        raise UserError(
            _("The contact window must start before it ends."),
            fields={"contact_end": [_("Must be after the start of the window.")]},
        )
    action = "contract.created" if created else "contract.updated"
    return record_saved(contract, action, user=actor, details={"number": number})
