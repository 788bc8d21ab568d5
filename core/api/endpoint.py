"""``@endpoint``: what a JSON view needs, reads and returns, declared once.

::

    @api.route("/clients", methods=["POST"])
    @endpoint(permission="core.clients.manage", body=ClientSchema, response=ClientSchema,
              status=201, summary="Create a client", tag="clients")
    def create_client(data):
        ...

The permission is enforced by the global guard (as with :func:`core.auth.permissions.require`;
``LOGGED_IN`` and ``PUBLIC`` work too), the body is validated with all its field errors
collected, the return value is dumped with the response schema, and
:mod:`core.api.openapi` describes the view from the same declaration.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import wraps

from flask import Response, jsonify, request
from flask_babel import gettext as _
from marshmallow import Schema, ValidationError

from core.api.messages import plain
from core.errors import InvalidInput, UserError


@dataclass(frozen=True)
class Endpoint:
    """A view's declaration, kept on it as ``maple_endpoint`` for the OpenAPI document."""

    permission: str
    summary: str
    tag: str
    body: Schema | None = None
    response: Schema | None = None
    #: The response is a list of what ``response`` describes.
    many: bool = False
    status: int = 200
    description: str = ""


def endpoint(
    *,
    permission: str,
    summary: str,
    tag: str,
    body: type[Schema] | Schema | None = None,
    response: type[Schema] | Schema | None = None,
    many: bool = False,
    status: int = 200,
):
    """Make a view a JSON endpoint; it gets the loaded body as ``data`` and returns objects.

    The view may also return a :class:`flask.Response` of its own, which is sent as it is.
    """
    declared = Endpoint(
        permission=permission,
        summary=summary,
        tag=tag,
        body=_instance(body),
        response=_instance(response),
        many=many,
        status=status,
    )

    def decorator(view):
        @wraps(view)
        def json_view(**kwargs):
            if declared.body is not None:
                kwargs["data"] = load_body(declared.body)
            result = view(**kwargs)
            if isinstance(result, Response):
                return result
            if declared.response is not None:
                result = declared.response.dump(result, many=declared.many)
            return jsonify(result), declared.status

        json_view.maple_permission = permission  # what core.auth.guard enforces
        json_view.maple_endpoint = replace(declared, description=(view.__doc__ or "").strip())
        return json_view

    return decorator


def load_body(schema: Schema) -> dict:
    """The request's JSON object, validated: 400 if it is not one, 422 listing every bad field."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise UserError(
            _("The request body must be a JSON object, sent as 'Content-Type: application/json'.")
        )
    try:
        return schema.load(data)
    except ValidationError as error:
        raise InvalidInput(
            _("Some fields are not valid; see the messages by field."),
            fields=plain(error.messages),
        ) from None


def _instance(schema: type[Schema] | Schema | None) -> Schema | None:
    return schema() if isinstance(schema, type) else schema
