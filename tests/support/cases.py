"""Batches and cases written straight to the database, for tests that need a case file."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

from core.batches.models import IMPORTED, Batch
from core.cases.models import Case

_numbers = itertools.count(1)


def make_batch(db, contract, batch_no=None, *, status=IMPORTED, area="", **fields):
    batch = Batch(
        contract_id=contract.id,
        batch_no=batch_no or f"B{next(_numbers)}",
        entrust_date=fields.pop("entrust_date", date(2026, 3, 1)),
        status=status,
        area=area,
        **fields,
    )
    db.session.add(batch)
    db.session.commit()
    return batch


def case_row(contract, batch=None, **fields) -> Case:
    """A realistic case; ``fields`` override any column."""
    n = next(_numbers)
    card = fields.pop("card_no", f"6222020000{n:09d}")
    id_no = fields.pop("id_no", f"32010219800101{n % 10000:04d}")
    amount = Decimal(fields.pop("entrusted_amount", Decimal("1000.00") + n))
    values = {
        "contract_id": contract.id,
        "batch_id": batch.id if batch else None,
        "serial": f"T-{n:06d}",
        "name": "张三",
        "card_no": card,
        "card_tail": card[-4:],
        "id_no": id_no,
        "mobile": f"138{n:08d}",
        "entrusted_amount": amount,
        "balance": amount,
        "days_overdue": 45,
        "bucket": "M2",
        "entrust_date": date(2026, 3, 1),
        "area": batch.area if batch else "",
    }
    values.update(fields)
    return Case(**values)


def make_cases(db, contract, batch=None, count=1, **fields) -> list[Case]:
    cases = [case_row(contract, batch, **fields) for _ in range(count)]
    db.session.add_all(cases)
    db.session.commit()
    return cases
