"""What a module adds to the reports: a titled table of figures (``report_sections`` hook)."""

from __future__ import annotations

from dataclasses import dataclass, field


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
