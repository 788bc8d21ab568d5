"""Writing and verifying the audit log: the one function every module audits through."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass

from flask import current_app, has_request_context, request
from flask_login import current_user
from sqlalchemy import event, inspect, select, text
from sqlalchemy.orm import Session

from core.audit.models import AuditEntry
from core.extensions import db
from core.types import utcnow

#: PostgreSQL advisory-lock key that serialises appends, so the chain has no forks.
_CHAIN_LOCK = 0x4D41504C


def record_many(action: str, objs, *, details: dict | None = None, user=None) -> None:
    """Append one entry per object of ``objs`` (the same action and details), in two
    statements however many there are: the inserts, then their links in the chain."""
    objs = list(objs)
    if not objs:
        return
    first = record(action, obj=objs[0], details=details, user=user)
    entries = [
        AuditEntry(
            at=first.at,
            user_id=first.user_id,
            username=first.username,
            ip=first.ip,
            action=action,
            object_type=obj.__table__.name,
            object_id=str(obj.id),
            outcome=first.outcome,
            details=details or {},
        )
        for obj in objs[1:]
    ]
    if not entries:
        return
    db.session.add_all(entries)
    db.session.flush()  # ids, in insertion order: the chain's order
    previous = first.hash
    for entry in sorted(entries, key=lambda e: e.id):
        entry.prev_hash = previous
        entry.hash = previous = entry_hash(entry)
    db.session.flush()
    if db.session().get_nested_transaction() is None:
        db.session.info[_CHAIN_END] = (db.session().get_transaction(), previous)


def record(
    action: str,
    *,
    obj=None,
    object_type: str = "",
    object_id=None,
    outcome: str = "success",
    details: dict | None = None,
    user=None,
    username: str | None = None,
) -> AuditEntry:
    """Append one entry to the audit log, in the caller's transaction.

    ``obj`` is a model instance (its table and id are recorded). ``user`` defaults to the
    signed-in user. ``details`` must hold no raw personal data: masked numbers at most.
    """
    if user is None and has_request_context() and current_user.is_authenticated:
        user = current_user
    if obj is not None:
        object_type = object_type or obj.__table__.name
        object_id = obj.id
    entry = AuditEntry(
        at=utcnow(),
        user_id=user.id if user is not None else None,
        username=(user.username if user is not None else username) or "",
        ip=(request.remote_addr or "") if has_request_context() else "",
        action=action,
        object_type=object_type,
        object_id="" if object_id is None else str(object_id),
        outcome=outcome,
        details=details or {},
    )
    last = _chain_end()
    if last is None and db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK})
    # Insert first: on SQLite the insert takes the write lock, so no other writer can append
    # between reading the previous hash and linking to it.
    db.session.add(entry)
    db.session.flush()
    if last is None:
        last = (
            db.session.scalar(
                select(AuditEntry.hash)
                .where(AuditEntry.id < entry.id)
                .order_by(AuditEntry.id.desc())
                .limit(1)
            )
            or ""
        )
    entry.prev_hash = last
    entry.hash = entry_hash(entry)
    db.session.flush()
    in_savepoint = db.session().get_nested_transaction() is not None  # it may be rolled back
    db.session.info[_CHAIN_END] = (
        None if in_savepoint else (db.session().get_transaction(), entry.hash)
    )
    return entry


#: session.info key: the transaction that last appended, and the hash it appended.
_CHAIN_END = "maple.audit_chain_end"


def _chain_end() -> str | None:
    """The chain's last hash, when this transaction appended it and so still holds the lock
    (PostgreSQL's advisory lock, SQLite's write lock) that keeps others from appending: the
    next entry then links to it without locking and reading again. ``None``: read it.

    Remembered per outermost transaction: after a commit or rollback the value is stale and
    ignored. An entry appended in a savepoint may be rolled back with it, so none is
    remembered from one, and none is used inside one.
    """
    end = db.session.info.get(_CHAIN_END)
    if end is None or db.session().get_nested_transaction() is not None:
        return None
    transaction, last_hash = end
    if transaction is not db.session().get_transaction() or not transaction.is_active:
        return None
    return last_hash


def record_saved(obj, action: str, *, user, details: dict | None = None):
    """Add ``obj`` to the session, flush it so it has an id, and audit ``action`` on it."""
    db.session.add(obj)
    db.session.flush()
    record(action, obj=obj, user=user, details=details)
    return obj


def _key() -> bytes:
    return (current_app.config["AUDIT_KEY"] or current_app.config["SECRET_KEY"]).encode()


def entry_hash(entry: AuditEntry) -> str:
    """HMAC of the entry's content and its predecessor's hash: forging one needs the key."""
    content = json.dumps(
        [
            entry.id,
            entry.at.isoformat(timespec="microseconds"),
            entry.user_id,
            entry.username,
            entry.ip,
            entry.action,
            entry.object_type,
            entry.object_id,
            entry.outcome,
            entry.details,
            entry.prev_hash,
        ],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return hmac.new(_key(), content.encode(), hashlib.sha256).hexdigest()


@dataclass
class ChainProblem:
    entry_id: int
    message: str


def verify() -> tuple[int, ChainProblem | None]:
    """Walk the chain in order; return how many rows were checked and the first problem."""
    previous_hash, previous_id, checked = "", None, 0
    query = select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=2000)
    rows = db.session.execute(query)
    for entry in rows.scalars():
        checked += 1
        if entry.prev_hash != previous_hash:
            after = f"after row {previous_id}" if previous_id else "at the start"
            return checked, ChainProblem(
                entry.id,
                f"row {entry.id}: its link to the row before does not match — a row {after} "
                "was deleted, or this row's link was changed",
            )
        if entry_hash(entry) != entry.hash:
            return checked, ChainProblem(
                entry.id, f"row {entry.id} was changed or inserted out of band (hash mismatch)"
            )
        previous_hash, previous_id = entry.hash, entry.id
    return checked, None


@event.listens_for(Session, "before_flush")
def _audit_is_append_only(session, flush_context, instances):
    """Refuse, in the ORM, to delete audit entries or change one already sealed."""
    if any(isinstance(obj, AuditEntry) for obj in session.deleted):
        raise RuntimeError("audit entries are never deleted")
    for entry in (obj for obj in session.dirty if isinstance(obj, AuditEntry)):
        entry.hash  # noqa: B018 - load it if expired, so its history is known
        history = inspect(entry).attrs.hash.history
        if (history.deleted or history.unchanged or [""])[0]:
            raise RuntimeError("audit entries are never changed once written")
