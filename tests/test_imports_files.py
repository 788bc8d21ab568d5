"""What banks' files really contain: every messy input of DOMAIN.md, formats, kinds, hooks."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from marshmallow import ValidationError
from sqlalchemy import select
from support.workbooks import CASE_HEADERS, case_row, valid_id, xlsx_bytes

from core import hookimpl
from core.batches.models import Batch
from core.cases.models import Case
from core.errors import StartupError
from core.imports import normalise as n
from core.imports import services
from core.imports.kinds import ImportKind, core_kinds
from core.imports.schemas import ImportSchema, NewCaseSchema, RowLoader, cell
from core.modules import ModuleInfo
from core.plugins import registry


@pytest.fixture(autouse=True)
def uploads(app_config, tmp_path):
    app_config["UPLOAD_FOLDER"] = str(tmp_path / "uploads")
    # Imports run without a user here, so in the default language: make that English, which
    # the messages below are checked in.
    app_config["BABEL_DEFAULT_LOCALE"] = "en"


def make_batch(db, contract):
    batch = Batch(contract_id=contract.id, batch_no="B1", entrust_date=date(2015, 6, 10))
    db.session.add(batch)
    db.session.commit()
    return batch


def run_file(batch, data, name="cases.xlsx", kind="cases", dry=True):
    run = services.start_import(batch, kind, io.BytesIO(data), name, None)
    services.db.session.commit()
    return run, (services.dry_run(run) if dry else services.commit(run.id, skip_invalid=True))


# -- each messy value, one function at a time -----------------------------------------------------


def test_full_width_spaces_and_a_stray_apostrophe(app):
    assert n.card_no("６２２２ ０２０２ ００１１ ２２３３ ４４５") == "6222020200112233445"
    assert n.card_no("'6222020200112233445") == "6222020200112233445"
    assert n.mobile("１３８ ００１３ ８０００") == "13800138000"
    assert n.mobile("+86 138-0013-8000") == "13800138000"
    assert n.id_no("'１１０１０５１９４９１２３１００２ｘ") == "11010519491231002X"
    assert n.money("１２，３４５．６０") == Decimal("12345.60")


@pytest.mark.parametrize(
    "value",
    [date(2015, 6, 10), datetime(2015, 6, 10, 0, 0), 42165.0, "42165", "2015/6/10", "2015-06-10",
     "2015年6月10日", "20150610", 20150610.0, "2015.6.10", "２０１５－０６－１０", "2015-06-10 00:00:00"],
)  # fmt: skip
def test_every_date_form(app, value):
    assert n.to_date(value) == date(2015, 6, 10)


@pytest.mark.parametrize("value", ["2015/13/10", "yesterday", "2015-02-30", True])
def test_bad_dates_are_errors(app, value):
    with pytest.raises(n.CellError):
        n.to_date(value)


@pytest.mark.parametrize(
    "value",
    ["12,345.60", "¥12345.6", "12345.60元", "￥12,345.6", 12345.6, "RMB 12345.60", "12345.6 "],
)
def test_every_money_form(app, value):
    assert n.money(value) == Decimal("12345.60")


def test_money_rounds_excel_tails_and_refuses_text(app):
    assert n.money(1234.5600000001) == Decimal("1234.56")
    with pytest.raises(n.CellError):
        n.money("about 100")


def test_card_and_id_numbers_stored_as_numbers_are_errors_never_rounded(app):
    with pytest.raises(n.CellError, match="Stored as a number"):
        n.card_no(6.222020200112233e18)
    with pytest.raises(n.CellError, match="Stored as a number"):
        n.id_no(110105194912310029.0)
    with pytest.raises(n.CellError, match="Stored as a number"):
        n.account_no(622202020011.0)


def test_phones_as_numbers_only_when_an_exact_mobile(app):
    assert n.mobile(13800138000.0) == "13800138000"
    assert n.phone(13800138000.0) == "13800138000"
    with pytest.raises(n.CellError, match="leading 0"):
        n.phone(2584561234.0)  # 025-84561234 lost its 0
    assert n.phone("025-84561234") == "025-84561234"


def test_mobile_must_be_11_digits_starting_with_1(app):
    for bad in ("1380013800", "23800138000", "138001380001"):
        with pytest.raises(n.CellError):
            n.mobile(bad)


def test_id_check_digit_and_old_15_digit_ids(app):
    assert n.id_no("11010519491231002x") == "11010519491231002X"
    with pytest.raises(n.CellError, match="check digit"):
        n.id_no("110105194912310021")
    assert n.id_no("110105491231002") == "110105491231002"  # old 15-digit ID
    with pytest.raises(n.CellError):
        n.id_no("1101051949")


def test_card_number_length(app):
    assert n.card_no("6222020200112") == "6222020200112"
    for bad in ("622202020011", "62220202001122334455", "6222abc0200112"):
        with pytest.raises(n.CellError):
            n.card_no(bad)


@pytest.mark.parametrize(
    ("days", "bucket"),
    [(0, "M0"), (1, "M1"), (30, "M1"), (31, "M2"), (60, "M2"), (150, "M5"), (151, "M6"),
     (180, "M6"), (181, "M6+"), (999, "M6+")],
)  # fmt: skip
def test_bucket_from_days(days, bucket):
    assert n.bucket_for(days) == bucket


def test_the_bulk_loader_and_schema_load_agree(app):
    headers = ["姓名", "委案金额", "证件号", "逾期天数", "卡号", "手机号", "委案日期"]
    columns = dict(enumerate(["name", "entrusted_amount", "id_no", "days_overdue", "card_no",
                              "mobile", "entrust_date"]))  # fmt: skip
    loader = RowLoader(NewCaseSchema, columns, headers)
    schema = NewCaseSchema()
    rows = [
        ["王一", "¥1,000.5", valid_id(3), "45", "'6222020200112233445", "138 0013 8000", 42165.0],
        ["王二", "x", "110105194912310021", 1.5, 6.2e18, "12", "2015/13/1"],
        ["", "", "", "", "", "", ""],
    ]
    for raw in rows:
        data, errors = loader.load(raw)
        as_dict = {columns[i]: value for i, value in enumerate(raw) if value != ""}
        try:
            loaded = schema.load(as_dict)
        except ValidationError as error:
            messages = error.messages
            assert errors and {headers[list(columns.values()).index(k)] for k in messages} == {
                h for h, _r in errors
            }
        else:
            assert errors is None and loaded == data
    data, _errors = loader.load(rows[0])
    assert data["bucket"] == "M2" and data["birthday"] == date(1980, 4, 4)


# -- whole files: formats and layouts -------------------------------------------------------------


def csv_text(rows) -> str:
    return "\n".join(",".join(str(v) for v in row) for row in rows) + "\n"


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8", "utf-8-sig"])
def test_csv_in_every_encoding_chinese_excel_writes(app, db, contract, encoding):
    batch = make_batch(db, contract())
    rows = [CASE_HEADERS, ["S-1", "张三", valid_id(1), "6222020200112233445", "12,345.60", 45,
                           "13800138000", "2015/6/10"]]  # fmt: skip
    data = "\n".join(",".join(f'"{v}"' for v in row) for row in rows).encode(encoding)
    run, report = run_file(batch, data, name="cases.csv", dry=False)
    assert run.columns["format"] == "csv" and report["created"] == 1, report
    case = db.session.scalar(select(Case))
    assert case.name == "张三" and case.entrusted_amount == Decimal("12345.60")


def test_a_real_date_cell_and_a_serial_number_and_text_dates_in_one_file(app, db, contract):
    batch = make_batch(db, contract())
    rows = [CASE_HEADERS] + [
        case_row(1, 委案日期=date(2015, 6, 10)),
        case_row(2, 委案日期=42165),
        case_row(3, 委案日期="2015年6月10日"),
        case_row(4, 委案日期="20150610"),
    ]
    _run, report = run_file(batch, xlsx_bytes(rows), dry=False)
    assert report["created"] == 4
    dates = set(db.session.scalars(select(Case.entrust_date)))
    assert dates == {date(2015, 6, 10)}


def test_a_float_card_number_in_a_file_is_rejected_with_row_and_column(app, db, contract):
    batch = make_batch(db, contract())
    rows = [CASE_HEADERS, case_row(1), case_row(2, 卡号=6222020200112233445)]
    _run, report = run_file(batch, xlsx_bytes(rows))
    assert report["rejected"] == 1
    assert report["errors"][0][:2] == [3, "卡号"] and "Stored as a number" in report["errors"][0][2]


def test_merged_title_blank_rows_and_trailing_empty_rows(app, db, contract):
    batch = make_batch(db, contract())

    def layout(sheet):
        sheet.merge_cells("A1:H1")
        for row in range(10, 30):  # formatted but empty rows at the end
            sheet.cell(row=row, column=1).number_format = "@"

    data = xlsx_bytes([CASE_HEADERS, case_row(1), case_row(2)], above=[["委案清单"], []],
                      setup=layout)  # fmt: skip
    run, report = run_file(batch, data)
    assert run.header_row == 3 and report["rows_read"] == 2 and report["rejected"] == 0


def test_a_two_row_header_under_merged_group_titles(app, db, contract):
    batch = make_batch(db, contract())

    def layout(sheet):
        sheet.merge_cells("C1:D1")

    data = xlsx_bytes(
        [
            ["姓名", "委案金额", "联系人1", ""],
            ["", "", "姓名", "电话"],
            ["王一", "100", "李四", "13900000000"],
        ],
        setup=layout,
    )
    run = services.start_import(batch, "cases", io.BytesIO(data), "c.xlsx", None)
    assert run.columns["headers"][2:] == ["联系人1姓名", "联系人1电话"]
    assert run.columns["mapping"] == ["name", "entrusted_amount", "contact1_name",
                                      "contact1_phone"]  # fmt: skip


def test_formulas_are_never_evaluated(app, db, contract):
    batch = make_batch(db, contract())
    rows = [["姓名", "委案金额", "备注"], ["王一", "100", "=1+1"]]
    _run, report = run_file(batch, xlsx_bytes(rows), dry=False)
    assert report["created"] == 1
    assert db.session.scalar(select(Case.remark)) == ""  # no cached value: nothing computed


# -- plugin kinds and the hooks ------------------------------------------------------------------------


class NoteSchema(ImportSchema):
    serial = cell(lambda v: n.code(v), "Serial", "个案序列号")
    note = cell(n.text, "Note", "备注", required=True)


def _apply_notes(ctx, rows):
    for row in rows:
        ctx.created(row)
    ctx.state.setdefault("seen", []).extend(r.data["note"] for r in rows)


def test_hook_register_import_kinds(app_config, db, contract):
    from core.modules import enable_module

    kind = ImportKind("probe_notes", "Notes", NoteSchema, _apply_notes, matches=False)

    class Probe:
        MODULE = ModuleInfo("probe", "Probe")

        @hookimpl
        def register_import_kinds(self):
            return [kind]

    app_config["PLUGIN_MODULES"] = [Probe()]
    from core import create_app

    app = create_app(app_config)
    with app.app_context():
        assert registry().import_kinds["probe_notes"].plugin == "probe"
        assert [k.name for k in core_kinds()] == list(registry().import_kinds)[:8]
        off, on = contract(), contract()
        enable_module(on, "probe", None)
        db.session.commit()
        assert "probe_notes" not in [k.name for k in services.offered_kinds(off)]
        assert "probe_notes" in [k.name for k in services.offered_kinds(on)]
        batch = make_batch(db, on)
        data = xlsx_bytes([["个案序列号", "备注"], ["X", "hello"]])
        _run, report = run_file(batch, data, kind="probe_notes")
        assert report["created"] == 1


@pytest.mark.parametrize(
    ("kinds", "message"),
    [
        (["cases"], "must be named probe_"),
        (["probe_a", "probe_a"], "two plugins register import kind 'probe_a'"),
    ],
)
def test_import_kind_names_are_checked_at_startup(app_config, kinds, message):
    class Probe:
        PLUGIN_NAME = "probe"

        @hookimpl
        def register_import_kinds(self):
            return [ImportKind(name, name, NoteSchema, _apply_notes) for name in kinds]

    app_config["PLUGIN_MODULES"] = [Probe()]
    from core import create_app

    with pytest.raises(StartupError, match=message):
        create_app(app_config)


def _hook_app(app_config, **hooks):
    class Probe:
        PLUGIN_NAME = "probe"

    for name, function in hooks.items():
        setattr(Probe, name, hookimpl(staticmethod(function)))
    app_config["PLUGIN_MODULES"] = [Probe()]
    from core import create_app

    return create_app(app_config)


def test_hook_after_batch_imported(app_config, db, contract):
    seen = []
    app = _hook_app(
        app_config,
        after_batch_imported=lambda batch, run, user: seen.append(
            (batch.batch_no, run.report["created"], run.status, user)
        ),
    )
    with app.app_context():
        batch = make_batch(db, contract())
        run_file(batch, xlsx_bytes([CASE_HEADERS, case_row(1), case_row(2)]), dry=False)
        assert seen == [("B1", 2, "uploaded", None)] or seen[0][:2] == ("B1", 2)
        # a dry run is no import
        run_file(batch, xlsx_bytes([CASE_HEADERS, case_row(3)]))
        assert len(seen) == 1


def test_hook_after_case_created(app_config, db, contract):
    seen = []
    app = _hook_app(
        app_config, after_case_created=lambda case, user: seen.append((case.serial, case.id))
    )
    with app.app_context():
        batch = make_batch(db, contract())
        run_file(batch, xlsx_bytes([CASE_HEADERS, case_row(1), case_row(2)]), dry=False)
        assert sorted(serial for serial, _id in seen) == ["S-00001", "S-00002"]
        assert all(case_id for _serial, case_id in seen)


def test_times_without_a_zone_are_read_in_the_agency_zone(app):
    assert n.to_datetime("2015-06-11 10:00", n_zone()) == datetime(2015, 6, 11, 2, 0, tzinfo=UTC)


def n_zone():
    from core.types import agency_zone

    return agency_zone()


def xls_bytes(rows: list[list]) -> bytes:
    """An Excel 97–2003 (.xls) workbook, as older bank systems still export."""
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("案件")
    date_style = xlwt.easyxf(num_format_str="yyyy-mm-dd")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            style = date_style if isinstance(value, date) else xlwt.Style.default_style
            sheet.write(r, c, value, style)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_an_xls_workbook_imports_like_an_xlsx(app, db, contract):
    pytest.importorskip("xlwt")
    batch = make_batch(db, contract())
    rows = [CASE_HEADERS, case_row(1, 委案日期=date(2015, 6, 10)),
            case_row(2, 卡号=6222020200112233445)]  # fmt: skip
    run, report = run_file(batch, xls_bytes(rows), name="cases.xls", dry=False)
    assert run.columns["format"] == "xls"
    assert (report["created"], report["rejected"]) == (1, 1), report
    assert report["errors"][0][:2] == [3, "卡号"]
    case = db.session.scalar(select(Case))
    assert case.entrust_date == date(2015, 6, 10) and case.card_no == case_row(1)[3]
