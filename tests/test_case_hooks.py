"""The case services' hooks: status events, assignment, payments, and the two vetoes.

Each test starts Maple with a small plugin built in memory (``PLUGIN_MODULES``); a plugin
with a ``MODULE`` is called only for contracts that have it on.
"""

from __future__ import annotations

import types
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from flask_babel import force_locale
from sqlalchemy import select
from support.cases import make_cases

from core import hookimpl
from core.audit.models import AuditEntry
from core.cases import services
from core.cases.models import CLOSED, NORMAL, PAUSED
from core.modules import ModuleInfo

AT = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai


def plugin(name: str, *, module: bool = False, **hooks) -> types.ModuleType:
    made = types.ModuleType(f"test_case_plugin_{name}")
    made.PLUGIN_NAME = name
    if module:
        made.MODULE = ModuleInfo(name, name.title())
    for hook_name, function in hooks.items():
        setattr(made, hook_name, hookimpl(function))
    return made


@pytest.fixture
def start(app_config, request):
    def start(*plugins):
        app_config["PLUGIN_MODULES"] = list(plugins)
        names = ("app", "db", "client", "contract", "make_user", "login_as")
        return SimpleNamespace(**{name: request.getfixturevalue(name) for name in names})

    return start


def test_hook_after_case_paused(start):
    calls = []
    maple = start(
        plugin("probe", after_case_paused=lambda case, reason, user: calls.append((case, reason)))
    )
    contract, admin = maple.contract(), maple.make_user("admin")
    case, other = make_cases(maple.db, contract, count=2)
    services.change_status([case], "pause", "客户投诉", admin)
    assert calls == [(case, "客户投诉")]
    services.change_status([case], "pause", "again", admin)  # skipped: no second call
    assert len(calls) == 1 and other.status == NORMAL


def test_hook_after_case_closed(start):
    calls = []
    maple = start(plugin("probe", after_case_closed=lambda case, user: calls.append((case, user))))
    contract, admin = maple.contract(), maple.make_user("admin")
    (case,) = make_cases(maple.db, contract)
    services.change_status([case], "close", "已结清", admin)
    assert calls == [(case, admin)] and case.status == CLOSED


def test_hook_after_case_resumed(start):
    calls = []
    gadget = plugin("gadget", module=True, after_case_resumed=lambda case: calls.append(case))
    maple = start(gadget)
    on, off = maple.contract(modules=["gadget"]), maple.contract()
    admin = maple.make_user("admin")
    (case_on,) = make_cases(maple.db, on, status=PAUSED)
    (case_off,) = make_cases(maple.db, off, status=PAUSED)
    services.change_status([case_on, case_off], "resume", "恢复催收", admin)
    assert calls == [case_on]  # only the contract that has the module on
    assert case_off.status == NORMAL


def test_hook_after_case_assigned(start):
    calls = []

    def assigned(case, holder, team, previous, user):
        calls.append((case.serial, holder, previous, user))

    maple = start(plugin("gadget", module=True, after_case_assigned=assigned))
    on, off = maple.contract(modules=["gadget"]), maple.contract()
    admin = maple.make_user("admin")
    li, wang = maple.make_user("collector"), maple.make_user("collector")
    (case_on,) = make_cases(maple.db, on)
    (case_off,) = make_cases(maple.db, off)
    services.assign([case_on, case_off], holder=li, user=admin)
    services.assign([case_on], holder=wang, user=admin)
    assert calls == [(case_on.serial, li, None, admin), (case_on.serial, wang, li, admin)]
    (frozen,) = make_cases(maple.db, on, status=CLOSED)
    outcome = services.assign([frozen], holder=li, user=admin)
    assert outcome.changed == [] and len(calls) == 2


def test_hook_after_payment_recorded(start):
    calls = []

    def recorded(case, payment, user):
        calls.append((case.serial, payment.amount, case.balance))

    maple = start(plugin("gadget", module=True, after_payment_recorded=recorded))
    on, off = maple.contract(modules=["gadget"]), maple.contract()
    admin = maple.make_user("admin")
    (case_on,) = make_cases(maple.db, on, entrusted_amount=Decimal("1000.00"))
    (case_off,) = make_cases(maple.db, off)
    services.record_payment(case_on, amount=Decimal(300), paid_on=date(2026, 3, 5), user=admin)
    services.record_payment(case_off, amount=Decimal(300), paid_on=date(2026, 3, 5), user=admin)
    claim = services.record_payment(
        case_on, amount=Decimal(100), paid_on=date(2026, 3, 6), user=admin, kind="claim"
    )
    assert calls == [(case_on.serial, Decimal(300), Decimal("700.00"))]  # a claim waits
    services.confirm_payment(claim, admin)
    assert calls[-1] == (case_on.serial, Decimal(100), Decimal("600.00"))


def test_hook_after_activity_recorded(start):
    calls = []

    def recorded(case, activity, user):
        calls.append((case.serial, activity.id is not None, activity.result, user.username))

    maple = start(plugin("gadget", module=True, after_activity_recorded=recorded))
    on, off = maple.contract(modules=["gadget"]), maple.contract()
    admin = maple.make_user("admin")
    (case_on,) = make_cases(maple.db, on)
    (case_off,) = make_cases(maple.db, off)
    at = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
    services.record_activity(case_on, admin, at=at, result="no_answer")
    services.record_activity(case_off, admin, at=at, result="no_answer")
    assert calls == [(case_on.serial, True, "no_answer", admin.username)]


def test_hook_activity_titles(start):
    def titles(contract):
        return {"gadget_ping": "Gadget ping", "pinged": "Answered the ping"}

    maple = start(plugin("gadget", module=True, activity_titles=titles))
    on, off = maple.contract(modules=["gadget"]), maple.contract()
    admin = maple.login_as("admin")
    (case_on,) = make_cases(maple.db, on)
    (case_off,) = make_cases(maple.db, off)
    at = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
    for case in (case_on, case_off):
        services.record_activity(case, admin, at=at, kind="gadget_ping", result="pinged")
    maple.db.session.commit()
    shown = maple.client.get(f"/cases/{case_on.id}").text
    assert "Gadget ping" in shown and "Answered the ping" in shown
    shown = maple.client.get(f"/cases/{case_off.id}").text  # gadget is off there: as stored
    assert "Answered the ping" not in shown and "pinged" in shown


def test_hook_check_case_work(start, request):
    def hold(case, action):
        return "complaint hold" if case.remark == "投诉" else None

    maple = start(plugin("gadget", module=True, check_case_work=hold))
    on = maple.contract(modules=["gadget"])
    admin = maple.make_user("admin")
    (held,) = make_cases(maple.db, on, remark="投诉")
    (fine,) = make_cases(maple.db, on)
    with pytest.raises(services.CaseRefused) as info:
        services.record_activity(held, admin, at=AT)
    assert "complaint hold" in info.value.message
    assert services.record_activity(fine, admin, at=AT).id

    # Through the web, the refusal is kept in the audit log although the work is undone.
    from core.web.setup import keep_refusal_on_record

    maple.db.session.rollback()
    keep_refusal_on_record(info.value)
    entry = maple.db.session.scalar(select(AuditEntry).filter_by(action="case.action_denied"))
    assert entry.outcome == "denied"
    assert entry.details["reasons"] == ["complaint hold"]
    assert entry.object_id == str(held.id)

    # The core's own check: a paused case cannot be worked either.
    (paused,) = make_cases(maple.db, on, status=PAUSED)
    with force_locale("en"), pytest.raises(services.CaseRefused, match="cannot be worked"):
        services.record_activity(paused, admin, at=AT)


def test_hook_check_contact(start):
    seen = []

    def no_relatives(case, user, channel, contact_type, target, at):
        seen.append((channel, contact_type, target, at))
        return ["third party too early"] if contact_type == "relative" else None

    maple = start(plugin("gadget", module=True, check_contact=no_relatives))
    on, off = maple.contract(modules=["gadget"]), maple.contract()
    admin = maple.make_user("admin")
    (case_on,) = make_cases(maple.db, on)
    (case_off,) = make_cases(maple.db, off)
    with pytest.raises(services.CaseRefused, match="third party too early"):
        services.record_activity(
            case_on, admin, at=AT, contact_type="relative", target="13900000000"
        )
    services.record_activity(case_on, admin, at=AT, contact_type="debtor", target="13800000000")
    services.record_activity(case_off, admin, at=AT, contact_type="relative")  # module off
    assert seen == [
        ("phone", "relative", "13900000000", AT),
        ("phone", "debtor", "13800000000", AT),
    ]
