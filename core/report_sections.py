"""What a module adds to the reports: a titled table of figures (``report_sections`` hook)."""

from __future__ import annotations

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
