"""Checking an uploaded file before anything parses it, then reading its rows.

The checks, in order, each a 4xx naming the problem (never a 500):

1. What the bytes are, whatever the name says: a zip (.xlsx), an OLE2 compound file (.xls,
   magic ``D0 CF 11 E0``) or text (.csv). A text file named ``.xlsx`` is refused.
2. For a zip, from its central directory alone (``zipfile.infolist``): the number of
   entries and the declared uncompressed size (zip bombs); ``[Content_Types].xml`` and
   ``xl/workbook.xml`` present; no ``vbaProject.bin`` nor macro-enabled content type.
3. Every XML part is read through Python's zipfile before calamine sees it: a DOCTYPE or
   ENTITY declaration (billion laughs, external entities) is refused, and an entry that
   inflates beyond its declared size fails its CRC check (a lying zip bomb).
4. Row, column and cell-length caps, checked from the sheet's dimensions before any row is
   turned into Python objects (cells are checked as they are read).

python-calamine reads the cells; it never evaluates a formula (it reads the cached values).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _

from core.errors import UserError

OLE_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
MACRO_SUFFIXES = (".xlsm", ".xltm", ".xlam", ".xla")
#: How much of each XML part's start is searched for a document type declaration.
XML_HEAD = 64 * 1024
_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class FileRejected(UserError):
    """The file is damaged or cannot be read as a spreadsheet."""

    status_code = 400


class FileTooLarge(FileRejected):
    status_code = 413


class UnsupportedFile(FileRejected):
    """Not a spreadsheet, or a macro-enabled one."""

    status_code = 415


def _config(name: str) -> int:
    return int(current_app.config[name])


def sniff(path: Path, file_name: str) -> str:
    """Check the stored file and say what it is: ``"xlsx"``, ``"xls"`` or ``"csv"``."""
    suffix = Path(file_name).suffix.lower()
    if suffix in MACRO_SUFFIXES:
        raise UnsupportedFile(
            _("Macro-enabled workbooks (%(suffix)s) are refused: save it as .xlsx.", suffix=suffix)
        )
    size = path.stat().st_size
    if size == 0:
        raise FileRejected(_("The file is empty."))
    with path.open("rb") as handle:
        head = handle.read(8)
    if head.startswith(ZIP_MAGICS):
        _check_zip(path)
        return "xlsx"
    if head == OLE_MAGIC:
        _check_ole(path)
        return "xls"
    if suffix in (".xlsx", ".xls"):
        raise UnsupportedFile(
            _("The file is named %(suffix)s but is not an Excel workbook.", suffix=suffix)
        )
    if suffix in (".csv", ".txt"):
        decode_text(path.read_bytes())
        return "csv"
    raise UnsupportedFile(_("Maple reads .xlsx, .xls and .csv files."))


def _check_zip(path: Path) -> None:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise FileRejected(
            _("The workbook is damaged or incomplete (its zip structure cannot be read).")
        ) from None
    with archive:
        infos = archive.infolist()
        if len(infos) > _config("IMPORT_MAX_ZIP_ENTRIES"):
            raise FileTooLarge(
                _("The workbook holds %(n)d parts; Maple reads at most %(max)d.",
                  n=len(infos), max=_config("IMPORT_MAX_ZIP_ENTRIES"))
            )  # fmt: skip
        declared = sum(info.file_size for info in infos)
        limit = _config("IMPORT_MAX_UNCOMPRESSED")
        if declared > limit:
            raise FileTooLarge(
                _("The workbook would expand to %(size)d MB; Maple reads at most %(max)d MB.",
                  size=declared // 2**20, max=limit // 2**20)
            )  # fmt: skip
        names = {info.filename.lower(): info for info in infos}
        if any(name.endswith("vbaproject.bin") or "/vba" in name for name in names):
            raise UnsupportedFile(_("The workbook contains macros; save it as .xlsx without them."))
        if "[content_types].xml" not in names or "xl/workbook.xml" not in names:
            raise UnsupportedFile(_("The file is a zip archive but not an Excel workbook."))
        for info in infos:
            if info.flag_bits & 0x1:
                raise FileRejected(_("The workbook is encrypted; remove its password first."))
            _check_part(archive, info)
        types = archive.read(names["[content_types].xml"])
        if b"macroEnabled" in types or b"vbaProject" in types:
            raise UnsupportedFile(_("The workbook contains macros; save it as .xlsx without them."))


def _check_part(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """Read one part to its end: no DTD in XML, and no more bytes than declared (CRC)."""
    is_xml = info.filename.lower().endswith((".xml", ".rels", ".vml"))
    try:
        with archive.open(info) as part:
            head = part.read(XML_HEAD)
            if is_xml:
                probe = head
                if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
                    probe = head.decode("utf-16", "ignore").encode()
                if _DOCTYPE.search(probe):
                    raise FileRejected(
                        _("The workbook's XML declares a document type or entities, which "
                          "Maple refuses (entity expansion attack).")
                    )  # fmt: skip
            while part.read(1 << 20):
                pass
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as error:
        raise FileRejected(
            _("The workbook is damaged (part %(part)s: %(reason)s).",
              part=info.filename[:60], reason=str(error)[:80])
        ) from None  # fmt: skip


def _check_ole(path: Path) -> None:
    data = path.read_bytes()
    if "_VBA_PROJECT".encode("utf-16-le") in data:
        raise UnsupportedFile(_("The workbook contains macros; save it as .xlsx without them."))
    if "Workbook".encode("utf-16-le") not in data and "Book".encode("utf-16-le") not in data:
        raise UnsupportedFile(_("The file is an Office document but not an Excel workbook."))


def decode_text(data: bytes) -> str:
    """A CSV file's text: UTF-8 (with or without BOM), UTF-16 with BOM, or GBK/GB18030."""
    if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise FileRejected(_("The text file is not valid UTF-16.")) from None
    if b"\x00" in data[:65536]:
        raise UnsupportedFile(_("The file is not a text (CSV) file."))
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnsupportedFile(
        _("The CSV file is neither UTF-8 nor GBK/GB18030 text; save it again as CSV UTF-8.")
    )


# -- reading ----------------------------------------------------------------------------------


@dataclass
class Table:
    """The first sheet of a file: rows as lists (row 0 is the file's row 1)."""

    format: str
    #: Merged ranges ((row, col), (row, col)) in these rows' coordinates.
    merged: list = field(default_factory=list)
    #: Indices of columns hidden in the workbook.
    hidden: set = field(default_factory=set)
    #: Offset of column 0 in the sheet (calamine drops empty leading columns).
    column_offset: int = 0
    #: Rows in the sheet, the header and anything above it included.
    height: int = 0
    _sheet: object = None
    _text: str | None = None

    def rows(self) -> Iterator[list]:
        if self._text is not None:
            return _csv_rows(self._text)
        return self._sheet.iter_rows()

    def head(self, count: int) -> list[list]:
        rows = []
        for row in self.rows():
            rows.append(row)
            if len(rows) >= count:
                break
        return rows


def _csv_rows(text: str) -> Iterator[list]:
    sample = text[:8192]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",\t;|")
    except csv.Error:
        dialect = csv.excel
    return csv.reader(io.StringIO(text, newline=""), dialect)


def open_table(path: Path, fmt: str) -> Table:
    """Open the file's first visible worksheet (or the CSV) after :func:`sniff` accepted it."""
    max_rows, max_columns = _config("IMPORT_MAX_ROWS"), _config("IMPORT_MAX_COLUMNS")
    if fmt == "csv":
        text = decode_text(path.read_bytes())
        height = text.count("\n") + 1
        if height > max_rows + 50:
            raise FileTooLarge(_("The file has more than %(max)d rows.", max=max_rows))
        table = Table(format=fmt, height=height, _text=text)
        for row in table.head(50):
            if len(row) > max_columns:
                raise FileTooLarge(_("The file has more than %(max)d columns.", max=max_columns))
        return table
    import python_calamine

    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
        index = _first_worksheet(workbook)
        sheet = workbook.get_sheet_by_index(index)
        start = sheet.start or (0, 0)
        end = sheet.end or (0, 0)
        merged = sheet.merged_cell_ranges or []
    except FileRejected:
        raise
    except Exception as error:  # noqa: BLE001 - any of calamine's many errors: unreadable
        raise FileRejected(
            _("The workbook could not be read: %(reason)s", reason=str(error)[:120])
        ) from None
    if end[0] + 1 > max_rows + 50:
        raise FileTooLarge(
            _(
                "The sheet has %(n)d rows; Maple imports at most %(max)d.",
                n=end[0] + 1,
                max=max_rows,
            )
        )
    if end[1] - start[1] + 1 > max_columns:
        raise FileTooLarge(_("The sheet has more than %(max)d columns.", max=max_columns))
    offset = start[1]
    table = Table(
        format=fmt,
        merged=[((r0, c0 - offset), (r1, c1 - offset)) for (r0, c0), (r1, c1) in merged],
        column_offset=offset,
        height=end[0] + 1,
        _sheet=sheet,
    )
    if fmt == "xlsx":
        table.hidden = {c - offset for c in _hidden_columns(path, workbook.sheet_names[index])}
    return table


def _first_worksheet(workbook) -> int:
    import python_calamine

    for index, meta in enumerate(workbook.sheets_metadata):
        if (
            meta.typ == python_calamine.SheetTypeEnum.WorkSheet
            and meta.visible == python_calamine.SheetVisibleEnum.Visible
        ):
            return index
    raise FileRejected(_("The workbook has no visible worksheet."))


def _hidden_columns(path: Path, sheet_name: str) -> set[int]:
    """Columns the sheet marks hidden (``<col hidden="1">``), 0-based sheet indices."""
    try:
        with zipfile.ZipFile(path) as archive:
            book = archive.read("xl/workbook.xml").decode("utf-8", "ignore")
            rels = archive.read("xl/_rels/workbook.xml.rels").decode("utf-8", "ignore")
            rel_id = None
            for tag in re.findall(r"<(?:\w+:)?sheet\b[^>]*>", book):
                name = re.search(r'\bname="([^"]*)"', tag)
                if name and _unescape(name.group(1)) == sheet_name:
                    found = re.search(r'\br:id="([^"]*)"', tag) or re.search(r'\bid="([^"]*)"', tag)
                    rel_id = found.group(1) if found else None
            target = None
            for tag in re.findall(r"<Relationship\b[^>]*>", rels):
                if f'Id="{rel_id}"' in tag:
                    target = re.search(r'Target="([^"]*)"', tag).group(1)
            if not target:
                return set()
            target = target.lstrip("/")
            part = target if target.startswith("xl/") else "xl/" + target
            with archive.open(part) as handle:
                head = handle.read(XML_HEAD).decode("utf-8", "ignore")
    except (KeyError, zipfile.BadZipFile, AttributeError):
        return set()
    hidden: set[int] = set()
    for tag in re.findall(r"<(?:\w+:)?col\b[^>]*>", head.split("<sheetData", 1)[0]):
        if re.search(r'\bhidden="(1|true)"', tag):
            low = int(re.search(r'\bmin="(\d+)"', tag).group(1))
            high = int(re.search(r'\bmax="(\d+)"', tag).group(1))
            hidden.update(range(low - 1, min(high, low + 500)))
    return hidden


def _unescape(text: str) -> str:
    return (
        text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
    )
