"""What a module adds to the reports: a titled table of figures (``report_sections`` hook).

The hook is asked once per contract. A report over many contracts wraps its asking in
:func:`one_pass`; a module may then read its figures for every contract of the pass in one
statement (:func:`shared`) and hand each contract its part, instead of reading the period's
rows once per contract. A pass may also name the sections the report shows: a module skips
computing the others (:func:`wanted`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Measure:
    """A figure the reports may rank or combine across contracts, read from a section's rows.

    ``numerator`` and ``denominator`` name row keys. A ratio measure (with a denominator) is
    combined by summing numerators and denominators over contracts before dividing, so the
    rate of two contracts is not the mean of their rates; a count measure has no denominator.
    """

    key: str
    #: Translated name of the measure.
    title: str
    numerator: str
    denominator: str | None = None
    #: False for a figure where fewer is better (complaints, refusals).
    higher_is_better: bool = True


@dataclass(frozen=True)
class ReportSection:
    """One table of a report, contributed by the module that owns its figures."""

    #: ``<plugin>.<name>``, stable: exports and tests find a section by it.
    key: str
    #: Translated title shown above the table.
    title: str
    #: ``(key, translated heading)`` per column, in order.
    columns: list[tuple[str, str]]
    #: One dict per row, keyed by the columns' keys; values are str, int, Decimal or date.
    rows: list[dict] = field(default_factory=list)
    #: Sections are shown in ascending order.
    order: int = 500
    #: A sentence under the table saying how the figures were counted.
    note: str = ""
    #: The row key holding the user id when the section has one row per user ("" if not).
    user_key: str = ""
    #: Figures the reports may combine across contracts and rank users by (see Measure).
    measures: tuple[Measure, ...] = ()


#: The contracts of the report being built, and what modules computed for them so far.
_PASS: ContextVar[dict | None] = ContextVar("report_sections_pass", default=None)


@contextmanager
def one_pass(contract_ids, keys=None, people=None) -> Iterator[None]:
    """While a report asks the sections of ``contract_ids``: :func:`shared` computes once.
    ``keys``: the section keys the report shows (None: every section). ``people``: the user
    ids the report is narrowed to (a team or collector chosen; None: everyone the asking
    user may see)."""
    token = _PASS.set(
        {
            "contracts": sorted(set(contract_ids)),
            "values": {},
            "keys": None if keys is None else frozenset(keys),
            "people": None if people is None else frozenset(people),
        }
    )
    try:
        yield
    finally:
        _PASS.reset(token)


def narrow(user_ids):
    """``user_ids`` (whose figures the asking user may see; None: everyone's) narrowed to
    the people the report being built is about, sorted (None: still everyone's). A module
    whose sections have a row per user, or count per user, keeps only these users' figures,
    so a report filtered on a team or a collector shows theirs."""
    memo = _PASS.get()
    chosen = None if memo is None else memo["people"]
    if chosen is None:
        return None if user_ids is None else sorted(user_ids)
    return sorted(chosen if user_ids is None else set(user_ids) & chosen)


def wanted(key: str) -> bool:
    """Whether the report being built shows section ``key``: a module need not compute a
    section nobody will show (outside a pass, or in one naming no keys: every section)."""
    memo = _PASS.get()
    return memo is None or memo["keys"] is None or key in memo["keys"]


def shared(key, contract_id: int, compute: Callable[[list[int]], dict]):
    """``compute(contract_ids)[contract_id]``: figures keyed by contract.

    Inside :func:`one_pass` whose contracts include ``contract_id``, ``compute`` runs once
    per ``key`` for all the pass's contracts, and each call returns its contract's part;
    otherwise it runs for ``contract_id`` alone. ``key`` must name everything the figures
    depend on besides the contracts (the period, who asks). Missing: ``None``.
    """
    memo = _PASS.get()
    if memo is None or contract_id not in memo["contracts"]:
        return compute([contract_id]).get(contract_id)
    if key not in memo["values"]:
        memo["values"][key] = compute(memo["contracts"])
    return memo["values"][key].get(contract_id)
