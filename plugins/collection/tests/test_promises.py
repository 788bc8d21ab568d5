"""Promises to pay judged kept or broken: on each confirmed payment and by the daily command."""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.batches.models import Batch
from core.cases.services import confirm_payment, record_payment
from core.types import utcnow
from plugins.collection import promises, work
from plugins.collection.models import Promise
from plugins.collection.tests.work_kit import SHANGHAI, held_cases, yesterday

# Imports run without a user, in the default language: English here, as checked below.
pytestmark = pytest.mark.usefixtures("english_by_default")


def today() -> date:
    return utcnow().astimezone(SHANGHAI).date()


def promise_on(db, world, case, amount="500", due=None) -> Promise:
    """A promise made yesterday, due ``due`` (default: in three days)."""
    work.record_contact(case, world.li, at=yesterday(10), channel="phone", contact_type="debtor",
                        target=case.mobile, result="promise_to_pay",
                        promise_amount=Decimal(amount),
                        promise_date=due or today() + timedelta(days=3))  # fmt: skip
    db.session.commit()
    return db.session.scalar(select(Promise).filter_by(case_id=case.id))


def pay(case, amount, paid_on, user=None):
    return record_payment(case, amount=Decimal(amount), paid_on=paid_on, user=user)


def test_a_payment_in_full_before_the_due_date_keeps_the_promise(db, world):
    (case,) = held_cases(db, world, world.li, entrusted_amount=Decimal(5000))
    promise = promise_on(db, world, case)
    pay(case, "500.00", today())
    assert promise.status == "kept" and promise.paid_amount == Decimal(500)
    assert promise.evaluated_at is not None


def test_two_partial_payments_that_add_up_keep_it(db, world):
    (case,) = held_cases(db, world, world.li, entrusted_amount=Decimal(5000))
    promise = promise_on(db, world, case)
    pay(case, "200", today() - timedelta(days=1))  # the day the promise was made counts
    assert promise.status == "pending" and promise.paid_amount == Decimal(200)
    pay(case, "300", today())
    assert promise.status == "kept"


def test_a_payment_before_the_promise_was_made_does_not_count(db, world):
    (case,) = held_cases(db, world, world.li, entrusted_amount=Decimal(5000))
    promise = promise_on(db, world, case)
    pay(case, "500", today() - timedelta(days=5))
    assert promise.status == "pending" and promise.paid_amount == 0


def test_a_partial_payment_leaves_it_broken_once_the_date_passed(db, world):
    (case,) = held_cases(db, world, world.li, entrusted_amount=Decimal(5000))
    promise = promise_on(db, world, case, due=today())
    pay(case, "499.99", today())
    assert promise.status == "pending"
    counts = promises.evaluate_due(today() + timedelta(days=1))
    assert counts == {"kept": 0, "broken": 1}
    assert promise.status == "broken" and promise.paid_amount == Decimal("499.99")
    assert promises.evaluate_due(today() + timedelta(days=1)) == {"kept": 0, "broken": 0}


def test_a_late_payment_does_not_keep_it(db, world):
    (case,) = held_cases(db, world, world.li, entrusted_amount=Decimal(5000))
    promise = promise_on(db, world, case, due=today())
    promises.evaluate_due(today() + timedelta(days=1))
    assert promise.status == "broken"
    late = pay(case, "500", today() + timedelta(days=1))
    promises.payment_recorded(case, late)
    assert promise.status == "broken"


def test_a_claim_confirmed_late_but_paid_in_time_turns_a_broken_promise_kept(db, world):
    (case,) = held_cases(db, world, world.li, entrusted_amount=Decimal(5000))
    promise = promise_on(db, world, case, due=today())
    claim = record_payment(case, amount=Decimal(500), paid_on=today(), user=world.li,
                           kind="claim")  # fmt: skip
    promises.evaluate_due(today() + timedelta(days=1))  # the bank had not confirmed it yet
    assert promise.status == "broken"
    confirm_payment(claim, world.manager)
    assert promise.status == "kept"


def test_an_imported_repayment_keeps_the_promise(db, world, app_config, tmp_path):
    from core.imports import services
    from tests.support.workbooks import xlsx_bytes

    app_config["UPLOAD_FOLDER"] = str(tmp_path)
    batch = Batch(contract_id=world.contract.id, batch_no="R1", entrust_date=date(2026, 3, 1))
    db.session.add(batch)
    db.session.commit()
    (case,) = held_cases(db, world, world.li, batch_id=batch.id, entrusted_amount=Decimal(9000))
    promise = promise_on(db, world, case)
    rows = [["个案序列号", "还款金额", "还款日期", "流水号"],
            [case.serial, "500", today().isoformat(), "BANK-1"]]  # fmt: skip
    run = services.start_import(batch, "repayments", io.BytesIO(xlsx_bytes(rows)), "r.xlsx", None)
    db.session.commit()
    report = services.commit(run.id)
    assert report["created"] == 1
    db.session.refresh(promise)
    assert promise.status == "kept" and promise.paid_amount == Decimal(500)


def test_the_evaluate_promises_command(app, db, world):
    first, second = held_cases(db, world, world.li, count=2, entrusted_amount=Decimal(5000))
    kept = promise_on(db, world, first, due=today())
    broken = promise_on(db, world, second, due=today())
    pay(first, "500", today())
    db.session.commit()
    runner = app.test_cli_runner()
    help_text = runner.invoke(args=["collection", "evaluate-promises", "--help"]).output
    assert "cron" in help_text and "kept" in help_text
    later = (today() + timedelta(days=1)).isoformat()
    result = runner.invoke(args=["collection", "evaluate-promises", "--date", later])
    assert result.exit_code == 0, result.output
    assert "promises kept: 0, broken: 1" in result.output
    db.session.expire_all()
    assert db.session.get(Promise, kept.id).status == "kept"
    assert db.session.get(Promise, broken.id).status == "broken"
