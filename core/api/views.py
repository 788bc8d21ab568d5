"""The JSON API under /api/v1: thin views over the core's services, described at /openapi.json.

Callers authenticate with a bearer token only (see :mod:`core.auth.guard`); each view
declares its permission with :func:`core.api.endpoint.endpoint`, calls one service and
commits once. A row the caller may not see answers 404, exactly like one that does not exist.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from core.api.endpoint import endpoint
from core.api.openapi import openapi_document
from core.api.schemas import (
    MAX_ID,
    ClientSchema,
    ContractSchema,
    MeSchema,
    ModuleSchema,
    UserSchema,
)
from core.auth import services as auth_services
from core.auth.models import User
from core.auth.permissions import LOGGED_IN, PUBLIC
from core.clients.models import Client, Contract
from core.clients.services import (
    can_see_client,
    can_see_contract,
    save_client,
    save_contract,
    visible_clients_query,
    visible_contracts_query,
)
from core.errors import NotFound
from core.extensions import db
from core.modules import disable_module, enable_module, installed_modules
from core.plugins import registry

api = Blueprint("api", __name__, url_prefix="/api/v1")


def _get_or_404(model, object_id: int):
    row = db.session.get(model, object_id) if 0 < object_id <= MAX_ID else None
    if row is None:
        abort(404)
    return row


def _visible_client(client_id: int) -> Client:
    client = _get_or_404(Client, client_id)
    if not can_see_client(current_user, client):
        abort(404)
    return client


def _visible_contract(contract_id: int) -> Contract:
    contract = _get_or_404(Contract, contract_id)
    if not can_see_contract(current_user, contract):
        abort(404)
    return contract


def _installed_module(name: str) -> str:
    if name not in registry().modules:
        raise NotFound(_("There is no module named %(name)s.", name=name))
    return name


# -- the API itself ---------------------------------------------------------------------------


@api.route("/openapi.json")
@endpoint(permission=PUBLIC, summary="This API's OpenAPI 3 description", tag="meta")
def openapi():
    """Built from the endpoints' own declarations, so it always matches the code."""
    return openapi_document(current_app)


@api.route("/me")
@endpoint(permission=LOGGED_IN, response=MeSchema, summary="Who the token belongs to", tag="me")
def me():
    """The token's user, their role and every permission they hold."""
    return current_user


# -- clients ----------------------------------------------------------------------------------


@api.route("/clients")
@endpoint(
    permission=LOGGED_IN,
    response=ClientSchema,
    many=True,
    summary="List the clients of the contracts you may see",
    tag="clients",
)
def list_clients():
    return db.session.scalars(visible_clients_query(current_user)).all()


@api.route("/clients", methods=["POST"])
@endpoint(
    permission="core.clients.manage",
    body=ClientSchema,
    response=ClientSchema,
    status=201,
    summary="Create a client",
    tag="clients",
)
def create_client(data):
    client = save_client(None, actor=current_user, **data)
    db.session.commit()
    return client


@api.route("/clients/<int:client_id>")
@endpoint(permission=LOGGED_IN, response=ClientSchema, summary="Read a client", tag="clients")
def get_client(client_id):
    return _visible_client(client_id)


@api.route("/clients/<int:client_id>", methods=["PATCH"])
@endpoint(
    permission="core.clients.manage",
    body=ClientSchema(partial=True),
    response=ClientSchema,
    summary="Change a client",
    tag="clients",
)
def update_client(client_id, data):
    """Only the fields sent change."""
    client = _visible_client(client_id)
    current = {"name": client.name, "code": client.code, "notes": client.notes}
    save_client(client, actor=current_user, **(current | data))
    db.session.commit()
    return client


# -- contracts and their modules ----------------------------------------------------------------


@api.route("/contracts")
@endpoint(
    permission=LOGGED_IN,
    response=ContractSchema,
    many=True,
    summary="List the contracts you may see",
    tag="contracts",
)
def list_contracts():
    return db.session.scalars(visible_contracts_query(current_user)).all()


@api.route("/contracts", methods=["POST"])
@endpoint(
    permission="core.contracts.manage",
    body=ContractSchema,
    response=ContractSchema,
    status=201,
    summary="Create a contract",
    tag="contracts",
)
def create_contract(data):
    """Fields left out take their defaults: Asia/Shanghai, contact from 08:00 to 22:00."""
    contract = save_contract(None, actor=current_user, **data)
    db.session.commit()
    return contract


@api.route("/contracts/<int:contract_id>")
@endpoint(permission=LOGGED_IN, response=ContractSchema, summary="Read a contract", tag="contracts")
def get_contract(contract_id):
    return _visible_contract(contract_id)


@api.route("/contracts/<int:contract_id>", methods=["PATCH"])
@endpoint(
    permission="core.contracts.manage",
    body=ContractSchema(partial=True),
    response=ContractSchema,
    summary="Change a contract",
    tag="contracts",
)
def update_contract(contract_id, data):
    """Only the fields sent change."""
    contract = _visible_contract(contract_id)
    save_contract(contract, actor=current_user, **({"number": contract.number} | data))
    db.session.commit()
    return contract


@api.route("/modules")
@endpoint(
    permission=LOGGED_IN,
    response=ModuleSchema,
    many=True,
    summary="List the modules a contract can switch on",
    tag="contracts",
)
def list_modules():
    return installed_modules()


@api.route("/contracts/<int:contract_id>/modules/<name>", methods=["PUT"])
@endpoint(
    permission="core.modules.manage",
    response=ContractSchema,
    summary="Switch a module on for a contract",
    tag="contracts",
)
def enable_contract_module(contract_id, name):
    """The modules it requires are switched on with it. Switching on twice changes nothing."""
    contract = _visible_contract(contract_id)
    enable_module(contract, _installed_module(name), current_user)
    db.session.commit()
    return contract


@api.route("/contracts/<int:contract_id>/modules/<name>", methods=["DELETE"])
@endpoint(
    permission="core.modules.manage",
    response=ContractSchema,
    summary="Switch a module off for a contract",
    tag="contracts",
)
def disable_contract_module(contract_id, name):
    """Refused with 409 while another module that is on requires it. The module's data stays."""
    contract = _visible_contract(contract_id)
    disable_module(contract, _installed_module(name), current_user)
    db.session.commit()
    return contract


# -- users ------------------------------------------------------------------------------------


@api.route("/users")
@endpoint(
    permission="core.users.manage",
    response=UserSchema,
    many=True,
    summary="List users",
    tag="users",
)
def list_users():
    return db.session.scalars(select(User).order_by(User.username)).all()


@api.route("/users", methods=["POST"])
@endpoint(
    permission="core.users.manage",
    body=UserSchema,
    response=UserSchema,
    status=201,
    summary="Create a user",
    tag="users",
)
def create_user(data):
    active = data.pop("active", True)
    user = auth_services.create_user(actor=current_user, **data)
    if not active:
        auth_services.update_user(user, actor=current_user, active=False)
    db.session.commit()
    return user


@api.route("/users/<int:user_id>")
@endpoint(permission="core.users.manage", response=UserSchema, summary="Read a user", tag="users")
def get_user(user_id):
    return _get_or_404(User, user_id)


@api.route("/users/<int:user_id>", methods=["PATCH"])
@endpoint(
    permission="core.users.manage",
    body=UserSchema(partial=True, exclude=["username"]),
    response=UserSchema,
    summary="Change a user",
    tag="users",
)
def update_user(user_id, data):
    """Only the fields sent change; the user name never does. A new role, a deactivation or a
    new password ends the user's sessions."""
    user = _get_or_404(User, user_id)
    auth_services.update_user(user, actor=current_user, **data)
    db.session.commit()
    return user
