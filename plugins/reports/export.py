"""A report as an Excel file: one sheet per table, the same figures as the page.

Each sheet starts with a header block (the report's title, its period and its filters in
words), then the column titles, the rows and the totals row. Numbers are written as numbers
with a format (money ``#,##0.00``, rates ``0.00%``, counts ``0``), dates as dates, text as
text (never as a formula).
"""

from __future__ import annotations

import io
import re
import unicodedata
from datetime import date, datetime
from decimal import Decimal

import xlsxwriter
from flask_babel import gettext as _
from sqlalchemy import select

from core.auth.models import Team, User
from core.batches.models import Batch
from core.clients.models import Client, Contract
from core.extensions import db
from plugins.reports.framework import (
    DATE,
    FIELD_TITLES,
    GROUPS,
    INT,
    MONEY,
    PERIODS,
    RATE,
    Report,
    ReportFilter,
    ReportResult,
    Table,
)

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHEET_NAME_LIMIT = 31
SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
MIN_WIDTH, MAX_WIDTH = 8, 48


# -- the filter in words ---------------------------------------------------------------------


def _name_of(model, attribute: str, object_id: int | None) -> str | None:
    if object_id is None:
        return None
    value = db.session.scalar(select(getattr(model, attribute)).where(model.id == object_id))
    return str(value) if value is not None else f"#{object_id}"


def describe_filter(report: Report, report_filter: ReportFilter) -> list[tuple[str, str]]:
    """``(label, value)`` pairs saying what the figures cover, in the user's language."""
    words = [
        (
            _("Period covered"),
            f"{report_filter.start.isoformat()} – {report_filter.end.isoformat()}",
        )
    ]
    if report.uses_period:
        words.append((str(FIELD_TITLES["period"]), str(PERIODS[report_filter.period])))
    if report.uses_group:
        words.append((str(FIELD_TITLES["group"]), str(GROUPS[report_filter.group])))
    named = (
        ("client", Client, "name"),
        ("contract", Contract, "number"),
        ("batch", Batch, "batch_no"),
        ("team", Team, "name"),
        ("collector", User, "display_name"),
    )
    for field_name, model, attribute in named:
        value = _name_of(model, attribute, getattr(report_filter, field_name))
        if value is not None:
            words.append((str(FIELD_TITLES[field_name]), value))
    return words


# -- the workbook ----------------------------------------------------------------------------


def sheet_name(title: str, used: set[str]) -> str:
    """A valid sheet name for ``title``: at most 31 characters, none of ``[]:*?/\\``, not
    blank, not starting or ending with an apostrophe, and unique (case-insensitively)."""
    base = SHEET_FORBIDDEN.sub(" ", str(title)).strip().strip("'").strip() or _("Sheet")
    name, n = base[:SHEET_NAME_LIMIT], 1
    while name.lower() in used:
        n += 1
        suffix = f" ({n})"
        name = base[: SHEET_NAME_LIMIT - len(suffix)].rstrip() + suffix
    used.add(name.lower())
    return name


def _display_width(text: str) -> int:
    """Columns a text takes: Chinese characters are about two Latin ones wide."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _shown(value, kind: str) -> str:
    if value is None:
        return ""
    if kind == MONEY and isinstance(value, Decimal | int | float):
        return f"{value:,.2f}"
    if kind == RATE and isinstance(value, Decimal | int | float):
        return f"{value * 100:.2f}%"
    return str(value)


class _Formats:
    def __init__(self, book):
        self.title = book.add_format({"bold": True, "font_size": 14})
        self.label = book.add_format({"bold": True, "font_color": "#52606D"})
        self.note = book.add_format({"italic": True, "font_color": "#52606D"})
        self.header = book.add_format(
            {"bold": True, "bg_color": "#EEF2F6", "bottom": 1, "text_wrap": True}
        )
        self.cells = {
            MONEY: book.add_format({"num_format": "#,##0.00"}),
            RATE: book.add_format({"num_format": "0.00%"}),
            INT: book.add_format({"num_format": "0"}),
            DATE: book.add_format({"num_format": "yyyy-mm-dd"}),
        }
        self.totals = {
            kind: book.add_format({"bold": True, "top": 1, "num_format": fmt})
            for kind, fmt in (
                (MONEY, "#,##0.00"),
                (RATE, "0.00%"),
                (INT, "0"),
                (DATE, "yyyy-mm-dd"),
                ("", "General"),
            )
        }


def _write(sheet, row: int, col: int, value, kind: str, fmt) -> None:
    if value is None:
        sheet.write_blank(row, col, None, fmt)
    elif kind in (MONEY, RATE, INT) and isinstance(value, Decimal | int | float):
        sheet.write_number(row, col, float(value), fmt)
    elif kind == DATE and isinstance(value, date):
        moment = (
            value if isinstance(value, datetime) else datetime.combine(value, datetime.min.time())
        )
        sheet.write_datetime(row, col, moment.replace(tzinfo=None), fmt)
    else:
        sheet.write_string(row, col, str(value), fmt)


def _write_table(sheet, table: Table, header: list[tuple[str, str]], title: str, f: _Formats):
    sheet.write_string(0, 0, title, f.title)
    row = 1
    if str(table.title) != title:
        sheet.write_string(row, 0, str(table.title), f.label)
        row += 1
    for label, value in header:
        sheet.write_string(row, 0, label, f.label)
        sheet.write_string(row, 1, value)
        row += 1
    row += 1
    widths = [max(MIN_WIDTH, _display_width(str(c.title)) + 2) for c in table.columns]
    # The header block's labels sit in the first column, their values in the second.
    for label, value in header:
        widths[0] = max(widths[0], _display_width(label) + 2)
        if len(widths) > 1:
            widths[1] = max(widths[1], min(_display_width(value) + 2, 28))
    for col, column in enumerate(table.columns):
        sheet.write_string(row, col, str(column.title), f.header)
    sheet.freeze_panes(row + 1, 0)
    head_row = row
    for values in table.rows:
        row += 1
        for col, column in enumerate(table.columns):
            value = values.get(column.key)
            _write(sheet, row, col, value, column.kind, f.cells.get(column.kind))
            widths[col] = max(widths[col], _display_width(_shown(value, column.kind)) + 2)
    if table.totals is not None:
        row += 1
        for col, column in enumerate(table.columns):
            value = table.totals.get(column.key)
            if col == 0 and value in (None, ""):
                value = _("Total")
            fmt = f.totals.get(column.kind, f.totals[""])
            _write(sheet, row, col, value, column.kind, fmt)
            widths[col] = max(widths[col], _display_width(_shown(value, column.kind)) + 2)
    if table.rows:
        sheet.autofilter(head_row, 0, head_row + len(table.rows), len(table.columns) - 1)
    if table.note:
        sheet.write_string(row + 2, 0, str(table.note), f.note)
    for col, width in enumerate(widths):
        sheet.set_column(col, col, min(width, MAX_WIDTH))


def workbook_bytes(report: Report, report_filter: ReportFilter, result: ReportResult) -> bytes:
    """The report's ``.xlsx`` file: one sheet per table (a sheet with the notes when the
    report has no table)."""
    output = io.BytesIO()
    book = xlsxwriter.Workbook(output, {"in_memory": True})
    formats = _Formats(book)
    header = describe_filter(report, report_filter)
    title, used = str(report.title), set()
    for table in result.tables:
        sheet = book.add_worksheet(sheet_name(table.title, used))
        _write_table(sheet, table, header, title, formats)
    if not result.tables:
        sheet = book.add_worksheet(sheet_name(title, used))
        sheet.write_string(0, 0, title, formats.title)
        for row, (label, value) in enumerate(header, start=1):
            sheet.write_string(row, 0, label, formats.label)
            sheet.write_string(row, 1, value)
        for row, note in enumerate(result.notes or [_("Nothing to show.")], len(header) + 2):
            sheet.write_string(row, 0, str(note), formats.note)
        sheet.set_column(0, 0, 16)
        sheet.set_column(1, 1, 40)
    book.close()
    return output.getvalue()


def download_name(report: Report, report_filter: ReportFilter) -> str:
    """``recovery-2026-03-01-2026-03-31.xlsx``: ASCII, so every browser keeps it."""
    start, end = report_filter.start.isoformat(), report_filter.end.isoformat()
    return f"{report.key}-{start}-{end}.xlsx"
