"""The admin area: users, teams, roles, clients, contracts and their modules, the audit log."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, or_, select

from core.audit.models import AuditEntry
from core.auth import services as auth_services
from core.auth.forms import UserForm
from core.auth.models import ApiToken, Role, Team, User
from core.auth.permissions import require
from core.clients import services as client_services
from core.clients.models import Client, Contract
from core.errors import UserError
from core.extensions import db
from core.modules import disable_module, enable_module, installed_modules
from core.plugins import registry
from core.types import agency_zone
from core.web.filters import role_title
from core.web.forms import (
    AuditFilterForm,
    ClientForm,
    ContractForm,
    RoleForm,
    TeamForm,
    choices,
    show_service_errors,
)

admin = Blueprint("admin", __name__, url_prefix="/admin")


def _get_or_404(model, object_id):
    obj = db.session.get(model, object_id)
    if obj is None:
        abort(404)
    return obj


def _page():
    return request.args.get("page", 1, type=int)


# -- users ------------------------------------------------------------------------------------


def _user_form_choices(form: UserForm) -> None:
    from flask import current_app

    roles = db.session.scalars(select(Role).order_by(Role.id))
    form.role.choices = choices((r.id, role_title(r)) for r in roles)
    teams = db.session.scalars(select(Team).order_by(Team.name))
    form.team.choices = choices([(0, "—")] + [(t.id, t.name) for t in teams])
    clients = db.session.scalars(select(Client).order_by(Client.name))
    form.client.choices = choices([(0, "—")] + [(c.id, c.name) for c in clients])
    contracts = db.session.scalars(select(Contract).order_by(Contract.number))
    form.contracts.choices = choices((c.id, f"{c.number} · {c.client.name}") for c in contracts)
    form.locale.choices = choices(current_app.config["LANGUAGES"].items())


def _user_fields(form: UserForm) -> dict:
    return {
        "display_name": form.display_name.data,
        "role": db.session.get(Role, form.role.data),
        "team": db.session.get(Team, form.team.data) if form.team.data else None,
        "client": db.session.get(Client, form.client.data) if form.client.data else None,
        "contracts": [db.session.get(Contract, cid) for cid in form.contracts.data or []],
        "locale": form.locale.data,
    }


@admin.route("/users")
@require("core.users.manage")
def users():
    query = select(User).order_by(User.username)
    search = request.args.get("q", "").strip()
    if search:
        like = f"%{search}%"
        query = query.where(or_(User.username.ilike(like), User.display_name.ilike(like)))
    if request.args.get("role"):
        query = query.join(User.role).where(Role.name == request.args["role"])
    page = db.paginate(query, page=_page(), per_page=50, error_out=False)
    roles = db.session.scalars(select(Role).order_by(Role.id)).all()
    return render_template("core/admin/users.html", page=page, roles=roles, search=search)


@admin.route("/users/new", methods=["GET", "POST"])
@require("core.users.manage")
def new_user():
    form = UserForm()
    _user_form_choices(form)
    if form.validate_on_submit():
        if not form.password.data:
            form.password.errors.append(_("A new user needs a password."))
        else:
            try:
                user = auth_services.create_user(
                    username=form.username.data,
                    password=form.password.data,
                    actor=current_user,
                    **_user_fields(form),
                )
            except UserError as error:
                show_service_errors(form, error)
            else:
                db.session.commit()
                flash(_("User %(name)s was created.", name=user.username), "success")
                return redirect(url_for("admin.users"))
    return render_template("core/admin/user_form.html", form=form, user=None)


@admin.route("/users/<int:user_id>", methods=["GET", "POST"])
@require("core.users.manage")
def edit_user(user_id):
    user = _get_or_404(User, user_id)
    form = UserForm(obj=user)
    _user_form_choices(form)
    if request.method == "GET":
        form.role.data, form.team.data = user.role_id, user.team_id or 0
        form.client.data, form.contracts.data = user.client_id or 0, [c.id for c in user.contracts]
    form.username.data = user.username  # the user name does not change
    if form.validate_on_submit():
        try:
            auth_services.update_user(
                user,
                actor=current_user,
                active=form.active.data,
                password=form.password.data or None,
                **_user_fields(form),
            )
        except UserError as error:
            show_service_errors(form, error)
        else:
            db.session.commit()
            flash(_("User %(name)s was saved.", name=user.username), "success")
            return redirect(url_for("admin.users"))
    tokens = db.session.scalars(
        select(ApiToken).filter_by(user_id=user.id).order_by(ApiToken.created_at.desc())
    ).all()
    return render_template("core/admin/user_form.html", form=form, user=user, tokens=tokens)


@admin.route("/users/<int:user_id>/tokens/<int:token_id>/revoke", methods=["POST"])
@require("core.users.manage")
def revoke_user_token(user_id, token_id):
    token = _get_or_404(ApiToken, token_id)
    if token.user_id != user_id:
        abort(404)
    auth_services.revoke_token(token, current_user)
    db.session.commit()
    flash(_("The token was revoked."), "success")
    return redirect(url_for("admin.edit_user", user_id=user_id))


# -- teams ------------------------------------------------------------------------------------


@admin.route("/teams", methods=["GET", "POST"])
@require("core.users.manage")
def teams():
    form = TeamForm()
    if form.validate_on_submit():
        try:
            auth_services.save_team(None, name=form.name.data, actor=current_user)
        except UserError as error:
            show_service_errors(form, error)
        else:
            db.session.commit()
            flash(_("Team %(name)s was created.", name=form.name.data), "success")
            return redirect(url_for("admin.teams"))
    rows = db.session.execute(
        select(Team, func.count(User.id))
        .outerjoin(User, User.team_id == Team.id)
        .group_by(Team.id)
        .order_by(Team.name)
    ).all()
    return render_template("core/admin/teams.html", form=form, rows=rows)


@admin.route("/teams/<int:team_id>", methods=["GET", "POST"])
@require("core.users.manage")
def edit_team(team_id):
    team = _get_or_404(Team, team_id)
    form = TeamForm(obj=team)
    if form.validate_on_submit():
        try:
            auth_services.save_team(team, name=form.name.data, actor=current_user)
        except UserError as error:
            show_service_errors(form, error)
        else:
            db.session.commit()
            flash(_("Team %(name)s was saved.", name=team.name), "success")
            return redirect(url_for("admin.teams"))
    return render_template("core/admin/team_form.html", form=form, team=team)


# -- roles ------------------------------------------------------------------------------------


@admin.route("/roles", methods=["GET", "POST"])
@require("core.roles.manage")
def roles():
    form = RoleForm()
    if form.validate_on_submit():
        try:
            role = auth_services.create_role(
                name=form.name.data, title=form.title.data, actor=current_user
            )
        except UserError as error:
            show_service_errors(form, error)
        else:
            db.session.commit()
            return redirect(url_for("admin.edit_role", role_id=role.id))
    all_roles = db.session.scalars(select(Role).order_by(Role.id)).all()
    return render_template("core/admin/roles.html", roles=all_roles, form=form)


@admin.route("/roles/<int:role_id>", methods=["GET", "POST"])
@require("core.roles.manage")
def edit_role(role_id):
    role = _get_or_404(Role, role_id)
    permissions = registry().permissions
    if request.method == "POST":
        chosen = {name for name in request.form.getlist("permission") if name in permissions}
        try:
            auth_services.set_role_permissions(role, chosen, current_user)
        except UserError as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            db.session.commit()
            flash(_("The permissions of %(role)s were saved.", role=role_title(role)), "success")
            return redirect(url_for("admin.edit_role", role_id=role.id))
    groups: dict[str, list] = {}
    for permission in sorted(permissions.values(), key=lambda p: p.name):
        groups.setdefault(permission.namespace, []).append(permission)
    return render_template(
        "core/admin/role_form.html", role=role, groups=groups, modules=registry().modules
    )


# -- clients ----------------------------------------------------------------------------------


@admin.route("/clients")
@require("core.clients.manage")
def clients():
    rows = db.session.execute(
        select(Client, func.count(Contract.id))
        .outerjoin(Contract, Contract.client_id == Client.id)
        .group_by(Client.id)
        .order_by(Client.name)
    ).all()
    return render_template("core/admin/clients.html", rows=rows)


@admin.route("/clients/new", methods=["GET", "POST"])
@admin.route("/clients/<int:client_id>", methods=["GET", "POST"])
@require("core.clients.manage")
def edit_client(client_id=None):
    client = _get_or_404(Client, client_id) if client_id else None
    form = ClientForm(obj=client)
    if form.validate_on_submit():
        try:
            client = client_services.save_client(
                client,
                name=form.name.data,
                code=form.code.data,
                notes=form.notes.data,
                actor=current_user,
            )
        except UserError as error:
            show_service_errors(form, error)
        else:
            db.session.commit()
            flash(_("Client %(name)s was saved.", name=client.name), "success")
            return redirect(url_for("admin.clients"))
    return render_template("core/admin/client_form.html", form=form, client=client)


# -- contracts and modules ----------------------------------------------------------------------


@admin.route("/contracts")
@require("core.contracts.manage")
def contracts():
    query = select(Contract).join(Contract.client).order_by(Contract.number)
    if request.args.get("client", type=int):
        query = query.where(Contract.client_id == request.args.get("client", type=int))
    page = db.paginate(query, page=_page(), per_page=50, error_out=False)
    return render_template("core/admin/contracts.html", page=page, modules=registry().modules)


@admin.route("/contracts/new", methods=["GET", "POST"])
@admin.route("/contracts/<int:contract_id>", methods=["GET", "POST"])
@require("core.contracts.manage")
def edit_contract(contract_id=None):
    contract = _get_or_404(Contract, contract_id) if contract_id else None
    form = ContractForm(obj=contract)
    clients = db.session.scalars(select(Client).order_by(Client.name))
    form.client.choices = choices((c.id, f"{c.name} ({c.code})") for c in clients)
    if request.method == "GET":
        if contract is not None:
            form.client.data = contract.client_id
            form.commission_percent.data = contract.commission_rate * 100
        else:
            form.contact_start.data, form.contact_end.data = time(8, 0), time(22, 0)
    if form.validate_on_submit():
        try:
            contract = client_services.save_contract(
                contract,
                number=form.number.data,
                actor=current_user,
                client=db.session.get(Client, form.client.data),
                start_date=form.start_date.data,
                end_date=form.end_date.data,
                timezone=form.timezone.data.strip(),
                contact_start=form.contact_start.data,
                contact_end=form.contact_end.data,
                commission_rate=(form.commission_percent.data or Decimal(0)) / 100,
                notes=form.notes.data or "",
            )
        except UserError as error:
            show_service_errors(form, error)
        else:
            db.session.commit()
            flash(_("Contract %(number)s was saved.", number=contract.number), "success")
            return redirect(url_for("admin.edit_contract", contract_id=contract.id))
    return render_template(
        "core/admin/contract_form.html",
        form=form,
        contract=contract,
        modules=installed_modules(),
        registry=registry(),
    )


@admin.route("/contracts/<int:contract_id>/modules/<name>/<any(on, off):switch>", methods=["POST"])
@require("core.modules.manage")
def switch_module(contract_id, name, switch):
    contract = _get_or_404(Contract, contract_id)
    try:
        if switch == "on":
            switched = enable_module(contract, name, current_user)
            titles = ", ".join(str(registry().modules[m].title) for m in switched)
            if switched:
                flash(_("Switched on: %(modules)s.", modules=titles), "success")
        else:
            disable_module(contract, name, current_user)
            flash(_("Switched off: %(module)s.", module=registry().modules[name].title), "success")
    except UserError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
    return redirect(url_for("admin.edit_contract", contract_id=contract.id) + "#modules")


# -- audit log --------------------------------------------------------------------------------


@admin.route("/audit")
@require("core.audit.view")
def audit():
    form = AuditFilterForm(request.args)
    query = select(AuditEntry).order_by(AuditEntry.id.desc())
    if form.validate():
        if form.username.data:
            query = query.where(AuditEntry.username.ilike(f"%{form.username.data.strip()}%"))
        if form.action.data:
            query = query.where(AuditEntry.action.ilike(f"{form.action.data.strip()}%"))
        if form.object_type.data:
            query = query.where(AuditEntry.object_type == form.object_type.data.strip())
        if form.outcome.data:
            query = query.where(AuditEntry.outcome == form.outcome.data)
        if form.date_from.data:
            start = datetime.combine(form.date_from.data, time(0), tzinfo=agency_zone())
            query = query.where(AuditEntry.at >= start)
        if form.date_to.data:
            end = datetime.combine(form.date_to.data, time(0), tzinfo=agency_zone()) + timedelta(
                days=1
            )
            query = query.where(AuditEntry.at < end)
    page = db.paginate(query, page=_page(), per_page=100, error_out=False)
    return render_template("core/admin/audit.html", form=form, page=page)
