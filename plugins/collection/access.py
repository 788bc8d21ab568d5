"""Who may work which case: the one rule every collection page, endpoint and service asks."""

from __future__ import annotations

from flask import abort

from core.api.schemas import MAX_ID
from core.auth.guard import deny
from core.auth.permissions import holds
from core.cases.models import Case
from core.cases.services import can_see_case
from core.extensions import db
from core.modules import require_module

#: Each opens the pages that work cases, on the cases it covers (see :func:`may_work`).
WORK_PERMISSIONS = ("collection.work_own", "collection.work_team", "collection.work_all")


def may_work(user, case) -> bool:
    """Whether ``user`` may record on, claim a payment for or message ``case``.

    A collector works the cases they hold, a team leader also their team's, a manager any
    case they can see; nobody works a case they cannot see.
    """
    if user is None or not can_see_case(user, case):
        return False
    if user.can("collection.work_all"):
        return True
    in_team = user.team_id is not None and case.team_id == user.team_id
    if in_team and user.can("collection.work_team"):
        return True
    return case.holder_id == user.id and user.can("collection.work_own")


def may_work_something(user) -> bool:
    """Whether ``user`` works cases at all (the workbench's own permission check)."""
    return holds(user, WORK_PERMISSIONS)


def case_or_404(case_id: int, user) -> Case:
    """The case a collection page or endpoint is about; 404 when it does not exist, the user
    may not see it, or its contract has the module off."""
    case = db.session.get(Case, case_id) if 0 < case_id <= MAX_ID else None
    if case is None or not can_see_case(user, case):
        abort(404)
    require_module(case.contract, "collection")
    return case


def workable_case(case_id: int, user) -> Case:
    """:func:`case_or_404`, and 403 (audited) unless ``user`` may work it."""
    case = case_or_404(case_id, user)
    if not may_work(user, case):
        deny("collection.work_own")
    return case
