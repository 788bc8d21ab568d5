"""Template filters: translated names, agency-local times, money, masked numbers."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import format_datetime
from flask_babel import lazy_gettext as _l

from core import masking
from core.auth.permissions import BUILTIN_ROLES

ROLE_TITLES = dict(BUILTIN_ROLES)

CASE_STATUSES = {
    "normal": _l("normal"),
    "paused": _l("paused"),
    "closed": _l("closed"),
    "returned": _l("returned"),
    "settled": _l("settled"),
}

OUTCOMES = {"success": _l("success"), "failure": _l("failure"), "denied": _l("denied")}


def role_title(role) -> str:
    """Built-in roles are shown in the user's language; custom ones as their admin named them."""
    return ROLE_TITLES.get(role.name, role.title) if role.builtin else role.title


def money(value) -> str:
    return "—" if value is None else f"¥{Decimal(value):,.2f}"


def percent(value) -> str:
    return f"{Decimal(value) * 100:.2f}%"


def register(app) -> None:
    filters = {
        "role_title": role_title,
        "datetime": lambda value: format_datetime(value, "yyyy-MM-dd HH:mm:ss"),
        "money": money,
        "percent": percent,
        "case_status": lambda value: CASE_STATUSES.get(value, value),
        "outcome": lambda value: OUTCOMES.get(value, value),
        "mask_mobile": masking.mask_mobile,
        "mask_card": masking.mask_card,
        "mask_id": masking.mask_id,
        "mask_name": masking.mask_name,
    }
    app.jinja_env.filters.update(filters)
