from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import flash
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, DecimalField, SelectField, StringField, TextAreaField, TimeField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError


def show_service_errors(form, error) -> None:
    """Put a service's refusal beside the fields it names, and at the top of the form when
    no field holds it or it is a conflict with the current state (a duplicate, a dependency).
    The request's unfinished work is rolled back first."""
    from core.extensions import db

    db.session.rollback()
    placed = False
    for name, messages in error.fields.items():
        field = getattr(form, name, None)
        if field is not None:
            field.errors = list(field.errors) + list(messages)
            placed = True
    if not placed or error.status_code == 409:
        flash(error.message, "error")


def choices(pairs) -> list[SelectChoice]:
    """Options for a select field from ``(value, label)`` pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


def valid_timezone(form, field):
    try:
        ZoneInfo(field.data or "")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(_l("Not a time zone name such as Asia/Shanghai.")) from exc


class ClientForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    code = StringField(
        _l("Short code"),
        validators=[DataRequired(), Length(max=16)],
        description=_l("Used in case serials, e.g. JSZ."),
    )
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=2000)])


class ContractForm(FlaskForm):
    number = StringField(_l("Contract number"), validators=[DataRequired(), Length(max=64)])
    client = SelectField(_l("Client"), coerce=int, validators=[DataRequired()])
    start_date = DateField(_l("Start date"), validators=[DataRequired()])
    end_date = DateField(_l("End date"), validators=[Optional()])
    timezone = StringField(
        _l("Time zone"), default="Asia/Shanghai", validators=[DataRequired(), valid_timezone]
    )
    contact_start = TimeField(_l("Contact window opens"), validators=[DataRequired()])
    contact_end = TimeField(_l("Contact window closes"), validators=[DataRequired()])
    commission_percent = DecimalField(
        _l("Commission (%)"),
        places=2,
        default=0,
        validators=[Optional(), NumberRange(min=0, max=100)],
    )
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=2000)])


class TeamForm(FlaskForm):
    name = StringField(_l("Team name"), validators=[DataRequired(), Length(max=120)])


class RoleForm(FlaskForm):
    name = StringField(
        _l("Machine name"),
        validators=[DataRequired(), Length(max=64)],
        description=_l("Lower-case letters, digits and underscores."),
    )
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=120)])


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    username = StringField(_l("User"), validators=[Optional()])
    action = StringField(_l("Action"), validators=[Optional()])
    object_type = StringField(_l("Object type"), validators=[Optional()])
    outcome = SelectField(
        _l("Outcome"),
        choices=choices(
            [
                ("", _l("Any")),
                ("success", _l("Success")),
                ("failure", _l("Failure")),
                ("denied", _l("Denied")),
            ]
        ),
        validators=[Optional()],
    )
    date_from = DateField(_l("From"), validators=[Optional()])
    date_to = DateField(_l("To"), validators=[Optional()])


class BatchForm(FlaskForm):
    contract = SelectField(_l("Contract"), coerce=int, validators=[DataRequired()])
    batch_no = StringField(_l("Batch no."), validators=[DataRequired(), Length(max=64)])
    entrust_date = DateField(_l("Entrust date"), validators=[DataRequired()])
    expected_return_date = DateField(
        _l("Expected return date"),
        validators=[Optional()],
        description=_l("When the cases must be handed back to the client."),
    )
    area = SelectField(_l("Collection area"), validators=[Optional()])
    case_category = SelectField(_l("Case category"), validators=[Optional()])
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=2000)])


class CategoryOptionForm(FlaskForm):
    value = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
