"""The rules for notes: a view, a command or an importer adds notes only through these."""

from flask_babel import gettext as _
from sqlalchemy import select

from core.audit.services import record
from core.clients.services import can_see_contract
from core.errors import NotAllowed, UserError
from core.extensions import db
from core.modules import is_enabled
from maple_notes.models import MAX_LENGTH, Note


def latest_notes(contract, limit: int | None = None) -> list[Note]:
    query = select(Note).filter_by(contract_id=contract.id).order_by(Note.id.desc()).limit(limit)
    return list(db.session.scalars(query))


def add_note(contract, body: str, user) -> Note:
    """Add a note to ``contract`` as ``user``; flushed and audited, not committed."""
    allowed = user.can("notes.write") and can_see_contract(user, contract)
    if not allowed or not is_enabled(contract, "notes"):
        raise NotAllowed(_("You may not add notes to this contract."))
    if not (body := body.strip()) or len(body) > MAX_LENGTH:
        raise UserError(_("A note has 1 to %(n)d characters.", n=MAX_LENGTH))
    note = Note(contract_id=contract.id, author_id=user.id, body=body)
    db.session.add(note)
    db.session.flush()
    record("notes.note_added", obj=note, user=user, details={"contract": contract.id})
    return note
