"""Shared set-up for the workbench tests: a contract with the module on, a manager, two
collectors of one team and a team leader, cases handed out through the core's ``assign``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from core.auth.models import RolePermission, Team
from core.auth.services import issue_token
from core.cases.models import CasePhone
from core.cases.services import assign
from tests.support.cases import make_cases

SHANGHAI = ZoneInfo("Asia/Shanghai")


def yesterday(hour: int, minute: int = 0) -> datetime:
    """A time yesterday in Shanghai: inside or outside the contact window, never future."""
    day = datetime.now(SHANGHAI).date() - timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


@dataclass
class World:
    contract: object
    manager: object
    li: object
    wang: object
    leader: object
    team: object


def make_world(db, contract, make_user) -> World:
    on = contract(modules=["collection"])
    team = Team(name="一组")
    db.session.add(team)
    db.session.commit()
    manager = make_user("manager", username="manager", contracts=[on], locale="en")
    li = make_user(
        "collector", username="li", name="李催收", contracts=[on], team=team, locale="en"
    )
    wang = make_user(
        "collector", username="wang", name="王催收", contracts=[on], team=team, locale="en"
    )
    leader = make_user("team_leader", username="leader", contracts=[on], team=team, locale="en")
    return World(on, manager, li, wang, leader, team)


def held_cases(db, world: World, holder, count=1, **fields):
    cases = make_cases(db, world.contract, count=count, **fields)
    for case in cases:
        db.session.add(CasePhone(case_id=case.id, number=case.mobile, kind="mobile"))
    db.session.flush()
    assign(cases, holder=holder, user=world.manager)
    db.session.commit()
    return cases


class Api:
    """The collection API as one user, through a bearer token."""

    def __init__(self, client, db, user):
        if not user.role.all_permissions and not user.can("core.api.use"):
            user.role.grants.append(RolePermission(permission="core.api.use"))
        _token, plain = issue_token(user, "test")
        db.session.commit()
        self.client, self.headers = client, {"Authorization": f"Bearer {plain}"}

    def __getattr__(self, method):
        def call(path, **kwargs):
            return self.client.open(
                "/m/collection/api" + path, method=method.upper(), headers=self.headers, **kwargs
            )

        return call


def sign_in_as(client, db, user):
    """Sign ``client`` in as an existing user (login_as makes a new one)."""
    from core.auth.services import start_session

    session = start_session(user, "127.0.0.1")
    db.session.commit()
    with client.session_transaction() as flask_session:
        flask_session["_user_id"] = session.id
        flask_session["_fresh"] = True
