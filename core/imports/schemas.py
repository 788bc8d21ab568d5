"""One marshmallow schema per import kind: the one place that describes and validates a row.

Each field of a kind's schema is a :class:`Cell`: it names the field, its English label,
the header aliases banks use (the first is the template's header), a note for the template
and the function of :mod:`core.imports.normalise` that reads it. ``schema.load(row)``
validates one row the marshmallow way (the API and the tests use it).

A file of 100 000 rows is not loaded row by row through marshmallow (about 16 000 trivial
rows a second, too slow for the import's budget). :class:`RowLoader` compiles the same
schema, once per file, into a list of ``(column, field, function)`` and runs the same
functions, the same required check and the same row rules (:meth:`ImportSchema.check_row`
and :meth:`ImportSchema.finish_row`) in a tight loop. A test holds the two paths to the
same results.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, post_load, validates_schema

from core.imports import normalise as n
from core.types import agency_zone

#: What a template may do to help typing a column: a date, money, text (kept as typed), a
#: whole number, or a list of choices.
DATE, MONEY, TEXT, INTEGER = "date", "money", "text", "integer"


class Cell(fields.Field):
    """A spreadsheet column read with one normalising function."""

    def __init__(
        self,
        convert: Callable,
        *,
        label,
        aliases: tuple[str, ...],
        note=None,
        excel: str | tuple[str, ...] | None = None,
        required: bool = False,
    ):
        super().__init__(
            required=required,
            allow_none=True,
            metadata={"label": label, "aliases": aliases, "note": note, "excel": excel},
        )
        self.convert = convert

    @property
    def label(self):
        return self.metadata["label"]

    @property
    def aliases(self) -> tuple[str, ...]:
        return self.metadata["aliases"]

    @property
    def header(self) -> str:
        """The column's header in templates: the first alias."""
        return self.aliases[0]

    def converter(self) -> Callable:
        """The function the bulk loader calls for each non-empty cell of this column."""
        return self.convert

    def _deserialize(self, value, attr, data, **kwargs):
        if value is None or value == "":
            return None
        try:
            return self.converter()(value)
        except n.CellError as error:
            raise ValidationError(str(error)) from None


class MomentCell(Cell):
    """A date and time, read in the agency's zone when the cell carries none."""

    def converter(self) -> Callable:
        zone = agency_zone()
        return lambda value: n.to_datetime(value, zone)


def cell(convert, label, *aliases, required=False, note=None, excel=None, cls=Cell) -> Cell:
    return cls(convert, label=label, aliases=aliases, required=required, note=note, excel=excel)


def limited(length: int):
    return lambda value: n.text(value, length)


class ImportSchema(Schema):
    """A kind's row. Subclasses add :class:`Cell` fields and, if needed, row rules."""

    def check_row(self, data: dict) -> list[tuple[str, str]]:
        """Rules across fields: return ``(field name, reason)`` pairs; empty when fine."""
        return []

    def finish_row(self, data: dict) -> None:
        """Fill what follows from the row (a bucket from the days past due …), in place."""

    @validates_schema
    def _row_rules(self, data, **kwargs):
        problems: dict[str, list[str]] = {}
        for name, field in self.fields.items():
            if field.required and data.get(name) is None:
                problems.setdefault(name, []).append(_("Required."))
        for name, reason in self.check_row(data):
            problems.setdefault(name, []).append(reason)
        if problems:
            raise ValidationError(problems)

    @post_load
    def _finish(self, data, **kwargs):
        full = dict.fromkeys(self.fields)
        full.update(data)
        self.finish_row(full)
        return full

    @classmethod
    def cells(cls) -> dict[str, Cell]:
        return {name: field for name, field in cls._declared_fields.items()}


# -- the fields of the case file ------------------------------------------------------------

GENDER_CHOICES = ("男", "女")

#: Fields that find a case for every kind but new cases (the four matching keys use them).
KEY_FIELDS = {
    "serial": cell(lambda v: n.code(v, 64), _l("Case serial no."), "个案序列号", "案件序列号",
                   "序列号", "个案编号", "案件编号", "案件号", excel=TEXT,
                   note=_l("The case's unique code, e.g. JSZ1-000001.")),
    "archive_no": cell(lambda v: n.code(v, 64), _l("Archive no."), "档案号", "档案编号",
                       excel=TEXT, note=_l("The bank's file number.")),
    "card_no": cell(n.card_no, _l("Card no."), "卡号", "信用卡号", "卡号码", "银行卡号",
                    excel=TEXT, note=_l("13 to 19 digits; format the column as text.")),
    "id_no": cell(n.id_no, _l("ID no."), "证件号", "身份证号", "证件号码", "身份证号码", "身份证",
                  excel=TEXT, note=_l("18 characters with a valid check digit, or 15 digits.")),
    "entrust_date": cell(n.to_date, _l("Entrust date"), "委案日期", "委托日期", "委案时间",
                         excel=DATE, note=_l("When the case was handed over, e.g. 2015-06-10.")),
}  # fmt: skip

CASE_SCALARS = {
    "account_no": cell(n.account_no, _l("Account no."), "账号", "帐号", "账户号", "帐户号",
                       excel=TEXT, note=_l("Format the column as text.")),
    "id_type": cell(limited(20), _l("ID type"), "证件类型", note=_l("e.g. 身份证; empty means 身份证.")),
    "name": cell(limited(120), _l("Debtor name"), "姓名", "客户姓名", "持卡人姓名", "借款人姓名",
                 "客户名称", "债务人", "债务人姓名"),
    "gender": cell(n.gender, _l("Gender"), "性别", excel=GENDER_CHOICES,
                   note=_l("男 or 女; taken from the ID number when empty.")),
    "birthday": cell(n.to_date, _l("Birthday"), "生日", "出生日期", excel=DATE,
                     note=_l("Taken from the ID number when empty.")),
    "entrusted_amount": cell(n.non_negative_money, _l("Entrusted amount"), "委案金额",
                             "委托金额", "委案总额", "欠款金额", "欠款总额", excel=MONEY,
                             note=_l("The debt at hand-over, e.g. 12345.60.")),
    "principal": cell(n.money, _l("Principal"), "本金", "欠款本金", excel=MONEY),
    "interest": cell(n.money, _l("Interest"), "利息", excel=MONEY),
    "late_fee": cell(n.money, _l("Late fee"), "滞纳金", excel=MONEY),
    "min_payment": cell(n.money, _l("Minimum payment"), "最低还款额", "最低还款金额",
                        excel=MONEY),
    "days_overdue": cell(n.whole_number, _l("Days past due"), "逾期天数", excel=INTEGER),
    "bucket": cell(n.bucket, _l("Aging bucket"), "账龄", "逾期账龄",
                   note=_l("M1 to M6 or M6+; derived from the days past due when empty.")),
    "overdue_date": cell(n.to_date, _l("Overdue since"), "逾期日期", "逾期开始日期", excel=DATE),
    "last_payment_date": cell(n.to_date, _l("Last payment date"), "最后还款日期", "最后还款日",
                              "最近还款日期", excel=DATE),
    "last_payment_amount": cell(n.money, _l("Last payment amount"), "最后还款金额",
                                "最近还款金额", excel=MONEY),
    "currency": cell(n.currency, _l("Currency"), "币种", "币别", note=_l("CNY when empty.")),
    "mobile": cell(n.mobile, _l("Mobile"), "手机号", "手机", "手机号码", "移动电话", excel=TEXT,
                   note=_l("11 digits starting with 1.")),
    "email": cell(n.email, _l("E-mail"), "邮箱", "电子邮箱", "电子邮件", "Email"),
    "employer": cell(limited(200), _l("Employer"), "单位名称", "工作单位", "公司名称"),
    "return_date": cell(n.to_date, _l("Return date"), "退案日期", "预计退案日期", excel=DATE),
    "area": cell(limited(120), _l("Collection area"), "催收区域", "区域"),
    "province": cell(limited(40), _l("Province"), "省份", "省"),
    "city": cell(limited(40), _l("City"), "城市", "市"),
    "remark": cell(n.text, _l("Remark"), "备注", "案件备注"),
}  # fmt: skip

CASE_CHILDREN = {
    "home_phone": cell(n.phone, _l("Home phone"), "家庭电话", "住宅电话", "家庭号码", excel=TEXT),
    "work_phone": cell(n.phone, _l("Work phone"), "单位电话", "公司电话", "单位号码", excel=TEXT),
    "home_address": cell(limited(300), _l("Home address"), "家庭地址", "住宅地址", "家庭住址"),
    "work_address": cell(limited(300), _l("Work address"), "单位地址", "公司地址"),
    "hukou_address": cell(limited(300), _l("Household address"), "户籍地址", "户口地址"),
    "statement_address": cell(limited(300), _l("Statement address"), "对账单地址", "账单地址"),
    "client_name": cell(limited(120), _l("Client"), "委托方", "委托机构",
                        note=_l("Read for reference: the batch decides the client.")),
}  # fmt: skip
for _n in range(1, 7):
    CASE_CHILDREN[f"contact{_n}_name"] = cell(
        limited(120), _l("Contact %(n)d name", n=_n), f"联系人{_n}姓名", f"联系人{_n}",
        f"第{_n}联系人姓名", f"联系人姓名{_n}",
    )  # fmt: skip
    CASE_CHILDREN[f"contact{_n}_relation"] = cell(
        limited(40), _l("Contact %(n)d relation", n=_n), f"联系人{_n}关系", f"第{_n}联系人关系",
        f"联系人关系{_n}", f"与联系人{_n}关系",
    )  # fmt: skip
    CASE_CHILDREN[f"contact{_n}_phone"] = cell(
        n.phone, _l("Contact %(n)d phone", n=_n), f"联系人{_n}电话", f"联系人{_n}手机",
        f"第{_n}联系人电话", f"联系人电话{_n}", f"联系人{_n}号码", excel=TEXT,
    )  # fmt: skip


class CaseSchema(ImportSchema):
    """Shared rules of the case kinds: the bucket follows the days, ID fills the birthday."""

    def check_row(self, data):
        problems = []
        entrusted, returned = data.get("entrust_date"), data.get("return_date")
        if entrusted and returned and returned < entrusted:
            problems.append(("return_date", _("The return date is before the entrust date.")))
        return problems

    def finish_row(self, data):
        if not data.get("bucket") and data.get("days_overdue") is not None:
            data["bucket"] = n.bucket_for(data["days_overdue"])
        number = data.get("id_no")
        if number:
            if data.get("birthday") is None:
                data["birthday"] = n.id_birthday(number)
            if data.get("gender") is None:
                data["gender"] = n.id_gender(number)


def _schema(name: str, base: type[ImportSchema], *groups: dict, required=()) -> type:
    attrs = {}
    for group in groups:
        for field_name, field in group.items():
            attrs[field_name] = _copy(field, required=field_name in required)
    return type(name, (base,), attrs)


def _copy(field: Cell, *, required: bool) -> Cell:
    meta = field.metadata
    return type(field)(
        field.convert,
        label=meta["label"],
        aliases=meta["aliases"],
        note=meta["note"],
        excel=meta["excel"],
        required=required,
    )


NewCaseSchema = _schema(
    "NewCaseSchema", CaseSchema, KEY_FIELDS, CASE_SCALARS, CASE_CHILDREN,
    required=("name", "entrusted_amount"),
)  # fmt: skip
UpdateCaseSchema = _schema("UpdateCaseSchema", CaseSchema, KEY_FIELDS, CASE_SCALARS)

CommentSchema = _schema(
    "CommentSchema", ImportSchema, KEY_FIELDS,
    {"body": cell(n.text, _l("Comment"), "评语", "评语内容", "催收评语", "内容", "备注",
                  note=_l("The remark to add to the case."))},
    required=("body",),
)  # fmt: skip

InterestSchema = _schema(
    "InterestSchema", ImportSchema, KEY_FIELDS,
    {
        "amount": cell(n.money, _l("Interest"), "利息", "利息金额", "新增利息", excel=MONEY),
        "as_of": cell(n.to_date, _l("As of"), "计息日期", "利息日期", "截止日期", "日期",
                      excel=DATE, note=_l("The date the interest is reported for.")),
        "note": cell(limited(200), _l("Note"), "备注", "说明"),
    },
    required=("amount", "as_of"),
)  # fmt: skip

PHONE_KINDS = {"手机": "mobile", "移动电话": "mobile", "MOBILE": "mobile", "家庭": "home",
               "家庭电话": "home", "住宅": "home", "HOME": "home", "单位": "work",
               "单位电话": "work", "公司": "work", "WORK": "work", "其他": "other",
               "OTHER": "other"}  # fmt: skip
ADDRESS_KINDS = {"家庭": "home", "家庭地址": "home", "住宅": "home", "HOME": "home",
                 "单位": "work", "单位地址": "work", "公司": "work", "WORK": "work",
                 "户籍": "hukou", "户籍地址": "hukou", "HUKOU": "hukou", "对账单": "statement",
                 "对账单地址": "statement", "账单": "statement", "STATEMENT": "statement",
                 "其他": "other", "OTHER": "other"}  # fmt: skip


class PhoneRowSchema(ImportSchema):
    def finish_row(self, data):
        if data.get("number") and not data.get("phone_kind"):
            data["phone_kind"] = "mobile" if n._MOBILE.fullmatch(data["number"]) else "other"


PhoneSchema = _schema(
    "PhoneSchema", PhoneRowSchema, KEY_FIELDS,
    {
        "number": cell(n.phone, _l("Phone number"), "电话号码", "号码", "电话", "联系电话",
                       excel=TEXT),
        "phone_kind": cell(n.choice(PHONE_KINDS, lambda: _("Write 手机, 家庭, 单位 or 其他.")),
                           _l("Phone type"), "电话类型", "号码类型", "类型",
                           excel=("手机", "家庭", "单位", "其他")),
        "note": cell(limited(200), _l("Note"), "备注", "说明"),
    },
    required=("number",),
)  # fmt: skip

AddressSchema = _schema(
    "AddressSchema", ImportSchema, KEY_FIELDS,
    {
        "address": cell(limited(300), _l("Address"), "地址", "详细地址", "联系地址"),
        "address_kind": cell(
            n.choice(ADDRESS_KINDS, lambda: _("Write 家庭, 单位, 户籍, 对账单 or 其他.")),
            _l("Address type"), "地址类型", "类型", excel=("家庭", "单位", "户籍", "对账单", "其他"),
        ),
    },
    required=("address",),
)  # fmt: skip

CHANNELS = {"电话": "phone", "PHONE": "phone", "短信": "sms", "SMS": "sms", "信函": "letter",
            "LETTER": "letter", "外访": "visit", "VISIT": "visit", "其他": "other",
            "OTHER": "other"}  # fmt: skip
CONTACT_TYPES = {"本人": "debtor", "DEBTOR": "debtor", "配偶": "spouse", "SPOUSE": "spouse",
                 "亲属": "relative", "家人": "relative", "RELATIVE": "relative",
                 "同事": "colleague", "COLLEAGUE": "colleague", "朋友": "other",
                 "其他": "other", "OTHER": "other"}  # fmt: skip


class ActivityRowSchema(ImportSchema):
    def check_row(self, data):
        if (data.get("promise_amount") is None) != (data.get("promise_date") is None):
            field = "promise_date" if data.get("promise_date") is None else "promise_amount"
            return [(field, _("A promise needs both an amount and a date."))]
        return []

    def finish_row(self, data):
        data["channel"] = data.get("channel") or "phone"
        data["contact_type"] = data.get("contact_type") or "debtor"


ActivitySchema = _schema(
    "ActivitySchema", ActivityRowSchema, KEY_FIELDS,
    {
        "at": cell(None, _l("Time"), "催收时间", "催记时间", "联系时间", "时间", excel=DATE,
                   cls=MomentCell, note=_l("When it happened, e.g. 2015-06-10 14:30.")),
        "channel": cell(n.choice(CHANNELS, lambda: _("Write 电话, 短信, 信函, 外访 or 其他.")),
                        _l("Channel"), "催收方式", "联系方式", "渠道", "方式",
                        excel=("电话", "短信", "信函", "外访", "其他")),
        "contact_type": cell(
            n.choice(CONTACT_TYPES, lambda: _("Write 本人, 配偶, 亲属, 同事 or 其他.")),
            _l("Contact type"), "联系对象", "联系人类型", "对象",
            excel=("本人", "配偶", "亲属", "同事", "其他"),
        ),
        "contact_name": cell(limited(120), _l("Contact name"), "联系人姓名", "联系人"),
        "target": cell(limited(300), _l("Number or address used"), "联系号码", "号码",
                       "电话号码", "地址", excel=TEXT),
        "result": cell(limited(40), _l("Result"), "催收结果", "结果", "联系结果"),
        "note": cell(n.text, _l("Note"), "催收内容", "催记内容", "内容", "备注"),
        "promise_amount": cell(n.positive_money, _l("Promised amount"), "承诺金额",
                               "承诺还款金额", excel=MONEY),
        "promise_date": cell(n.to_date, _l("Promised date"), "承诺日期", "承诺还款日期",
                             excel=DATE),
    },
    required=("at",),
)  # fmt: skip

RepaymentSchema = _schema(
    "RepaymentSchema", ImportSchema, KEY_FIELDS,
    {
        "amount": cell(n.positive_money, _l("Amount repaid"), "还款金额", "回款金额", "金额",
                       "实还金额", excel=MONEY),
        "paid_on": cell(n.to_date, _l("Repayment date"), "还款日期", "回款日期", "入账日期",
                        "日期", excel=DATE),
        "reference": cell(lambda v: n.code(v, 80), _l("Reference"), "流水号", "交易流水号",
                          "还款流水号", "参考号", excel=TEXT,
                          note=_l("The bank's reference: a list imported twice adds nothing.")),
        "payer": cell(limited(120), _l("Payer"), "还款人", "付款人"),
        "channel": cell(limited(40), _l("Channel"), "还款渠道", "还款方式", "渠道"),
    },
    required=("amount", "paid_on"),
)  # fmt: skip


# -- the bulk loader ------------------------------------------------------------------------

#: Cell types whose converted value is remembered per column (see :func:`_memoised`).
#: Numbers are left out: 1, 1.0 and True are one dict key but not one cell.
_CACHEABLE = frozenset({str, date, datetime})
#: After this many rows a column keeps its cache only if a quarter of its cells were repeats.
MEMO_PROBE = 4096
MEMO_MAX = 50_000
_MISSING = object()


def _memoised(convert: Callable) -> Callable:
    """``convert`` remembering what it returned for each text or date cell of one column.

    Bank files repeat values down a column (the entrust date, the city, 男/女, the
    employer): those are converted once. The converters are pure functions of the cell and
    return immutable values, so a remembered result is the result. A cell that fails is not
    remembered (it fails again, with the same message). ``read.worth_it()`` tells the loader
    whether to keep the cache after :data:`MEMO_PROBE` rows (a column of card numbers does
    not repeat, and then the plain converter is cheaper).
    """
    cache: dict = {}
    lookups = 0

    def read(value):
        nonlocal lookups
        if value.__class__ not in _CACHEABLE:
            return convert(value)
        lookups += 1
        found = cache.get(value, _MISSING)
        if found is _MISSING:
            if len(cache) >= MEMO_MAX:
                return convert(value)
            found = cache[value] = convert(value)
        return found

    read.convert = convert
    read.worth_it = lambda: len(cache) * 4 <= lookups * 3
    return read


class RowLoader:
    """A kind's schema compiled for one file's columns: ``load(raw_row)`` → (data, errors).

    ``columns`` maps a column index to a field name; ``headers`` are the file's header texts
    (errors name the column as the user sees it). ``errors`` is a list of (header, reason).
    """

    def __init__(self, schema_cls: type[ImportSchema], columns: dict[int, str], headers):
        self.schema = schema_cls()
        cells = self.schema.fields
        self.header_of = {name: cells[name].metadata["label"] for name in cells}
        for index, name in columns.items():
            self.header_of[name] = headers[index]
        self.steps = [
            (index, name, _memoised(cells[name].converter()), headers[index])
            for index, name in sorted(columns.items())
        ]
        self.required = [
            (name, self.header_of[name]) for name, field in cells.items() if field.required
        ]
        self.empty = dict.fromkeys(cells)
        self.check_row = self.schema.check_row
        self.finish_row = self.schema.finish_row
        self.has_rules = type(self.schema).check_row is not ImportSchema.check_row
        self.loaded = 0

    def _drop_idle_caches(self) -> None:
        self.steps = [
            (index, name, read if read.worth_it() else read.convert, header)
            for index, name, read, header in self.steps
        ]

    def load(self, raw: list) -> tuple[dict, list[tuple[str, str]] | None]:
        self.loaded += 1
        if self.loaded == MEMO_PROBE:
            self._drop_idle_caches()
        data = self.empty.copy()
        errors = None
        width = len(raw)
        for index, name, convert, header in self.steps:
            if index >= width:
                continue
            value = raw[index]
            if value == "" or value is None:
                continue
            try:
                data[name] = convert(value)
            except n.CellError as error:
                if errors is None:
                    errors = []
                errors.append((header, str(error)))
        for name, header in self.required:
            if data[name] is None and not (errors and any(h == header for h, _r in errors)):
                if errors is None:
                    errors = []
                errors.append((header, _("Required.")))
        if self.has_rules and errors is None:
            found = self.check_row(data)
            if found:
                errors = [(self.header_of[name], reason) for name, reason in found]
        if errors is None:
            self.finish_row(data)
        return data, errors
