"""The OpenAPI 3 document, built from what each ``@endpoint`` view declares.

Every rule of the app whose view carries a declaration is described, the API blueprint's
and any plugin's alike, so the document cannot fall behind the code.
"""

from __future__ import annotations

import re
from decimal import Decimal
from importlib.metadata import version

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import resolve_schema_cls

from core.api.endpoint import Endpoint
from core.api.schemas import ErrorSchema
from core.auth.guard import is_api_blueprint
from core.auth.permissions import LOGGED_IN, PUBLIC, needed

#: ``<int:client_id>`` in a Werkzeug rule; the converter's arguments, if any, are skipped.
_VARIABLE = re.compile(r"<(?:(?P<converter>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
_CONVERTER_TYPES = {"int": "integer", "float": "number"}
#: Methods Flask answers by itself for every rule.
_AUTOMATIC_METHODS = {"HEAD", "OPTIONS"}


def schema_name(schema) -> str:
    """Component names: ``ClientSchema`` is "Client", its PATCH (partial) form "ClientPatch"."""
    name = resolve_schema_cls(schema).__name__.removesuffix("Schema")
    return name + "Patch" if getattr(schema, "partial", False) else name


def openapi_document(app) -> dict:
    spec = APISpec(
        title="Maple API",
        version=version("maple"),
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin(schema_name_resolver=schema_name)],
        info={
            "description": "Clients, contracts, their modules and users. Send a personal API "
            "token (issued on your profile page) as 'Authorization: Bearer <token>'."
        },
    )
    spec.components.security_scheme("token", {"type": "http", "scheme": "bearer"})
    # Plugins' JSON views outside the API blueprint answer to the browser's session.
    spec.components.security_scheme(
        "session", {"type": "apiKey", "in": "cookie", "name": app.config["SESSION_COOKIE_NAME"]}
    )
    paths: dict[str, dict] = {}
    for rule in app.url_map.iter_rules():
        declared: Endpoint | None = getattr(
            app.view_functions[rule.endpoint], "maple_endpoint", None
        )
        if declared is None:
            continue
        path, parameters = _path_and_parameters(rule.rule)
        methods = sorted(rule.methods - _AUTOMATIC_METHODS)
        for method in methods:
            operation_id = rule.endpoint if len(methods) == 1 else f"{rule.endpoint}.{method}"
            paths.setdefault(path, {})[method.lower()] = _operation(
                declared, operation_id, method, parameters, _security_scheme(rule.endpoint)
            )
    for path in sorted(paths):
        spec.path(path=path, operations=paths[path])
    return _plain_numbers(spec.to_dict())


def _plain_numbers(value):
    """Decimal bounds (``validate.Range`` on a Decimal field) as JSON numbers, not strings."""
    if isinstance(value, dict):
        return {key: _plain_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain_numbers(item) for item in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _path_and_parameters(rule: str) -> tuple[str, list[dict]]:
    parameters = [
        {
            "in": "path",
            "name": match["name"],
            "required": True,
            "schema": {"type": _CONVERTER_TYPES.get(match["converter"], "string")},
        }
        for match in _VARIABLE.finditer(rule)
    ]
    return _VARIABLE.sub(r"{\g<name>}", rule), parameters


def _security_scheme(endpoint: str) -> str:
    return "token" if is_api_blueprint(endpoint.partition(".")[0]) else "session"


def _operation(declared: Endpoint, operation_id, method, parameters, scheme) -> dict:
    operation = {
        "operationId": operation_id,
        "summary": declared.summary,
        "description": _describe(declared),
        "tags": [declared.tag],
        # A schema as a query parameter is expanded, one parameter per field, by apispec's
        # MarshmallowPlugin (schema2parameters).
        "parameters": parameters
        + ([{"in": "query", "schema": declared.query}] if declared.query is not None else []),
        "security": [] if declared.permission == PUBLIC else [{scheme: []}],
        "responses": {str(declared.status): _success(declared)},
    }
    if declared.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": declared.body}},
        }
    if declared.form is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"multipart/form-data": {"schema": declared.form}},
        }
    errors = {}
    if declared.body is not None:
        errors[400] = "The body is not a JSON object."
    if declared.form is not None:
        errors[400] = "The body is not multipart/form-data, or the file cannot be read."
        errors[413] = "The upload is larger than Maple accepts."
        errors[415] = "The file is not of a kind Maple accepts."
    if declared.body is not None or declared.form is not None or declared.query is not None:
        errors[422] = "Some fields are not valid; `fields` lists the messages by field."
    if declared.permission != PUBLIC:
        errors[401] = "No valid credentials were sent."
        errors[403] = "The user lacks the permission."
    if parameters:
        errors[404] = "There is no such object, or the user may not see it."
    if method != "GET":
        errors[409] = "The change clashes with the current state (a duplicate, a dependency)."
    for status, description in sorted(errors.items()):
        operation["responses"][str(status)] = {
            "description": description,
            "content": {"application/json": {"schema": ErrorSchema}},
        }
    return operation


def _describe(declared: Endpoint) -> str:
    if declared.permission == PUBLIC:
        need = "Open to anyone."
    elif declared.permission == LOGGED_IN:
        need = "Open to any signed-in user; results are limited to what they may see."
    else:
        names = " or ".join(f"`{name}`" for name in needed(declared.permission))
        need = f"Needs the permission {names}."
    return f"{declared.description}\n\n{need}".strip()


def _success(declared: Endpoint) -> dict:
    if declared.produces:
        binary = {"schema": {"type": "string", "format": "binary"}}
        return {"description": "The file", "content": dict.fromkeys(declared.produces, binary)}
    if declared.response is None:
        return {
            "description": "OK",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    schema = declared.response
    if declared.many:
        schema = {"type": "array", "items": schema}
    return {"description": "OK", "content": {"application/json": {"schema": schema}}}
