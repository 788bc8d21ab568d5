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

Two more inputs can be declared the same way:

- ``query=Schema``: the query string, validated (blank values mean "not given") and passed
  as ``query``; each field is a query parameter in the OpenAPI document.
- ``form=Schema``: a ``multipart/form-data`` body (an upload), its text fields and files
  (:class:`core.api.schemas.Upload` fields) validated together and passed as ``data``.

A view that sends a file (``send_file``) names its media types with ``produces=(…)``.
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

    permission: str | tuple[str, ...]
    summary: str
    tag: str
    body: Schema | None = None
    response: Schema | None = None
    #: The response is a list of what ``response`` describes.
    many: bool = False
    #: The query string's parameters.
    query: Schema | None = None
    #: A multipart/form-data body (text fields and files), instead of a JSON ``body``.
    form: Schema | None = None
    #: The media types of a file the view sends instead of JSON (``send_file``).
    produces: tuple[str, ...] = ()
    status: int = 200
    description: str = ""


def endpoint(
    *,
    permission: str | tuple[str, ...],
    summary: str,
    tag: str,
    body: type[Schema] | Schema | None = None,
    response: type[Schema] | Schema | None = None,
    many: bool = False,
    status: int = 200,
    query: type[Schema] | Schema | None = None,
    form: type[Schema] | Schema | None = None,
    produces: tuple[str, ...] = (),
):
    """Make a view a JSON endpoint; it gets the loaded body as ``data`` and returns objects.

    ``permission`` may name several (a tuple): any one of them opens the endpoint, as with
    :func:`core.auth.permissions.require`.

    The view may also return a :class:`flask.Response` of its own, which is sent as it is.
    """
    if body is not None and form is not None:
        raise TypeError("an endpoint reads either a JSON body or a form, not both")
    declared = Endpoint(
        permission=permission,
        summary=summary,
        tag=tag,
        body=_instance(body),
        response=_instance(response),
        many=many,
        status=status,
        query=_instance(query),
        form=_instance(form),
        produces=tuple(produces),
    )

    def decorator(view):
        @wraps(view)
        def json_view(**kwargs):
            if declared.query is not None:
                kwargs["query"] = load_query(declared.query)
            if declared.body is not None:
                kwargs["data"] = load_body(declared.body)
            if declared.form is not None:
                kwargs["data"] = load_form(declared.form)
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
    return _load(schema, data)


def load_query(schema: Schema) -> dict:
    """The query string's parameters, validated: 422 listing every bad one.

    Blank values are left out (a form's empty filter field means "any"); a parameter the
    schema does not name is ignored.
    """
    data = {}
    for name, field in schema.fields.items():
        key = field.data_key or name
        if field.dump_only or key not in request.args:
            continue
        value = request.args.get(key, "").strip()
        if value:
            data[key] = value
    return _load(schema, data)


def load_form(schema: Schema) -> dict:
    """A multipart/form-data body (fields and files), validated: 400 if it is not one, 422
    listing every bad field."""
    if request.mimetype != "multipart/form-data":
        raise UserError(_("The request body must be sent as 'Content-Type: multipart/form-data'."))
    data = {key: value for key, value in request.form.items()}
    data.update((key, value) for key, value in request.files.items())
    return _load(schema, data)


def _load(schema: Schema, data: dict) -> dict:
    try:
        return schema.load(data)
    except ValidationError as error:
        raise InvalidInput(
            _("Some fields are not valid; see the messages by field."),
            fields=plain(error.messages),
        ) from None


def _instance(schema: type[Schema] | Schema | None) -> Schema | None:
    return schema() if isinstance(schema, type) else schema
