"""What the API reads and writes: one marshmallow schema per kind of row.

A schema serves both directions: ``dump_only`` fields (ids, timestamps) are only sent,
``load_only`` ones (a password) only received, and a PATCH loads the same schema with
``partial=True``. References to other rows travel as ids (a role by its name) and are
loaded as the rows themselves, so a view hands services real objects.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app
from flask_babel import gettext as _
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from core.auth.models import Role, Team, User
from core.clients.models import Client, Contract
from core.extensions import db
from core.plugins import registry

#: Ids are 32-bit integers in PostgreSQL: a larger number names nothing, and must not be sent
#: to the database (which would refuse it with an error instead of "not found").
MAX_ID = 2**31 - 1

#: How a list of names looks in the OpenAPI document (for fields computed by a method).
STRING_LIST = {"type": "array", "items": {"type": "string"}}


# -- fields and validators ------------------------------------------------------------------------


class Text(fields.String):
    """A string PostgreSQL can store: it refuses NUL characters where SQLite would not."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise ValidationError(_("Must not contain NUL characters."))
        return text


class Upload(fields.Field):
    """A file sent in a multipart/form-data body (see ``@endpoint(form=…)``), loaded as the
    :class:`werkzeug.datastructures.FileStorage` itself."""

    def __init__(self, **kwargs):
        kwargs["metadata"] = {"type": "string", "format": "binary", **kwargs.get("metadata", {})}
        super().__init__(load_only=True, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, FileStorage) or not value.filename:
            raise ValidationError(_("Must be a file, sent as a part of multipart/form-data."))
        return value


class Related(fields.Field):
    """Another row, sent as its id (or another unique ``key``) and loaded as the row itself."""

    def __init__(self, model, *, key: str = "id", **kwargs):
        kwargs.setdefault("metadata", {"type": "integer" if key == "id" else "string"})
        super().__init__(**kwargs)
        self.model, self.key = model, key

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else getattr(value, self.key)

    def _deserialize(self, value, attr, data, **kwargs):
        if self.key == "id":
            if type(value) is not int:  # bool is an int too, but never an id
                raise ValidationError(_("Must be an id (a whole number)."))
            if not 0 < value <= MAX_ID:
                raise ValidationError(_("Not found: %(value)s.", value=value))
        elif not isinstance(value, str):
            raise ValidationError(_("Must be a string."))
        row = db.session.scalar(select(self.model).where(getattr(self.model, self.key) == value))
        if row is None:
            raise ValidationError(_("Not found: %(value)s.", value=value))
        return row


def fits(column) -> validate.Length:
    """Non-empty and no longer than ``column`` holds (PostgreSQL refuses longer strings)."""
    return validate.Length(min=1, max=column.type.length)


def known_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValidationError(
            _("Not a known time zone: use an IANA name such as Asia/Shanghai.")
        ) from None


def known_locale(code: str) -> None:
    languages = current_app.config["LANGUAGES"]
    if code not in languages:
        raise ValidationError(_("Choose one of: %(codes)s.", codes=", ".join(languages)))


def distinct(values: list) -> None:
    if len(set(values)) != len(values):
        raise ValidationError(_("List each item only once."))


def fraction(value) -> None:
    # Not validate.Range: the OpenAPI document would then call this string field a number.
    if not 0 <= value <= 1:
        raise ValidationError(_("Must be a fraction between 0 and 1: 0.15 means 15 percent."))


def hours_and_minutes(**kwargs) -> fields.Time:
    return fields.Time(format="%H:%M", metadata={"example": "08:00"}, **kwargs)


# -- schemas --------------------------------------------------------------------------------------


class ClientSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = Text(required=True, validate=fits(Client.name))
    #: Short code used in case serials; stored upper-case.
    code = Text(required=True, validate=fits(Client.code))
    notes = Text()
    created_at = fields.AwareDateTime(dump_only=True)


class ContractSchema(Schema):
    id = fields.Integer(dump_only=True)
    number = Text(required=True, validate=fits(Contract.number))
    client = Related(Client, data_key="client_id", required=True)
    start_date = fields.Date(required=True)
    end_date = fields.Date(allow_none=True)
    timezone = fields.String(validate=known_timezone, metadata={"example": "Asia/Shanghai"})
    contact_start = hours_and_minutes()
    contact_end = hours_and_minutes()
    #: A fraction, sent as a string so no precision is lost: "0.1500" is 15 %.
    commission_rate = fields.Decimal(
        places=4,
        as_string=True,
        validate=fraction,
        metadata={"type": "string", "format": "decimal", "example": "0.1500"},
    )
    notes = Text()
    modules = fields.Method("enabled_modules", metadata=STRING_LIST)
    created_at = fields.AwareDateTime(dump_only=True)

    def enabled_modules(self, contract: Contract) -> list[str]:
        return sorted(contract.enabled_modules)


class ModuleSchema(Schema):
    name = fields.String(dump_only=True)
    title = fields.String(dump_only=True)
    description = fields.String(dump_only=True)
    requires = fields.List(fields.String(), dump_only=True)


class UserSchema(Schema):
    id = fields.Integer(dump_only=True)
    username = Text(required=True, validate=fits(User.username))
    display_name = Text(load_default="", validate=validate.Length(max=120))
    #: Never sent back; its strength is checked by the service.
    password = fields.String(required=True, load_only=True)
    role = Related(Role, key="name", required=True)
    team = Related(Team, data_key="team_id", allow_none=True)
    #: A client viewer's client; staff have none.
    client = Related(Client, data_key="client_id", allow_none=True)
    contracts = fields.List(Related(Contract), data_key="contract_ids", validate=distinct)
    locale = fields.String(validate=known_locale)
    active = fields.Boolean()
    created_at = fields.AwareDateTime(dump_only=True)
    last_login_at = fields.AwareDateTime(dump_only=True)


class MeSchema(UserSchema):
    class Meta:
        exclude = ("password",)

    permissions = fields.Method("held_permissions", metadata=STRING_LIST)

    def held_permissions(self, user: User) -> list[str]:
        return sorted(name for name in registry().permissions if user.can(name))


class ErrorDetailSchema(Schema):
    status = fields.Integer()
    message = fields.String()
    field_errors = fields.Dict(
        data_key="fields",
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "Messages by field, for a request whose fields are not valid."},
    )


class ErrorSchema(Schema):
    error = fields.Nested(ErrorDetailSchema)
