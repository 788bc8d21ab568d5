"""Allocation pages (分案, 调案): the case list to allocate from, the preview of a strategy's
plan, its commit, and giving cases directly to a collector or team or back to the pool."""

from __future__ import annotations

from urllib.parse import parse_qsl

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import func, literal_column, select
from werkzeug.datastructures import MultiDict

from core.auth.models import User
from core.auth.permissions import require
from core.batches.models import Batch, CategoryOption
from core.batches.services import AREA, BATCH_STATUSES
from core.cases.filters import BUCKETS, COUNT_CAP, FIELD_TITLES, CaseFilter, row_columns
from core.cases.models import STATUSES, Case
from core.clients.models import Client, Contract
from core.clients.services import can_see_contract
from core.errors import UserError
from core.extensions import db
from core.jobs.services import own_job, status
from core.masking import mask_id, mask_name
from core.modules import require_module
from core.web.filters import CASE_STATUSES
from core.web.paging import Page
from core.web.setup import keep_refusal_on_record
from plugins.collection import allocation as service
from plugins.collection.views import collection

PAGE_SIZES = (20, 50, 100, 200)
MAX_ID = 2**31 - 1


def _holder_arg(args):
    """The holder filter: "" any, "pool" nobody, or a user's id."""
    value = (args.get("holder") or "").strip()
    if value == service.POOL:
        return service.POOL
    if value.isdigit() and 0 < int(value) <= MAX_ID:
        return int(value)
    return None


def _checked_filter(scope, args) -> CaseFilter:
    """The case list's filter; a contract outside the user's sight, or without the collection
    module, is a 404 here (this page does not exist for it)."""
    case_filter = CaseFilter.from_args(args)
    if case_filter.contract is not None and case_filter.contract not in scope.contract_ids:
        contract = db.session.get(Contract, case_filter.contract)
        if contract is None or not can_see_contract(current_user, contract):
            abort(404)
        require_module(contract, service.MODULE)
    return case_filter


def _page(scope, case_filter, holder, page: int, per_page: int) -> Page:
    conditions = service.case_conditions(scope, case_filter, holder)
    capped = select(literal_column("1")).select_from(Case).where(*conditions).limit(COUNT_CAP + 1)
    counted = db.session.scalar(select(func.count()).select_from(capped.subquery()))
    exact = counted <= COUNT_CAP
    total = counted if exact else COUNT_CAP
    if exact:
        page = min(page, max(1, -(-total // per_page)))
    ids = (
        select(Case.id)
        .where(*conditions)
        .order_by(*case_filter.order_by())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    rows = db.session.execute(
        select(*row_columns(), Case.contract_id)
        .select_from(Case)
        .outerjoin(Batch, Batch.id == Case.batch_id)
        .join(Contract, Contract.id == Case.contract_id)
        .join(Client, Client.id == Contract.client_id)
        .outerjoin(User, User.id == Case.holder_id)
        .where(Case.id.in_(ids.scalar_subquery()))
        .order_by(*case_filter.order_by())
    ).all()
    return Page(page, per_page, total, rows, exact=exact)


def _render_index(args, *, form=None, error: UserError | None = None):
    scope = service.scope_for(current_user)
    case_filter = _checked_filter(scope, args)
    holder = _holder_arg(args)
    per_page = args.get("per_page", 50, type=int)
    per_page = per_page if per_page in PAGE_SIZES else 50
    page_no = min(max(args.get("page", 1, type=int) or 1, 1), MAX_ID)
    page = _page(scope, case_filter, holder, page_no, per_page)
    contracts = db.session.scalars(service.allocatable_contracts_query(current_user)).all()
    areas = db.session.scalars(
        select(Case.area)
        .distinct()
        .where(*service.case_conditions(scope, case_filter, holder))
        .order_by(Case.area)
        .limit(100)
    ).all()
    query = _query_string(args)
    return (
        render_template(
            "collection/allocation.html",
            page=page,
            filter=case_filter,
            holder=holder,
            query=query,
            per_page=per_page,
            page_sizes=PAGE_SIZES,
            contracts=contracts,
            clients=sorted({c.client for c in contracts}, key=lambda c: c.name),
            statuses={key: CASE_STATUSES[key] for key in STATUSES},
            batch_statuses=BATCH_STATUSES,
            buckets=BUCKETS,
            areas=areas,
            collectors=db.session.scalars(service.collectors_query(scope)).all(),
            teams=db.session.scalars(service.teams_query(scope)).all(),
            strategies=service.STRATEGIES,
            bases=service.BASES,
            area_modes=service.AREA_MODES,
            scope=scope,
            form=form or MultiDict(),
            error=error,
            area_choices=_area_choices(areas),
            posted_areas=dict(
                zip(
                    (form or MultiDict()).getlist("area_name"),
                    (form or MultiDict()).getlist("area_team"),
                    strict=False,
                )
            ),
            sorts=_sort_links(case_filter, args),
        ),
        error.status_code if error is not None else 200,
    )


def _area_choices(found) -> list[str]:
    """The areas of the category settings, then any other area the cases carry."""
    configured = db.session.scalars(
        select(CategoryOption.value)
        .filter_by(kind=AREA)
        .order_by(CategoryOption.position, CategoryOption.id)
    ).all()
    return list(dict.fromkeys([*configured, *(a for a in found if a)]))


def _query_string(args) -> str:
    from urllib.parse import urlencode

    pairs = [(k, v) for k, v in args.items(multi=True) if k != "page" and v != ""]
    return urlencode(pairs)


def _sort_links(case_filter: CaseFilter, args) -> dict:
    plain = {k: v for k, v in args.items() if k != "page"}
    links = {}
    for key in ("serial", "name", "amount", "balance", "days", "bucket", "entrust_date", "status"):
        current = case_filter.dir if case_filter.sort == key else None
        direction = "desc" if current == "asc" else "asc"
        url = url_for("collection.allocation_index", **{**plain, "sort": key, "dir": direction})
        links[key] = (url, current)
    return links


@collection.route("/allocation/")
@require("collection.allocate")
def allocation_index():
    return _render_index(request.args)


# -- posted forms ------------------------------------------------------------------------------


def _posted_args() -> MultiDict:
    """The list's filter a form carries in its ``query`` field (the page's query string)."""
    return MultiDict(parse_qsl(request.form.get("query", "")))


def _back(args: MultiDict):
    return redirect(url_for("collection.allocation_index") + ("?" + _query_string(args)))


def _choice(scope, args) -> service.Choice:
    if request.form.get("scope") == "all":
        return service.Choice(case_filter=_checked_filter(scope, args), holder=_holder_arg(args))
    chosen = [int(v) for v in request.form.getlist("case") if v.isdigit() and len(v) < 11]
    if not chosen:
        raise UserError(_("Select cases first, or choose the whole filter result."))
    return service.Choice(case_ids=chosen)


def _target(value: str) -> tuple[int | None, int | None]:
    """``user:<id>``, ``team:<id>`` or ``pool`` → (collector id, team id)."""
    kind, _sep, ident = value.partition(":")
    if kind == service.POOL and not ident:
        return None, None
    if kind in ("user", "team") and ident.isdigit() and 0 < int(ident) <= MAX_ID:
        return (int(ident), None) if kind == "user" else (None, int(ident))
    raise UserError(_("Choose whom to give the cases to."), fields={"target": [_("Required.")]})


def _refused(args, error: UserError):
    """A refusal re-renders the page with its message (kept on record if it is audited)."""
    db.session.rollback()
    keep_refusal_on_record(error)
    return _render_index(args, form=request.form, error=error)


def _done_text(plan, changed: int) -> str:
    """What the commit did in a sentence: allocated, or (a recall) returned to the pool."""
    params = plan.params or {}
    recall = plan.strategy == service.MANUAL and params.get("collector") is None
    if recall and params.get("team") is None:
        if plan.assignments and plan.assignments[0][2] is not None:  # a team leader's recall
            return ngettext(
                "%(num)d case returned to your team's pool.",
                "%(num)d cases returned to your team's pool.",
                changed,
            )
        return ngettext(
            "%(num)d case returned to the pool.", "%(num)d cases returned to the pool.", changed
        )
    return ngettext("%(num)d case allocated.", "%(num)d cases allocated.", changed)


def _flash_result(plan, result: service.Result) -> None:
    flash(_done_text(plan, result.changed), "success" if result.changed else "info")
    if result.unchanged:
        flash(
            ngettext(
                "%(num)d case was already there.",
                "%(num)d cases were already there.",
                result.unchanged,
            ),
            "info",
        )
    if result.skipped:
        details = "; ".join(f"{n} × {why}" for why, n in sorted(result.skipped.items()))
        flash(_("%(num)d skipped: %(details)s.", num=result.skipped_total, details=details), "info")


def _commit(plan):
    """Commit at once, or past the inline limit as a job whose page shows the progress."""
    if service.needs_job(plan):
        db.session.commit()
        job = service.start_commit_job(plan, current_user)
        return redirect(url_for("collection.allocation_job", job_id=job.id))
    result = service.commit_plan(plan, current_user)
    db.session.commit()
    _flash_result(plan, result)
    return None


@collection.route("/allocation/assign", methods=["POST"])
@require("collection.allocate")
def allocation_assign():
    """Give the chosen cases to one collector, a team's pool, or back to the pool, at once."""
    args = _posted_args()
    scope = service.scope_for(current_user)
    try:
        collector, team = _target(request.form.get("target", ""))
        plan = service.plan_direct(
            current_user,
            _choice(scope, args),
            collector=collector,
            team=team,
            reason=request.form.get("reason", ""),
        )
        plan.params = {**plan.params, "query": _query_string(args)}
        return _commit(plan) or _back(args)
    except UserError as error:
        if error.status_code == 404:
            raise
        return _refused(args, error)


@collection.route("/allocation/preview", methods=["POST"])
@require("collection.allocate")
def allocation_preview():
    """Compute a strategy's plan for the chosen cases and show it before anything changes."""
    args = _posted_args()
    scope = service.scope_for(current_user)
    form = request.form
    areas = {
        name: team
        for name, team in zip(form.getlist("area_name"), form.getlist("area_team"), strict=False)
        if team.isdigit()
    }
    try:
        plan = service.preview(
            current_user,
            form.get("strategy", ""),
            _choice(scope, args),
            collectors=[int(v) for v in form.getlist("collector") if v.isdigit() and len(v) < 11],
            areas={k: int(v) for k, v in areas.items() if len(v) < 11},
            area_mode=form.get("area_mode", service.TO_POOL),
            basis=form.get("basis", service.DEFAULT_BASIS),
            reason=form.get("reason", ""),
        )
    except UserError as error:
        if error.status_code == 404:
            raise
        return _refused(args, error)
    plan.params = {**plan.params, "query": _query_string(args)}
    db.session.commit()
    return redirect(url_for("collection.allocation_plan", plan_id=plan.id))


def _own_plan(plan_id: int):
    if not 0 < plan_id <= MAX_ID:
        abort(404)
    try:
        return service.own_plan(plan_id, current_user)
    except UserError:
        abort(404)


def _search_shown(value: str) -> str:
    """A search term as the plan page shows it: a number or a name masked, unless the user
    may unmask."""
    if current_user.can("core.pii.unmask"):
        return value
    if sum(ch.isdigit() for ch in value) >= 7:
        return mask_id(value)
    if any("\u4e00" <= ch <= "\u9fff" for ch in value):
        return mask_name(value)
    return value


def _chosen_filter(plan) -> list[tuple[str, str]]:
    """The case filter a plan was made from, as the case list names it: (label, value)."""
    args = dict((plan.params.get("cases") or {}).get("filter") or {})
    shown = []
    for name, title in FIELD_TITLES.items():
        value = args.get(name)
        if value in (None, "") or name in ("sort", "dir"):
            continue
        if name == "q":
            value = _search_shown(value)
        elif name == "status":
            value = CASE_STATUSES.get(value, value)
        elif name == "batch_status":
            value = BATCH_STATUSES.get(value, value)
        elif name in ("contract", "client", "batch") and str(value).isdigit():
            model, column = {
                "contract": (Contract, Contract.number),
                "client": (Client, Client.name),
                "batch": (Batch, Batch.batch_no),
            }[name]
            found = db.session.scalar(select(column).where(model.id == int(value)))
            value = found if found is not None else f"#{value}"
        shown.append((str(title), str(value)))
    holder = args.get("holder")
    if holder == service.POOL:
        shown.insert(0, (_("Holder"), _("in the pool")))
    elif holder and str(holder).isdigit():
        name = db.session.scalar(select(User.display_name).where(User.id == int(holder)))
        shown.insert(0, (_("Holder"), name if name is not None else f"#{holder}"))
    return shown


def _result_rows(plan, result) -> list[dict]:
    """Per target of the plan, what the commit did (planned, allocated, already there,
    skipped by reason), named as in the preview."""
    targets = (result or {}).get("targets")
    if targets is None:
        return []
    rows = []
    for row in plan.params.get("summary", {}).get("rows", []):
        if row["key"] in targets:
            named = {"name": row["name"], "team": row.get("team", ""), "kind": row.get("kind")}
            rows.append({**targets[row["key"]], "key": row["key"], **named})
    return rows


def _render_plan(plan, status_code: int = 200, error: UserError | None = None):
    job_id = plan.params.get("job")
    job = own_job(job_id, current_user, service.ALLOCATION_JOB) if job_id else None
    result = plan.params.get("result")
    return (
        render_template(
            "collection/allocation_plan.html",
            plan=plan,
            summary=plan.params.get("summary", {}),
            result=result,
            result_rows=_result_rows(plan, result),
            done_text=_done_text(plan, result["changed"]) if result else "",
            chosen_filter=_chosen_filter(plan),
            job=job,
            error=error,
            titles=service.STRATEGY_TITLES,
            bases=service.BASES,
            area_modes=service.AREA_MODES,
            back=url_for("collection.allocation_index") + "?" + plan.params.get("query", ""),
        ),
        status_code,
    )


@collection.route("/allocation/plans/<int:plan_id>")
@require("collection.allocate")
def allocation_plan(plan_id):
    return _render_plan(_own_plan(plan_id))


@collection.route("/allocation/plans/<int:plan_id>/commit", methods=["POST"])
@require("collection.allocate")
def allocation_commit(plan_id):
    plan = _own_plan(plan_id)
    try:
        redirected = _commit(plan)
    except UserError as error:
        db.session.rollback()
        keep_refusal_on_record(error)
        return _render_plan(_own_plan(plan_id), error.status_code, error)
    return redirected or redirect(url_for("collection.allocation_plan", plan_id=plan_id))


def _own_allocation_job(job_id: str):
    job = own_job(job_id, current_user, service.ALLOCATION_JOB)
    if job is None:
        abort(404)
    return job


@collection.route("/allocation/jobs/<job_id>")
@require("collection.allocate")
def allocation_job(job_id):
    job = _own_allocation_job(job_id)
    state = status(job)
    changed = (state.get("result") or {}).get("changed")
    plan = _own_plan(job.params["plan_id"]) if changed is not None else None
    return render_template(
        "collection/allocation_job.html",
        job=job,
        state=state,
        plan_id=job.params["plan_id"],
        done_text=_done_text(plan, changed) if plan is not None else "",
    )


@collection.route("/allocation/jobs/<job_id>/status")
@require("collection.allocate")
def allocation_job_status(job_id):
    return jsonify(status(_own_allocation_job(job_id)))
