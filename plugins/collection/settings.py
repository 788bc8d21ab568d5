"""A contract's collection settings: the limits the gate and the workbench read, and the
agency's name and phone that letters quote. (The contact window and time zone are the
contract's own, edited with the contract.)"""

from __future__ import annotations

from flask_babel import gettext as _

from core.audit.services import record
from core.errors import InvalidInput
from core.extensions import db
from plugins.collection.compliance import settings_for

#: field → (lowest, highest) accepted.
LIMITS = {
    "max_unanswered_calls_per_day": (1, 50),
    "third_party_after_failures": (1, 20),
    "first_contact_hours": (1, 720),
    "complaint_deadline_hours": (1, 720),
}
TEXTS = {"agency_name": 120, "agency_phone": 40}
FIELDS = (*LIMITS, *TEXTS)


def save_settings(contract, user, **values):
    """Change the contract's settings; every bad value is reported by field, nothing saved."""
    errors = {}
    for name, (low, high) in LIMITS.items():
        value = values.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            errors[name] = [_("A whole number from %(low)d to %(high)d.", low=low, high=high)]
    for name, length in TEXTS.items():
        value = (values.get(name) or "").strip()
        if len(value) > length:
            errors[name] = [_("At most %(n)d characters.", n=length)]
        values[name] = value
    if errors:
        raise InvalidInput(_("Some fields are not valid; see the messages by field."),
                           fields=errors)  # fmt: skip
    row = settings_for(contract, create=True)
    changed = {}
    for name in FIELDS:
        if getattr(row, name) != values[name]:
            changed[name] = [getattr(row, name), values[name]]
            setattr(row, name, values[name])
    if changed:
        record(
            "collection.settings_changed",
            obj=row,
            user=user,
            details={"contract": contract.id, "changed": changed},
        )
    db.session.flush()
    return row
