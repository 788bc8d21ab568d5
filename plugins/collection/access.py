"""Who may work which case: the one rule every collection page, endpoint and service asks."""

from __future__ import annotations

from core.auth.permissions import holds
from core.cases.services import can_see_case

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
