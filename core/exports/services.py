"""Exporting a case list to .xlsx or .csv: masked, formula-safe, streamed from the database.

Rows come from a server-side cursor (``yield_per``) as plain column tuples, never as ORM
objects, and go straight into xlsxwriter's constant-memory writer or a CSV writer, so an
export of 100k rows costs little more than writing the file itself. A small result is
written in the request; a large one (over ``EXPORT_INLINE_MAX_ROWS``) runs as a job whose
file waits under ``instance/exports`` for the user who asked for it.
"""

from __future__ import annotations

import csv
import os
import re
import secrets
from datetime import date

from flask import current_app
from flask_babel import gettext as _

from core.audit.services import record
from core.cases.filters import CaseFilter, count_cases, list_query
from core.errors import NotAllowed, UserError
from core.extensions import db
from core.jobs.services import job_function
from core.masking import mask_card, mask_id, mask_mobile, mask_name

FORMATS = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
JOB_NAME = "exports.cases"
#: Files of finished export jobs: random names, nothing of the user's input.
STORED_NAME = re.compile(r"[0-9a-f]{32}\.(xlsx|csv)")

TEXT, MONEY, NUMBER, DATE, STATUS = "text", "money", "number", "date", "status"

#: (column key in list_query's rows, header, kind, masking function or None). The headers are
#: the bank workbook's own field names (DOMAIN.md), so an export reads back into an import.
COLUMNS = [
    ("serial", "个案序列号", TEXT, None),
    ("batch_no", "批次号", TEXT, None),
    ("client_name", "委托方", TEXT, None),
    ("contract_number", "合同编号", TEXT, None),
    ("name", "姓名", TEXT, mask_name),
    ("id_no", "证件号", TEXT, mask_id),
    ("card_no", "卡号", TEXT, mask_card),
    ("mobile", "手机号", TEXT, mask_mobile),
    ("entrusted_amount", "委案金额", MONEY, None),
    ("balance", "余额", MONEY, None),
    ("days_overdue", "逾期天数", NUMBER, None),
    ("bucket", "账龄", TEXT, None),
    ("entrust_date", "委案日期", DATE, None),
    ("return_date", "退案日期", DATE, None),
    ("area", "催收区域", TEXT, None),
    ("status", "案件状态", STATUS, None),
    ("status_reason", "状态原因", TEXT, None),
    ("holder", "持案人", TEXT, None),
]

#: A cell starting with one of these is a formula to a spreadsheet program (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 2000


def csv_safe(text: str) -> str:
    """Text a spreadsheet will not run: a leading = + - @ tab or CR gets an apostrophe."""
    return "'" + text if text.startswith(FORMULA_START) else text


def may_unmask(user, requested: bool) -> bool:
    if requested and not user.can("core.pii.unmask"):
        raise NotAllowed(_("You may not export full ID, card and phone numbers."))
    return bool(requested)


def _rows(user, case_filter: CaseFilter):
    query = list_query(user, case_filter, for_export=True).execution_options(yield_per=CHUNK)
    return db.session.execute(query)


def _status_titles() -> dict:
    from core.web.filters import CASE_STATUSES

    return {key: str(value) for key, value in CASE_STATUSES.items()}


def _row_plan(unmasked: bool):
    """(index in the row, kind, mask) per exported column."""
    from core.cases.filters import row_columns

    keys = [column.key for column in row_columns(for_export=True)]
    return [(keys.index(key), kind, None if unmasked else mask) for key, _h, kind, mask in COLUMNS]


def write_xlsx(rows, path: str, *, unmasked: bool, progress=None, total: int = 0) -> int:
    """Write ``rows`` to ``path`` in xlsxwriter's constant-memory mode; return the row count."""
    import xlsxwriter

    workbook = xlsxwriter.Workbook(
        path,
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    sheet = workbook.add_worksheet("案件")
    bold = workbook.add_format({"bold": True, "bg_color": "#F2F2F2"})
    money = workbook.add_format({"num_format": "#,##0.00"})
    day = workbook.add_format({"num_format": "yyyy-mm-dd"})
    for col, (_key, header, kind, _mask) in enumerate(COLUMNS):
        sheet.write_string(0, col, header, bold)
        width = {MONEY: 14, DATE: 12, NUMBER: 10}.get(kind, 16)
        sheet.set_column(col, col, width)
    sheet.freeze_panes(1, 0)
    plan = _row_plan(unmasked)
    statuses = _status_titles()
    write_string, write_number, write_datetime = (
        sheet.write_string,
        sheet.write_number,
        sheet.write_datetime,
    )
    n = 0
    for row in rows:
        n += 1
        for col, (index, kind, mask) in enumerate(plan):
            value = row[index]
            if value is None or value == "":
                continue
            if kind == TEXT:
                write_string(n, col, mask(value) if mask else value)
            elif kind == MONEY:
                write_number(n, col, value, money)
            elif kind == DATE:
                write_datetime(n, col, value, day)
            elif kind == NUMBER:
                write_number(n, col, value)
            else:
                write_string(n, col, statuses.get(value, value))
        if progress is not None and n % CHUNK == 0:
            progress(n, total)
    workbook.close()
    return n


def write_csv(rows, path: str, *, unmasked: bool, progress=None, total: int = 0) -> int:
    """Write ``rows`` as UTF-8 CSV with a BOM (so Excel reads the Chinese); return the count."""
    plan = _row_plan(unmasked)
    statuses = _status_titles()
    n = 0
    with open(path, "w", encoding="utf-8-sig", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow([header for _key, header, _kind, _mask in COLUMNS])
        for row in rows:
            n += 1
            out = []
            for index, kind, mask in plan:
                value = row[index]
                if value is None:
                    out.append("")
                elif kind == TEXT:
                    out.append(csv_safe(mask(value) if mask else value))
                elif kind == MONEY:
                    out.append(f"{value:.2f}")
                elif kind == DATE:
                    out.append(value.isoformat() if isinstance(value, date) else str(value))
                elif kind == NUMBER:
                    out.append(str(value))
                else:
                    out.append(csv_safe(statuses.get(value, value)))
            writer.writerow(out)
            if progress is not None and n % CHUNK == 0:
                progress(n, total)
    return n


def write_export(user, case_filter: CaseFilter, fmt: str, path: str, **kwargs) -> int:
    if fmt not in FORMATS:
        raise UserError(_("Export as xlsx or csv."))
    writer = write_xlsx if fmt == "xlsx" else write_csv
    return writer(_rows(user, case_filter), path, **kwargs)


def audit_export(user, case_filter: CaseFilter, fmt: str, rows: int, unmasked: bool) -> None:
    """The filter, format and count go on record; the data never does."""
    record(
        "cases.exported",
        user=user,
        object_type="cases",
        details={
            "filter": case_filter.as_args(),
            "format": fmt,
            "rows": rows,
            "unmasked": unmasked,
        },
    )


def download_name(fmt: str) -> str:
    from core.types import utcnow

    return f"cases-{utcnow().strftime('%Y%m%d-%H%M%S')}.{fmt}"


def inline_limit() -> int:
    return int(current_app.config.get("EXPORT_INLINE_MAX_ROWS", 5000))


def export_folder() -> str:
    folder = os.path.join(current_app.instance_path, "exports")
    os.makedirs(folder, exist_ok=True)
    return folder


def stored_path(name: str) -> str:
    if not STORED_NAME.fullmatch(name or ""):
        raise UserError(_("There is no such export."))
    return os.path.join(export_folder(), name)


def start_export_job(user, case_filter: CaseFilter, fmt: str, unmasked: bool):
    """Queue a large export; the job writes the file and audits it when done."""
    from core.jobs.services import enqueue

    if fmt not in FORMATS:
        raise UserError(_("Export as xlsx or csv."))
    params = {"filter": case_filter.as_args(), "fmt": fmt, "unmasked": unmasked}
    return enqueue(JOB_NAME, params, user)


@job_function(JOB_NAME)
def export_job(ctx, *, filter: dict, fmt: str, unmasked: bool) -> dict:
    user = ctx.user_who_may("core.cases.export", _("You may not export case lists."))
    unmasked = may_unmask(user, unmasked)
    case_filter = CaseFilter.from_args(filter)
    total = count_cases(user, case_filter)
    ctx.progress(0, total)
    name = f"{secrets.token_hex(16)}.{fmt}"
    path = stored_path(name)
    try:
        rows = write_export(
            user, case_filter, fmt, path, unmasked=unmasked, progress=ctx.progress, total=total
        )
    except BaseException:
        if os.path.exists(path):
            os.remove(path)
        raise
    ctx.progress(rows, rows)
    audit_export(user, case_filter, fmt, rows, unmasked)
    db.session.commit()
    return {"file": name, "rows": rows, "format": fmt, "download_name": download_name(fmt)}
