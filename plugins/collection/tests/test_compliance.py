"""The compliance gate at its boundaries, through the core's record_activity (real database)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from core.audit.models import AuditEntry
from core.cases.models import CaseContact, CasePhone
from core.cases.services import CaseRefused, record_activity
from core.plugins import registry
from plugins.collection.compliance import BUSY, NO_ANSWER, SWITCHED_OFF
from plugins.collection.models import CollectionSettings
from tests.support.cases import make_cases

SHANGHAI = ZoneInfo("Asia/Shanghai")
NUMBER = "13800000001"


def at(hour, minute=0, day=2, zone=SHANGHAI):
    return datetime(2026, 3, day, hour, minute, tzinfo=zone)


@pytest.fixture
def case(db, contract, english):
    (case,) = make_cases(db, contract(modules=["collection"]), mobile=NUMBER)
    db.session.add(CasePhone(case_id=case.id, number=NUMBER, kind="mobile"))
    db.session.commit()
    return case


def call(case, when, *, result=NO_ANSWER, target=NUMBER, contact_type="debtor", channel="phone"):
    return record_activity(
        case, None, at=when, channel=channel, contact_type=contact_type, target=target,
        result=result,
    )  # fmt: skip


def refused(case, when, **kwargs) -> CaseRefused:
    with pytest.raises(CaseRefused) as caught:
        call(case, when, **kwargs)
    return caught.value


def test_the_plugin_is_installed_with_its_settings_table(app, db, contract):
    assert "collection" in registry().modules
    assert "collection_settings" in registry().model_tables["collection"]
    on = contract(modules=["collection"])
    row = db.session.scalar(select(CollectionSettings).filter_by(contract_id=on.id))
    assert (row.max_unanswered_calls_per_day, row.third_party_after_failures) == (6, 3)


def test_collection_migration_matches_its_model(db):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    def collection_only(obj, name, type_, reflected, compare_to):
        table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", "")
        return table.startswith("collection_")

    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_object": collection_only, "compare_type": True}
        )
        assert compare_metadata(context, db.metadata) == []


# -- the contact window ----------------------------------------------------------------------


@pytest.mark.parametrize("channel", ["phone", "sms", "letter", "visit"])
def test_window_allows_21_59_and_refuses_22_00_in_shanghai(case, channel):
    call(case, at(21, 59), channel=channel, result="left_message")
    refusal = refused(case, at(22, 0), channel=channel)
    assert "Outside the contact hours 08:00–22:00 (debtor's time)" in refusal.message
    # Entered after the fact: the refusal names the time, not a reopening long past.
    assert "a contact at 22:00 on 2026-03-02 (Asia/Shanghai) is not allowed" in refusal.message


def test_window_refuses_07_59_and_allows_08_00(case):
    refusal = refused(case, at(7, 59))
    assert "a contact at 07:59 on 2026-03-02" in refusal.message
    call(case, at(8, 0))


def test_a_contact_refused_now_says_when_the_window_opens_again(case, db):
    from datetime import UTC
    from datetime import time as clock

    now = datetime.now(UTC).astimezone(SHANGHAI)
    opens = (now + timedelta(hours=2)).replace(second=0, microsecond=0)
    case.contract.contact_start = clock(opens.hour, opens.minute)
    case.contract.contact_end = clock((opens.hour + 1) % 24, opens.minute)
    db.session.commit()
    refusal = refused(case, now - timedelta(minutes=1))
    assert f"allowed again at {opens:%H:%M} on {opens:%Y-%m-%d} (Asia/Shanghai)" in refusal.message


def test_window_reads_utc_times_in_the_debtors_zone(case):
    call(case, datetime(2026, 3, 2, 13, 59, tzinfo=ZoneInfo("UTC")))  # 21:59 in Shanghai
    refused(case, datetime(2026, 3, 2, 14, 0, tzinfo=ZoneInfo("UTC")))


def test_a_case_with_its_own_time_zone_uses_it(case, db):
    urumqi = ZoneInfo("Asia/Urumqi")  # two hours behind Shanghai
    case.timezone = "Asia/Urumqi"
    db.session.commit()
    call(case, at(23, 30))  # 21:30 for the debtor
    refusal = refused(case, at(22, 0, zone=urumqi))
    assert "a contact at 22:00 on 2026-03-02 (Asia/Urumqi)" in refusal.message
    refused(case, at(7, 59, zone=urumqi))
    call(case, at(8, 0, zone=urumqi))


def test_other_channel_is_not_windowed(case):
    call(case, at(23, 0), channel="other", result="")


# -- unanswered calls per number per day -----------------------------------------------------


def test_the_sixth_unanswered_call_is_allowed_the_seventh_refused(case):
    for n, result in enumerate([NO_ANSWER, BUSY, SWITCHED_OFF, NO_ANSWER, NO_ANSWER]):
        call(case, at(9, n), result=result)
    call(case, at(10, 0), result="promise_to_pay")  # answered: does not count
    call(case, at(11, 0), result=NO_ANSWER)  # the sixth unanswered
    refusal = refused(case, at(12, 0))
    assert "already has 6 unanswered calls today (at most 6 a day)" in refusal.message
    assert "allowed again at 08:00 on 2026-03-03 (Asia/Shanghai)" in refusal.message
    call(case, at(12, 0), target="13900000002")  # another number has its own count
    call(case, at(8, 0, day=3))  # a new debtor-local day


def test_the_daily_limit_is_per_contract(case, db):
    row = db.session.scalar(select(CollectionSettings).filter_by(contract_id=case.contract_id))
    row.max_unanswered_calls_per_day = 2
    db.session.commit()
    call(case, at(9, 0))
    call(case, at(9, 1))
    refused(case, at(9, 2))


# -- third parties ----------------------------------------------------------------------------


def test_third_party_refused_until_three_failed_calls_in_a_row(case):
    refusal = refused(case, at(9, 0), contact_type="relative", target="13700000000")
    assert "only once the debtor is unreachable" in refusal.message
    assert "allowed after 3 more failed calls" in refusal.message
    call(case, at(9, 1), result=NO_ANSWER)
    call(case, at(9, 2), result="promise_to_pay")  # reached: the run starts again
    call(case, at(9, 3), result=NO_ANSWER)
    call(case, at(9, 4), result=SWITCHED_OFF)
    refusal = refused(case, at(9, 5), contact_type="relative", target="13700000000")
    assert "allowed after 1 more failed calls" in refusal.message
    call(case, at(9, 6), result=BUSY)
    call(case, at(9, 7), contact_type="relative", target="13700000000", result="left_message")


def test_third_party_allowed_once_every_debtor_number_is_invalid(case, db):
    db.session.add(CasePhone(case_id=case.id, number="13900000009", status="invalid"))
    db.session.commit()
    refused(case, at(9, 0), contact_type="colleague", target="13700000000")
    case.phones[0].status = "invalid"
    db.session.commit()
    call(case, at(9, 1), contact_type="colleague", target="13700000000", result="")


def test_do_not_contact_is_refused_whenever_its_number_is_the_target(case, db):
    db.session.add(CaseContact(case_id=case.id, phone="137 0000 0000", do_not_contact=True))
    db.session.add(CaseContact(case_id=case.id, phone="13600000000", position=2))
    case.phones[0].status = "invalid"  # the debtor is unreachable: third parties are open
    db.session.commit()
    call(case, at(9, 0), contact_type="relative", target="13600000000", result="")
    refusal = refused(case, at(9, 1), contact_type="relative", target="13700000000")
    assert "do-not-contact" in refusal.message


# -- refusals are audited; contracts without the module are not gated ----------------------------


def test_a_refusal_carries_its_audit_entry(case):
    refusal = refused(case, at(22, 0))
    assert refusal.status_code == 409
    assert refusal.audit["action"] == "case.action_denied"
    assert refusal.audit["outcome"] == "denied"
    assert refusal.audit["obj"] is case
    assert refusal.audit["details"]["action"] == "contact"
    assert "Outside the contact hours" in refusal.audit["details"]["reasons"][0]


def test_a_refusal_is_kept_in_the_audit_log_though_the_work_is_undone(case, db):
    """What the web error handler does with a refusal: roll back, then keep its audit entry."""
    from core.web.setup import keep_refusal_on_record

    refusal = refused(case, at(22, 30))
    db.session.rollback()
    keep_refusal_on_record(refusal)
    entry = db.session.scalar(select(AuditEntry).filter_by(action="case.action_denied"))
    assert entry.outcome == "denied"
    assert entry.object_id == str(case.id)
    assert entry.details["action"] == "contact"
    assert "Outside the contact hours" in entry.details["reasons"][0]


def test_a_contract_without_the_module_is_not_gated(db, contract, english):
    (case,) = make_cases(db, contract(), mobile=NUMBER)
    for n in range(8):
        call(case, at(23, 0) + timedelta(minutes=n))
    call(case, at(3, 0), contact_type="relative", target="13700000000")


def test_a_contract_takes_the_agencys_name_and_phone_when_the_module_is_switched_on(
    app, db, contract
):
    app.config.update(AGENCY_NAME="枫叶资产", AGENCY_PHONE="025-1234")
    agreement = contract(modules=("collection",))
    settings = db.session.scalar(select(CollectionSettings).filter_by(contract_id=agreement.id))
    assert (settings.agency_name, settings.agency_phone) == ("枫叶资产", "025-1234")
