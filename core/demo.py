"""Demo data for ``maple demo``: a client, a contract with every module on, a user per role."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

from sqlalchemy import select

from core.auth.models import Role, Team, User
from core.auth.services import create_user
from core.clients.models import Client, Contract
from core.clients.services import save_client, save_contract
from core.extensions import db
from core.modules import enable_module, installed_modules
from core.web.filters import role_title

DEMO_PASSWORD = "maple-demo-2026"

#: (user name, display name, role) — one user per built-in role.
DEMO_USERS = [
    ("admin", "系统管理员", "admin"),
    ("manager", "王经理", "manager"),
    ("leader", "李组长", "team_leader"),
    ("collector", "张催收", "collector"),
    ("visitor", "赵外访", "field_visitor"),
    ("assist", "钱协催", "assist_staff"),
    ("legal", "孙法务", "legal"),
    ("qa", "周质检", "qa_inspector"),
    ("bank", "江苏中行查看员", "client_viewer"),
]


def create_demo_data() -> list[tuple[str, str]]:
    """Create what is missing (running it twice changes nothing); return the logins."""
    client = db.session.scalar(select(Client).filter_by(code="JSZ")) or save_client(
        None, name="江苏中行", code="JSZ", notes="中国银行江苏省分行信用卡中心", actor=None
    )
    contract = db.session.scalar(select(Contract).filter_by(number="JSZ-2026-001"))
    if contract is None:
        contract = save_contract(
            None,
            number="JSZ-2026-001",
            actor=None,
            client=client,
            start_date=date(2026, 1, 1),
            end_date=date(2026, 12, 31),
            timezone="Asia/Shanghai",
            contact_start=time(8, 0),
            contact_end=time(22, 0),
            commission_rate=Decimal("0.1500"),
            notes="信用卡逾期账户委托催收",
        )
        for module in installed_modules():
            enable_module(contract, module.name, None)
    # A second client whose contract has no module on: modules are switched per contract.
    other = db.session.scalar(select(Client).filter_by(code="ZSY")) or save_client(
        None, name="招商银行", code="ZSY", notes="信用卡中心", actor=None
    )
    if db.session.scalar(select(Contract).filter_by(number="ZSY-2026-001")) is None:
        save_contract(
            None,
            number="ZSY-2026-001",
            actor=None,
            client=other,
            start_date=date(2026, 3, 1),
            end_date=None,
            timezone="Asia/Shanghai",
            commission_rate=Decimal("0.1200"),
        )
    team = db.session.scalar(select(Team).filter_by(name="一组")) or Team(name="一组")
    db.session.add(team)
    roles = {role.name: role for role in db.session.scalars(select(Role))}
    logins = []
    for username, display_name, role_name in DEMO_USERS:
        if db.session.scalar(select(User.id).filter_by(username=username)) is None:
            create_user(
                username=username,
                display_name=display_name,
                password=DEMO_PASSWORD,
                role=roles[role_name],
                client=client if role_name == "client_viewer" else None,
                contracts=[contract] if role_name not in ("admin", "client_viewer") else [],
                team=team if role_name in ("team_leader", "collector") else None,
            )
        logins.append((username, str(role_title(roles[role_name]))))
    return logins
