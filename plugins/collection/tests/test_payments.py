"""Payment claims (CP): recorded from the case panel, confirmed or rejected in the queue."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.audit.models import AuditEntry
from core.auth.models import RolePermission
from core.cases.models import PAUSED, SETTLED, Activity, Payment
from core.cases.services import assign
from core.types import utcnow
from plugins.collection import payments
from plugins.collection.tests.work_kit import SHANGHAI, held_cases, sign_in_as
from tests.support.cases import make_cases


def today():
    return utcnow().astimezone(SHANGHAI).date()


def claim_form(amount, paid_on=None, **extra):
    return {"claim-amount": amount, "claim-paid_on": (paid_on or today()).isoformat(),
            "claim-payer": "", "claim-channel": "wechat", "claim-note": "", **extra}  # fmt: skip


def test_a_collector_claims_and_a_manager_confirms_the_case_is_settled(client, db, world):
    (case,) = held_cases(db, world, world.li, entrusted_amount=Decimal("1200.00"))
    sign_in_as(client, db, world.li)
    response = client.post(f"/m/collection/cases/{case.id}/claim",
                           data=claim_form("1200.00", **{"claim-note": "微信转账"}))  # fmt: skip
    assert response.status_code == 302
    claim = db.session.scalar(select(Payment).filter_by(case_id=case.id))
    assert (claim.kind, claim.status, claim.channel) == ("claim", "pending", "wechat")
    note = db.session.scalar(select(Activity).filter_by(case_id=case.id, kind="payment_claim"))
    assert note.note == "微信转账" and note.data["payment_id"] == claim.id
    assert client.get("/m/collection/payments").status_code == 403  # not a confirmer

    sign_in_as(client, db, world.manager)
    page = client.get("/m/collection/payments").get_data(as_text=True)
    assert case.serial in page and "¥1,200.00" in page
    assert client.post(f"/m/collection/payments/{claim.id}/confirm").status_code == 302
    db.session.expire_all()
    assert db.session.get(Payment, claim.id).status == "confirmed"
    case = db.session.get(type(case), case.id)
    assert case.balance == 0 and case.status == SETTLED
    again = client.post(f"/m/collection/payments/{claim.id}/confirm", follow_redirects=True)
    assert "Only a pending claim can be confirmed." in again.get_data(as_text=True)


def test_a_rejected_claim_leaves_the_balance_and_keeps_the_reason(client, db, world):
    (case,) = held_cases(db, world, world.li, entrusted_amount=Decimal("1000.00"))
    claim = payments.claim_payment(case, world.li, amount="300", paid_on=today())
    db.session.commit()
    sign_in_as(client, db, world.manager)
    empty = client.post(f"/m/collection/payments/{claim.id}/reject", data={"reason": " "},
                        follow_redirects=True)  # fmt: skip
    assert "Give a reason" in empty.get_data(as_text=True)
    client.post(f"/m/collection/payments/{claim.id}/reject", data={"reason": "银行查无此笔"})
    db.session.expire_all()
    assert db.session.get(Payment, claim.id).status == "rejected"
    assert db.session.get(type(case), case.id).balance == Decimal("1000.00")
    entry = db.session.scalar(select(AuditEntry).filter_by(action="payment.rejected"))
    assert entry.details["reason"] == "银行查无此笔"


def test_a_claim_is_checked_and_a_paused_case_refused(client, db, world):
    (case,) = held_cases(db, world, world.li)
    sign_in_as(client, db, world.li)
    future = client.post(f"/m/collection/cases/{case.id}/claim",
                         data=claim_form("10", today() + timedelta(days=1)))  # fmt: skip
    assert future.status_code == 422
    assert "cannot be in the future" in future.get_data(as_text=True)
    case.status = PAUSED
    db.session.commit()
    paused = client.post(f"/m/collection/cases/{case.id}/claim", data=claim_form("10"))
    assert paused.status_code == 409 and "cannot be worked" in paused.get_data(as_text=True)
    assert db.session.scalar(select(Payment)) is None


def test_whoever_took_a_claim_does_not_confirm_it(db, world, make_user):
    from core.errors import NotAllowed

    (case,) = held_cases(db, world, world.li)
    claim = payments.claim_payment(case, world.manager, amount="10", paid_on=today())
    with pytest.raises(NotAllowed):
        payments.confirm_claim(claim, world.manager)
    other = make_user("manager", contracts=[world.contract])
    payments.confirm_claim(claim, other)
    assert claim.status == "confirmed"


def test_the_queue_lists_only_claims_of_visible_cases(client, db, world, contract, make_user):
    (case,) = held_cases(db, world, world.li)
    mine = payments.claim_payment(case, world.li, amount="10", paid_on=today())
    other = contract(modules=["collection"])
    (other_case,) = make_cases(db, other)
    stranger = make_user("collector", contracts=[other])
    assign([other_case], holder=stranger, user=None)
    theirs = payments.claim_payment(other_case, stranger, amount="20", paid_on=today())
    # A team leader trusted with confirmations sees their team's claims, no others.
    world.leader.role.grants.append(RolePermission(permission="collection.confirm_payments"))
    db.session.commit()
    assert db.session.scalars(payments.pending_claims_query(world.leader)).all() == [mine]
    assert len(db.session.scalars(payments.pending_claims_query(world.manager)).all()) == 2
    sign_in_as(client, db, world.leader)
    assert case.serial in client.get("/m/collection/payments").get_data(as_text=True)
    assert client.post(f"/m/collection/payments/{theirs.id}/confirm").status_code == 404
