"""What a report's filter form offers a user, and the filter a request asks for, kept to it."""

from __future__ import annotations

from sqlalchemy import select

from core.auth.models import Role, Team, User, user_contracts
from core.batches.models import Batch
from core.cases.filters import holder_condition, sees_team
from core.clients.models import Client, Contract
from core.extensions import db
from plugins.reports.framework import Report, ReportFilter, report_contract_ids

#: The batch select lists at most this many (the newest); more are reached by contract.
MAX_BATCH_CHOICES = 300
#: Roles whose members figures are attributed to, offered in the collector filter.
COLLECTOR_ROLES = ("collector", "team_leader")


def chosen_filter(user, report: Report, args) -> tuple[ReportFilter, dict]:
    """The filter of query string ``args`` for ``report``, without the ids the form does not
    offer ``user`` (each named in the filter's errors), and the form's choices."""
    report_filter = report.read_filter(args)
    choices = filter_choices(user, report, report_filter)
    return report_filter.among(choices), choices


def filter_choices(
    user, report: Report, chosen: ReportFilter | None = None
) -> dict[str, list[tuple[int, str]]]:
    """For each filter the report offers, the values ``user`` may pick: only what they may
    see (a collector: themselves; a team leader: their team). The batch select lists the
    newest batches, and the ``chosen`` one if older."""
    contract_ids = report_contract_ids(user)
    choices: dict[str, list[tuple[int, str]]] = {}
    if "client" in report.filters:
        query = (
            select(Client.id, Client.name)
            .join(Contract, Contract.client_id == Client.id)
            .where(Contract.id.in_(contract_ids))
            .distinct()
            .order_by(Client.name)
        )
        choices["client"] = [(i, name) for i, name in db.session.execute(query)]
    if "contract" in report.filters:
        query = select(Contract.id, Contract.number).where(Contract.id.in_(contract_ids))
        choices["contract"] = list(db.session.execute(query.order_by(Contract.number)))
    if "batch" in report.filters:
        query = (
            select(Batch.id, Batch.batch_no, Contract.number)
            .join(Contract, Contract.id == Batch.contract_id)
            .where(Batch.contract_id.in_(contract_ids))
            .order_by(Batch.id.desc())
            .limit(MAX_BATCH_CHOICES)
        )
        found = list(db.session.execute(query))
        if chosen is not None and chosen.batch not in (None, *(row[0] for row in found)):
            found += db.session.execute(query.limit(None).where(Batch.id == chosen.batch)).all()
        choices["batch"] = [(i, f"{no} · {number}") for i, no, number in found]
    everyone = holder_condition(user) is None
    if "team" in report.filters:
        if everyone:
            query = select(Team.id, Team.name).order_by(Team.name)
            if not user.can("core.contracts.view_all"):  # a client's viewer: its staff's teams
                query = query.where(Team.id.in_(select(User.team_id).where(User.id.in_(
                    select(user_contracts.c.user_id).where(
                        user_contracts.c.contract_id.in_(contract_ids)
                    )
                ))))  # fmt: skip
            choices["team"] = list(db.session.execute(query))
        elif sees_team(user):
            choices["team"] = [(user.team_id, user.team.name)]
    if "collector" in report.filters:
        if everyone:
            query = (
                select(User.id, User.display_name)
                .join(Role, Role.id == User.role_id)
                .where(Role.name.in_(COLLECTOR_ROLES), User.active.is_(True))
                .order_by(User.display_name, User.id)
            )
            if not user.can("core.contracts.view_all"):
                linked = select(user_contracts.c.user_id).where(
                    user_contracts.c.contract_id.in_(contract_ids)
                )
                query = query.where(User.id.in_(linked))
            choices["collector"] = list(db.session.execute(query))
        elif sees_team(user):
            query = (
                select(User.id, User.display_name)
                .where(User.team_id == user.team_id)
                .order_by(User.display_name, User.id)
            )
            choices["collector"] = list(db.session.execute(query))
        else:
            choices["collector"] = [(user.id, user.display_name)]
    return choices
