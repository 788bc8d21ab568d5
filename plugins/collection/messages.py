"""Letters and SMS: templates with merge fields, rendering, sending through the gateway hook.

A template's body names merge fields in braces (``尊敬的{name}，您尾号{card_tail}的卡…``);
``{{`` and ``}}`` are literal braces. Only the fields of :data:`MERGE_FIELDS` exist: a template
naming another is refused when saved, with the unknown names listed.

What a message may disclose: it may be read by someone other than the debtor (a shared
phone, a letter opened by family), so every personal value is masked the way the core masks
it on screen: the name keeps only the family name (``李**``), the card its first six and last
four digits, the ID its first three and last four, the mobile ``138****1234``. No merge field
gives a full number or a full name.

Sending an SMS records it on the case's timeline first, through the core's
``record_activity``: the compliance gate (contact window, do-not-contact …) refuses it there
and nothing is stored. Then the message goes to the outbox and to the ``send_sms`` hook; the
module's own gateway (last in line) keeps it in the outbox, queued.
"""

from __future__ import annotations

import logging
import re
import string
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from core import masking
from core.audit.services import record
from core.cases.models import Activity, Case
from core.cases.services import (
    CaseRefused,
    can_see_case,
    ensure_contact_allowed,
    ensure_workable,
    record_activity,
    work_refusals,
)
from core.clients.services import can_see_contract
from core.errors import Conflict, InvalidInput, NotAllowed, UserError
from core.extensions import db
from core.messaging import FAILED, QUEUED, SENT, SmsMessage, SmsReceipt
from core.modules import is_enabled
from core.plugins import hooks_for
from core.types import agency_zone, utcnow
from plugins.collection.access import may_work
from plugins.collection.compliance import settings_for
from plugins.collection.models import LETTER, SMS, MessageTemplate, OutboxMessage

log = logging.getLogger(__name__)

CHANNELS = {LETTER: _l("Letter"), SMS: _l("SMS")}

#: Every merge field, in the order the editor lists them, with what it is replaced by.
MERGE_FIELDS: dict[str, object] = {
    "name": _l("The debtor's name, masked: the family name only (李**)"),
    "surname": _l("The debtor's family name (李), for a salutation such as {surname}先生/女士"),
    "serial": _l("The case serial no."),
    "card_tail": _l("The last four digits of the card"),
    "card_masked": _l("The card number, masked (622202******1234)"),
    "id_masked": _l("The ID number, masked (110***********1234)"),
    "mobile_masked": _l("The debtor's mobile, masked (138****1234)"),
    "balance": _l("The balance still owed, as money (¥1,234.56)"),
    "entrusted_amount": _l("The entrusted amount, as money"),
    "overdue_date": _l("The date the account went overdue (YYYY-MM-DD)"),
    "today": _l("Today's date in the agency's time zone (YYYY-MM-DD)"),
    "agency_name": _l("The agency's name (the contract's collection settings)"),
    "agency_phone": _l("The agency's phone number (the contract's collection settings)"),
    "contract": _l("The contract number"),
    "client": _l("The client's name"),
}

#: An SMS longer than this is several messages to the debtor; longer texts belong in letters.
SMS_MAX_LENGTH = 300
LETTER_MAX_LENGTH = 20_000

#: Timeline results of a message, by what became of it.
SMS_RESULTS = {SENT: "sms_sent", QUEUED: "sms_queued", FAILED: "sms_failed"}
LETTER_RESULT = "letter_printed"

#: Letters at most in one printed document: each is a record on a case, written at once.
MAX_LETTERS = 500


# -- merge fields ------------------------------------------------------------------------------


def _parts(text: str):
    """``(literal, field name or None)`` pairs of ``text``; raises ValueError on bad braces."""
    for literal, name, spec, conversion in string.Formatter().parse(text):
        # A format spec or conversion ({name!r}, {balance:>10}) is not a merge field: naming
        # it as unknown keeps templates to plain names (and away from str.format's reach).
        if name is not None and (spec or conversion):
            name = "{" + name + ("!" + conversion if conversion else "") + ":" + spec + "}"
        yield literal, name


def fields_in(text: str) -> list[str]:
    """The merge fields ``text`` names, in order of first use."""
    found: list[str] = []
    for _literal, name in _parts(text):
        if name is not None and name not in found:
            found.append(name)
    return found


def field_errors(text: str) -> list[str]:
    """Why ``text`` is not a valid template text (empty: it is)."""
    try:
        names = fields_in(text)
    except ValueError:
        return [_("A brace is not closed or not opened; write {{ and }} for a literal brace.")]
    unknown = [name or "{}" for name in names if name not in MERGE_FIELDS]
    if unknown:
        return [
            _(
                "Unknown merge fields: %(names)s. See the list of merge fields.",
                names=", ".join("{" + n.strip("{}") + "}" for n in unknown),
            )
        ]
    return []


def agency_today() -> date:
    return utcnow().astimezone(agency_zone()).date()


def money(value) -> str:
    return "" if value is None else f"¥{Decimal(value):,.2f}"


def merge_values(case, today: date | None = None) -> dict[str, str]:
    """What each merge field says for ``case``: masked numbers, money, ISO dates."""
    contract = case.contract
    settings = settings_for(contract)
    name = case.name or ""
    return {
        "name": masking.mask_name(name),
        "surname": name[:1],
        "serial": case.serial or "",
        "card_tail": (case.card_no or "")[-4:],
        "card_masked": masking.mask_card(case.card_no or ""),
        "id_masked": masking.mask_id(case.id_no or ""),
        "mobile_masked": masking.mask_mobile(case.mobile or ""),
        "balance": money(case.balance),
        "entrusted_amount": money(case.entrusted_amount),
        "overdue_date": case.overdue_date.isoformat() if case.overdue_date else "",
        "today": (today or agency_today()).isoformat(),
        "agency_name": settings.agency_name if settings else "",
        "agency_phone": settings.agency_phone if settings else "",
        "contract": contract.number,
        "client": contract.client.name,
    }


def fill(text: str, values: dict[str, str]) -> str:
    """``text`` with each merge field replaced (fields were checked when the template was saved;
    one that is no longer known is left as written)."""
    out = []
    for literal, name in _parts(text):
        out.append(literal)
        if name is not None:
            out.append(values.get(name, "{" + name + "}"))
    return "".join(out)


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


def render(template: MessageTemplate, case, today: date | None = None) -> Rendered:
    values = merge_values(case, today)
    return Rendered(fill(template.subject or "", values), fill(template.body, values))


def sample_case(contract):
    """A made-up debtor to preview a template with when no case is chosen; never stored."""
    return SimpleNamespace(
        contract=contract,
        name="张三丰",
        serial="SAMPLE-000001",
        card_no="6222021234567890123",
        id_no="320102198001011234",
        mobile="13812345678",
        balance=Decimal("12345.60"),
        entrusted_amount=Decimal("15000.00"),
        overdue_date=date(2025, 12, 1),
    )


# -- templates ---------------------------------------------------------------------------------


def module_contracts(user):
    """The contracts ``user`` may see that have the collection module on."""
    from core.clients.models import Contract
    from core.clients.services import visible_contracts_query

    query = visible_contracts_query(user).where(Contract.module_rows.any(module="collection"))
    return db.session.scalars(query).all()


def may_manage(user, contract) -> bool:
    return (
        user.can("collection.manage_templates")
        and can_see_contract(user, contract)
        and is_enabled(contract, "collection")
    )


def save_template(
    template: MessageTemplate | None,
    *,
    contract,
    channel: str,
    name: str,
    body: str,
    subject: str = "",
    active: bool = True,
    user,
) -> MessageTemplate:
    """Create (``template=None``) or change a template; every field error is listed at once."""
    if not may_manage(user, contract):
        raise NotAllowed(_("You may not edit the templates of this contract."))
    name, subject, body = (name or "").strip(), (subject or "").strip(), (body or "").strip()
    errors: dict[str, list[str]] = {}
    if channel not in CHANNELS:
        errors["channel"] = [_("Choose letter or SMS.")]
    if not name:
        errors["name"] = [_("Required.")]
    elif len(name) > 120:
        errors["name"] = [_("At most %(n)d characters.", n=120)]
    limit = SMS_MAX_LENGTH if channel == SMS else LETTER_MAX_LENGTH
    if not body:
        errors["body"] = [_("Required.")]
    elif len(body) > limit:
        errors["body"] = [_("At most %(n)d characters.", n=limit)]
    else:
        errors.update({"body": found} if (found := field_errors(body)) else {})
    if channel == LETTER:
        if len(subject) > 200:
            errors["subject"] = [_("At most %(n)d characters.", n=200)]
        elif found := field_errors(subject):
            errors["subject"] = found
    else:
        subject = ""  # an SMS has no title
    if errors:
        raise InvalidInput(
            _("The template was not saved; see the messages by field."), fields=errors
        )
    same_name = select(MessageTemplate.id).where(
        MessageTemplate.contract_id == contract.id,
        MessageTemplate.channel == channel,
        MessageTemplate.name == name,
    )
    if template is not None:
        same_name = same_name.where(MessageTemplate.id != template.id)
    clash = db.session.scalar(same_name.limit(1))
    if clash:
        taken = _(
            "This contract already has a template named %(name)s (%(kind)s); choose another name.",
            kind=CHANNELS[channel],
            name=name,
        )
        raise Conflict(taken, fields={"name": [taken]})
    created = template is None
    if created:
        template = MessageTemplate(contract_id=contract.id)
        db.session.add(template)
    template.channel, template.name, template.subject = channel, name, subject
    template.body, template.active, template.updated_by_id = body, bool(active), user.id
    db.session.flush()
    record(
        "collection.template_created" if created else "collection.template_changed",
        obj=template,
        user=user,
        details={"contract": contract.id, "channel": channel, "name": name, "active": active},
    )
    return template


#: (channel, name, subject, body): the templates a contract starts with when the module is
#: switched on, in the debtors' language; the agency edits or deactivates them.
DEFAULT_TEMPLATES = (
    (
        SMS,
        "还款提醒",
        "",
        (
            "{surname}先生/女士您好：您在{client}尾号{card_tail}的账户已逾期，尚欠{balance}，"
            "请尽快还款。如已还款请忽略。咨询请致电{agency_name} {agency_phone}。"
        ),
    ),
    (
        LETTER,
        "还款通知书",
        "还款通知书",
        (
            "尊敬的{name}：\n\n您在{client}的账户（卡号{card_masked}）已于{overdue_date}逾期，"
            "截至{today}尚欠{balance}。请于收到本通知之日起七日内还款，或致电{agency_phone}与我司"
            "协商还款安排。\n\n如您已还款，请忽略本通知。\n\n{agency_name}\n{today}"
        ),
    ),
)


def ensure_default_templates(contract) -> None:
    """Give a contract without templates the starter ones (system-made, not audited)."""
    if db.session.scalar(select(MessageTemplate.id).filter_by(contract_id=contract.id).limit(1)):
        return
    for channel, name, subject, body in DEFAULT_TEMPLATES:
        db.session.add(
            MessageTemplate(
                contract_id=contract.id, channel=channel, name=name, subject=subject, body=body
            )
        )
    db.session.flush()


def templates_for(contract, channel: str | None = None, *, active_only: bool = False):
    query = select(MessageTemplate).filter_by(contract_id=contract.id)
    if channel:
        query = query.filter_by(channel=channel)
    if active_only:
        query = query.filter_by(active=True)
    return db.session.scalars(query.order_by(MessageTemplate.name)).all()


def usable_template(template_id, case, channel: str) -> MessageTemplate:
    """An active template of ``case``'s contract and this channel, or a field error."""
    template = db.session.get(MessageTemplate, template_id) if template_id else None
    if (
        template is None
        or template.contract_id != case.contract_id
        or template.channel != channel
        or not template.active
    ):
        raise InvalidInput(
            _("Choose an active template of this case's contract."),
            fields={"template": [_("Choose an active template of this case's contract.")]},
        )
    return template


# -- SMS ---------------------------------------------------------------------------------------


def _digits(value: str) -> str:
    return "".join(ch for ch in value or "" if ch.isdigit())


#: What an SMS can reach: a mainland mobile number, 11 digits starting with 1.
MOBILE_NUMBER = re.compile(r"1\d{10}")


def _mobile_digits(value: str) -> str:
    digits = _digits(value)
    return digits[2:] if len(digits) == 13 and digits.startswith("86") else digits


def sms_numbers(case: Case) -> list[tuple[str, str]]:
    """``(key, number)`` for each of the debtor's mobile numbers a message may go to: the
    case's mobile and the listed phones of kind ``mobile`` whose status is valid, never a
    landline (home, work), nor a number marked invalid or do-not-contact (on the case's
    phones, or a contact with that number).

    The key (``m`` for the case's mobile, ``p<id>`` for a listed phone) is what forms send,
    so a full number never travels in a page's address.
    """
    blocked = {_digits(p.number) for p in case.phones if p.status != "valid"}
    blocked |= {_digits(c.phone) for c in case.contacts if c.do_not_contact and c.phone}
    candidates = [(f"p{p.id}", p.number) for p in case.phones if p.kind == "mobile"]
    if case.mobile and not any(_digits(case.mobile) == _digits(p.number) for p in case.phones):
        candidates.insert(0, ("m", case.mobile))
    seen, usable = set(), []
    for key, number in candidates:
        digits = _digits(number)
        if (
            MOBILE_NUMBER.fullmatch(_mobile_digits(number))
            and digits not in blocked
            and digits not in seen
        ):
            seen.add(digits)
            usable.append((key, number))
    return usable


def resolve_number(case: Case, value: str) -> str:
    """The number a form's key or an API's number names, if a message may go to it."""
    value = (value or "").strip()
    for key, number in sms_numbers(case):
        if value in (key, number):
            return number
    raise InvalidInput(
        _("Choose one of the debtor's numbers that may be contacted."),
        fields={"number": [_("Choose one of the debtor's numbers that may be contacted.")]},
    )


def agency_name(contract) -> str:
    """The name an SMS is signed with (the contract's collection settings), or ``""``."""
    settings = settings_for(contract)
    return (settings.agency_name or "").strip() if settings else ""


def no_agency_name_text() -> str:
    return _(
        "No agency name is set for this contract: an SMS must be signed with it. Set the "
        "agency name in the collection settings first."
    )


def ensure_may_work(user, case) -> None:
    if not may_work(user, case):
        raise NotAllowed(_("You may not work this case."))


def send_sms(case: Case, *, template_id, number: str, user, at: datetime | None = None):
    """Send one SMS from ``template_id`` to ``number`` (a number of :func:`sms_numbers`, or
    its key) of ``case``'s debtor; returns the outbox row.

    Raises :class:`~core.cases.services.CaseRefused` (audited by the caller's error handling)
    when a rule refuses it, and :class:`~core.errors.Conflict` when the contract has no agency
    name to sign the message with; nothing is stored then.
    """
    ensure_may_work(user, case)
    template = usable_template(template_id, case, SMS)
    number = resolve_number(case, number)
    if not agency_name(case.contract):
        raise Conflict(no_agency_name_text())
    at = at or utcnow()
    text = render(template, case, at.astimezone(agency_zone()).date()).body
    activity = record_activity(
        case,
        user,
        at=at,
        channel="sms",
        contact_type="debtor",
        target=number,
        result=SMS_RESULTS[QUEUED],
        note=text,
        source="collection",
        data={"template": template.id},
    )
    message = OutboxMessage(
        case_id=case.id,
        template_id=template.id,
        activity_id=activity.id,
        channel=SMS,
        recipient=number,
        body=text,
        status=QUEUED,
        created_by_id=user.id if user else None,
        created_at=at,
    )
    db.session.add(message)
    db.session.flush()
    receipt = _deliver(case, message)
    if receipt is not None:
        message.status = receipt.status if receipt.status in SMS_RESULTS else FAILED
        message.gateway = (receipt.gateway or "")[:40]
        message.gateway_ref = (receipt.reference or "")[:120]
        message.error = (receipt.error or "")[:300]
        if message.status == SENT:
            message.sent_at = utcnow()
    activity.result = SMS_RESULTS[message.status]
    db.session.flush()
    record(
        "collection.sms_sent",
        obj=message,
        user=user,
        details={
            "case": case.id,
            "template": template.id,
            "to": masking.mask_mobile(number),
            "status": message.status,
            "gateway": message.gateway,
        },
    )
    return message


def _deliver(case: Case, message: OutboxMessage) -> SmsReceipt | None:
    """Hand the message to the first gateway that takes it; a gateway that breaks fails the
    message instead of the request (it is in the outbox, to be looked at)."""
    sms = SmsMessage(
        case=case, number=message.recipient, body=message.body, reference=str(message.id)
    )
    try:
        return hooks_for(case.contract).send_sms(message=sms)
    except Exception as exc:  # a broken gateway fails the message, not the request
        log.exception("SMS gateway failed for outbox message %s", message.id)
        return SmsReceipt(gateway="", status=FAILED, error=f"{type(exc).__name__}: {exc}"[:300])


#: The name the built-in gateway gives its receipts.
BUILTIN_GATEWAY = "outbox"

#: Gateways' names as shown to people; another gateway is shown by its own name.
GATEWAY_TITLES = {BUILTIN_GATEWAY: _l("Built-in outbox (not sent)")}


def builtin_gateway(message: SmsMessage) -> SmsReceipt:
    """The gateway of last resort: no provider, the message stays in the outbox, queued. It
    gives no reference: there is no provider's id to show."""
    return SmsReceipt(gateway=BUILTIN_GATEWAY, status=QUEUED)


def gateway_title(message: OutboxMessage) -> str:
    """Which gateway took ``message``, for people: the built-in outbox by a title, another
    gateway by its name with the reference it gave (``""``: no gateway took it)."""
    if not message.gateway:
        return ""
    if message.gateway in GATEWAY_TITLES:
        return str(GATEWAY_TITLES[message.gateway])
    return " · ".join(filter(None, (message.gateway, message.gateway_ref)))


def contact_hold(case: Case, user) -> list[str]:
    """Why ``case`` cannot be contacted by ``user`` now (paused, closed, a complaint hold …):
    the core's rules, asked before a form is offered; empty: it may be."""
    return work_refusals(case, user, "contact")


def outbox_query(user, *, status: str = "", contract_id: int | None = None,
                 date_from: date | None = None, date_to: date | None = None):  # fmt: skip
    """The outbox messages of cases ``user`` may see, newest first, filtered."""
    from core.cases.services import visible_cases_query

    visible = visible_cases_query(user).with_only_columns(Case.id)
    query = select(OutboxMessage).where(OutboxMessage.case_id.in_(visible))
    if status:
        query = query.where(OutboxMessage.status == status)
    if contract_id:
        query = query.where(
            OutboxMessage.case_id.in_(select(Case.id).where(Case.contract_id == contract_id))
        )
    zone = agency_zone()
    if date_from:
        start = datetime.combine(date_from, datetime.min.time(), tzinfo=zone)
        query = query.where(OutboxMessage.created_at >= start)
    if date_to:
        end = datetime.combine(date_to, datetime.min.time(), tzinfo=zone)
        query = query.where(OutboxMessage.created_at < end + timedelta(days=1))
    return query.order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())


def recent_messages(case: Case, limit: int = 10) -> list[OutboxMessage]:
    return db.session.scalars(
        select(OutboxMessage)
        .filter_by(case_id=case.id)
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        .limit(limit)
    ).all()


# -- letters -----------------------------------------------------------------------------------

#: Printing letters shows the debtor's full name and address (the letter must reach them):
#: a disclosure to the addressee, so a permission of its own.
PRINT_LETTERS = "collection.print_letters"

#: Where a letter goes, in order of preference.
LETTER_ADDRESS_KINDS = ("home", "statement")


def may_print_letters(user) -> bool:
    return user is not None and user.can(PRINT_LETTERS)


def letter_address(case: Case):
    """The first valid home address, else the first valid statement address, else ``None``."""
    for kind in LETTER_ADDRESS_KINDS:
        for address in case.addresses:
            if address.kind == kind and address.status == "valid" and address.address.strip():
                return address
    return None


def printed_today(case_ids, template: MessageTemplate, today: date) -> set[int]:
    """The cases of ``case_ids`` with a letter from ``template`` recorded on ``today`` (the
    agency's day)."""
    ids = list(case_ids)
    if not ids:
        return set()
    zone = agency_zone()
    start = datetime.combine(today, datetime.min.time(), tzinfo=zone)
    rows = db.session.execute(
        select(Activity.case_id, Activity.data).where(
            Activity.case_id.in_(ids),
            Activity.channel == "letter",
            Activity.result == LETTER_RESULT,
            Activity.at >= start,
            Activity.at < start + timedelta(days=1),
        )
    )
    return {case_id for case_id, data in rows if (data or {}).get("template") == template.id}


@dataclass
class PlannedLetter:
    """A case of a letter selection before printing: where its letter would go, or why none;
    ``printed`` when its letter was already printed today (it prints again only as a reprint,
    not recorded a second time)."""

    case: Case
    address: object
    problem: str = ""
    printed: bool = False


def plan_letters(cases, *, template: MessageTemplate, user, today: date | None = None):
    """What printing ``template`` for ``cases`` would do, case by case, without recording
    anything; the contact rules are asked only when printing."""
    cases = list(cases)
    done = printed_today([c.id for c in cases], template, today or agency_today())
    planned = []
    for case in cases:
        address = letter_address(case)
        problem = ""
        if case.contract_id != template.contract_id:
            problem = _("the template is of another contract")
        elif not may_work(user, case):
            problem = _("you may not work this case")
        elif refusals := contact_hold(case, user):
            problem = "; ".join(refusals)
        elif address is None:
            problem = _("no valid home or statement address")
        planned.append(PlannedLetter(case, address, problem, printed=case.id in done))
    return planned


@dataclass
class Letter:
    case: Case
    address: object
    subject: str
    body: str


@dataclass
class LetterRun:
    """One printed document: the letters, the cases skipped because their letter was already
    printed today, and the cases refused with the reason; ``reprinted``: the cases among
    ``letters`` printed again, not recorded a second time."""

    template: MessageTemplate
    letters: list[Letter] = field(default_factory=list)
    skipped: list[Case] = field(default_factory=list)
    refused: list[tuple[Case, str]] = field(default_factory=list)
    reprinted: list[Case] = field(default_factory=list)


def generate_letters(
    cases,
    *,
    template: MessageTemplate,
    user,
    at: datetime | None = None,
    reprint: bool = False,
):
    """A letter per case from ``template``, each recorded as a ``letter`` contact on the case.

    Needs :data:`PRINT_LETTERS`: a letter carries the debtor's full name and address. A case
    the user may not work, without an address to send to, or refused by a rule (the contact
    window, a hold) gets no letter and is listed with the reason; the rule's refusal is
    audited as the core audits it. A case whose letter from this template was already printed
    today is skipped (the letter is recorded once a day), unless ``reprint``: then it is
    printed again (a jammed printer) after the same rules, and not recorded a second time.
    The run is audited with the case ids and counts, never a name or an address.
    """
    if not may_print_letters(user):
        raise NotAllowed(_("You may not print letters."))
    if template.channel != LETTER or not template.active:
        raise UserError(_("Choose an active letter template."))
    cases = list(cases)
    if len(cases) > MAX_LETTERS:
        raise UserError(_("At most %(n)d letters at a time; narrow the selection.", n=MAX_LETTERS))
    at = at or utcnow()
    today = at.astimezone(agency_zone()).date()
    done = printed_today([c.id for c in cases], template, today)
    printed_now: set[int] = set()
    run = LetterRun(template)
    for case in cases:
        if case.contract_id != template.contract_id:
            run.refused.append((case, _("the template is of another contract")))
            continue
        if not may_work(user, case):
            run.refused.append((case, _("you may not work this case")))
            continue
        again = case.id in done
        if again and (not reprint or case.id in printed_now):
            run.skipped.append(case)
            continue
        address = letter_address(case)
        if address is None:
            run.refused.append((case, _("no valid home or statement address")))
            continue
        rendered = render(template, case, today)
        try:
            if again:  # printed again (a jammed printer): the same rules, no second record
                ensure_workable(case, user, "contact")
                ensure_contact_allowed(
                    case, user, channel="letter", contact_type="debtor",
                    target=address.address, at=at,
                )  # fmt: skip
            else:
                record_activity(
                    case,
                    user,
                    at=at,
                    channel="letter",
                    contact_type="debtor",
                    target=address.address,
                    result=LETTER_RESULT,
                    note=rendered.subject,
                    source="collection",
                    data={"template": template.id, "address_kind": address.kind},
                )
        except CaseRefused as refusal:
            # The document goes on for the other cases, so the refusal is audited here, in
            # the transaction the caller commits (the error handler would do it otherwise).
            record(**refusal.audit)
            run.refused.append((case, refusal.message))
            continue
        done.add(case.id)  # the same case twice in one run: one letter
        printed_now.add(case.id)
        if again:
            run.reprinted.append(case)
        run.letters.append(Letter(case, address, rendered.subject, rendered.body))
    record(
        "collection.letters_printed",
        obj=template,
        user=user,
        details={
            "template": template.id,
            "letters": len(run.letters),
            "skipped": len(run.skipped),
            "refused": len(run.refused),
            "cases": [letter.case.id for letter in run.letters],
            "reprinted": [case.id for case in run.reprinted],
        },
    )
    return run


def letter_cases(user, case_ids) -> list[Case]:
    """The cases of ``case_ids`` that ``user`` may see, in the order given (each once)."""
    ids = list(dict.fromkeys(i for i in case_ids if 0 < i <= 2**31 - 1))
    query = select(Case).where(Case.id.in_(ids)).options(selectinload(Case.addresses))
    found = {c.id: c for c in db.session.scalars(query)}
    return [found[i] for i in ids if i in found and can_see_case(user, found[i])]
