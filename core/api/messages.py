"""marshmallow's own validation messages ("Not a valid integer.", "Unknown field." …), translated.

Importing this module (``core.api`` does) replaces the English defaults of marshmallow's
fields, schemas and validators once, for Maple's schemas and every plugin's. A field copies
its messages when it is constructed, so this runs before any schema is defined.

A flask-babel lazy string will not do here: marshmallow only formats a message (``{min}``,
``{choices}``) and wraps it in a list when it is a ``str``. So each message is a
:class:`LazyMessage`, a ``str`` holding the English text whose ``format`` translates it into
the request's language first. Schema-level messages ("Unknown field.") are stored as they
are, unformatted: :func:`plain` translates what is left when the errors are sent.

``validate.Range`` composes its English message when it is constructed (at import, in no
language): :data:`RANGE_MESSAGES` maps each composition to a translatable one, chosen when the
error is raised.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext
from marshmallow import Schema, fields, validate


class LazyMessage(str):
    """English text, translated whenever marshmallow formats it (or :func:`plain` sends it)."""

    __slots__ = ()

    def translated(self) -> str:
        return gettext(str.__str__(self))

    def format(self, *args: Any, **kwargs: Any) -> str:
        return self.translated().format(*args, **kwargs)


#: Named like flask-babel's lazy_gettext so pybabel extracts these with the usual keyword.
_l = LazyMessage

FIELD_MESSAGES: dict[type, dict[str, str]] = {
    fields.Field: {
        "required": _l("Missing data for required field."),
        "null": _l("Field may not be null."),
        "validator_failed": _l("Invalid value."),
    },
    fields.Nested: {"type": _l("Invalid type.")},
    fields.List: {"invalid": _l("Not a valid list.")},
    fields.Tuple: {"invalid": _l("Not a valid tuple.")},
    fields.String: {
        "invalid": _l("Not a valid string."),
        "invalid_utf8": _l("Not a valid utf-8 string."),
    },
    fields.UUID: {"invalid_uuid": _l("Not a valid UUID.")},
    fields.Number: {
        "invalid": _l("Not a valid number."),
        "too_large": _l("Number too large."),
    },
    fields.Integer: {"invalid": _l("Not a valid integer.")},
    fields.Float: {
        "special": _l("Special numeric values (nan or infinity) are not permitted."),
    },
    fields.Decimal: {
        "special": _l("Special numeric values (nan or infinity) are not permitted."),
    },
    fields.Boolean: {"invalid": _l("Not a valid boolean.")},
    # marshmallow words these "Not a valid {obj_type}." with an English type name: each
    # temporal field gets its own sentence instead, so the type is translated too.
    fields.DateTime: {
        "invalid": _l("Not a valid datetime."),
        "format": _l('"{input}" cannot be formatted as a datetime.'),
    },
    fields.NaiveDateTime: {"invalid_awareness": _l("Must be a date and time without a time zone.")},
    fields.AwareDateTime: {"invalid_awareness": _l("Must be a date and time with a time zone.")},
    fields.Time: {
        "invalid": _l("Not a valid time."),
        "format": _l('"{input}" cannot be formatted as a time.'),
    },
    fields.Date: {
        "invalid": _l("Not a valid date."),
        "format": _l('"{input}" cannot be formatted as a date.'),
    },
    fields.TimeDelta: {
        "invalid": _l("Not a valid period of time."),
        "format": _l("{input!r} cannot be formatted as a timedelta."),
    },
    fields.Mapping: {"invalid": _l("Not a valid mapping type.")},
    fields.Url: {"invalid": _l("Not a valid URL.")},
    fields.Email: {"invalid": _l("Not a valid email address.")},
    fields.IP: {"invalid_ip": _l("Not a valid IP address.")},
    fields.IPv4: {"invalid_ip": _l("Not a valid IPv4 address.")},
    fields.IPv6: {"invalid_ip": _l("Not a valid IPv6 address.")},
    fields.IPInterface: {"invalid_ip_interface": _l("Not a valid IP interface.")},
    fields.IPv4Interface: {"invalid_ip_interface": _l("Not a valid IPv4 interface.")},
    fields.IPv6Interface: {"invalid_ip_interface": _l("Not a valid IPv6 interface.")},
    fields.Enum: {"unknown": _l("Must be one of: {choices}.")},
}

#: Messages that every schema starts from (``Schema.error_messages`` is merged over the MRO).
SCHEMA_MESSAGES = {
    "type": _l("Invalid input type."),
    "unknown": _l("Unknown field."),
}

VALIDATOR_MESSAGES: dict[type, dict[str, str]] = {
    validate.URL: {"default_message": _l("Not a valid URL.")},
    validate.Email: {"default_message": _l("Not a valid email address.")},
    validate.Length: {
        "message_min": _l("Shorter than minimum length {min}."),
        "message_max": _l("Longer than maximum length {max}."),
        "message_all": _l("Length must be between {min} and {max}."),
        "message_equal": _l("Length must be {equal}."),
    },
    validate.Equal: {"default_message": _l("Must be equal to {other}.")},
    validate.Regexp: {"default_message": _l("String does not match expected pattern.")},
    validate.Predicate: {"default_message": _l("Invalid input.")},
    validate.NoneOf: {"default_message": _l("Invalid input.")},
    validate.OneOf: {"default_message": _l("Must be one of: {choices}.")},
    validate.ContainsOnly: {
        "default_message": _l("One or more of the choices you made was not in: {choices}.")
    },
    validate.ContainsNoneOf: {
        "default_message": _l("One or more of the choices you made was in: {values}.")
    },
}


#: ``validate.Range``'s composed English messages → translatable ones (same placeholders).
RANGE_MESSAGES: dict[str, str] = {
    "Must be greater than or equal to {min} and less than or equal to {max}.": _l(
        "Must be between {min} and {max}."
    ),
    "Must be greater than {min} and less than or equal to {max}.": _l(
        "Must be more than {min} and at most {max}."
    ),
    "Must be greater than or equal to {min} and less than {max}.": _l(
        "Must be at least {min} and less than {max}."
    ),
    "Must be greater than {min} and less than {max}.": _l(
        "Must be more than {min} and less than {max}."
    ),
    "Must be greater than or equal to {min}.": _l("Must be at least {min}."),
    "Must be greater than {min}.": _l("Must be more than {min}."),
    "Must be less than or equal to {max}.": _l("Must be at most {max}."),
    "Must be less than {max}.": _l("Must be less than {max}."),
}


def _range_error(self, value, message: str) -> str:
    """``validate.Range._format_error``, with the message translated when it is raised."""
    chosen = self.error or RANGE_MESSAGES.get(str.__str__(message), message)
    return chosen.format(input=value, min=self.min, max=self.max)


def install() -> None:
    """Put the translatable messages in place of marshmallow's English ones (idempotent)."""
    validate.Range._format_error = _range_error
    for cls, messages in FIELD_MESSAGES.items():
        cls.default_error_messages = {**cls.__dict__.get("default_error_messages", {}), **messages}
    Schema.error_messages = {**Schema.error_messages, **SCHEMA_MESSAGES}
    for cls, attributes in VALIDATOR_MESSAGES.items():
        for name, message in attributes.items():
            setattr(cls, name, message)


def plain(messages: Any) -> Any:
    """``ValidationError.messages`` with every message a plain, translated ``str`` (for JSON)."""
    if isinstance(messages, dict):
        return {key: plain(value) for key, value in messages.items()}
    if isinstance(messages, list | tuple):
        return [plain(value) for value in messages]
    if isinstance(messages, LazyMessage):
        return messages.translated()
    if isinstance(messages, str | int | float | bool) or messages is None:
        return messages
    return str(messages)  # a flask-babel lazy string raised by a plugin's validator


install()
