"""Result codes: what a collector may pick as a record's result, per contract.

A contract gets the default list when the module is switched on (and lazily when it has
none). Agencies rename, reorder, add and deactivate codes on the settings page; the ``code``
stored on each record never changes, and the rules read a code's ``outcome``, so a renamed or
added code still counts towards the unanswered-call limit or the third-party rule.

Imported records carry the bank's own wording (``无人接听``) as their result; the outcome of
such a result is found through the code's label and the usual Chinese names of the defaults.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from core.audit.services import record
from core.errors import Conflict, InvalidInput
from core.extensions import db
from plugins.collection.models import ResultCode

#: What a result means to the rules and the queues, whatever a contract calls it.
PROMISE = "promise"
RIGHT_PARTY = "right_party"
UNANSWERED = "unanswered"
INVALID_NUMBER = "invalid_number"
WRONG_PERSON = "wrong_person"
CLAIMS_PAID = "claims_paid"
COMPLAINT = "complaint"
OTHER = "other"

OUTCOMES = {
    PROMISE: _l("promise to pay"),
    RIGHT_PARTY: _l("reached the debtor"),
    UNANSWERED: _l("not answered"),
    INVALID_NUMBER: _l("number does not work"),
    WRONG_PERSON: _l("wrong person"),
    CLAIMS_PAID: _l("claims to have paid"),
    COMPLAINT: _l("complaint"),
    OTHER: _l("other"),
}

#: Outcomes of a record that reached the debtor: a right-party contact (the scorecard's).
RIGHT_PARTY_OUTCOMES = (PROMISE, RIGHT_PARTY, CLAIMS_PAID)
#: Outcomes of a call that counts towards the unanswered calls per number per day.
UNANSWERED_OUTCOMES = frozenset({UNANSWERED, INVALID_NUMBER})
#: Outcomes of a call that did not reach the debtor: a run of them makes the debtor unreachable.
FAILED_OUTCOMES = UNANSWERED_OUTCOMES | {WRONG_PERSON}


def N_(message: str) -> str:
    """Mark ``message`` for the catalog without translating it (stored in English, then
    translated where it is shown)."""
    return message


@dataclass(frozen=True)
class DefaultCode:
    code: str
    #: English, as stored; shown translated until the agency renames it.
    label: str
    outcome: str
    #: How banks' record sheets usually write this result (matched on imported records).
    aliases: tuple[str, ...] = ()


DEFAULT_CODES = (
    DefaultCode("promise_to_pay", N_("Promise to pay"), PROMISE, ("承诺还款", "承诺", "PTP")),
    DefaultCode("refuses", N_("Refuses to pay"), RIGHT_PARTY, ("拒绝还款", "拒还", "拒付")),
    DefaultCode("negotiating", N_("Negotiating"), RIGHT_PARTY, ("协商中", "协商还款")),
    DefaultCode("no_answer", N_("No answer"), UNANSWERED, ("无人接听", "未接听", "无人接")),
    DefaultCode("switched_off", N_("Switched off"), UNANSWERED, ("关机",)),
    DefaultCode("busy", N_("Busy"), UNANSWERED, ("忙音", "占线", "通话中")),
    DefaultCode("rejected_call", N_("Call rejected"), UNANSWERED, ("拒接", "挂断")),
    DefaultCode("out_of_service", N_("Out of service"), UNANSWERED, ("停机", "欠费停机")),
    DefaultCode("invalid_number", N_("Invalid number"), INVALID_NUMBER, ("空号", "号码无效")),
    DefaultCode("wrong_person", N_("Wrong person"), WRONG_PERSON, ("非本人", "打错", "查无此人")),
    DefaultCode("left_message", N_("Left a message"), OTHER, ("留言", "转告")),
    DefaultCode("third_party_reached", N_("Third party reached"), OTHER, ("第三方接听", "联系人接听")),
    DefaultCode("claims_paid", N_("Claims to have paid"), CLAIMS_PAID, ("称已还款", "已还款")),
    DefaultCode("complaint", N_("Complaint"), COMPLAINT, ("投诉",)),
)  # fmt: skip
_DEFAULTS = {default.code: default for default in DEFAULT_CODES}

#: Results the module writes itself on the timeline (messages.py: an SMS sent, queued or
#: failed, a letter printed). Not a contract's codes: never picked, never renamed.
SYSTEM_RESULTS = {
    "sms_sent": _l("SMS sent"),
    "sms_queued": _l("SMS queued"),
    "sms_failed": _l("SMS failed"),
    "letter_printed": _l("Letter printed"),
}

#: The timeline entry kinds the module writes besides contact records.
ENTRY_KINDS = {
    "payment_claim": _l("Payment claim"),
}

CODE_PATTERN = re.compile(r"[a-z0-9_]{1,40}")


def codes_for(contract, *, active_only: bool = False, create: bool = False) -> list[ResultCode]:
    """The contract's codes in their order; with ``create``, the defaults are added if it has
    none yet (a contract that had the module on before result codes existed)."""
    query = select(ResultCode).filter_by(contract_id=contract.id)
    if active_only:
        query = query.filter_by(active=True)
    rows = list(db.session.scalars(query.order_by(ResultCode.position, ResultCode.id)))
    if not rows and create and not _has_any(contract):
        ensure_defaults(contract)
        return codes_for(contract, active_only=active_only)
    return rows


def _has_any(contract) -> bool:
    return bool(db.session.scalar(select(ResultCode.id).filter_by(contract_id=contract.id)))


def ensure_defaults(contract) -> int:
    """Add the default codes the contract lacks (by code); returns how many were added."""
    have = set(db.session.scalars(select(ResultCode.code).filter_by(contract_id=contract.id)))
    added = 0
    for position, default in enumerate(DEFAULT_CODES, start=1):
        if default.code in have:
            continue
        # The English label is stored; title() shows it in the user's language until renamed.
        db.session.add(
            ResultCode(
                contract_id=contract.id,
                code=default.code,
                label=default.label,
                outcome=default.outcome,
                position=position * 10,
                active=True,
            )
        )
        added += 1
    db.session.flush()
    return added


def title(row: ResultCode) -> str:
    """A code's label in the user's language: a default label is translated, a renamed one
    is shown as the agency wrote it."""
    default = _DEFAULTS.get(row.code)
    if default is not None and row.label == default.label:
        return _(default.label)
    return row.label


def titles_for(contract) -> dict[str, str]:
    """code → title for every code of the contract (inactive ones too: old records use them)
    and the module's own results (:data:`SYSTEM_RESULTS`). One query."""
    found = {code: str(name) for code, name in SYSTEM_RESULTS.items()}
    found.update((row.code, title(row)) for row in codes_for(contract, create=True))
    return found


def result_title(titles: dict[str, str], result: str) -> str:
    """How a record's stored result reads: its code's title, or the imported text as it is."""
    return titles.get(result, result) if result else "—"


def outcome_of(contract, result: str) -> str | None:
    """The outcome a stored result means on this contract (``None``: unknown text)."""
    if not result:
        return None
    for row in codes_for(contract):
        if result in (row.code, row.label):
            return row.outcome
    default = _DEFAULTS.get(result) or next((d for d in DEFAULT_CODES if result in d.aliases), None)
    return default.outcome if default is not None else None


def results_with_outcomes(contract, outcomes) -> set[str]:
    """Every stored result text that means one of ``outcomes`` on this contract: the codes,
    their labels, and the bank names of the default codes (for imported records).

    A contract without codes yet is read with the defaults, without writing them: the gate
    calls this while checking a contact and must not add rows as a side effect.
    """
    rows = [(row.code, row.label, row.outcome) for row in codes_for(contract)]
    return _meaning(rows, set(outcomes))


def results_with_outcomes_of(contract_ids, outcomes, *, connection=None) -> dict[int, set[str]]:
    """:func:`results_with_outcomes` of several contracts (by id) in one query, read on
    ``connection`` (a migration's) or the session's."""
    query = (
        select(ResultCode.contract_id, ResultCode.code, ResultCode.label, ResultCode.outcome)
        .where(ResultCode.contract_id.in_(list(contract_ids)))
        .order_by(ResultCode.position, ResultCode.id)
    )
    rows: dict[int, list] = {contract_id: [] for contract_id in contract_ids}
    for contract_id, *row in (connection or db.session).execute(query):
        rows[contract_id].append(tuple(row))
    outcomes = set(outcomes)
    return {contract_id: _meaning(found, outcomes) for contract_id, found in rows.items()}


def _meaning(rows, outcomes: set[str]) -> set[str]:
    """The result texts ``rows`` (a contract's codes as ``(code, label, outcome)``; none: the
    defaults) give ``outcomes``."""
    found: set[str] = set()
    if rows:
        for code, label, outcome in rows:
            if outcome in outcomes:
                found.update((code, label))
                if code in _DEFAULTS:
                    found.update(_DEFAULTS[code].aliases)
    else:
        for default in DEFAULT_CODES:
            if default.outcome in outcomes:
                found.update((default.code, default.label, *default.aliases))
    found.discard("")
    return found


# -- the settings page's changes -----------------------------------------------------------------


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, fields={field: [message]})


def add_code(contract, *, code: str, label: str, outcome: str, user) -> ResultCode:
    """Add a code at the end of the contract's list."""
    code, label = (code or "").strip().lower(), (label or "").strip()
    if not CODE_PATTERN.fullmatch(code):
        raise _invalid("code", _("A code is 1–40 lower-case letters, digits or underscores."))
    if not label or len(label) > 80:
        raise _invalid("label", _("A label is 1–80 characters."))
    if outcome not in OUTCOMES:
        raise _invalid("outcome", _("Choose what the result means."))
    if db.session.scalar(select(ResultCode.id).filter_by(contract_id=contract.id, code=code)):
        raise Conflict(_("The code %(code)s is already on this contract.", code=code))
    reached = results_with_outcomes(contract, RIGHT_PARTY_OUTCOMES)
    last = db.session.scalar(
        select(func.max(ResultCode.position)).filter_by(contract_id=contract.id)
    )
    row = ResultCode(
        contract_id=contract.id,
        code=code,
        label=label,
        outcome=outcome,
        position=(last or 0) + 10,
        active=True,
    )
    db.session.add(row)
    db.session.flush()
    record(
        "collection.result_code_added",
        obj=row,
        user=user,
        details={"contract": contract.id, "code": code, "outcome": outcome},
    )
    _recount_right_party(contract, reached)
    return row


def _recount_right_party(contract, before: set[str]) -> None:
    """The scorecard counts a record as right-party by what its result means now: records
    already counted are counted again when the results that mean so changed (an imported
    text may be the new code's label)."""
    if results_with_outcomes(contract, RIGHT_PARTY_OUTCOMES) != before:
        from plugins.collection import day_figures  # it reads this module's meanings

        day_figures.rebuild_contract(contract)


def update_code(row: ResultCode, *, label: str, outcome: str, active: bool, user) -> bool:
    """Rename, re-mean or (de)activate a code; its ``code`` stays. Returns whether it changed.

    The settings form shows each label as :func:`title` does (a default one translated): a
    label sent back as shown is not a rename, so a default keeps its stored English label and
    stays translated for everyone.
    """
    label = (label or "").strip()
    if label == title(row):
        label = row.label
    if not label or len(label) > 80:
        raise _invalid(f"label_{row.id}", _("A label is 1–80 characters."))
    if outcome not in OUTCOMES:
        raise _invalid(f"outcome_{row.id}", _("Choose what the result means."))
    if (row.label, row.outcome, row.active) == (label, outcome, active):
        return False
    contract = _contract(row)
    reached = results_with_outcomes(contract, RIGHT_PARTY_OUTCOMES)
    before = {"label": row.label, "outcome": row.outcome, "active": row.active}
    row.label, row.outcome, row.active = label, outcome, active
    record(
        "collection.result_code_changed",
        obj=row,
        user=user,
        details={"code": row.code, "before": before,
                 "after": {"label": label, "outcome": outcome, "active": active}},
    )  # fmt: skip
    db.session.flush()
    _recount_right_party(contract, reached)
    return True


def move_code(row: ResultCode, direction: int, user) -> bool:
    """Swap the code with its neighbour above (``-1``) or below (``+1``) in the list; returns
    whether it moved (the first code does not move up, the last not down)."""
    rows = codes_for(_contract(row))
    index = next(i for i, r in enumerate(rows) if r.id == row.id)
    other = index + (1 if direction > 0 else -1)
    if not 0 <= other < len(rows):
        return False
    # Renumber all first: codes added in the same position (or equal ones) swap cleanly.
    for n, r in enumerate(rows):
        r.position = (n + 1) * 10
    rows[index].position, rows[other].position = rows[other].position, rows[index].position
    record(
        "collection.result_code_moved",
        obj=row,
        user=user,
        details={"code": row.code, "direction": "up" if direction < 0 else "down"},
    )
    db.session.flush()
    return True


def _contract(row: ResultCode):
    from core.clients.models import Contract

    return db.session.get(Contract, row.contract_id)
