"""What other modules add to the reports, through the ``report_sections`` hook.

The reports module never imports another module: for each contract a report covers it asks
``hooks_for(contract).report_sections(...)``, so a module the contract has not enabled adds
nothing. Sections of the same key from several contracts are merged into one table, with a
leading "Contract" column when more than one contract contributed rows.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from core.clients.models import Contract
from core.extensions import db
from core.plugins import hooks_for
from core.report_sections import one_pass
from plugins.reports.framework import (
    DATE,
    INT,
    MONEY,
    RATE,
    TEXT,
    Column,
    ReportResult,
    Scope,
    Table,
    report,
)

CONTRACT_COLUMN = "contract"


def _flatten(found) -> list:
    """The sections in one hook answer: pluggy returns one result per plugin, each of them a
    section, a list of sections, or None."""
    sections = []
    for result in found or ():
        if result is None:
            continue
        if isinstance(result, list | tuple):
            sections.extend(s for s in result if s is not None)
        else:
            sections.append(result)
    return sections


def _kind(key: str, values) -> str:
    """A column's kind guessed from its values (the first that is not None decides)."""
    for value in values:
        if value is None:
            continue
        if isinstance(value, bool):
            return TEXT
        if isinstance(value, int):
            return INT
        if isinstance(value, Decimal | float):
            return RATE if key.endswith("_rate") else MONEY
        if isinstance(value, date | datetime):
            return DATE
        return TEXT
    return TEXT


def collect_sections(scope: Scope, keys: set[str] | None = None) -> list[tuple[Contract, object]]:
    """``(contract, section)`` for every section the scope's contracts' modules add (only
    those whose key is in ``keys``, if given).

    Asked in one pass (:func:`core.report_sections.one_pass`): a module that reads its
    figures with ``shared`` reads them once for all the scope's contracts, not once per
    contract (a manager's eight contracts: one statement each, not eight), and may skip a
    section the report does not show (``wanted``)."""
    if not scope.contract_ids:
        return []
    contracts = db.session.scalars(
        select(Contract).where(Contract.id.in_(scope.contract_ids)).order_by(Contract.id)
    ).all()
    found = []
    with one_pass(scope.contract_ids, keys, scope.user_ids):
        for contract in contracts:
            answer = hooks_for(contract).report_sections(
                contract=contract,
                start=scope.filter.start,
                end=scope.filter.end_exclusive,
                user=scope.user,
            )
            found.extend(
                (contract, section)
                for section in _flatten(answer)
                if keys is None or section.key in keys
            )
    return found


def module_sections(scope: Scope, keys: set[str] | None = None) -> list[Table]:
    """The tables other modules add for ``scope`` (only those whose key is in ``keys``, if
    given), one per section key, merged across contracts, in the sections' order."""
    merged: dict[str, list[tuple[Contract, object]]] = {}
    for contract, section in collect_sections(scope, keys):
        merged.setdefault(section.key, []).append((contract, section))
    tables = []
    for key, parts in sorted(merged.items(), key=lambda item: (item[1][0][1].order, item[0])):
        tables.append(merge_sections(key, parts))
    return tables


def merge_sections(key: str, parts: list[tuple[Contract, object]]) -> Table:
    first = parts[0][1]
    contributing = [(c, s) for c, s in parts if s.rows]
    by_contract = len(contributing) > 1
    column_keys = [column_key for column_key, _title in first.columns]
    rows = []
    for contract, section in contributing if by_contract else parts:
        for row in section.rows:
            values = {k: row.get(k) for k in column_keys}
            if by_contract:
                values = {CONTRACT_COLUMN: contract.number, **values}
            rows.append(values)
    columns = [
        Column(column_key, str(title), _kind(column_key, (r.get(column_key) for r in rows)))
        for column_key, title in first.columns
    ]
    if by_contract:
        columns.insert(0, Column(CONTRACT_COLUMN, _("Contract"), TEXT))
    return Table(key=key, title=str(first.title), columns=columns, rows=rows, note=first.note)


@report(
    "sections",
    _l("From other modules"),
    # A module's sections follow who asks and whom the report is about (the team or
    # collector chosen: core.report_sections.narrow); the hook is not told of a batch.
    filters=("client", "contract", "team", "collector"),
    order=90,
    description=_l(
        "Figures only another module knows (compliance refusals, complaints, promises, and "
        "later visits, lawsuits and call scores), for the contracts that have it on."
    ),
)
def sections_report(scope: Scope) -> ReportResult:
    tables = module_sections(scope)
    notes = []
    if not tables:
        notes.append(
            _(
                "No other module adds figures for these contracts: collection, field visits, "
                "litigation and recordings add theirs when a contract has them on."
            )
        )
    return ReportResult(tables=tables, notes=notes)
