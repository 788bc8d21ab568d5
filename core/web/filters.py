"""Template filters: translated names, agency-local times, money, masked numbers.

Values stored as codes (``mobile``, ``do_not_contact``, ``pending`` …) are shown through
``label``: ``{{ phone.kind|label("phone_kind") }}`` looks the code up in the vocabulary of
that name and shows its title in the user's language; a code the vocabulary does not know
(a module's own, say) is shown as it is stored.
"""

from __future__ import annotations

from decimal import Decimal

from flask_babel import format_datetime
from flask_babel import lazy_gettext as _l

from core import masking
from core.auth.permissions import BUILTIN_ROLES
from core.batches.services import BATCH_STATUSES

ROLE_TITLES = dict(BUILTIN_ROLES)

CASE_STATUSES = {
    "normal": _l("normal"),
    "paused": _l("paused"),
    "closed": _l("closed"),
    "returned": _l("returned"),
    "settled": _l("settled"),
}

OUTCOMES = {"success": _l("success"), "failure": _l("failure"), "denied": _l("denied")}

#: Phone and address states.
CONTACT_STATES = {
    "valid": _l("valid"),
    "invalid": _l("invalid"),
    "do_not_contact": _l("do not contact"),
}

#: Where a phone, address, comment, payment or timeline entry came from.
SOURCES = {"import": _l("import"), "manual": _l("manual entry")}

#: Every vocabulary the ``label`` filter knows, by name.
VOCABULARIES: dict[str, dict] = {
    "case_status": CASE_STATUSES,
    "outcome": OUTCOMES,
    "gender": {"M": _l("male"), "F": _l("female")},
    "phone_kind": {
        "mobile": _l("mobile"),
        "home": _l("home phone"),
        "work": _l("work phone"),
        "other": _l("other"),
    },
    "phone_status": CONTACT_STATES,
    "address_kind": {
        "home": _l("home address"),
        "work": _l("work address"),
        "hukou": _l("hukou address"),
        "statement": _l("statement address"),
        "other": _l("other"),
    },
    "address_status": CONTACT_STATES,
    "activity_kind": {"contact": _l("collection record")},
    "channel": {
        "phone": _l("phone call"),
        "sms": _l("SMS"),
        "letter": _l("letter"),
        "visit": _l("field visit"),
        "other": _l("other"),
    },
    "contact_type": {
        "debtor": _l("debtor"),
        "spouse": _l("spouse"),
        "relative": _l("relative"),
        "colleague": _l("colleague"),
        "other": _l("other"),
    },
    "payment_kind": {"claim": _l("payment claim"), "repayment": _l("repayment")},
    "payment_status": {
        "pending": _l("pending"),
        "confirmed": _l("confirmed"),
        "rejected": _l("rejected"),
    },
    "batch_status": BATCH_STATUSES,
    "import_status": {
        "uploaded": _l("uploaded"),
        "validated": _l("checked"),
        "committed": _l("imported"),
        "failed": _l("failed"),
    },
    "job_status": {
        "queued": _l("queued"),
        "running": _l("running"),
        "done": _l("done"),
        "failed": _l("failed"),
    },
    "source": SOURCES,
}


def label(value, vocabulary: str) -> str:
    """The title of a stored code in the user's language (the code itself when unknown)."""
    if value is None or value == "":
        return "—"
    return VOCABULARIES[vocabulary].get(value, value)


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
        "label": label,
        "case_status": lambda value: CASE_STATUSES.get(value, value),
        "outcome": lambda value: OUTCOMES.get(value, value),
        "mask_mobile": masking.mask_mobile,
        "mask_card": masking.mask_card,
        "mask_id": masking.mask_id,
        "mask_name": masking.mask_name,
    }
    app.jinja_env.filters.update(filters)
