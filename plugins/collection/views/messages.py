"""Letter and SMS templates, sending an SMS from the case page, printing letters, the outbox."""

from __future__ import annotations

from pathlib import Path

from flask import abort, flash, redirect, render_template, request, send_from_directory, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict
from wtforms import BooleanField, DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from core import masking
from core.auth.guard import deny
from core.auth.permissions import public, require
from core.cases.filters import CaseFilter, ids_query
from core.cases.models import Case
from core.cases.panels import Panel
from core.cases.services import can_see_case
from core.clients.models import Contract
from core.clients.services import can_see_contract
from core.errors import Conflict, InvalidInput, UserError
from core.extensions import db
from core.messaging import FAILED, QUEUED, SENT
from core.modules import require_module
from core.web.forms import choices, show_service_errors
from core.web.paging import Page, page_number
from core.web.setup import keep_refusal_on_record
from plugins.collection import messages
from plugins.collection.access import WORK_PERMISSIONS, may_work
from plugins.collection.compliance import settings_for
from plugins.collection.models import LETTER, SMS, MessageTemplate
from plugins.collection.views import collection

MAX_ID = 2**31 - 1
STATIC = Path(__file__).resolve().parent.parent / "static"
OUTBOX_STATUSES = {QUEUED: _l("queued"), SENT: _l("sent"), FAILED: _l("failed")}


# -- helpers -----------------------------------------------------------------------------------


def visible_case(case_id: int) -> Case:
    """The case, or 404: missing, not visible to the user, or its contract has no module."""
    case = db.session.get(Case, case_id) if 0 < case_id <= MAX_ID else None
    if case is None or not can_see_case(current_user, case):
        abort(404)
    require_module(case.contract, "collection")
    return case


def workable_case(case_id: int) -> Case:
    """A visible case the user may also work (403, audited, when they may only see it)."""
    case = visible_case(case_id)
    if not may_work(current_user, case):
        deny(" | ".join(WORK_PERMISSIONS))
    return case


def managed_template(template_id: int) -> MessageTemplate:
    template = db.session.get(MessageTemplate, template_id) if 0 < template_id <= MAX_ID else None
    if template is None or not can_see_contract(current_user, template.contract):
        abort(404)
    require_module(template.contract, "collection")
    return template


# -- templates ---------------------------------------------------------------------------------


class TemplateForm(FlaskForm):
    contract = SelectField(_l("Contract"), coerce=int, validators=[DataRequired()])
    channel = SelectField(
        _l("Kind"), choices=choices(messages.CHANNELS.items()), validators=[DataRequired()]
    )
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    subject = StringField(
        _l("Letter heading"),
        validators=[Optional(), Length(max=200)],
        description=_l("Letters only: printed above the text. Merge fields work here too."),
    )
    body = TextAreaField(_l("Text"), validators=[DataRequired()])
    active = BooleanField(_l("Active: offered when sending"), default=True)


def _template_form(template: MessageTemplate | None) -> TemplateForm:
    form = TemplateForm(obj=template) if template else TemplateForm()
    if template is not None:
        form.contract.choices = [(template.contract.id, template.contract.number)]
        if request.method == "GET":
            form.contract.data = template.contract_id
    else:
        form.contract.choices = [
            (c.id, f"{c.number} · {c.client.name}") for c in messages.module_contracts(current_user)
        ]
        if request.method == "GET":
            form.channel.data = request.args.get("channel", SMS)
            form.contract.data = request.args.get("contract", type=int)
    return form


@collection.route("/templates")
@require("collection.manage_templates")
def template_list():
    contracts = messages.module_contracts(current_user)
    ids = [c.id for c in contracts]
    chosen = request.args.get("contract", type=int)
    query = select(MessageTemplate).where(MessageTemplate.contract_id.in_(ids))
    if chosen in ids:
        query = query.where(MessageTemplate.contract_id == chosen)
    channel = request.args.get("channel", "")
    if channel in messages.CHANNELS:
        query = query.where(MessageTemplate.channel == channel)
    query = query.order_by(
        MessageTemplate.contract_id, MessageTemplate.channel, MessageTemplate.name
    )
    return render_template(
        "collection/templates.html",
        templates=db.session.scalars(query).all(),
        contracts=contracts,
        chosen=chosen,
        channel=channel,
        channels=messages.CHANNELS,
    )


def _save(form: TemplateForm, template: MessageTemplate | None):
    contract = template.contract if template else db.session.get(Contract, form.contract.data)
    if contract is None or contract.id not in {
        c.id for c in messages.module_contracts(current_user)
    }:
        abort(404)
    try:
        saved = messages.save_template(
            template,
            contract=contract,
            channel=form.channel.data,
            name=form.name.data,
            subject=form.subject.data,
            body=form.body.data,
            active=form.active.data,
            user=current_user,
        )
    except UserError as error:
        if isinstance(error, Conflict) and "name" in error.fields:
            # A duplicate name: said once, beside the name, not also at the top of the form.
            error = InvalidInput(error.message, fields=error.fields)
        show_service_errors(form, error)
        return None
    db.session.commit()
    flash(_("Template %(name)s saved.", name=saved.name), "success")
    return redirect(url_for("collection.template_list", contract=saved.contract_id))


def _render_form(form, template, status=200):
    return (
        render_template(
            "collection/templates_form.html",
            form=form,
            template=template,
            merge_fields=messages.MERGE_FIELDS,
            sms_max=messages.SMS_MAX_LENGTH,
        ),
        status,
    )


@collection.route("/templates/new", methods=["GET", "POST"])
@require("collection.manage_templates")
def template_new():
    form = _template_form(None)
    if form.validate_on_submit():
        done = _save(form, None)
        if done is not None:
            return done
    return _render_form(form, None, 422 if form.errors else 200)


@collection.route("/templates/<int:template_id>", methods=["GET", "POST"])
@require("collection.manage_templates")
def template_edit(template_id):
    template = managed_template(template_id)
    form = _template_form(template)
    if form.validate_on_submit():
        done = _save(form, template)
        if done is not None:
            return done
    return _render_form(form, template, 422 if form.errors else 200)


def _preview_case(template: MessageTemplate, serial: str):
    """The visible case of the template's contract with this serial, or ``None``."""
    case = db.session.scalar(
        select(Case).where(Case.serial == serial, Case.contract_id == template.contract_id)
    )
    return case if case is not None and can_see_case(current_user, case) else None


@collection.route("/templates/<int:template_id>/preview")
@require("collection.manage_templates")
def template_preview(template_id):
    template = managed_template(template_id)
    serial = request.args.get("case", "").strip()[:64]
    case, error, status = None, None, 200
    if serial:
        case = _preview_case(template, serial)
        if case is None:
            error = _("No case %(serial)s among the cases of this contract you may see.",
                      serial=serial)  # fmt: skip
            status = 404
    shown = case or messages.sample_case(template.contract)
    return (
        render_template(
            "collection/templates_preview.html",
            template=template,
            rendered=messages.render(template, shown),
            case=case,
            serial=serial,
            error=error,
            no_agency_name=messages.no_agency_name_text()
            if template.channel == SMS and not messages.agency_name(template.contract)
            else "",
        ),
        status,
    )


# -- SMS from the case page --------------------------------------------------------------------


@collection.route("/cases/<int:case_id>/sms", methods=["GET", "POST"])
@require(*WORK_PERMISSIONS)  # and may_work for this case, checked below
def sms(case_id):
    """Preview an SMS from a template to one of the debtor's numbers, and send it. A case the
    rules refuse (paused, closed, a complaint hold …) shows why instead (409); a template or
    number that cannot be used shows the choice again with the message beside it (422)."""
    case = workable_case(case_id)
    refusals = messages.contact_hold(case, current_user)
    template_id = request.values.get("template", type=int)
    key = request.values.get("number", "")
    template, number, errors = None, "", {}
    try:
        template = messages.usable_template(template_id, case, SMS)
    except InvalidInput as error:
        errors.update(error.fields)
    try:
        number = messages.resolve_number(case, key)
    except InvalidInput as error:
        errors.update(error.fields)
    status = 409 if refusals else 422 if errors else 200
    if request.method == "POST" and not errors:
        try:  # a refused case too: the service refuses it, and the refusal is audited
            sent = messages.send_sms(
                case, template_id=template.id, number=number, user=current_user
            )
        except UserError as error:
            db.session.rollback()
            keep_refusal_on_record(error)
            if not refusals:  # else the reasons are on the page already
                flash(error.message, "error")
            status = error.status_code
        else:
            db.session.commit()
            flash(
                _("SMS to %(number)s: %(status)s.", number=masking.mask_mobile(sent.recipient),
                  status=OUTBOX_STATUSES.get(sent.status, sent.status)),
                "success" if sent.status != FAILED else "error",
            )  # fmt: skip
            return redirect(url_for("cases.detail", case_id=case.id))
    return (
        render_template(
            "collection/message_preview.html",
            case=case,
            refusals=refusals,
            errors=errors,
            template=template,
            template_id=template_id,
            key=key,
            number=masking.mask_mobile(number),
            body=messages.render(template, case).body if template else "",
            sms_templates=messages.templates_for(case.contract, SMS, active_only=True),
            numbers=[(k, masking.mask_mobile(n)) for k, n in messages.sms_numbers(case)],
            no_agency_name=messages.no_agency_name_text()
            if not messages.agency_name(case.contract)
            else "",
        ),
        status,
    )


def case_panel(case, user):
    """SMS and letters for a case the user works: the forms and the latest messages; for a
    case the rules refuse (paused, closed, a complaint hold …) the reasons instead of forms."""
    if not may_work(user, case):
        return None
    html = render_template(
        "collection/message_panel.html",
        case=case,
        refusals=messages.contact_hold(case, user),
        sms_templates=messages.templates_for(case.contract, SMS, active_only=True),
        may_print=messages.may_print_letters(user),
        letter_templates=messages.templates_for(case.contract, LETTER, active_only=True),
        numbers=[(key, masking.mask_mobile(n)) for key, n in messages.sms_numbers(case)],
        address=messages.letter_address(case),
        recent=messages.recent_messages(case),
        statuses=OUTBOX_STATUSES,
    )
    return Panel(_l("Letters and SMS"), Markup(html), order=20)


# -- letters -----------------------------------------------------------------------------------

#: The case list's filters a letter selection offers (the template fixes the contract).
LETTER_FILTERS = ("q", "batch_no", "area", "status", "bucket", "days_min", "days_max")


def _letter_templates(user):
    ids = [c.id for c in messages.module_contracts(user)]
    query = (
        select(MessageTemplate)
        .where(
            MessageTemplate.contract_id.in_(ids),
            MessageTemplate.channel == LETTER,
            MessageTemplate.active.is_(True),
        )
        .order_by(MessageTemplate.contract_id, MessageTemplate.name)
    )
    return db.session.scalars(query).all()


def _letter_selection(args, template: MessageTemplate) -> CaseFilter:
    values = {name: args.get(name, "") for name in LETTER_FILTERS}
    case_filter = CaseFilter.from_args(MultiDict({**values, "contract": str(template.contract_id)}))
    return case_filter


@collection.route("/letters")
@require(messages.PRINT_LETTERS)  # letters are work on cases too: may_work is asked per case
def letters():
    templates = _letter_templates(current_user)
    template_id = request.args.get("template", type=int)
    template = next((t for t in templates if t.id == template_id), None)
    count = None
    case_filter = None
    planned = []
    if template is not None:
        case_filter = _letter_selection(request.args, template)
        query = ids_query(current_user, case_filter)
        count = db.session.scalar(select(func.count()).select_from(query.subquery()))
        if 0 < count <= messages.MAX_LETTERS:
            cases = messages.letter_cases(current_user, db.session.scalars(query))
            planned = messages.plan_letters(cases, template=template, user=current_user)
    return render_template(
        "collection/letters.html",
        templates=templates,
        template=template,
        filter=case_filter,
        count=count,
        planned=planned,
        printable=sum(1 for p in planned if not p.problem and not p.printed),
        printed=sum(1 for p in planned if not p.problem and p.printed),
        max_letters=messages.MAX_LETTERS,
        fields=LETTER_FILTERS,
        values={name: request.args.get(name, "") for name in LETTER_FILTERS},
    )


@collection.route("/letters", methods=["POST"])
@require(messages.PRINT_LETTERS)
def letters_print():
    """Print the letters of the cases ticked (``case``, repeated): from the case page, one;
    from the letters page, those of the selection the user left in."""
    template_id = request.form.get("template", type=int) or 0
    template = db.session.get(MessageTemplate, template_id) if 0 < template_id <= MAX_ID else None
    if template is None or template not in _letter_templates(current_user):
        raise InvalidInput(
            _("Choose an active letter template."),
            fields={"template": [_("Choose an active letter template.")]},
        )
    ids = [i for i in request.form.getlist("case", type=int) if 0 < i <= MAX_ID]
    if not ids:
        raise InvalidInput(
            _("Tick at least one case to print a letter for."),
            fields={"case": [_("Tick at least one case to print a letter for.")]},
        )
    if len(ids) > messages.MAX_LETTERS:
        raise UserError(
            _("At most %(n)d letters at a time; narrow the selection.", n=messages.MAX_LETTERS)
        )
    cases = messages.letter_cases(current_user, ids)
    if not cases:
        abort(404)
    run = messages.generate_letters(
        cases, template=template, user=current_user, reprint=bool(request.form.get("reprint"))
    )
    db.session.commit()
    single = len(ids) == 1 and request.form.get("from") == "case"
    return render_template(
        "collection/letter_document.html",
        run=run,
        settings=settings_for(template.contract),
        today=messages.agency_today(),
        back=url_for("cases.detail", case_id=ids[0]) if single else url_for("collection.letters"),
    )


@collection.route("/messages.css")
@public  # a stylesheet, the same for everyone
def messages_stylesheet():
    return send_from_directory(STATIC, "messages.css", mimetype="text/css")


# -- the outbox --------------------------------------------------------------------------------


class OutboxFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    status = SelectField(
        _l("Status"),
        choices=choices([("", _l("Any")), *OUTBOX_STATUSES.items()]),
        validators=[Optional()],
    )
    contract = SelectField(_l("Contract"), validators=[Optional()])
    date_from = DateField(_l("From"), validators=[Optional()])
    date_to = DateField(_l("To"), validators=[Optional()])


PER_PAGE = 50


@collection.route("/outbox")
@require("collection.manage_templates")
def outbox():
    form = OutboxFilterForm(request.args)
    contracts = messages.module_contracts(current_user)
    form.contract.choices = [("", _("Any"))] + [(str(c.id), c.number) for c in contracts]
    valid = form.validate()
    contract_id = (
        int(form.contract.data) if valid and (form.contract.data or "").isdigit() else None
    )
    query = messages.outbox_query(
        current_user,
        status=form.status.data if valid else "",
        contract_id=contract_id,
        date_from=form.date_from.data if valid else None,
        date_to=form.date_to.data if valid else None,
    )
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    page_no = page_number(request.args, total, PER_PAGE)
    rows = db.session.scalars(query.limit(PER_PAGE).offset((page_no - 1) * PER_PAGE)).all()
    return render_template(
        "collection/outbox.html",
        form=form,
        page=Page(page_no, PER_PAGE, total, rows),
        statuses=OUTBOX_STATUSES,
        gateway_title=messages.gateway_title,
    )
