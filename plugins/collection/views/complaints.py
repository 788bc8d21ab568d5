"""Complaints (投诉): register one on a case, the handlers' list, resolving one."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy import func, select
from wtforms import SelectField, TextAreaField
from wtforms.validators import DataRequired, Length

from core.auth.guard import deny
from core.auth.permissions import require
from core.cases.panels import Panel
from core.cases.services import can_see_case
from core.errors import UserError
from core.extensions import db
from core.modules import require_module
from core.types import utcnow
from core.web.forms import choices, show_service_errors
from core.web.paging import Page, page_number
from plugins.collection import complaints as service
from plugins.collection.access import WORK_PERMISSIONS
from plugins.collection.messages import module_contracts
from plugins.collection.models import COMPLAINT_OPEN, Complaint
from plugins.collection.views import collection
from plugins.collection.views.messages import visible_case

MAX_ID = 2**31 - 1
PER_PAGE = 50
#: The complaint form's field prefix (names and ids: ``complaint-channel``).
PREFIX = "complaint"


def due_text(complaint: Complaint, now=None) -> str:
    """How long until the deadline, or how long past it, in whole hours (resolved: when)."""
    now = now or utcnow()
    if complaint.status != COMPLAINT_OPEN:
        return ""
    hours = int(abs((complaint.due_at - now).total_seconds()) // 3600)
    if complaint.due_at < now:
        return _("overdue by %(h)d h", h=hours)
    return _("due in %(h)d h", h=hours)


class ComplaintForm(FlaskForm):
    """Shown on the case page beside the record form: made with ``prefix=PREFIX`` so its
    fields' ids (``complaint-channel``) do not clash with the record form's."""

    channel = SelectField(
        _l("Came in by"), choices=choices(service.CHANNELS.items()), validators=[DataRequired()]
    )
    content = TextAreaField(
        _l("What the complaint says"),
        validators=[DataRequired(), Length(max=service.MAX_CONTENT)],
    )


class ResolveForm(FlaskForm):
    resolution = TextAreaField(
        _l("How it was resolved"), validators=[DataRequired(), Length(max=service.MAX_CONTENT)]
    )


def case_panel(case, user):
    """Open complaints of the case (it is on hold while one is) and the register form."""
    may_register = service.may_register(user, case)
    if not (may_register or user.can("collection.handle_complaints")):
        return None
    open_ = service.open_complaints(case)
    html = render_template(
        "collection/complaint_panel.html",
        case=case,
        complaints=open_,
        form=ComplaintForm(prefix=PREFIX) if may_register else None,
        due_text=due_text,
        channels=service.CHANNELS,
        now=utcnow(),
    )
    title = _l("Complaints (case on hold)") if open_ else _l("Complaints")
    return Panel(title, Markup(html), order=50 if open_ else 400)


@collection.route("/cases/<int:case_id>/complaints", methods=["GET", "POST"])
@require(*WORK_PERMISSIONS, "collection.handle_complaints")  # and may_register, below
def complaint_new(case_id):
    case = visible_case(case_id)
    if not service.may_register(current_user, case):
        deny(" | ".join((*WORK_PERMISSIONS, "collection.handle_complaints")))
    form = ComplaintForm(prefix=PREFIX)
    if form.validate_on_submit():
        try:
            complaint = service.register_complaint(
                case, channel=form.channel.data, content=form.content.data, user=current_user
            )
        except UserError as error:
            show_service_errors(form, error)
        else:
            db.session.commit()
            flash(
                _("Complaint #%(id)d registered; the case is on hold until it is resolved.",
                  id=complaint.id),
                "success",
            )  # fmt: skip
            return redirect(url_for("cases.detail", case_id=case.id))
    status = 422 if form.errors else 200
    return render_template("collection/complaint_form.html", case=case, form=form), status


def _contract_choice():
    contracts = module_contracts(current_user)
    chosen = request.args.get("contract", type=int)
    return contracts, chosen if chosen in {c.id for c in contracts} else None


@collection.route("/complaints")
@require("collection.handle_complaints")
def complaint_list():
    contracts, contract_id = _contract_choice()
    status = request.args.get("status", "")
    status = status if status in service.STATUSES else ""
    query = service.complaints_query(current_user, status=status, contract_id=contract_id)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    page_no = page_number(request.args, total, PER_PAGE)
    rows = db.session.scalars(query.limit(PER_PAGE).offset((page_no - 1) * PER_PAGE)).all()
    return render_template(
        "collection/complaint_list.html",
        page=Page(page_no, PER_PAGE, total, rows),
        contracts=contracts,
        contract_id=contract_id,
        status=status,
        statuses=service.STATUSES,
        channels=service.CHANNELS,
        due_text=due_text,
        now=utcnow(),
    )


def _visible_complaint(complaint_id: int) -> Complaint:
    complaint = db.session.get(Complaint, complaint_id) if 0 < complaint_id <= MAX_ID else None
    if complaint is None or not can_see_case(current_user, complaint.case):
        abort(404)
    require_module(complaint.case.contract, "collection")
    return complaint


@collection.route("/complaints/<int:complaint_id>", methods=["GET", "POST"])
@require("collection.handle_complaints")
def complaint_detail(complaint_id):
    complaint = _visible_complaint(complaint_id)
    form = ResolveForm()
    if complaint.status == COMPLAINT_OPEN and form.validate_on_submit():
        try:
            service.resolve_complaint(complaint, resolution=form.resolution.data, user=current_user)
        except UserError as error:
            show_service_errors(form, error)
        else:
            db.session.commit()
            flash(_("Complaint #%(id)d resolved.", id=complaint.id), "success")
            return redirect(url_for("collection.complaint_detail", complaint_id=complaint.id))
    status = 422 if form.errors else 200
    return (
        render_template(
            "collection/complaint_detail.html",
            complaint=complaint,
            form=form,
            channels=service.CHANNELS,
            statuses=service.STATUSES,
            due_text=due_text,
            overdue=service.is_overdue(complaint),
        ),
        status,
    )
