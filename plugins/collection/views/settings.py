"""Collection settings per contract: the gate's limits, the first-contact and complaint
deadlines, the agency's name and phone, and the contract's result codes."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from core.auth.permissions import require
from core.clients.models import Contract
from core.clients.services import can_see_contract
from core.errors import UserError
from core.extensions import db
from core.modules import require_module
from core.web.forms import choices, show_service_errors
from plugins.collection import results
from plugins.collection.compliance import settings_for
from plugins.collection.models import ResultCode
from plugins.collection.settings import LIMITS, save_settings
from plugins.collection.views import collection
from plugins.collection.work import collection_contract_ids

MAX_ID = 2**31 - 1


def _limit(label, name, description=None):
    low, high = LIMITS[name]
    return IntegerField(label, validators=[InputRequired(), NumberRange(low, high)],
                        description=description)  # fmt: skip


class SettingsForm(FlaskForm):
    max_unanswered_calls_per_day = _limit(
        _l("Unanswered calls per number and day"), "max_unanswered_calls_per_day",
        _l("The next call to that number is refused until the debtor's next day."),
    )  # fmt: skip
    third_party_after_failures = _limit(
        _l("Failed calls before third parties"), "third_party_after_failures",
        _l("Failed calls to the debtor in a row after which family or colleagues may be called."),
    )  # fmt: skip
    first_contact_hours = _limit(
        _l("First-contact deadline (hours)"), "first_contact_hours",
        _l("A newly assigned case must be contacted within this many hours (首催时限)."),
    )  # fmt: skip
    complaint_deadline_hours = _limit(
        _l("Complaint deadline (hours)"), "complaint_deadline_hours",
        _l("A complaint must be resolved within this many hours."),
    )  # fmt: skip
    agency_name = StringField(_l("Agency name"), validators=[Optional(), Length(max=120)],
                              description=_l("As letters and messages quote it."))  # fmt: skip
    agency_phone = StringField(_l("Agency phone"), validators=[Optional(), Length(max=40)])


class NewCodeForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=40)],
                       description=_l("Lower-case letters, digits and underscores; it never "
                                      "changes once records use it."))  # fmt: skip
    label = StringField(_l("Label"), validators=[DataRequired(), Length(max=80)])
    outcome = SelectField(_l("Means"), validators=[DataRequired()])


def _contract(contract_id: int) -> Contract:
    contract = db.session.get(Contract, contract_id) if 0 < contract_id <= MAX_ID else None
    if contract is None or not can_see_contract(current_user, contract):
        abort(404)
    require_module(contract, "collection")
    return contract


def _outcomes():
    return choices(results.OUTCOMES.items())


@collection.get("/settings")
@require("collection.manage_settings")
def settings_index():
    ids = collection_contract_ids(current_user)
    contracts = db.session.scalars(
        db.select(Contract).where(Contract.id.in_(ids)).order_by(Contract.number)
    ).all()
    return render_template("collection/settings_index.html", contracts=contracts)


def _render(contract, form, new_form, status=200, code_errors=None):
    return (
        render_template(
            "collection/settings.html",
            contract=contract,
            form=form,
            new_form=new_form,
            codes=results.codes_for(contract, create=True),
            outcomes=results.OUTCOMES,
            title=results.title,
            code_errors=code_errors or {},
        ),
        status,
    )


def _new_form(**kwargs) -> NewCodeForm:
    form = NewCodeForm(prefix="new", **kwargs)
    form.outcome.choices = _outcomes()
    return form


@collection.route("/settings/<int:contract_id>", methods=["GET", "POST"])
@require("collection.manage_settings")
def settings(contract_id):
    contract = _contract(contract_id)
    row = settings_for(contract, create=True)
    form = SettingsForm(obj=row)
    status = 200
    if form.validate_on_submit():
        values = {name: getattr(form, name).data for name in form.data if name != "csrf_token"}
        try:
            save_settings(contract, current_user, **values)
        except UserError as error:
            show_service_errors(form, error)
            status = error.status_code
        else:
            db.session.commit()
            flash(_("Settings saved."), "success")
            return redirect(url_for("collection.settings", contract_id=contract.id))
    elif form.is_submitted():
        status = 422
    else:
        db.session.commit()  # a contract that had no settings or codes keeps the defaults
    return _render(contract, form, _new_form(formdata=None), status)


@collection.post("/settings/<int:contract_id>/codes")
@require("collection.manage_settings")
def save_codes(contract_id):
    """Rename, re-mean and (de)activate the contract's codes, all in one form."""
    contract = _contract(contract_id)
    errors = {}
    changed = 0
    for row in results.codes_for(contract, create=True):
        try:
            changed += results.update_code(
                row, label=request.form.get(f"label_{row.id}", row.label),
                outcome=request.form.get(f"outcome_{row.id}", row.outcome),
                active=bool(request.form.get(f"active_{row.id}")), user=current_user,
            )  # fmt: skip
        except UserError as error:
            errors.update(error.fields)
    if errors:
        db.session.rollback()
        form = SettingsForm(formdata=None, obj=settings_for(contract, create=True))
        flash(_("Some result codes are not valid; nothing was saved."), "error")
        return _render(contract, form, _new_form(formdata=None), 422, errors)
    db.session.commit()
    flash(_("Result codes saved (%(n)d changed).", n=changed), "success")
    return redirect(url_for("collection.settings", contract_id=contract.id) + "#result-codes")


@collection.post("/settings/<int:contract_id>/codes/new")
@require("collection.manage_settings")
def add_code(contract_id):
    contract = _contract(contract_id)
    new_form = _new_form()
    if new_form.validate_on_submit():
        try:
            results.add_code(contract, code=new_form.code.data, label=new_form.label.data,
                             outcome=new_form.outcome.data, user=current_user)  # fmt: skip
        except UserError as error:
            show_service_errors(new_form, error)
        else:
            db.session.commit()
            flash(_("Result code added."), "success")
            return redirect(
                url_for("collection.settings", contract_id=contract.id) + "#result-codes"
            )
    form = SettingsForm(formdata=None, obj=settings_for(contract, create=True))
    return _render(contract, form, new_form, 422)


@collection.post("/settings/<int:contract_id>/codes/<int:code_id>/move")
@require("collection.manage_settings")
def move_code(contract_id, code_id):
    contract = _contract(contract_id)
    row = db.session.get(ResultCode, code_id) if 0 < code_id <= MAX_ID else None
    if row is None or row.contract_id != contract.id:
        abort(404)
    up = request.form.get("direction") == "up"
    moved = results.move_code(row, -1 if up else 1, current_user)
    db.session.commit()
    if not moved:
        flash(_("%(label)s is already at that end of the list.", label=results.title(row)), "info")
    elif up:
        flash(_("%(label)s moved up.", label=results.title(row)), "success")
    else:
        flash(_("%(label)s moved down.", label=results.title(row)), "success")
    return redirect(url_for("collection.settings", contract_id=contract.id) + "#result-codes")
