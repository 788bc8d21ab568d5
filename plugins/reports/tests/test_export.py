"""The Excel export: read back with openpyxl, every figure equals the table's to the cent,
numbers are numbers with their formats, sheet names are valid and unique."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import openpyxl
import pytest

from plugins.reports import export
from plugins.reports.framework import (
    DATE,
    INT,
    MONEY,
    RATE,
    TEXT,
    Chart,
    Column,
    Report,
    ReportFilter,
    ReportResult,
    Scope,
    Table,
    find_report,
)
from plugins.reports.jobs import dump_result, load_result
from plugins.reports.tests.conftest import confirmed_in_march

CENT = Decimal("0.01")


@pytest.fixture(autouse=True)
def _gauges_installed(with_gauges):
    """The shared world has the gauges module on."""


def sample_table(title="Recovered: by [month]/team*?") -> Table:
    return Table(
        key="sample",
        title=title,
        columns=[
            Column("name", "Name", TEXT),
            Column("day", "Day", DATE),
            Column("cases", "Cases", INT),
            Column("recovered", "Recovered", MONEY),
            Column("rate", "Rate", RATE),
        ],
        rows=[
            {
                "name": "=cmd|' /C calc'!A0",
                "day": date(2026, 3, 1),
                "cases": 3,
                "recovered": Decimal("1234567.89"),
                "rate": Decimal("0.1234"),
            },
            {"name": "王小明", "day": None, "cases": 0, "recovered": Decimal("0.01"), "rate": None},
        ],
        totals={"name": "", "cases": 3, "recovered": Decimal("1234567.90"), "rate": Decimal("0.1")},
        chart=Chart("bar", "name", ("recovered",)),
        note="How it was counted.",
    )


def as_book(content: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(content))


def data_rows(sheet, titles):
    """Rows under the column-title row (found by its titles), up to the first blank row."""
    rows = list(sheet.iter_rows())
    start = next(i for i, row in enumerate(rows) if [c.value for c in row[: len(titles)]] == titles)
    found = []
    for row in rows[start + 1 :]:
        if all(c.value is None for c in row):
            break
        found.append(row)
    return found


def test_figures_are_numbers_with_formats_equal_to_the_cent(app, english):
    report = Report(key="sample", title="Sample report", build=lambda scope: None)
    report_filter = ReportFilter.from_args({"start": "2026-03-01", "end": "2026-03-31"})
    table = sample_table()
    book = as_book(export.workbook_bytes(report, report_filter, ReportResult([table])))
    (sheet,) = book.worksheets
    assert sheet["A1"].value == "Sample report"
    header = [(row[0].value, row[1].value) for row in sheet.iter_rows(min_row=2, max_row=4)]
    assert ("Period covered", "2026-03-01 – 2026-03-31") in header
    first, second, totals = data_rows(sheet, ["Name", "Day", "Cases", "Recovered", "Rate"])
    assert first[0].value == "=cmd|' /C calc'!A0" and first[0].data_type == "s"  # not a formula
    assert first[1].value.date() == date(2026, 3, 1) and first[1].number_format == "yyyy-mm-dd"
    assert first[2].value == 3 and first[2].number_format == "0"
    assert Decimal(str(first[3].value)).quantize(CENT) == Decimal("1234567.89")
    assert first[3].number_format == "#,##0.00"
    assert Decimal(str(first[4].value)) == Decimal("0.1234") and first[4].number_format == "0.00%"
    assert second[0].value == "王小明" and second[1].value is None and second[4].value is None
    assert totals[0].value == "Total" and totals[0].font.bold
    assert Decimal(str(totals[3].value)).quantize(CENT) == Decimal("1234567.90")
    values = [c.value for row in sheet.iter_rows() for c in row]
    assert "How it was counted." in values
    assert sheet.column_dimensions["D"].width >= 12


def test_sheet_names_are_valid_and_unique(app, english):
    used = set()
    names = [export.sheet_name(t, used) for t in ["A/B:C", "A/B:C", "x" * 40, "x" * 40, "'", "[]"]]
    assert len({n.lower() for n in names}) == len(names)
    for name in names:
        assert 0 < len(name) <= 31 and not set(name) & set("[]:*?/\\")
        assert not name.startswith("'")
    report = Report(key="sample", title="Sample", build=lambda scope: None)
    report_filter = ReportFilter.from_args({})
    tables = [sample_table("Same title"), sample_table("Same title")]
    book = as_book(export.workbook_bytes(report, report_filter, ReportResult(tables)))
    assert book.sheetnames == ["Same title", "Same title (2)"]


def test_a_report_without_tables_exports_its_notes(app, english):
    report = Report(key="sample", title="Sample", build=lambda scope: None)
    content = export.workbook_bytes(
        report, ReportFilter.from_args({}), ReportResult([], ["Nothing here."])
    )
    values = [c.value for row in as_book(content).worksheets[0].iter_rows() for c in row]
    assert "Nothing here." in values


def test_recovery_export_equals_the_report_to_the_cent(db, world, english):
    report = find_report("recovery")
    report_filter = ReportFilter.from_args(
        {"start": "2026-03-01", "end": "2026-03-31", "period": "week", "group": "collector"}
    )
    result = report.build(Scope.of(world["manager"], report_filter))
    book = as_book(export.workbook_bytes(report, report_filter, result))
    assert len(book.worksheets) == len(result.tables)
    described = dict(export.describe_filter(report, report_filter))
    assert described["Per"] == "Week" and described["Broken down by"] == "Collector"
    for table, sheet in zip(result.tables, book.worksheets, strict=True):
        titles = [str(c.title) for c in table.columns]
        rows = data_rows(sheet, titles)
        expected = [*table.rows, *([table.totals] if table.totals else [])]
        assert len(rows) == len(expected)
        for cells, values in zip(rows, expected, strict=True):
            for cell, column in zip(cells, table.columns, strict=False):
                value = values.get(column.key)
                if column.kind == MONEY and value is not None:
                    assert Decimal(str(cell.value)).quantize(CENT) == value
                elif column.kind == INT and value is not None:
                    assert cell.value == value
    money_totals = [t.totals["recovered"] for t in result.tables if t.totals]
    expected = confirmed_in_march({world["first"].id, world["second"].id})
    assert money_totals and all(total == expected for total in money_totals)


def test_a_job_result_round_trips_decimals_and_dates(app):
    result = ReportResult([sample_table()], ["a note"])
    restored = load_result(dump_result(result))
    assert restored.tables[0].rows == result.tables[0].rows
    assert restored.tables[0].totals == result.tables[0].totals
    assert restored.tables[0].chart == result.tables[0].chart
    assert restored.notes == ["a note"]
