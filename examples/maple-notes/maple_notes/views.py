from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from core.auth.permissions import require
from core.clients.models import Contract
from core.clients.services import can_see_contract, visible_contracts_query
from core.extensions import db
from core.modules import require_module
from maple_notes.models import MAX_LENGTH
from maple_notes.services import add_note, latest_notes

notes = Blueprint("notes", __name__, url_prefix="/m/notes", template_folder="templates")


class NoteForm(FlaskForm):
    body = TextAreaField(_l("Note"), validators=[DataRequired(), Length(max=MAX_LENGTH)])


@notes.get("/")
@require("notes.read")
def index():
    query = visible_contracts_query(current_user).where(Contract.module_rows.any(module="notes"))
    return render_template("notes/index.html", contracts=db.session.scalars(query).all())


@notes.route("/contracts/<int:contract_id>", methods=["GET", "POST"])
@require("notes.read")
def contract_notes(contract_id: int):
    contract = db.get_or_404(Contract, contract_id)
    # A contract the user may not see, or without notes on, has no notes page at all.
    if not can_see_contract(current_user, contract):
        abort(404)
    require_module(contract, "notes")
    form = NoteForm()
    if form.validate_on_submit():
        add_note(contract, form.body.data, current_user)  # refused (403) without notes.write
        db.session.commit()
        flash(_("Note added."), "success")
        return redirect(url_for(".contract_notes", contract_id=contract.id))
    notes_ = latest_notes(contract)
    return render_template("notes/contract.html", contract=contract, notes=notes_, form=form)
