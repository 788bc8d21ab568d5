"""The workbench (my cases and their queues), the case page's collection panel, the record
and payment-claim forms, and the payment confirmation queue.

Who may work a case is :func:`plugins.collection.access.may_work`: the collector holding it,
their team leader, a manager. Any of three permissions opens the pages that work cases
(``collection.work_own``, ``work_team``, ``work_all``); each case is then checked with
``may_work``, refused (audited) like the guard does.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from flask import abort, flash, redirect, render_template, request, send_from_directory, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy import select
from wtforms import (
    DateField,
    DateTimeLocalField,
    DecimalField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from core import masking
from core.auth.guard import deny
from core.auth.models import User
from core.auth.permissions import public, require
from core.cases.filters import BUCKETS
from core.cases.models import CLAIM, Activity, Case, Payment
from core.cases.panels import Panel
from core.cases.services import CHANNELS, CONTACT_TYPES, work_refusals
from core.clients.models import Contract
from core.errors import UserError
from core.extensions import db
from core.modules import is_enabled
from core.types import agency_zone, utcnow
from core.web.filters import VOCABULARIES
from core.web.forms import choices, show_service_errors
from core.web.paging import Page
from core.web.setup import keep_refusal_on_record
from plugins.collection import payments as claims
from plugins.collection import work
from plugins.collection.access import (
    WORK_PERMISSIONS,
    may_work,
    may_work_something,
    workable_case,
)
from plugins.collection.promises import promises_of_case
from plugins.collection.results import codes_for, result_title, title, titles_for
from plugins.collection.views import collection

PER_PAGE = (20, 50, 100)
MAX_ID = 2**31 - 1
STATIC = Path(__file__).resolve().parent.parent / "static"


@collection.route("/work.css")
@public  # a stylesheet, the same for everyone
def work_stylesheet():
    return send_from_directory(STATIC, "work.css", mimetype="text/css")


# -- helpers ---------------------------------------------------------------------------------------


def _queue_args() -> dict:
    """The workbench context a case page carries, so "next case" continues the same queue."""
    args = {}
    for name in ("queue", "scope", "q", "bucket", "contract", "sort", "dir"):
        value = request.args.get(name, "").strip()
        if value:
            args[name] = value[:64]
    return args


def _local(moment: datetime | None) -> datetime | None:
    """A naive datetime typed in the agency's time, as an aware one."""
    if moment is None:
        return None
    return moment.replace(tzinfo=agency_zone())


def _unmasked(user) -> bool:
    # The core's unmask view (audited) draws the case page with full numbers; the panel
    # follows it, and is masked on every other request.
    return request.endpoint == "cases.unmask" and user.can("core.pii.unmask")


# -- the workbench -------------------------------------------------------------------------------


def _queue_filter(contract_ids: list[int]) -> work.QueueFilter:
    args = request.args
    found = work.QueueFilter()
    found.q = args.get("q", "").strip()[:64]
    bucket = args.get("bucket", "")
    found.bucket = bucket if bucket in BUCKETS else ""
    contract = args.get("contract", "")
    if contract.isdigit() and int(contract) in contract_ids:
        found.contract = int(contract)
    sort = args.get("sort", "")
    found.sort = sort if sort in work.SORTS else ""
    found.dir = "desc" if args.get("dir") == "desc" else "asc"
    return found


def _scope(default: str | None = None) -> str:
    """The scope asked for, if the user has it; else ``default`` or where the user lands
    (:func:`work.default_scope`: a team leader on the team's cases)."""
    allowed = work.scopes_for(current_user)
    if not allowed:
        deny("collection.work_own")
    default = default or work.default_scope(current_user)
    wanted = request.args.get("scope", default)
    if wanted in allowed:
        return wanted
    return default if default in allowed else allowed[0]


def _render_workbench(endpoint: str, default_scope: str | None):
    scope = _scope(default_scope)
    queue = request.args.get("queue", work.NEW)
    queue = queue if queue in work.QUEUES else work.NEW
    contract_ids = work.collection_contract_ids(current_user)
    queues = work.Queues(current_user, scope, _queue_filter(contract_ids))
    per_page = request.args.get("per_page", 50, type=int)
    per_page = per_page if per_page in PER_PAGE else 50
    rows, total, number = queues.page(queue, request.args.get("page", 1, type=int) or 1, per_page)
    contracts = {
        c.id: c for c in db.session.scalars(select(Contract).where(Contract.id.in_(contract_ids)))
    }
    titles = {cid: titles_for(c) for cid, c in contracts.items()}
    latest = work.promises_of([case.id for case, _row in rows], queue, queues.today)
    held = work.held_case_ids([case.id for case, _row in rows])
    now = utcnow()
    items = [
        {
            "case": case,
            "work": row,
            "deadline": work.first_contact_state(row, now),
            "result": result_title(
                titles.get(case.contract_id, {}), row.last_result if row else ""
            ),
            "promise": latest.get(case.id),
            "held": case.id in held,
        }
        for case, row in rows
    ]
    context = {"queue": queue, "scope": scope, **queues.filter.as_args()}
    return render_template(
        "collection/workbench.html",
        endpoint=endpoint,
        page=Page(number, per_page, total, items),
        counts=queues.counts(),
        queues=work.QUEUES,
        queue=queue,
        scope=scope,
        scopes={key: work.SCOPES[key] for key in work.scopes_for(current_user)},
        filter=queues.filter,
        contracts=contracts,
        buckets=BUCKETS,
        per_page=per_page,
        page_sizes=PER_PAGE,
        context=context,
        sorts=_sort_links(endpoint, queues.filter, queue=queue, scope=scope),
    )


def _sort_links(endpoint: str, queue_filter: work.QueueFilter, **keep) -> dict:
    """Each sortable column's link (the page's queue, scope and filter kept) and its order."""
    args = {**request.args.to_dict(), **keep}
    args.pop("page", None)
    links = {}
    for key in work.SORTS:
        current = queue_filter.dir if queue_filter.sort == key else None
        direction = "desc" if current == "asc" else "asc"
        links[key] = (url_for(endpoint, **{**args, "sort": key, "dir": direction}), current)
    return links


@collection.get("/")
@require(*WORK_PERMISSIONS)
def workbench():
    """My cases (a team leader lands on the team's and may switch to their own), by queue."""
    return _render_workbench("collection.workbench", None)


@collection.get("/queues")
@require("collection.work_all")
def queues():
    """The same queues over every case the user may see (managers)."""
    return _render_workbench("collection.queues", work.EVERYONE)


@collection.get("/next")
@require(*WORK_PERMISSIONS)
def next_case():
    """Open the most urgent case of the queue (other than the one just worked) that can be
    worked now: never a paused, closed or settled case, nor one on a complaint hold."""
    scope = _scope()
    queue = request.args.get("queue", work.NEW)
    queue = queue if queue in work.QUEUES else work.NEW
    contract_ids = work.collection_contract_ids(current_user)
    queues = work.Queues(current_user, scope, _queue_filter(contract_ids))
    skip = request.args.get("skip", "")
    case_id = queues.next_case_id(
        queue, skip=int(skip) if skip.isdigit() and len(skip) < 11 else None
    )
    context = {"queue": queue, "scope": scope, **queues.filter.as_args()}
    if case_id is None:
        flash(_("No case left in this queue."), "info")
        endpoint = "collection.queues" if scope == work.EVERYONE else "collection.workbench"
        return redirect(url_for(endpoint, **context))
    return redirect(url_for("cases.detail", case_id=case_id, **context) + "#collection-work")


# -- the record form -----------------------------------------------------------------------------

CHANNEL_TITLES = VOCABULARIES["channel"]
CONTACT_TITLES = VOCABULARIES["contact_type"]


AT_LEAST_A_CENT = _l("The amount must be at least 0.01.")


class RecordForm(FlaskForm):
    at = DateTimeLocalField(
        _l("Time"), format="%Y-%m-%dT%H:%M", validators=[DataRequired()],
        description=_l("When it happened, in the agency's time."),
    )  # fmt: skip
    channel = SelectField(_l("Channel"), validators=[DataRequired()])
    contact_type = SelectField(_l("Contact"), validators=[DataRequired()])
    target = SelectField(_l("Number or address"), validate_choice=True, validators=[Optional()])
    result = SelectField(_l("Result"), validators=[DataRequired()])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])
    follow_up_at = DateTimeLocalField(
        _l("Next follow-up"), format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )
    promise_amount = DecimalField(
        _l("Promised amount"), places=2,
        validators=[Optional(), NumberRange(min=0.01, message=AT_LEAST_A_CENT)],
        description=_l("Required for a promise to pay."),
    )  # fmt: skip
    promise_date = DateField(_l("Promised date"), validators=[Optional()])


def target_options(case: Case, unmasked: bool) -> list[dict]:
    """What a record may name as its number or address: the debtor's phones, the bank's
    contacts, the addresses. Numbers marked do-not-contact are never offered. Options carry
    an id, never the number, so the page holds no unmasked number."""
    show = (lambda v: v) if unmasked else masking.mask_mobile
    phone_kind = VOCABULARIES["phone_kind"]
    options = []
    listed = set()
    for phone in case.phones:
        listed.add(phone.number)
        if phone.status == "do_not_contact":
            continue
        flag = f" · {_('invalid')}" if phone.status == "invalid" else ""
        options.append({"value": f"phone:{phone.id}", "target": phone.number, "name": "",
                        "label": f"{_('Debtor')} · "
                        f"{phone_kind.get(phone.kind, phone.kind)} {show(phone.number)}{flag}"})  # fmt: skip
    if case.mobile and case.mobile not in listed:
        options.append({"value": "mobile", "target": case.mobile, "name": "",
                        "label": f"{_('Debtor')} · {phone_kind['mobile']} {show(case.mobile)}"})  # fmt: skip
    for contact in case.contacts:
        if contact.do_not_contact or not contact.phone:
            continue
        name = contact.name if unmasked else masking.mask_name(contact.name)
        options.append({"value": f"contact:{contact.id}", "target": contact.phone,
                        "name": contact.name,
                        "label": f"{contact.relation or _('Contact')} · {name} "
                        f"{show(contact.phone)}"})  # fmt: skip
    address_kind = VOCABULARIES["address_kind"]
    for address in case.addresses:
        text = address.address if unmasked else address.address[:6] + "****"
        options.append({"value": f"address:{address.id}", "target": address.address, "name": "",
                        "label": f"{_('Address')} · "
                        f"{address_kind.get(address.kind, address.kind)} {text}"})  # fmt: skip
    return options


def record_form(case: Case, unmasked: bool = False, *, panel=False) -> tuple[RecordForm, list]:
    """The record form and its target options; ``panel``: an empty form for the case page
    (whatever that request posted, e.g. the unmask button)."""
    form = RecordForm(formdata=None) if panel else RecordForm()
    # Its ids are prefixed (the case page holds other forms with a "channel" or a "note"), its
    # field names are not: the API, the tests and the browser fill them by name.
    for item in form:
        item.id = item.label.field_id = f"record-{item.name}"
    form.channel.choices = choices((c, CHANNEL_TITLES[c]) for c in CHANNELS)
    form.contact_type.choices = choices((c, CONTACT_TITLES[c]) for c in CONTACT_TYPES)
    options = target_options(case, unmasked)
    form.target.choices = choices(
        [("", _("— none —"))] + [(o["value"], o["label"]) for o in options]
    )
    codes = codes_for(case.contract, active_only=True, create=True)
    form.result.choices = choices([("", _("— choose —"))] + [(c.code, title(c)) for c in codes])
    if (panel or not form.is_submitted()) and form.at.data is None:
        form.at.data = utcnow().astimezone(agency_zone()).replace(tzinfo=None, second=0,
                                                                  microsecond=0)  # fmt: skip
    return form, options


def _save_record(case: Case, form: RecordForm, options: list) -> Activity:
    chosen = next((o for o in options if o["value"] == form.target.data), None)
    return work.record_contact(
        case, current_user, at=_local(form.at.data), channel=form.channel.data,
        contact_type=form.contact_type.data, result=form.result.data,
        target=chosen["target"] if chosen else "", contact_name=chosen["name"] if chosen else "",
        note=form.note.data or "", follow_up_at=_local(form.follow_up_at.data),
        promise_amount=form.promise_amount.data, promise_date=form.promise_date.data,
    )  # fmt: skip


@collection.route("/cases/<int:case_id>/record", methods=["GET", "POST"])
@require(*WORK_PERMISSIONS)
def record(case_id):
    """Record a contact (催记) on a case the user may work; the rules decide if it may be.
    A case they refuse (paused, closed, on a complaint hold …) shows why instead of the form."""
    case = workable_case(case_id, current_user)
    form, options = record_form(case)

    def save():
        entry = _save_record(case, form, options)
        flash(_("Record saved."), "success")
        _flash_complaint(entry)

    return _case_form_page(case, form, "contact", "collection/work_record.html", save)


def _case_form_page(case: Case, form, action: str, template: str, save):
    """A work form of its own page: saved through ``save`` (a service call that flashes what
    it did), then back to the case; a mistake or a rule's refusal shows the form again with
    it, and a case the rules refuse ``action`` on shows why instead of the form."""
    refusals = work_refusals(case, current_user, action)
    status = 200
    if form.validate_on_submit():
        try:
            save()
        except UserError as error:
            show_service_errors(form, error)
            keep_refusal_on_record(error)
            status = error.status_code
        else:
            db.session.commit()
            return redirect(
                url_for("cases.detail", case_id=case.id, **_queue_args()) + "#collection-work"
            )
    elif form.is_submitted():
        status = 409 if refusals else 422
    return (
        render_template(template, case=case, form=form, refusals=refusals, context=_queue_args()),
        status,
    )


def _flash_complaint(entry: Activity) -> None:
    """Say so when the record's result registered a complaint (the case is now on hold)."""
    complaint_id = (entry.data or {}).get("complaint_id")
    if complaint_id:
        flash(
            _("Complaint #%(id)d registered from this record: the case is on hold until a "
              "complaint handler resolves it.", id=complaint_id),
            "info",
        )  # fmt: skip


# -- payment claims ------------------------------------------------------------------------------

PAYMENT_CHANNEL_TITLES = {
    "bank_transfer": _l("bank transfer"),
    "card": _l("card repayment"),
    "alipay": _l("Alipay"),
    "wechat": _l("WeChat Pay"),
    "cash": _l("cash at the bank"),
    "other": _l("other"),
}


class ClaimForm(FlaskForm):
    amount = DecimalField(_l("Amount"), places=2, validators=[
        DataRequired(), NumberRange(min=0.01, message=AT_LEAST_A_CENT)])  # fmt: skip
    paid_on = DateField(_l("Date paid"), validators=[DataRequired()])
    payer = StringField(_l("Payer"), validators=[Optional(), Length(max=120)],
                        description=_l("Who paid, when not the debtor."))  # fmt: skip
    channel = SelectField(_l("Paid through"), validators=[Optional()])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])


def claim_form(*, panel=False) -> ClaimForm:
    # Prefixed: the case panel holds it beside the record form, whose field names it shares.
    form = ClaimForm(formdata=None, prefix="claim") if panel else ClaimForm(prefix="claim")
    form.channel.choices = choices(
        [("", "—")] + [(key, PAYMENT_CHANNEL_TITLES[key]) for key in claims.PAYMENT_CHANNELS]
    )
    if (panel or not form.is_submitted()) and form.paid_on.data is None:
        form.paid_on.data = utcnow().astimezone(agency_zone()).date()
    return form


@collection.route("/cases/<int:case_id>/claim", methods=["GET", "POST"])
@require(*WORK_PERMISSIONS)
def claim(case_id):
    """Record a payment claim (CP) the debtor made; a manager confirms it later."""
    case = workable_case(case_id, current_user)
    form = claim_form()

    def save():
        claims.claim_payment(
            case, current_user, amount=form.amount.data, paid_on=form.paid_on.data,
            payer=form.payer.data or "", channel=form.channel.data or "",
            note=form.note.data or "",
        )  # fmt: skip
        flash(_("Payment claim recorded; it waits for confirmation."), "success")

    return _case_form_page(case, form, "payment_claim", "collection/work_claim.html", save)


# -- the payment confirmation queue --------------------------------------------------------------


@collection.get("/payments")
@require("collection.confirm_payments")
def payments():
    """Pending payment claims of the cases the user may see, oldest first."""
    query = claims.pending_claims_query(current_user)
    total = db.session.scalar(select(db.func.count()).select_from(query.order_by(None).subquery()))
    per_page = 50
    last = max(1, -(-total // per_page))
    number = min(max(1, request.args.get("page", 1, type=int) or 1), last)
    rows = db.session.scalars(query.limit(per_page).offset((number - 1) * per_page)).all()
    recorder_ids = {row.recorded_by_id for row in rows if row.recorded_by_id}
    recorders = {
        user.id: user
        for user in db.session.scalars(select(User).where(User.id.in_(recorder_ids)))
    } if recorder_ids else {}  # fmt: skip
    return render_template(
        "collection/payments.html",
        page=Page(number, per_page, total, rows),
        recorders=recorders,
        channels=PAYMENT_CHANNEL_TITLES,
        may_see_queues=current_user.can("collection.work_all"),
    )


def _handled(payment_id: int, action: str):
    try:
        payment = claims.claim_for(current_user, payment_id)
        if action == "confirm":
            claims.confirm_claim(payment, current_user)
        else:
            claims.reject_claim(payment, current_user, request.form.get("reason", ""))
    except UserError as error:
        db.session.rollback()
        keep_refusal_on_record(error)
        if error.status_code == 404:
            abort(404)
        flash(error.message, "error")
        return redirect(url_for("collection.payments", page=request.args.get("page", 1)))
    db.session.commit()
    serial = payment.case.serial
    if action == "confirm":
        flash(_("Claim on %(serial)s confirmed.", serial=serial), "success")
    else:
        flash(_("Claim on %(serial)s rejected.", serial=serial), "success")
    return redirect(url_for("collection.payments", page=request.args.get("page", 1)))


@collection.post("/payments/<int:payment_id>/confirm")
@require("collection.confirm_payments")
def confirm_payment(payment_id):
    return _handled(payment_id, "confirm")


@collection.post("/payments/<int:payment_id>/reject")
@require("collection.confirm_payments")
def reject_payment(payment_id):
    return _handled(payment_id, "reject")


# -- the case page's panel -----------------------------------------------------------------------


def _latest_by_target(case: Case) -> dict[str, Activity]:
    """Each number's or address's most recent contact record."""
    entries = db.session.scalars(
        select(Activity)
        .where(Activity.case_id == case.id, Activity.kind == "contact", Activity.target != "")
        .order_by(Activity.at.desc(), Activity.id.desc())
        .limit(500)
    )
    latest: dict[str, Activity] = {}
    for entry in entries:
        latest.setdefault(entry.target, entry)
    return latest


#: Timeline entries the panel's "Latest records" lists.
PANEL_KINDS = ("contact", "payment_claim")


def case_panel(case, user):
    """The collection panel: contacts with their latest outcome, the record and claim forms
    (for who may work the case), the latest records, promises and payment claims."""
    if not is_enabled(case.contract, "collection"):
        return None
    unmasked = _unmasked(user)
    workable = may_work(user, case)
    # What the forms would be refused with (a paused or closed case, a complaint hold): said
    # first, and no forms that cannot be sent.
    refusals = work_refusals(case, user, "contact")
    titles = titles_for(case.contract)
    latest = _latest_by_target(case)
    show = (lambda v: v) if unmasked else masking.mask_mobile
    reachable = []
    for phone in case.phones:
        reachable.append({"who": _("Debtor"), "kind": phone.kind, "number": show(phone.number),
                          "status": phone.status, "last": latest.get(phone.number)})  # fmt: skip
    if case.mobile and case.mobile not in {p.number for p in case.phones}:
        reachable.append({"who": _("Debtor"), "kind": "mobile", "number": show(case.mobile),
                          "status": "valid", "last": latest.get(case.mobile)})  # fmt: skip
    for contact in case.contacts:
        name = contact.name if unmasked else masking.mask_name(contact.name)
        reachable.append({"who": f"{contact.relation or _('Contact')} · {name}", "kind": "",
                          "number": show(contact.phone) if contact.phone else "—",
                          "status": "do_not_contact" if contact.do_not_contact else "valid",
                          "last": latest.get(contact.phone) if contact.phone else None})  # fmt: skip
    records = db.session.scalars(
        select(Activity)
        .where(Activity.case_id == case.id, Activity.kind.in_(PANEL_KINDS))
        .order_by(Activity.at.desc(), Activity.id.desc())
        .limit(20)
    ).all()
    claims_ = db.session.scalars(
        select(Payment)
        .filter_by(case_id=case.id, kind=CLAIM)
        .order_by(Payment.created_at.desc(), Payment.id.desc())
    ).all()
    context = _queue_args()
    back_url = back_title = None
    if context.get("queue") in work.QUEUES and may_work_something(user):
        endpoint = "collection.queues" if context.get("scope") == work.EVERYONE else (
            "collection.workbench")  # fmt: skip
        back_url = url_for(endpoint, **context)
        back_title = work.QUEUES[context["queue"]]
    html = render_template(
        "collection/work_panel.html",
        case=case,
        workable=workable,
        refusals=refusals,
        can_work=workable and not refusals,
        back_url=back_url,
        back_title=back_title,
        reachable=reachable,
        records=records,
        promises=promises_of_case(case),
        claims=claims_,
        titles=titles,
        result_title=result_title,
        record_form=record_form(case, unmasked, panel=True)[0]
        if workable and not refusals
        else None,
        claim_form=claim_form(panel=True) if workable and not refusals else None,
        channels=PAYMENT_CHANNEL_TITLES,
        context=context,
        next_url=url_for("collection.next_case", skip=case.id, **context)
        if context.get("queue") and may_work_something(user)
        else None,
        unmasked=unmasked,
    )
    return Panel(_l("Collection"), Markup(html), order=10)


def _first_contact_hint(deadline: dict | None) -> str:
    if deadline is None:
        return ""
    if deadline["overdue"]:
        return _("overdue by %(h)d h %(m)d min", h=deadline["hours"], m=deadline["minutes"])
    return _("%(h)d h %(m)d min left", h=deadline["hours"], m=deadline["minutes"])


@collection.app_template_filter("collection_deadline")
def collection_deadline(deadline):
    return _first_contact_hint(deadline)


PROMISE_STATUSES = {
    "pending": _l("awaiting payment"),
    "kept": _l("kept"),
    "broken": _l("broken"),
    "replaced": _l("replaced by a later promise"),
}


@collection.app_template_filter("collection_promise_status")
def collection_promise_status(status):
    return PROMISE_STATUSES.get(status, status)
