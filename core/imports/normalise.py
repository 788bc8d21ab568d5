"""Turning the cells banks really send into clean values, one small function per kind of value.

Every function takes one non-empty cell as python-calamine gives it (``str``, ``float``,
``int``, ``bool``, ``date``, ``datetime``) and returns the clean value, or ``None`` when the
cell holds nothing but noise (spaces, a stray apostrophe); it raises :class:`CellError` with
a message for the user otherwise. They are plain functions so that an import compiles one
list of them per file and calls them in a tight loop (see :mod:`core.imports.schemas`).

Decisions worth knowing:

- Card, ID and account numbers that arrive as numbers (calamine gives a float for a numeric
  cell) are errors: a float holds 15–17 significant digits, so a 19-digit card has already
  lost digits and an ID its check digit. The user must format the column as text.
- A phone number that arrives as a number is accepted only when it is a whole number of 11
  digits starting with 1 (a mobile): a float holds 11 digits exactly. A landline stored as a
  number has lost the leading 0 of its area code, so it is an error.
- Money is rounded half-up to 2 places (Excel arithmetic leaves tails such as
  ``1234.5600000001``); more than 12 digits before the point is an error.
- Bare numbers in a date column are Excel serial numbers (1900 date system), except
  8-digit numbers such as ``20150610``, which are read as YYYYMMDD.
"""

from __future__ import annotations

import operator
import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from flask_babel import gettext as _


class CellError(ValueError):
    """One cell's value is not acceptable; the message says why, for the user."""


#: Full-width ASCII (U+FF01–U+FF5E) and the ideographic space → their half-width forms.
FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
FULL_WIDTH[0x3000] = 0x20
_SPACES = re.compile(r"[\s\u00a0\u200b\ufeff]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

#: Set by the import from IMPORT_MAX_CELL_LENGTH before a file is read.
MAX_CELL_LENGTH = 2000

EXCEL_EPOCH = date(1899, 12, 30)
_ONE_CENT = Decimal("0.01")
_MAX_MONEY = Decimal("999999999999.99")

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


def _number_stored(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def compact(value) -> str:
    """A cell as text with full-width characters folded, all spaces and a leading ' removed."""
    if value.__class__ is str and value.isascii() and value.isalnum():
        return value  # the common case (a plain number or code): nothing to fold or strip
    text = str(value).translate(FULL_WIDTH)
    text = _SPACES.sub("", text)
    return text.lstrip("'‘’`")


def text(value, max_length: int | None = None) -> str | None:
    """Free text (a name, an address): trimmed, control characters dropped, length checked."""
    if _number_stored(value):
        value = _plain_number(value)
    elif isinstance(value, (date, datetime)):
        value = value.isoformat()
    value = str(value)
    # A printable string has no control characters to drop (the regex is the slow part).
    result = (value if value.isprintable() else _CONTROL.sub("", value)).strip()
    if result.startswith("'"):
        result = result.lstrip("'").strip()
    if not result:
        return None
    limit = min(max_length or MAX_CELL_LENGTH, MAX_CELL_LENGTH)
    if len(result) > limit:
        raise CellError(_("Longer than %(n)d characters.", n=limit))
    return result


def _plain_number(value) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return str(value)


def code(value, max_length: int = 64) -> str | None:
    """A code such as a serial or archive number: compact text; whole numbers are accepted."""
    if _number_stored(value):
        if isinstance(value, float) and not (value.is_integer() and abs(value) < 1e15):
            raise CellError(_("Stored as a number: digits may be lost; format the column as text."))
        value = _plain_number(value)
    result = compact(value)
    if not result:
        return None
    if len(result) > max_length:
        raise CellError(_("Longer than %(n)d characters.", n=max_length))
    return result


def _digits_as_text(value) -> str | None:
    if _number_stored(value):
        raise CellError(_("Stored as a number: digits may be lost; format the column as text."))
    result = compact(value).replace("-", "")
    return result or None


def card_no(value) -> str | None:
    """A bank card number: 13–19 digits, from a text cell only."""
    result = _digits_as_text(value)
    if result is None:
        return None
    if not result.isdigit() or not 13 <= len(result) <= 19 or not result.isascii():
        raise CellError(_("A card number has 13 to 19 digits."))
    return result


def account_no(value) -> str | None:
    """An account number: up to 40 digits or letters, from a text cell only."""
    result = _digits_as_text(value)
    if result is None:
        return None
    if not result.isalnum() or not result.isascii() or len(result) > 40:
        raise CellError(_("An account number has up to 40 digits or letters."))
    return result.upper()


_ID_ZERO = 48 * sum(ID_WEIGHTS)  # what the weights add up to over the ASCII code of "0"


def id_check_digit(first17: str) -> str:
    """The check digit of an ID number's first 17 digits (ASCII digits, checked by the caller)."""
    if len(first17) != 17:
        raise ValueError("17 digits expected")
    return ID_CHECK[(sum(map(operator.mul, first17.encode("ascii"), ID_WEIGHTS)) - _ID_ZERO) % 11]


def _birth_date(digits: str) -> date:
    """The date of eight digits YYYYMMDD (raises ValueError); strptime is 10× slower."""
    return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))


def id_no(value) -> str | None:
    """A resident ID number: 18 characters with a valid check digit, or an old 15-digit one."""
    result = _digits_as_text(value)
    if result is None:
        return None
    result = result.upper()
    if len(result) == 15 and result.isdigit() and result.isascii():
        birth = "19" + result[6:12]
    elif (
        len(result) == 18
        and result[:17].isdigit()
        and result.isascii()
        and result[17] in "0123456789X"
    ):
        if id_check_digit(result[:17]) != result[17]:
            raise CellError(_("The ID number's check digit is wrong."))
        birth = result[6:14]
    else:
        raise CellError(_("An ID number has 18 characters (or 15 digits for an old one)."))
    try:
        _birth_date(birth)
    except ValueError:
        raise CellError(_("The ID number holds no valid date of birth.")) from None
    return result


def id_birthday(number: str) -> date | None:
    birth = number[6:14] if len(number) == 18 else "19" + number[6:12]
    try:
        return _birth_date(birth)
    except ValueError:
        return None


def id_gender(number: str) -> str:
    digit = number[16] if len(number) == 18 else number[14]
    return "M" if int(digit) % 2 else "F"


_MOBILE = re.compile(r"1\d{10}")
_PHONE = re.compile(r"\d[\d-]{5,19}(?:(?:转|ext|#)\d{1,6})?")


def _phone_text(value) -> str | None:
    if _number_stored(value):
        if isinstance(value, float) and not value.is_integer():
            raise CellError(_("Stored as a number: digits may be lost; format the column as text."))
        digits = str(int(value))
        if not _MOBILE.fullmatch(digits):
            raise CellError(
                _("Stored as a number: a leading 0 may be lost; format the column as text.")
            )
        return digits
    result = compact(value).replace("(", "").replace(")", "").replace("（", "").replace("）", "")
    if result.startswith("+86"):
        result = result[3:]
    elif result.startswith("86") and len(result) == 13:
        result = result[2:]
    return result or None


def mobile(value) -> str | None:
    """A mobile number: 11 digits starting with 1."""
    result = _phone_text(value)
    if result is None:
        return None
    result = result.replace("-", "")
    if not _MOBILE.fullmatch(result):
        raise CellError(_("A mobile number has 11 digits and starts with 1."))
    return result


def phone(value) -> str | None:
    """Any phone number: a mobile, or a landline such as 025-84561234 (extension allowed)."""
    result = _phone_text(value)
    if result is None:
        return None
    if _MOBILE.fullmatch(result.replace("-", "")):
        return result.replace("-", "")
    if not _PHONE.fullmatch(result) or len(result) > 32:
        raise CellError(_("Not a phone number."))
    return result


_DATE_TEXT = re.compile(
    r"(\d{4})\s*(?:[-/.年])\s*(\d{1,2})\s*(?:[-/.月])\s*(\d{1,2})\s*日?"
    r"(?:[ T]+(\d{1,2})[:：时](\d{1,2})(?:[:：分](\d{1,2}(?:\.\d+)?))?秒?)?"
)


def _from_serial(number: float) -> datetime:
    if not 1 <= number < 2958466:  # 1900-01-01 … 9999-12-31
        raise CellError(_("Not a date."))
    return datetime.combine(EXCEL_EPOCH, time()) + timedelta(days=number)


def _parse_datetime(value) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time())
    if isinstance(value, bool):
        raise CellError(_("Not a date."))
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not value.is_integer():
            return _from_serial(value)
        as_text = str(int(value))
        if len(as_text) == 8:
            return _parse_datetime(as_text)
        return _from_serial(value)
    raw = str(value).translate(FULL_WIDTH).strip().lstrip("'").strip()
    if not raw:
        return None
    found = _DATE_TEXT.fullmatch(raw)
    try:
        if found:
            y, m, d, hh, mm, ss = found.groups()
            seconds = float(ss) if ss else 0.0
            return datetime(
                int(y), int(m), int(d), int(hh or 0), int(mm or 0), int(seconds),
                round((seconds % 1) * 1_000_000) if ss else 0,
            )  # fmt: skip
        if raw.isdigit() and len(raw) == 8:
            return datetime(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
        if re.fullmatch(r"\d+(\.\d+)?", raw):
            return _from_serial(float(raw))
    except ValueError:
        raise CellError(_("Not a valid date: %(value)s.", value=raw[:40])) from None
    raise CellError(_("Not a date: write it as 2015-06-10."))


def to_date(value) -> date | None:
    """A date from a date cell, an Excel serial, 2015/6/10, 2015-06-10, 2015年6月10日, 20150610."""
    result = _parse_datetime(value)
    if result is None:
        return None
    if not 1900 <= result.year <= 2200:
        raise CellError(_("The year %(year)d is not plausible.", year=result.year))
    return result.date()


def to_datetime(value, zone) -> datetime | None:
    """A moment, read in ``zone`` when the cell carries none, returned in UTC."""
    result = _parse_datetime(value)
    if result is None:
        return None
    if not 1900 <= result.year <= 2200:
        raise CellError(_("The year %(year)d is not plausible.", year=result.year))
    if result.tzinfo is None:
        result = result.replace(tzinfo=zone)
    return result.astimezone(UTC)


_MONEY_NOISE = re.compile(r"[¥￥$,，\s元圆人民币RMBCNYrmbcny']")


def money(value) -> Decimal | None:
    """An amount as Decimal with 2 places: 12,345.60 · ¥12345.6 · 12345.60元 · a number cell."""
    if value.__class__ is float:  # the usual cell: a number (repr is its shortest decimal)
        raw = repr(value)
    elif isinstance(value, bool):
        raise CellError(_("Not an amount."))
    elif isinstance(value, (int, float)):
        raw = repr(value)
    else:
        raw = _MONEY_NOISE.sub("", str(value).translate(FULL_WIDTH))
        if not raw:
            return None
        if raw.startswith("(") and raw.endswith(")"):
            raw = "-" + raw[1:-1]
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        raise CellError(_("Not an amount: %(value)s.", value=str(value)[:40])) from None
    if not amount.is_finite():
        raise CellError(_("Not an amount."))
    amount = amount.quantize(_ONE_CENT, rounding=ROUND_HALF_UP)
    if abs(amount) > _MAX_MONEY:
        raise CellError(_("The amount is too large."))
    return amount


def non_negative_money(value) -> Decimal | None:
    amount = money(value)
    if amount is not None and amount < 0:
        raise CellError(_("Must not be negative."))
    return amount


def positive_money(value) -> Decimal | None:
    amount = money(value)
    if amount is not None and amount <= 0:
        raise CellError(_("Must be more than zero."))
    return amount


def whole_number(value) -> int | None:
    """A count such as days past due: a whole number, 0 or more."""
    if isinstance(value, bool):
        raise CellError(_("Not a whole number."))
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not value.is_integer():
            raise CellError(_("Not a whole number."))
        number = int(value)
    else:
        raw = compact(value).rstrip("天")
        if not raw:
            return None
        raw = raw.removesuffix(".0")
        if not raw.isdigit() or not raw.isascii():
            raise CellError(_("Not a whole number."))
        number = int(raw)
    if not 0 <= number <= 100_000:
        raise CellError(_("Must be between 0 and 100000."))
    return number


GENDERS = {"男": "M", "男性": "M", "M": "M", "MALE": "M", "女": "F", "女性": "F", "F": "F",
           "FEMALE": "F"}  # fmt: skip


def gender(value) -> str | None:
    raw = compact(value).upper()
    if not raw:
        return None
    if raw not in GENDERS:
        raise CellError(_("Write 男 or 女."))
    return GENDERS[raw]


def bucket_for(days: int | None) -> str:
    """The aging bucket (账龄) of a number of days past due: M1 = 1–30 … M6 = 151–180, M6+."""
    if days is None or days <= 0:
        return "" if days is None else "M0"
    if days > 180:
        return "M6+"
    return f"M{(days - 1) // 30 + 1}"


_BUCKET = re.compile(r"M([0-6])(\+)?")


def bucket(value) -> str | None:
    raw = compact(value).upper()
    if not raw:
        return None
    if raw.isdigit() and len(raw) == 1:
        raw = "M" + raw
    found = _BUCKET.fullmatch(raw.replace("＋", "+"))
    if not found or (found.group(2) and found.group(1) != "6"):
        raise CellError(_("An aging bucket is M0 to M6 or M6+."))
    return raw


def choice(mapping: dict[str, str], message):
    """A function reading one of ``mapping``'s keys (Chinese or English) as its value."""
    folded = {key.upper(): value for key, value in mapping.items()}

    def read(value) -> str | None:
        raw = compact(value).upper()
        if not raw:
            return None
        if raw not in folded:
            raise CellError(str(message()) if callable(message) else str(message))
        return folded[raw]

    return read


def currency(value) -> str | None:
    raw = compact(value).upper()
    if not raw:
        return None
    known = {"人民币": "CNY", "RMB": "CNY", "CNY": "CNY", "美元": "USD", "USD": "USD",
             "港币": "HKD", "港元": "HKD", "HKD": "HKD", "欧元": "EUR", "EUR": "EUR"}  # fmt: skip
    if raw in known:
        return known[raw]
    if len(raw) == 3 and raw.isalpha() and raw.isascii():
        return raw
    raise CellError(_("Not a currency: write CNY, USD …"))


def email(value) -> str | None:
    raw = compact(value)
    if not raw:
        return None
    if len(raw) > 120 or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", raw):
        raise CellError(_("Not an e-mail address."))
    return raw
