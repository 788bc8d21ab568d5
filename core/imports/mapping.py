"""Finding the header row and mapping a file's columns to a kind's fields.

Banks put a title row, a date line or blank rows above the header, merge title cells, repeat
a header, and name the same field five ways. The header row is the row, among the first
:data:`SCAN_ROWS`, whose cells match the most aliases of the kind's fields; a header cell
under a merged group title (``联系人1`` over ``姓名 | 关系 | 电话``) is read with the title in
front when that names a field. A header that appears twice gets `` (2)`` after its second
occurrence, and only the first is mapped automatically.

A mapping is a list with one field name (or ``""``, ignored) per column. A mapping saved for
a client and kind (:class:`~core.imports.models.HeaderMapping`, header text → field) wins
over the aliases, so the next file from that bank maps with no clicks.
"""

from __future__ import annotations

import re

from flask_babel import gettext as _
from sqlalchemy import select

from core.extensions import db
from core.imports.models import HeaderMapping
from core.imports.normalise import FULL_WIDTH

#: How far down the header row is looked for.
SCAN_ROWS = 30
_NOISE = re.compile(r"[\s*＊:：()（）\[\]【】]|必填|必输")


def fold(value) -> str:
    """Header text reduced for comparison: half-width, no spaces, marks or '(必填)'."""
    return _NOISE.sub("", str(value).translate(FULL_WIDTH)).lower()


def alias_table(schema_cls) -> dict[str, str]:
    """Folded alias → field name, for every field of the kind's schema."""
    table: dict[str, str] = {}
    for name, field in schema_cls.cells().items():
        for alias in field.aliases:
            table.setdefault(fold(alias), name)
        table.setdefault(fold(name), name)
    return table


def column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _merged_over(merged, row: int, column: int):
    for (r0, c0), (r1, c1) in merged:
        if r0 <= row <= r1 and c0 <= column <= c1:
            return (r0, c0), (r1, c1)
    return None


def detect_header(rows: list[list], schema_cls, merged=()) -> tuple[int, list[str]]:
    """The index of the header row among ``rows`` and the header text of each column.

    ``merged`` holds merged ranges as ((row, col), (row, col)) in the same coordinates.
    """
    table = alias_table(schema_cls)
    best, best_score = None, 0
    fallback = None
    for index, row in enumerate(rows[:SCAN_ROWS]):
        texts = [cell for cell in row if isinstance(cell, str) and cell.strip()]
        score = len({table[fold(t)] for t in texts if fold(t) in table})
        if score > best_score:
            best, best_score = index, score
        if fallback is None and len(texts) >= 2 and len(texts) == len([c for c in row if c != ""]):
            fallback = index
    index = best if best is not None else fallback
    if index is None:
        raise LookupError(_("No header row was found in the first %(n)d rows.", n=SCAN_ROWS))
    groups = [m for m in merged if m[0][0] == index and m[1][1] > m[0][1]]
    below = rows[index + 1] if index + 1 < len(rows) else []
    if groups and any(_plain(below[c]) for (_r, c0), (_r1, c1) in groups
                      for c in range(c0, min(c1 + 1, len(below)))):  # fmt: skip
        return index + 1, _two_row_headers(rows, index, groups)
    return index, header_texts(rows, index, table, merged)


def _two_row_headers(rows, index: int, groups) -> list[str]:
    """A header of group titles (merged across their columns) over the columns' own names."""
    top, below = rows[index], rows[index + 1]
    width = max(len(top), len(below))
    texts = []
    for column in range(width):
        upper = _plain(top[column]) if column < len(top) else ""
        lower = _plain(below[column]) if column < len(below) else ""
        group = next(((c0, c1) for (_r, c0), (_r1, c1) in groups if c0 <= column <= c1), None)
        if group:
            texts.append(_plain(top[group[0]]) + lower)
        else:
            texts.append(upper or lower)
    rows = [*rows[: index + 1], texts, *rows[index + 2 :]]
    return header_texts(rows, index + 1, {})


def header_texts(rows, index: int, table: dict[str, str], merged=(), offset: int = 0) -> list:
    row = rows[index]
    width = max(len(r) for r in rows[index : index + 50]) if rows else len(row)
    headers: list[str] = []
    seen: dict[str, int] = {}
    for column in range(width):
        value = row[column] if column < len(row) else ""
        text = _plain(value)
        if index > 0 and merged:
            group = _merged_over(merged, index - 1, column)
            if group and group[0][1] != group[1][1]:
                title = _plain(rows[index - 1][group[0][1]])
                if title and fold(title + text) in table and fold(text) not in table:
                    text = title + text
        if not text:
            text = f"({column_letter(column + offset)})"
        count = seen.get(text, 0) + 1
        seen[text] = count
        headers.append(text if count == 1 else f"{text} ({count})")
    return headers


def _plain(value) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def auto_map(headers: list[str], schema_cls, saved: dict | None = None) -> list[str]:
    """One field name (or "") per column: the saved mapping first, then the aliases."""
    table = alias_table(schema_cls)
    fields = schema_cls.cells()
    result: list[str] = []
    taken: set[str] = set()
    saved = saved or {}
    for header in headers:
        name = ""
        if header in saved and (saved[header] in fields or saved[header] == ""):
            name = saved[header]
        elif not header.endswith(")") or not re.search(r" \(\d+\)$", header):
            name = table.get(fold(header), "")
        if name and name in taken:
            name = ""
        if name:
            taken.add(name)
        result.append(name)
    return result


def check_mapping(mapping: list[str], headers: list[str], schema_cls) -> dict[str, list[str]]:
    """Problems with a mapping, by field: a field mapped twice, a required field missing."""
    fields = schema_cls.cells()
    problems: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    for header, name in zip(headers, mapping, strict=True):
        if not name:
            continue
        if name not in fields:
            problems.setdefault(name, []).append(_("Unknown field."))
        elif name in seen:
            problems.setdefault(name, []).append(
                _("Columns %(a)s and %(b)s both map to it.", a=seen[name], b=header)
            )
        else:
            seen[name] = header
    for name, field in fields.items():
        if field.required and name not in seen:
            problems.setdefault(name, []).append(
                _("Required: the file has no column for %(field)s (%(header)s).",
                  field=field.label, header=field.header)
            )  # fmt: skip
    return problems


def saved_mapping(client_id: int, kind: str) -> dict | None:
    row = db.session.scalar(select(HeaderMapping).filter_by(client_id=client_id, kind=kind))
    return dict(row.columns) if row else None


def save_mapping(client_id: int, kind: str, headers: list[str], mapping: list[str]) -> None:
    """Remember the user's choices for this client and kind (merged into what was saved)."""
    row = db.session.scalar(select(HeaderMapping).filter_by(client_id=client_id, kind=kind))
    if row is None:
        row = HeaderMapping(client_id=client_id, kind=kind, columns={})
        db.session.add(row)
    columns = dict(row.columns or {})
    for header, name in zip(headers, mapping, strict=True):
        if not header.startswith("("):
            columns[header] = name
    row.columns = columns
    db.session.flush()
