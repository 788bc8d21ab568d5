"""Letters and SMS: merge fields, templates, sending through the gate and the gateway, letters,
the outbox (real database, services and pages)."""

from __future__ import annotations

import types
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from core import hookimpl, masking
from core.audit.models import AuditEntry
from core.auth.models import Role, RolePermission
from core.cases.models import Activity, CaseAddress, CaseContact, CasePhone
from core.cases.services import CaseRefused
from core.errors import Conflict, InvalidInput, NotAllowed
from core.messaging import QUEUED, SENT, SmsReceipt
from plugins.collection import messages
from plugins.collection.compliance import settings_for
from plugins.collection.models import LETTER, SMS, MessageTemplate, OutboxMessage
from tests.support.cases import make_cases

SHANGHAI = ZoneInfo("Asia/Shanghai")
MOBILE = "13812345678"


def at(hour, minute=0, day=2):
    return datetime(2026, 3, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def on(contract, db, english):
    """A contract with the collection module on and the agency's name and phone set."""
    made = contract(modules=["collection"])
    settings = settings_for(made)
    settings.agency_name, settings.agency_phone = "华信催收", "025-88886666"
    db.session.commit()
    return made


@pytest.fixture
def manager(make_user, on):
    return make_user("manager", contracts=[on])


@pytest.fixture
def collector(make_user, on):
    return make_user("collector", contracts=[on])


def grant(db, role_name, permission):
    role = db.session.scalar(select(Role).filter_by(name=role_name))
    role.grants.append(RolePermission(permission=permission))
    db.session.commit()


@pytest.fixture
def printer(db, collector):
    """The collector, with the permission to print letters (managers have it by default)."""
    grant(db, "collector", messages.PRINT_LETTERS)
    return collector


@pytest.fixture
def case(db, on, collector):
    (case,) = make_cases(
        db,
        on,
        name="李小龙",
        mobile=MOBILE,
        card_no="6222021234567890123",
        id_no="32010219800101123X",
        entrusted_amount=Decimal("15000.00"),
        balance=Decimal("12345.6"),
        overdue_date=date(2025, 12, 1),
        holder_id=collector.id,
    )
    db.session.add(CaseAddress(case_id=case.id, kind="home", address="江苏省南京市玄武区中山路1号"))
    db.session.commit()
    return case


def sms_template(db, contract, body="{name}您好，欠款{balance}，请致电{agency_phone}。", **kw):
    template = MessageTemplate(contract_id=contract.id, channel=SMS, name="提醒", body=body, **kw)
    db.session.add(template)
    db.session.commit()
    return template


def letter_template(db, contract):
    template = MessageTemplate(
        contract_id=contract.id,
        channel=LETTER,
        name="催告函",
        subject="催告函 {serial}",
        body="{name}：您尾号{card_tail}的信用卡欠款{balance}，逾期自{overdue_date}。\n{agency_name}",
    )
    db.session.add(template)
    db.session.commit()
    return template


# -- merge fields ------------------------------------------------------------------------------


def test_merge_fields_mask_personal_numbers_and_format_money_and_dates(case):
    values = messages.merge_values(case, today=date(2026, 3, 2))
    assert values["name"] == "李**"
    assert values["surname"] == "李"
    assert values["card_tail"] == "0123"
    assert values["card_masked"] == "622202*********0123"
    assert values["id_masked"] == "320***********123X"
    assert values["mobile_masked"] == "138****5678"
    assert values["balance"] == "¥12,345.60"
    assert values["entrusted_amount"] == "¥15,000.00"
    assert values["overdue_date"] == "2025-12-01"
    assert values["today"] == "2026-03-02"
    assert (values["agency_name"], values["agency_phone"]) == ("华信催收", "025-88886666")
    assert values["contract"] == case.contract.number
    assert values["client"] == case.contract.client.name


def test_no_merge_field_discloses_a_full_number_or_name(case):
    text = "".join(messages.merge_values(case).values())
    for secret in ("李小龙", MOBILE, case.card_no, case.id_no):
        assert secret not in text


def test_a_template_is_filled_and_literal_braces_stay(db, on, case):
    template = sms_template(db, on, body="{{注意}} {name}，余额{balance}")
    assert messages.render(template, case).body == "{注意} 李**，余额¥12,345.60"


def test_an_unknown_merge_field_is_refused_by_name(on, manager):
    with pytest.raises(InvalidInput) as caught:
        messages.save_template(
            None, contract=on, channel=SMS, name="x", body="{name} {debt} {phone}", user=manager
        )
    assert caught.value.fields["body"] == [
        "Unknown merge fields: {debt}, {phone}. See the list of merge fields."
    ]


@pytest.mark.parametrize("body", ["{name", "name}", "{balance:>10}", "{name!r}", "{0}", "{}"])
def test_braces_and_format_tricks_are_not_merge_fields(on, manager, body):
    with pytest.raises(InvalidInput) as caught:
        messages.save_template(None, contract=on, channel=SMS, name="x", body=body, user=manager)
    assert "body" in caught.value.fields


def test_saving_a_template_is_audited_and_names_are_unique_per_contract_and_kind(db, on, manager):
    messages.save_template(None, contract=on, channel=SMS, name="A", body="{name}", user=manager)
    messages.save_template(None, contract=on, channel=LETTER, name="A", body="x", user=manager)
    with pytest.raises(Conflict) as caught:
        messages.save_template(None, contract=on, channel=SMS, name="A", body="y", user=manager)
    assert caught.value.status_code == 409
    actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions.count("collection.template_created") == 2


def test_an_sms_template_is_short_and_has_no_title(on, manager):
    with pytest.raises(InvalidInput) as caught:
        messages.save_template(
            None, contract=on, channel=SMS, name="x", body="字" * 301, user=manager
        )
    assert caught.value.fields["body"] == ["At most 300 characters."]
    saved = messages.save_template(
        None, contract=on, channel=SMS, name="x", subject="{name}", body="hi", user=manager
    )
    assert saved.subject == ""


def test_a_collector_may_not_save_templates(on, collector):
    with pytest.raises(NotAllowed):
        messages.save_template(None, contract=on, channel=SMS, name="x", body="y", user=collector)


# -- SMS ---------------------------------------------------------------------------------------


def test_an_sms_is_recorded_then_queued_in_the_outbox_by_the_built_in_gateway(db, case, collector):
    template = sms_template(db, case.contract)
    message = messages.send_sms(
        case, template_id=template.id, number=MOBILE, user=collector, at=at(10)
    )
    db.session.commit()
    # the built-in outbox has no provider's reference to give
    assert (message.status, message.gateway, message.gateway_ref) == (QUEUED, "outbox", "")
    assert message.recipient == MOBILE
    assert message.body == "李**您好，欠款¥12,345.60，请致电025-88886666。"
    activity = db.session.get(Activity, message.activity_id)
    assert (activity.channel, activity.contact_type, activity.target) == ("sms", "debtor", MOBILE)
    assert activity.result == "sms_queued"
    entry = db.session.scalar(select(AuditEntry).filter_by(action="collection.sms_sent"))
    assert entry.details["to"] == "138****5678"


def test_an_sms_at_22_30_debtor_time_is_refused_and_nothing_is_stored(db, case, collector):
    template = sms_template(db, case.contract)
    with pytest.raises(CaseRefused) as caught:
        messages.send_sms(
            case, template_id=template.id, number=MOBILE, user=collector, at=at(22, 30)
        )
    assert "Outside the contact hours 08:00–22:00" in caught.value.message
    assert "a contact at 22:30 on 2026-03-02" in caught.value.message
    assert caught.value.audit["details"]["action"] == "contact"
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0
    assert db.session.scalar(select(func.count(Activity.id))) == 0


def test_only_the_debtors_contactable_numbers_are_offered(db, case, collector):
    db.session.add_all(
        [
            CasePhone(case_id=case.id, number="13900000001", status="invalid"),
            CasePhone(case_id=case.id, number="13900000002", status="do_not_contact"),
            CasePhone(case_id=case.id, number="13900000003", kind="mobile"),
            CasePhone(case_id=case.id, number="13900000004"),
            CaseContact(case_id=case.id, phone="13900000004", do_not_contact=True),
            CasePhone(case_id=case.id, number="025-84568854", kind="home"),
            CasePhone(case_id=case.id, number="13900000005", kind="work"),
            CasePhone(case_id=case.id, number="025-84560000", kind="mobile"),  # not a mobile
        ]
    )
    db.session.commit()
    numbers = [number for _key, number in messages.sms_numbers(case)]
    assert numbers == [MOBILE, "13900000003"]
    template = sms_template(db, case.contract)
    refused_numbers = ("13900000001", "13900000002", "13900000004", "13700000000",
                       "025-84568854", "13900000005", "025-84560000")  # fmt: skip
    for refused in refused_numbers:
        with pytest.raises(InvalidInput):
            messages.send_sms(
                case, template_id=template.id, number=refused, user=collector, at=at(10)
            )


def test_an_inactive_or_other_contracts_template_cannot_be_sent(db, case, collector, contract):
    inactive = sms_template(db, case.contract, active=False)
    other = sms_template(db, contract(modules=["collection"]))
    for template in (inactive, other):
        with pytest.raises(InvalidInput):
            messages.send_sms(
                case, template_id=template.id, number=MOBILE, user=collector, at=at(10)
            )


def test_only_who_may_work_the_case_may_send(db, case, make_user, on):
    other = make_user("collector", contracts=[on])
    template = sms_template(db, case.contract)
    with pytest.raises(NotAllowed):
        messages.send_sms(case, template_id=template.id, number=MOBILE, user=other, at=at(10))


def gateway_plugin(receipt=None, fail=False):
    calls = []

    def send_sms(message):
        calls.append(message)
        if fail:
            raise ConnectionError("provider unreachable")
        return receipt

    made = types.ModuleType("test_sms_gateway")
    made.PLUGIN_NAME = "test_sms_gateway"
    made.send_sms = hookimpl(send_sms)
    made.calls = calls
    return made


@pytest.fixture
def with_gateway(app_config, request):
    def start(plugin):
        app_config["PLUGIN_MODULES"] = [plugin]
        return {name: request.getfixturevalue(name) for name in ("db", "case", "collector")}

    return start


def test_hook_send_sms(with_gateway):
    gateway = gateway_plugin(SmsReceipt(gateway="acme", status=SENT, reference="ACME-1"))
    fx = with_gateway(gateway)
    db, case, collector = fx["db"], fx["case"], fx["collector"]
    template = sms_template(db, case.contract)
    message = messages.send_sms(
        case, template_id=template.id, number=MOBILE, user=collector, at=at(10)
    )
    (sent,) = gateway.calls
    assert (sent.case, sent.number, sent.reference) == (case, MOBILE, str(message.id))
    assert sent.body == message.body
    assert (message.status, message.gateway, message.gateway_ref) == (SENT, "acme", "ACME-1")
    assert message.sent_at is not None
    assert db.session.get(Activity, message.activity_id).result == "sms_sent"


def test_a_gateway_that_declines_leaves_the_message_to_the_outbox(with_gateway):
    gateway = gateway_plugin(None)
    fx = with_gateway(gateway)
    template = sms_template(fx["db"], fx["case"].contract)
    message = messages.send_sms(
        fx["case"], template_id=template.id, number=MOBILE, user=fx["collector"], at=at(10)
    )
    assert len(gateway.calls) == 1
    assert (message.status, message.gateway) == (QUEUED, "outbox")


def test_a_broken_gateway_fails_the_message_not_the_request(with_gateway):
    fx = with_gateway(gateway_plugin(fail=True))
    template = sms_template(fx["db"], fx["case"].contract)
    message = messages.send_sms(
        fx["case"], template_id=template.id, number=MOBILE, user=fx["collector"], at=at(10)
    )
    assert message.status == "failed"
    assert "provider unreachable" in message.error


# -- SMS from the case page, and the API -----------------------------------------------------------


def outside_window_now(contract, db):
    """Set the contract's window to open an hour from now: now is outside it."""
    local = datetime.now(SHANGHAI)
    contract.contact_start = (local + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    contract.contact_end = (local + timedelta(hours=2)).time().replace(second=0, microsecond=0)
    db.session.commit()


def always_open(contract, db):
    from datetime import time

    contract.contact_start = contract.contact_end = time(0, 0)  # start == end: all day
    db.session.commit()


def test_the_case_page_offers_sms_and_the_preview_sends_it(client, login_as, db, on, case):
    always_open(on, db)
    user = login_as("collector", contracts=[on], locale="en")
    case.holder_id = user.id
    db.session.commit()
    template = sms_template(db, on)
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Letters and SMS" in page and "138****5678" in page and MOBILE not in page
    preview = client.get(f"/m/collection/cases/{case.id}/sms?template={template.id}&number=m")
    assert preview.status_code == 200
    assert "李**您好" in preview.get_data(as_text=True)
    sent = client.post(
        f"/m/collection/cases/{case.id}/sms", data={"template": template.id, "number": "m"}
    )
    assert sent.status_code == 302
    assert db.session.scalar(select(OutboxMessage.status)) == QUEUED


def test_an_sms_outside_the_window_is_refused_on_the_page_and_audited(
    client, login_as, db, on, case
):
    outside_window_now(on, db)
    user = login_as("collector", contracts=[on])
    case.holder_id = user.id
    db.session.commit()
    template = sms_template(db, on)
    response = client.post(
        f"/m/collection/cases/{case.id}/sms", data={"template": template.id, "number": "m"}
    )
    assert response.status_code == 409
    window = f"{on.contact_start:%H:%M}–{on.contact_end:%H:%M}"  # the rule, in any language
    assert window in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0
    denied = db.session.scalar(select(AuditEntry).filter_by(action="case.action_denied"))
    assert denied.object_id == str(case.id) and denied.user_id == user.id


def test_sms_pages_answer_404_for_a_case_not_yours_and_403_when_you_only_see_it(
    client, login_as, db, on, case, make_user
):
    template = sms_template(db, on)
    login_as("collector", contracts=[on])  # another collector: cannot see the case
    url = f"/m/collection/cases/{case.id}/sms?template={template.id}&number=m"
    assert client.get(url).status_code == 404
    login_as("qa_inspector", contracts=[on])  # sees every case of the contract, works none
    assert client.get(url).status_code == 403


def test_a_wrong_number_key_is_a_422(client, login_as, db, on, case):
    user = login_as("collector", contracts=[on])
    case.holder_id = user.id
    db.session.commit()
    template = sms_template(db, on)
    response = client.get(f"/m/collection/cases/{case.id}/sms?template={template.id}&number=p999")
    assert response.status_code == 422


def test_the_case_page_offers_only_mobile_numbers(client, login_as, db, on, case):
    user = login_as("collector", contracts=[on], locale="en")
    case.holder_id = user.id
    db.session.add(CasePhone(case_id=case.id, number="025-84568854", kind="home"))
    db.session.commit()
    sms_template(db, on)
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    offered = page[page.index('id="sms-number"') :].split("</select>")[0]
    assert "138****5678" in offered
    assert masking.mask_mobile("025-84568854") in page  # on the case's phone list
    assert masking.mask_mobile("025-84568854") not in offered  # but no SMS to a landline


def test_without_an_agency_name_an_sms_is_refused_and_the_previews_warn(
    client, login_as, db, on, case
):
    always_open(on, db)
    settings_for(on).agency_name = ""
    user = login_as("manager", contracts=[on], locale="en")
    case.holder_id = user.id
    db.session.commit()
    template = sms_template(db, on, body="【{agency_name}】{name}您好")
    preview = client.get(f"/m/collection/cases/{case.id}/sms?template={template.id}&number=m")
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "set the agency name in the collection settings" in text.lower()
    assert 'id="no-agency-name"' in text and ">Send</button>" not in text
    sent = client.post(
        f"/m/collection/cases/{case.id}/sms", data={"template": template.id, "number": "m"}
    )
    assert sent.status_code == 409 and "agency name" in sent.get_data(as_text=True)
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0
    assert db.session.scalar(select(func.count(Activity.id))) == 0
    with pytest.raises(Conflict):
        messages.send_sms(case, template_id=template.id, number=MOBILE, user=user, at=at(10))
    shown = client.get(f"/m/collection/templates/{template.id}/preview").get_data(as_text=True)
    assert 'id="no-agency-name"' in shown
    letter = letter_template(db, on)  # a letter is not signed that way: its page says so itself
    shown = client.get(f"/m/collection/templates/{letter.id}/preview").get_data(as_text=True)
    assert 'id="no-agency-name"' not in shown


# -- templates pages -----------------------------------------------------------------------------


def test_template_pages_need_the_permission(client, login_as, on):
    login_as("collector", contracts=[on])
    for url in ("/m/collection/templates", "/m/collection/templates/new", "/m/collection/outbox"):
        assert client.get(url).status_code == 403


def test_a_manager_creates_a_template_and_an_unknown_field_is_shown_on_the_form(
    client, login_as, db, on
):
    login_as("manager", contracts=[on], locale="en")
    page = client.get("/m/collection/templates/new?channel=sms").get_data(as_text=True)
    assert "{agency_phone}" in page  # the merge fields listed beside the editor
    form = {
        "contract": on.id,
        "channel": "sms",
        "name": "T1",
        "body": "{name} {owed}",
        "active": "y",
    }
    response = client.post("/m/collection/templates/new", data=form)
    assert response.status_code == 422
    assert "Unknown merge fields: {owed}" in response.get_data(as_text=True)
    response = client.post("/m/collection/templates/new", data=form | {"body": "{name} {balance}"})
    assert response.status_code == 302
    template = db.session.scalar(select(MessageTemplate).filter_by(name="T1"))
    assert (template.body, template.active) == ("{name} {balance}", True)


def test_template_preview_with_a_case_or_a_sample(client, login_as, db, on, case, contract):
    login_as("manager", contracts=[on])
    template = sms_template(db, on)
    sample = client.get(f"/m/collection/templates/{template.id}/preview").get_data(as_text=True)
    assert "张**您好" in sample
    real = client.get(f"/m/collection/templates/{template.id}/preview?case={case.serial}")
    assert "李**您好" in real.get_data(as_text=True)
    assert client.get(f"/m/collection/templates/{template.id}/preview?case=NOPE").status_code == 404
    other = sms_template(db, contract())  # a contract without the collection module
    assert client.get(f"/m/collection/templates/{other.id}").status_code == 404


# -- letters -------------------------------------------------------------------------------------


def test_letters_print_one_per_case_record_a_letter_and_list_refused_cases(db, on, case, printer):
    template = letter_template(db, on)
    (no_address,) = make_cases(db, on, holder_id=printer.id)
    (paused,) = make_cases(db, on, holder_id=printer.id, status="paused")
    db.session.add(CaseAddress(case_id=paused.id, kind="statement", address="上海市黄浦区1号"))
    db.session.add(CaseAddress(case_id=no_address.id, kind="work", address="单位地址"))
    db.session.commit()
    run = messages.generate_letters(
        [case, no_address, paused], template=template, user=printer, at=at(10)
    )
    db.session.commit()
    (letter,) = run.letters
    assert letter.case is case and letter.address.kind == "home"
    assert letter.subject == f"催告函 {case.serial}"
    assert letter.body.startswith("李**：您尾号0123的信用卡欠款¥12,345.60，逾期自2025-12-01。")
    refused = {c.id: reason for c, reason in run.refused}
    assert refused[no_address.id] == "no valid home or statement address"
    assert "paused and cannot be worked" in refused[paused.id]
    letters = db.session.scalars(select(Activity).filter_by(channel="letter")).all()
    assert [(a.case_id, a.result, a.target) for a in letters] == [
        (case.id, "letter_printed", "江苏省南京市玄武区中山路1号")
    ]
    denied = db.session.scalar(select(AuditEntry).filter_by(action="case.action_denied"))
    assert denied.object_id == str(paused.id)


def test_a_print_run_is_audited_with_case_ids_and_counts_never_names_or_addresses(
    db, on, case, printer
):
    messages.generate_letters([case], template=letter_template(db, on), user=printer, at=at(10))
    db.session.commit()
    entry = db.session.scalar(select(AuditEntry).filter_by(action="collection.letters_printed"))
    assert entry.user_id == printer.id
    assert (entry.details["cases"], entry.details["letters"]) == ([case.id], 1)
    assert "李小龙" not in str(entry.details) and "中山路" not in str(entry.details)


def test_printing_letters_needs_its_own_permission(db, on, case, collector):
    with pytest.raises(NotAllowed):
        messages.generate_letters([case], template=letter_template(db, on), user=collector,
                                  at=at(10))  # fmt: skip
    assert db.session.scalar(select(func.count(Activity.id))) == 0


def test_the_same_letter_printed_twice_the_same_day_is_recorded_once(db, on, case, printer):
    template = letter_template(db, on)
    first = messages.generate_letters([case], template=template, user=printer, at=at(10))
    again = messages.generate_letters([case], template=template, user=printer, at=at(15))
    assert len(first.letters) == 1
    assert (again.letters, again.skipped) == ([], [case])
    other = MessageTemplate(contract_id=on.id, channel=LETTER, name="另一封", body="{name}")
    db.session.add(other)
    db.session.flush()
    assert len(messages.generate_letters([case], template=other, user=printer, at=at(15)).letters)
    tomorrow = messages.generate_letters([case], template=template, user=printer, at=at(10, day=3))
    assert len(tomorrow.letters) == 1
    results = db.session.scalars(select(Activity.data).filter_by(channel="letter")).all()
    assert [r["template"] for r in results] == [template.id, other.id, template.id]
    entry = db.session.scalars(
        select(AuditEntry).filter_by(action="collection.letters_printed").order_by(AuditEntry.id)
    ).all()[1]
    assert (entry.details["letters"], entry.details["skipped"]) == (0, 1)


def test_letters_at_night_are_refused_by_the_window(db, on, case, printer):
    run = messages.generate_letters([case], template=letter_template(db, on), user=printer,
                                    at=at(23))  # fmt: skip
    assert run.letters == []
    assert "Outside the contact hours" in run.refused[0][1]


def test_the_letter_document_prints_the_real_name_and_address_from_the_case_page(
    client, login_as, db, on, case
):
    always_open(on, db)
    grant(db, "collector", messages.PRINT_LETTERS)
    user = login_as("collector", contracts=[on], locale="en")
    case.holder_id = user.id
    db.session.commit()
    assert not user.can("core.pii.unmask")
    template = letter_template(db, on)
    assert 'id="letter-form"' in client.get(f"/cases/{case.id}").get_data(as_text=True)
    form = {"template": template.id, "case": case.id, "from": "case"}
    response = client.post("/m/collection/letters", data=form)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert page.count('class="letter"') == 1
    assert "华信催收" in page
    assert "李小龙" in page and "江苏省南京市玄武区中山路1号" in page  # the letter must arrive
    assert "6222021234567890123" not in page  # numbers in the text stay masked
    assert f"/cases/{case.id}" in page  # back to the case
    assert "messages.css" in page
    assert db.session.scalar(select(func.count(Activity.id)).filter_by(channel="letter")) == 1
    again = client.post("/m/collection/letters", data=form).get_data(as_text=True)
    assert again.count('class="letter"') == 0 and "already printed today" in again
    assert db.session.scalar(select(func.count(Activity.id)).filter_by(channel="letter")) == 1
    css = client.get("/m/collection/messages.css")
    assert css.status_code == 200 and b"page-break-after" in css.data


def test_who_may_not_print_letters_gets_403_and_no_letter_action(client, login_as, db, on, case):
    always_open(on, db)
    user = login_as("collector", contracts=[on])
    case.holder_id = user.id
    db.session.commit()
    template = letter_template(db, on)
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Letters and SMS" in page or "sms-form" in page
    assert 'id="letter-form"' not in page
    assert client.get("/m/collection/letters").status_code == 403
    response = client.post("/m/collection/letters", data={"template": template.id, "case": case.id})
    assert response.status_code == 403
    assert db.session.scalar(select(func.count(Activity.id))) == 0


def test_letters_for_a_filter_selection_list_the_cases_to_tick(client, login_as, db, on):
    always_open(on, db)
    login_as("manager", contracts=[on], locale="en")
    cases = make_cases(db, on, count=3, area="南京")
    make_cases(db, on, count=2, area="苏州")
    for c in cases[:2]:
        db.session.add(CaseAddress(case_id=c.id, kind="home", address="南京市鼓楼区1号"))
    db.session.add(CaseAddress(case_id=cases[1].id, kind="statement", address="南京市2号"))
    db.session.commit()
    template = letter_template(db, on)
    page = client.get(f"/m/collection/letters?template={template.id}&area=南京")
    text = page.get_data(as_text=True)
    assert "3 cases match" in text and "2 cases can be printed" in text
    for c in cases:
        assert c.serial in text
    assert cases[0].name not in text and masking.mask_name(cases[0].name) in text
    assert "no address" in text and "home address" in text
    assert text.count('name="case"') == 2  # the case without an address has no tick box
    ticked = {"template": template.id, "case": [cases[1].id]}  # the first one left out
    response = client.post("/m/collection/letters", data=ticked).get_data(as_text=True)
    assert response.count('class="letter"') == 1 and cases[1].name in response
    printed = db.session.scalars(select(Activity.case_id).filter_by(channel="letter")).all()
    assert printed == [cases[1].id]
    nothing = client.post("/m/collection/letters", data={"template": template.id})
    assert nothing.status_code == 422 and "Tick at least one case" in nothing.get_data(True)


def test_a_selection_past_the_cap_is_not_listed(client, login_as, db, on, monkeypatch):
    monkeypatch.setattr(messages, "MAX_LETTERS", 2)
    login_as("manager", contracts=[on], locale="en")
    cases = make_cases(db, on, count=3)
    template = letter_template(db, on)
    text = client.get(f"/m/collection/letters?template={template.id}").get_data(as_text=True)
    assert "At most 2 letters at a time" in text and 'name="case"' not in text
    response = client.post("/m/collection/letters",
                           data={"template": template.id, "case": [c.id for c in cases]})  # fmt: skip
    assert response.status_code == 400


# -- the outbox ----------------------------------------------------------------------------------


def test_the_outbox_lists_masked_numbers_filtered_by_status(
    client, login_as, db, on, case, collector
):
    template = sms_template(db, on)
    messages.send_sms(case, template_id=template.id, number=MOBILE, user=collector, at=at(10))
    db.session.commit()
    login_as("manager", contracts=[on])
    page = client.get("/m/collection/outbox").get_data(as_text=True)
    assert "138****5678" in page and MOBILE not in page
    assert case.serial in client.get("/m/collection/outbox?status=queued").get_data(as_text=True)
    assert case.serial not in client.get("/m/collection/outbox?status=sent").get_data(as_text=True)


def test_nav_shows_templates_and_outbox_to_managers(client, login_as, on):
    login_as("manager", contracts=[on])
    page = client.get("/").get_data(as_text=True)
    assert "/m/collection/templates" in page and "/m/collection/outbox" in page
    assert 'href="/m/collection/letters"' in page  # managers print letters
    login_as("collector", contracts=[on])
    assert 'href="/m/collection/letters"' not in client.get("/").get_data(as_text=True)


def test_a_contract_starts_with_an_sms_and_a_letter_template_it_can_send(db, on, case):
    from plugins.collection.messages import DEFAULT_TEMPLATES, field_errors, render, templates_for

    assert all(field_errors(body) == [] for _c, _n, _s, body in DEFAULT_TEMPLATES)
    starters = templates_for(on)
    assert sorted(t.channel for t in starters) == ["letter", "sms"]
    sms = next(t for t in starters if t.channel == "sms")
    text = render(sms, case).body
    assert case.card_no[-4:] in text and case.card_no not in text and "{" not in text


# -- second review: holds, reprints, the outbox's gateway, clear messages -----------------------


def test_a_case_that_cannot_be_worked_shows_the_reasons_instead_of_the_sms_and_letter_forms(
    client, login_as, db, on, case
):
    always_open(on, db)
    grant(db, "collector", messages.PRINT_LETTERS)
    user = login_as("collector", contracts=[on], locale="en")
    case.holder_id, case.status = user.id, "paused"
    db.session.commit()
    template = sms_template(db, on)
    letter_template(db, on)
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    panel = page[page.index("message-panel") :]
    assert 'id="message-hold"' in panel and "paused and cannot be worked" in panel
    assert 'id="sms-form"' not in panel and 'id="letter-form"' not in panel
    preview = client.get(f"/m/collection/cases/{case.id}/sms?template={template.id}&number=m")
    text = preview.get_data(as_text=True)
    assert preview.status_code == 409
    assert 'id="message-hold"' in text and "paused and cannot be worked" in text
    assert ">Send</button>" not in text
    sent = client.post(
        f"/m/collection/cases/{case.id}/sms", data={"template": template.id, "number": "m"}
    )
    assert sent.status_code == 409
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0
    assert db.session.scalar(select(AuditEntry).filter_by(action="case.action_denied"))


def test_a_bad_sms_number_shows_the_form_again_with_the_message_beside_the_field(
    client, login_as, db, on, case
):
    user = login_as("collector", contracts=[on], locale="en")
    case.holder_id = user.id
    db.session.commit()
    template = sms_template(db, on)
    response = client.get(f"/m/collection/cases/{case.id}/sms?template={template.id}&number=p9")
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="sms-form"' in text and 'id="sms-number-error"' in text
    assert text.count("Choose one of the debtor&#39;s numbers that may be contacted.") == 1
    assert "number:" not in text and "Back to the home page" not in text
    assert f'href="/cases/{case.id}"' in text  # back to the case
    assert f'<option value="{template.id}" selected>' in text  # the template chosen stays


def test_a_letter_printed_today_prints_again_only_as_a_reprint_recorded_once(db, on, case, printer):
    template = letter_template(db, on)
    messages.generate_letters([case], template=template, user=printer, at=at(10))
    again = messages.generate_letters([case, case], template=template, user=printer, at=at(11),
                                      reprint=True)  # fmt: skip
    assert [letter.case for letter in again.letters] == [case] and again.reprinted == [case]
    assert again.skipped == [case]  # the same case twice in one run: one letter
    assert db.session.scalar(select(func.count(Activity.id)).filter_by(channel="letter")) == 1
    entry = db.session.scalars(
        select(AuditEntry).filter_by(action="collection.letters_printed").order_by(AuditEntry.id)
    ).all()[-1]
    assert entry.details["reprinted"] == [case.id]
    case.status = "paused"  # a reprint follows the rules too
    db.session.flush()
    held = messages.generate_letters([case], template=template, user=printer, at=at(12),
                                     reprint=True)  # fmt: skip
    assert held.letters == [] and "paused" in held.refused[0][1]


def test_the_letters_list_asks_before_printing_and_leaves_out_cases_that_cannot_be_worked(
    client, login_as, db, on
):
    always_open(on, db)
    user = login_as("manager", contracts=[on], locale="en")
    ready, printed, paused = make_cases(db, on, count=3, holder_id=user.id)
    paused.status = "paused"
    for c in (ready, printed, paused):
        db.session.add(CaseAddress(case_id=c.id, kind="home", address="南京市鼓楼区1号"))
    db.session.commit()
    template = letter_template(db, on)
    messages.generate_letters([printed], template=template, user=user, at=messages.utcnow())
    db.session.commit()
    text = client.get(f"/m/collection/letters?template={template.id}").get_data(as_text=True)
    assert 'data-confirm="Print the letters of the ticked cases (up to 2)' in text
    assert f'name="case" value="{ready.id}" aria-label="{ready.serial}" checked' in text
    assert f'name="case" value="{printed.id}" aria-label="{printed.serial}">' in text  # unticked
    assert f'name="case" value="{paused.id}"' not in text and "paused and cannot be" in text
    assert 'id="letters-reprint"' in text and "already printed today" in text
    form = {"template": template.id, "case": [printed.id]}
    skipped = client.post("/m/collection/letters", data=form).get_data(as_text=True)
    assert skipped.count('class="letter"') == 0 and 'id="letters-skipped"' in skipped
    again = client.post("/m/collection/letters", data=form | {"reprint": "1"})
    page = again.get_data(as_text=True)
    assert page.count('class="letter"') == 1 and 'id="letters-reprinted"' in page
    assert db.session.scalar(select(func.count(Activity.id)).filter_by(channel="letter")) == 1


def test_the_letters_list_calls_the_debtor_column_by_a_persons_name(client, login_as, db, on):
    login_as("manager", contracts=[on])  # Chinese, the users' default
    make_cases(db, on, count=1)
    template = letter_template(db, on)
    text = client.get(f"/m/collection/letters?template={template.id}").get_data(as_text=True)
    assert "<th>姓名</th>" in text and "<th>名称</th>" not in text


def test_a_duplicate_template_name_is_said_once_beside_the_name(client, login_as, db, on):
    login_as("manager", contracts=[on], locale="en")
    sms_template(db, on)  # named 提醒
    form = {"contract": on.id, "channel": "sms", "name": "提醒", "body": "{name}", "active": "y"}
    response = client.post("/m/collection/templates/new", data=form)
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert text.count("already has a template named 提醒") == 1
    assert "Already used" not in text


def test_the_outbox_names_the_built_in_gateway_and_no_reference_of_its_own(
    client, login_as, db, on, case, collector
):
    template = sms_template(db, on)
    message = messages.send_sms(
        case, template_id=template.id, number=MOBILE, user=collector, at=at(10)
    )
    message.gateway_ref = str(message.id)  # as rows written before kept it
    db.session.commit()
    login_as("manager", contracts=[on], locale="en")
    page = client.get("/m/collection/outbox").get_data(as_text=True)
    assert "Built-in outbox (not sent)" in page and f"outbox · {message.id}" not in page
    message.gateway, message.gateway_ref = "aliyun", "SMS-42"
    db.session.commit()
    assert "aliyun · SMS-42" in client.get("/m/collection/outbox").get_data(as_text=True)
