"""Real files for import tests: workbooks written with openpyxl, CSV as text."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

from openpyxl import Workbook

#: A realistic header of a bank's case list (a subset of the 24 DOMAIN columns).
CASE_HEADERS = [
    "个案序列号",
    "姓名",
    "证件号",
    "卡号",
    "委案金额",
    "逾期天数",
    "手机号",
    "委案日期",
]

#: Valid 18-digit IDs (check digits computed).
IDS = ["11010519491231002X", "110105194912310029", "320102198001011234"]


def valid_id(seed: int) -> str:
    from core.imports.normalise import id_check_digit

    first = f"3201021980{(seed % 12) + 1:02d}{(seed % 28) + 1:02d}{seed % 1000:03d}"
    return first + id_check_digit(first)


def case_row(n: int, **changes) -> list:
    row = {
        "个案序列号": f"S-{n:05d}",
        "姓名": f"张{n}",
        "证件号": valid_id(n),
        "卡号": f"62220202{n:011d}",
        "委案金额": 1000 + n,
        "逾期天数": 45,
        "手机号": f"138{n:08d}",
        "委案日期": date(2015, 6, 10),
    }
    row.update(changes)
    return [row[h] for h in CASE_HEADERS]


def xlsx_bytes(rows: list[list], *, above: list[list] | None = None, setup=None) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in above or []:
        sheet.append(row)
    for row in rows:
        sheet.append(row)
    if setup:
        setup(sheet)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def cases_xlsx(count: int, start: int = 1, **kw) -> bytes:
    return xlsx_bytes([CASE_HEADERS] + [case_row(n) for n in range(start, start + count)], **kw)
