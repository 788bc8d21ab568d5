"""Demo data for ``maple demo``: a client, a contract with every module on, a user per role."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

from flask import current_app
from sqlalchemy import select

from core.auth.models import Role, Team, User
from core.auth.services import create_user
from core.clients.models import Client, Contract
from core.clients.services import save_client, save_contract
from core.demo_history import add_history
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
#: Two more collectors, so allocation and the team leader's view have people to show.
MORE_COLLECTORS = [("collector2", "陈催收", "一组"), ("collector3", "刘催收", "二组")]


#: The demo agency signs its letters and messages with these, unless configured otherwise.
DEMO_AGENCY = {"AGENCY_NAME": "枫叶资产管理有限公司", "AGENCY_PHONE": "025-8666 2026"}


def create_demo_data() -> list[tuple[str, str]]:
    """Create what is missing (running it twice changes nothing); return the logins."""
    for key, value in DEMO_AGENCY.items():
        current_app.config[key] = current_app.config[key] or value
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
    _add_demo_batches(contract)
    teams = {}
    for name in ("一组", "二组"):
        teams[name] = db.session.scalar(select(Team).filter_by(name=name)) or Team(name=name)
        db.session.add(teams[name])
    roles = {role.name: role for role in db.session.scalars(select(Role))}
    people = [(*user, "一组") for user in DEMO_USERS]
    people += [(username, name, "collector", team) for username, name, team in MORE_COLLECTORS]
    logins = []
    for username, display_name, role_name, team in people:
        if db.session.scalar(select(User.id).filter_by(username=username)) is None:
            create_user(
                username=username,
                display_name=display_name,
                password=DEMO_PASSWORD,
                role=roles[role_name],
                client=client if role_name == "client_viewer" else None,
                contracts=[contract] if role_name not in ("admin", "client_viewer") else [],
                team=teams[team] if role_name in ("team_leader", "collector") else None,
            )
        logins.append((username, str(role_title(roles[role_name]))))
    add_history(contract)
    return logins


#: (batch no., entrust date, collection area, cases) — two hand-overs from the bank.
DEMO_BATCHES = [
    ("JSZ20260110", date(2026, 1, 10), "南京", 320),
    ("JSZ20260215", date(2026, 2, 15), "苏州", 280),
]


def _add_demo_batches(contract) -> None:
    """Two batches imported through the real import pipeline, as a bank's workbook would be."""
    import tempfile
    from pathlib import Path

    from core.batches import services as batches
    from core.batches.models import Batch
    from core.demo_data import CITIES, CONTACT_HEADERS, HEADERS, bank_rows, write_workbook
    from core.imports import services as imports

    for _province, city in CITIES:
        if city not in {o.value for o in batches.category_options(batches.AREA)}:
            batches.add_option(batches.AREA, city, actor=None)
    for value in ("信用卡", "消费贷"):
        if value not in {o.value for o in batches.category_options(batches.CASE_CATEGORY)}:
            batches.add_option(batches.CASE_CATEGORY, value, actor=None)
    for seed, (batch_no, entrusted, area, count) in enumerate(DEMO_BATCHES, start=1):
        if db.session.scalar(
            select(Batch.id).filter_by(contract_id=contract.id, batch_no=batch_no)
        ):
            continue
        batch = batches.save_batch(
            None,
            contract=contract,
            batch_no=batch_no,
            entrust_date=entrusted,
            expected_return_date=date(entrusted.year, entrusted.month + 6, entrusted.day),
            area=area,
            case_category="信用卡",
            actor=None,
        )
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"{batch_no}.xlsx"
            rows = bank_rows(count, seed=seed, prefix=batch_no, entrusted=entrusted, contacts=True)
            write_workbook(
                path, rows, HEADERS + CONTACT_HEADERS, title="江苏中行信用卡逾期委案清单"
            )
            run = imports.start_import_from_path(batch, "cases", path, None)
            imports.set_mapping(run, run.columns["mapping"], match_key=run.match_key)
            db.session.commit()
            report = imports.commit(run.id)
        if not report.get("committed"):
            raise RuntimeError(f"the demo batch {batch_no} did not import: {report.get('message')}")
