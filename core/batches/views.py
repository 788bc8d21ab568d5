"""Batches (案件导入: the batch list by status, add, edit, delete) and the category settings."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from core.auth.permissions import require
from core.batches import services
from core.batches.models import IMPORTED, NOT_IMPORTED, Batch, CategoryOption
from core.cases.models import Case
from core.clients.models import Client, Contract
from core.clients.services import can_see_contract, visible_contracts_query
from core.errors import UserError
from core.extensions import db
from core.imports.services import remove_uploads
from core.web.forms import BatchForm, CategoryOptionForm, choices, show_service_errors
from core.web.paging import Page, page_number

batches = Blueprint("batches", __name__)


def _visible_batch(batch_id: int) -> Batch:
    """The batch, or 404 when it does not exist or its contract is not the user's."""
    batch = db.session.get(Batch, batch_id) if 0 < batch_id <= 2**31 - 1 else None
    if batch is None or not can_see_contract(current_user, batch.contract):
        abort(404)
    return batch


def import_link(batch: Batch) -> str | None:
    """The import page of ``batch``, for a user who may import."""
    if "imports.batch_page" in current_app.view_functions and current_user.can("core.imports.run"):
        return url_for("imports.batch_page", batch_id=batch.id)
    return None


# -- the batch list (案件导入) ------------------------------------------------------------------


@batches.route("/batches/")
@require("core.batches.manage")
def index():
    status = request.args.get("status", NOT_IMPORTED)
    if status not in (NOT_IMPORTED, IMPORTED, "all"):
        status = NOT_IMPORTED
    base = services.visible_batches_query(current_user)
    counts = dict(
        db.session.execute(
            base.with_only_columns(Batch.status, func.count()).group_by(Batch.status)
        ).all()
    )
    cases = select(Case.batch_id, func.count().label("n")).group_by(Case.batch_id).subquery("cases")
    query = (
        base.add_columns(func.coalesce(cases.c.n, 0))
        .outerjoin(cases, cases.c.batch_id == Batch.id)
        .join(Contract, Contract.id == Batch.contract_id)
        .join(Client, Client.id == Contract.client_id)
        .order_by(Batch.entrust_date.desc(), Batch.id.desc())
    )
    if status != "all":
        query = query.where(Batch.status == status)
    search = request.args.get("q", "").strip()
    if search:
        like = f"%{search}%"
        query = query.where((Batch.batch_no.ilike(like)) | (Client.name.ilike(like)))
    total = db.session.scalar(
        select(func.count()).select_from(
            query.order_by(None).with_only_columns(Batch.id).subquery()
        )
    )
    page = Page(page_number(request.args, total, 50), 50, total)
    page.items = db.session.execute(query.limit(page.per_page).offset(page.offset)).all()
    return render_template(
        "core/batches/index.html",
        page=page,
        status=status,
        counts=counts,
        search=search,
        import_link=import_link,
        statuses=services.BATCH_STATUSES,
    )


def _form_choices(form: BatchForm, batch: Batch | None) -> None:
    contracts = db.session.scalars(visible_contracts_query(current_user)).all()
    form.contract.choices = choices(
        [(0, "—")] + [(c.id, f"{c.number} · {c.client.name}") for c in contracts]
    )
    for name, kind in (("area", services.AREA), ("case_category", services.CASE_CATEGORY)):
        values = [o.value for o in services.category_options(kind, active_only=True)]
        current = getattr(batch, name, "") if batch else ""
        if current and current not in values:
            values.append(current)  # a deactivated option the batch already carries
        getattr(form, name).choices = choices([("", "—")] + [(v, v) for v in values])


@batches.route("/batches/new", methods=["GET", "POST"])
@batches.route("/batches/<int:batch_id>/edit", methods=["GET", "POST"])
@require("core.batches.manage")
def edit(batch_id=None):
    batch = _visible_batch(batch_id) if batch_id else None
    form = BatchForm(obj=batch)
    _form_choices(form, batch)
    if request.method == "GET":
        if batch is not None:
            form.contract.data = batch.contract_id
        elif request.args.get("contract", type=int):
            form.contract.data = request.args.get("contract", type=int)
        elif len(form.contract.choices) == 2:  # one contract to choose: chosen already
            form.contract.data = form.contract.choices[1].value
    status = 200
    if form.validate_on_submit():
        contract = db.session.get(Contract, form.contract.data) if form.contract.data else None
        if contract is not None and not can_see_contract(current_user, contract):
            abort(404)
        try:
            batch = services.save_batch(
                batch,
                contract=contract,
                batch_no=form.batch_no.data,
                entrust_date=form.entrust_date.data,
                expected_return_date=form.expected_return_date.data,
                area=form.area.data or "",
                case_category=form.case_category.data or "",
                notes=form.notes.data or "",
                actor=current_user,
            )
        except UserError as error:
            show_service_errors(form, error)
            status = error.status_code
            batch = _visible_batch(batch_id) if batch_id else None  # as stored, after rollback
        else:
            db.session.commit()
            flash(_("Batch %(no)s was saved.", no=batch.batch_no), "success")
            return redirect(url_for("batches.index", status=batch.status))
    elif form.errors:
        status = 422
    clients = {
        c.id: c.client.name for c in db.session.scalars(visible_contracts_query(current_user))
    }
    cases_in = services.case_count(batch) if batch else 0
    return render_template(
        "core/batches/form.html",
        form=form,
        batch=batch,
        clients=clients,
        cases_in=cases_in,
        import_link=import_link,
    ), status


@batches.route("/batches/<int:batch_id>/delete", methods=["POST"])
@require("core.batches.manage")
def delete(batch_id):
    batch = _visible_batch(batch_id)
    number = batch.batch_no
    uploads = services.delete_batch(batch, actor=current_user)  # a refusal is a 409 page
    db.session.commit()
    remove_uploads(uploads)
    flash(_("Batch %(no)s was deleted.", no=number), "success")
    return redirect(url_for("batches.index"))


# -- category settings (类别设置) -----------------------------------------------------------------


def _option(option_id: int) -> CategoryOption:
    option = db.session.get(CategoryOption, option_id) if 0 < option_id <= 2**31 - 1 else None
    if option is None:
        abort(404)
    return option


@batches.route("/settings/categories", methods=["GET", "POST"])
@require("core.settings.manage")
def categories():
    forms = {kind: CategoryOptionForm(prefix=kind) for kind in services.CATEGORY_KINDS}
    kind = request.form.get("kind", "")
    if request.method == "POST":
        form = forms.get(kind)
        if form is None:
            abort(400)
        if form.validate_on_submit():
            try:
                services.add_option(kind, form.value.data, actor=current_user)
            except UserError as error:
                show_service_errors(form, error)
            else:
                db.session.commit()
                flash(_("%(value)s was added.", value=form.value.data.strip()), "success")
                return redirect(url_for("batches.categories") + f"#{kind}")
    lists = {kind: services.category_options(kind) for kind in services.CATEGORY_KINDS}
    return render_template(
        "core/batches/categories.html",
        forms=forms,
        lists=lists,
        kinds=services.CATEGORY_KINDS,
    )


@batches.route("/settings/categories/<int:option_id>", methods=["POST"])
@require("core.settings.manage")
def change_category(option_id):
    option = _option(option_id)
    action, kind = request.form.get("action", ""), option.kind
    try:
        if action == "rename":
            services.rename_option(option, request.form.get("value", ""), actor=current_user)
            message = _("The option was renamed to %(value)s.", value=option.value)
        elif action in ("up", "down"):
            services.move_option(option, action, actor=current_user)
            message = None
        elif action in ("deactivate", "activate"):
            services.set_option_active(option, action == "activate", actor=current_user)
            message = (
                _("%(value)s is offered again.", value=option.value)
                if option.active
                else _("%(value)s is no longer offered.", value=option.value)
            )
        else:
            abort(400)
    except UserError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        if message:
            flash(message, "success")
    return redirect(url_for("batches.categories") + f"#{kind}")
