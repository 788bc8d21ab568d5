"""The allocation sheet (分案导入): a file of case keys and the collector each case goes to.

Rows find their case by the same keys as every other kind (个案序列号, 档案号, 卡号 + 委案日期,
证件号 + 委案日期); 催收员 names the collector by user name, or by display name when only one
user has it; an optional 小组 names the team, which must be the collector's. Each row is
held to the allocation rules of :mod:`plugins.collection.allocation` (the importing user's
reach, a collector who may hold cases and is a member of the contract, a team leader's team)
and, when committed, goes through the core's ``assign`` like any allocation; a row a rule
refuses is rejected with its reason in the dry run's report.
"""

from __future__ import annotations

from collections import defaultdict

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from core.auth.models import Team, User
from core.cases.models import Case
from core.cases.services import assign, work_refusals
from core.extensions import db
from core.imports.kinds import MATCH_KEYS, ImportKind
from core.imports.schemas import KEY_FIELDS, TEXT, ImportSchema, cell, limited
from plugins.collection.allocation import ID_CHUNK, Scope, candidates, case_conditions, scope_for

KIND = "collection_allocation"

#: The key columns of every kind, the collector, and optionally the team.
AllocationSheetSchema = type(
    "AllocationSheetSchema",
    (ImportSchema,),
    {
        **KEY_FIELDS,
        "collector": cell(
            limited(120),
            _l("Collector"),
            "催收员",
            "催收人员",
            "催收员账号",
            "催收员用户名",
            "分配催收员",
            "分案催收员",
            "催收人",
            "业务员",
            excel=TEXT,
            required=True,
            note=_l("The collector's user name, or their name when only one user has it."),
        ),
        "team": cell(
            limited(120),
            _l("Team"),
            "小组",
            "催收小组",
            "组别",
            "团队",
            note=_l("Optional: the collector's team, as a check."),
        ),
    },
)


class _Sheet:
    """What the kind keeps across a file's chunks: who imports, and the users and teams."""

    def __init__(self, ctx):
        if ctx.user is not None:
            self.scope = scope_for(ctx.user)  # refused (the run fails) without allocate
            if ctx.contract.id not in self.scope.contract_ids:
                self.scope.contract_ids = [*self.scope.contract_ids, ctx.contract.id]
        else:  # the command line: the operator reaches every case of the batch's contract
            self.scope = Scope(None, [ctx.contract.id])
        self.by_username: dict[str, User] = {}
        self.by_name: dict[str, list[User]] = defaultdict(list)
        for user in db.session.scalars(select(User)):
            self.by_username[user.username.lower()] = user
            self.by_name[user.display_name].append(user)
        self.teams = {team.name: team for team in db.session.scalars(select(Team))}
        self.candidates = {}
        self.seen: set[int] = set()

    def collector(self, value: str) -> tuple[User | None, str]:
        user = self.by_username.get(value.lower())
        if user is not None:
            return user, ""
        named = self.by_name.get(value, [])
        if len(named) == 1:
            return named[0], ""
        if named:
            return None, _(
                "%(n)d users are named %(name)s; write the user name.", n=len(named), name=value
            )
        return None, _("There is no user %(name)s.", name=value)

    def candidate(self, user: User):
        if user.id not in self.candidates:
            self.candidates.update(candidates(self.scope, [user.id]))
        return self.candidates[user.id]


def apply_allocation_sheet(ctx, rows) -> None:
    sheet = ctx.state.get("allocation")
    if sheet is None:
        sheet = ctx.state["allocation"] = _Sheet(ctx)
    key_field = MATCH_KEYS[ctx.match_key][0][0]
    reachable = _reachable(sheet.scope, [row.case_id for row in rows])
    cases = ctx.load_cases([row.case_id for row in rows])
    groups: dict[tuple, list] = defaultdict(list)
    for row in rows:
        if row.case_id in sheet.seen:
            ctx.reject(row, key_field, _("The case appears twice in the file."))
            continue
        sheet.seen.add(row.case_id)
        case = cases[row.case_id]
        user, problem = sheet.collector(row.data["collector"])
        if user is None:
            ctx.reject(row, "collector", problem)
            continue
        candidate = sheet.candidate(user)
        if candidate.refusal:
            ctx.reject(row, "collector", candidate.refusal)
            continue
        if not candidate.takes(case.contract_id):
            ctx.reject(
                row,
                "collector",
                _(
                    "%(name)s is not a member of contract %(number)s.",
                    name=user.display_name,
                    number=ctx.contract.number,
                ),
            )
            continue
        team = user.team
        if row.data["team"]:
            team = sheet.teams.get(row.data["team"])
            if team is None:
                ctx.reject(row, "team", _("There is no team %(name)s.", name=row.data["team"]))
                continue
            if user.team_id != team.id:
                ctx.reject(
                    row,
                    "team",
                    _(
                        "%(name)s is not a member of team %(team)s.",
                        name=user.display_name,
                        team=team.name,
                    ),
                )
                continue
        if case.id not in reachable:
            ctx.reject(row, key_field, _("This case is not among the cases you may allocate."))
            continue
        if case.holder_id == user.id and case.team_id == (team.id if team else None):
            ctx.unchanged(row)
            continue
        if ctx.dry_run:
            found = work_refusals(case, ctx.user, "assign")
            if found:
                ctx.reject(row, "", "; ".join(found))
            else:
                ctx.updated(row)
            continue
        groups[(user.id, team.id if team else None)].append((row, case))
    reason = _("Allocation sheet, import #%(run)d", run=ctx.run.id)
    for (user_id, team_id), pairs in groups.items():
        user = sheet.candidates[user_id].user
        team = db.session.get(Team, team_id) if team_id is not None else None
        by_case = {case.id: row for row, case in pairs}
        outcome = assign(
            [case for _row, case in pairs], holder=user, team=team, user=ctx.user, reason=reason
        )
        for case in outcome.changed:
            ctx.updated(by_case[case.id])
        for case, why in outcome.skipped:
            ctx.reject(by_case[case.id], "", why)


def _reachable(scope: Scope, case_ids) -> set[int]:
    ids = sorted(set(case_ids))
    if scope.user is None:
        return set(ids)
    found: set[int] = set()
    for start in range(0, len(ids), ID_CHUNK):
        part = ids[start : start + ID_CHUNK]
        found.update(
            db.session.scalars(select(Case.id).where(Case.id.in_(part), *case_conditions(scope)))
        )
    return found


def import_kinds() -> list[ImportKind]:
    return [
        ImportKind(
            KIND,
            _l("Allocation sheet"),
            AllocationSheetSchema,
            apply_allocation_sheet,
            description=_l(
                "Case key and collector (催收员) per row; each case goes to that "
                "collector, held to the allocation rules."
            ),
        )
    ]
