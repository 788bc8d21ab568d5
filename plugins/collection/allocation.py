"""Allocation (分案, 调案): which collector or team holds which case.

A strategy turns the chosen cases (a selection, or the whole result of a case filter) and
the chosen targets into an :class:`~plugins.collection.models.AllocationPlan`; its preview
says, per collector or team, how many cases and how much money they hold before and after.
:func:`commit_plan` then applies exactly the stored plan through the core's ``assign`` (which
keeps the holder history, audits and fires ``after_case_assigned``). Giving cases directly to
a collector or a team, and recalling them to the pool, are plans committed at once.

Who allocates what:

- a user with ``collection.allocate`` who sees every case of their contracts
  (``core.cases.view_contract``): any case of those contracts that have the collection module
  on, to any collector who is a member of the case's contract, or to any team;
- a team leader (``collection.allocate`` without ``view_contract``): only the cases they can
  see (their team's), only to their team's members or their team's pool; their recall returns
  cases to their team's pool, since the general pool is out of their sight.

The cases are read as plain rows (no ORM object per case) to compute a plan, so a filter
of tens of thousands of cases previews in a moment; committing loads them in chunks.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import false, func, or_, select, update
from sqlalchemy.orm import joinedload

from core.audit.services import record
from core.auth.models import Role, RolePermission, Team, User, user_contracts
from core.cases.filters import CaseFilter, where
from core.cases.models import Case, CaseAssignment
from core.cases.services import assign
from core.clients.models import Contract
from core.clients.services import visible_contracts_query
from core.errors import Conflict, InvalidInput, NotAllowed, NotFound, UserError
from core.extensions import db
from core.jobs.services import enqueue, job_function
from core.types import utcnow
from plugins.collection.models import AllocationPlan

MODULE = "collection"
WORK_OWN = "collection.work_own"

MANUAL, EVEN_COUNT, EVEN_AMOUNT, AREA_TEAM, SAME_DEBTOR = (
    "manual",
    "even_count",
    "even_amount",
    "area_team",
    "same_debtor",
)
#: The strategies a user previews before committing, in the order the page offers them.
STRATEGIES = {
    EVEN_COUNT: _l("Even by count"),
    EVEN_AMOUNT: _l("Even by amount"),
    AREA_TEAM: _l("By collection area to teams"),
    SAME_DEBTOR: _l("Same debtor, same collector"),
}
STRATEGY_TITLES = {MANUAL: _l("Manual allocation"), **STRATEGIES}

#: The money a preview adds up (and "even by amount" balances).
BASES = {"entrusted_amount": _l("Entrusted amount"), "balance": _l("Balance")}
DEFAULT_BASIS = "entrusted_amount"

#: Where "by collection area" sends a team's cases: its pool, or evenly to its members.
TO_POOL, TO_MEMBERS = "pool", "members"
AREA_MODES = {TO_POOL: _l("To the team's pool"), TO_MEMBERS: _l("Evenly to the team's members")}

#: The holder filter's value for cases nobody holds.
POOL = "pool"

#: Ids per ``IN (…)`` query; cases loaded and assigned at a time when committing.
ID_CHUNK = 900
CHUNK = 500
#: Skipped cases named one by one in a commit's result (the rest are counted by reason).
EXAMPLES = 50


def _chunks(values: list, size: int):
    for start in range(0, len(values), size):
        yield values[start : start + size]


# -- who allocates what ------------------------------------------------------------------------


@dataclass
class Scope:
    """What ``user`` may allocate: their collection contracts and, for a team leader, a team."""

    user: User
    contract_ids: list[int]
    #: A team leader's team: their cases and targets are only of it. None: no such limit.
    team_id: int | None = None

    @property
    def limited(self) -> bool:
        return self.team_id is not None


def allocatable_contracts_query(user):
    """``select(Contract)``: the contracts ``user`` may see that have the collection module on."""
    return visible_contracts_query(user).where(Contract.module_rows.any(module=MODULE))


def scope_for(user) -> Scope:
    if user is None or not user.can("collection.allocate"):
        raise NotAllowed(_("You may not allocate cases."))
    query = allocatable_contracts_query(user).with_only_columns(Contract.id).order_by(Contract.id)
    contract_ids = list(db.session.scalars(query))
    if user.can("core.cases.view_contract"):
        return Scope(user, contract_ids)
    if user.team_id is None:
        raise NotAllowed(_("You are in no team, so there are no cases you may allocate."))
    return Scope(user, contract_ids, user.team_id)


def case_conditions(scope: Scope, case_filter: CaseFilter | None = None, holder=None) -> list:
    """Conditions on ``cases`` for what ``scope`` may allocate, narrowed by the case list's
    filter and by holder (``POOL``: nobody; a user id: that user)."""
    conditions = where(scope.user, case_filter or CaseFilter())
    conditions.append(Case.contract_id.in_(scope.contract_ids) if scope.contract_ids else false())
    if holder == POOL:
        conditions.append(Case.holder_id.is_(None))
    elif holder is not None:
        conditions.append(Case.holder_id == holder)
    return conditions


def collectors_query(scope: Scope):
    """``select(User)``: who may be given cases — active, working their own cases, a member of
    one of the scope's contracts (and of the team leader's team)."""
    works = User.role.has(
        or_(Role.all_permissions, Role.grants.any(RolePermission.permission == WORK_OWN))
    )
    members = select(user_contracts.c.user_id).where(
        user_contracts.c.contract_id.in_(scope.contract_ids)
    )
    query = select(User).where(User.active, works, User.id.in_(members))
    if scope.limited:
        query = query.where(User.team_id == scope.team_id)
    return query.order_by(User.display_name, User.id)


def teams_query(scope: Scope):
    query = select(Team).order_by(Team.name)
    return query.where(Team.id == scope.team_id) if scope.limited else query


@dataclass(eq=False)
class Candidate:
    """A user as a possible holder: the contracts (of the scope) they are a member of, or why
    they cannot hold cases at all."""

    user: User
    contracts: set[int]
    refusal: str = ""

    def takes(self, contract_id: int) -> bool:
        return not self.refusal and contract_id in self.contracts


def candidates(scope: Scope, user_ids) -> dict[int, Candidate]:
    ids = sorted({int(i) for i in user_ids if i is not None})
    if not ids:
        return {}
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}
    memberships: dict[int, set[int]] = defaultdict(set)
    query = select(user_contracts.c.user_id, user_contracts.c.contract_id).where(
        user_contracts.c.user_id.in_(ids),
        user_contracts.c.contract_id.in_(scope.contract_ids or [0]),
    )
    for user_id, contract_id in db.session.execute(query):
        memberships[user_id].add(contract_id)
    found = {}
    for user_id, user in users.items():
        found[user_id] = Candidate(user, memberships[user_id], _holder_refusal(scope, user))
    return found


def _holder_refusal(scope: Scope, user: User) -> str:
    if not user.active:
        return _("%(name)s is deactivated.", name=user.display_name)
    if not user.can(WORK_OWN):
        return _(
            "%(name)s does not work cases (their role may not hold cases).", name=user.display_name
        )
    if scope.limited and user.team_id != scope.team_id:
        return _("%(name)s is not a member of your team.", name=user.display_name)
    return ""


def _contract_numbers(contract_ids) -> dict[int, str]:
    ids = sorted(set(contract_ids))
    if not ids:
        return {}
    query = select(Contract.id, Contract.number).where(Contract.id.in_(ids))
    return dict(db.session.execute(query).all())


def _check_team(scope: Scope, team_id) -> Team:
    team = db.session.get(Team, team_id) if isinstance(team_id, int) else None
    if team is None:
        raise InvalidInput(
            _("Some fields are not valid; see the messages by field."),
            fields={"team": [_("There is no such team.")]},
        )
    if scope.limited and team.id != scope.team_id:
        raise NotAllowed(_("You may allocate only within your own team."))
    return team


# -- the chosen cases --------------------------------------------------------------------------


@dataclass
class Choice:
    """Which cases: the ids named, or every case the filter (and holder filter) finds."""

    case_ids: list[int] | None = None
    case_filter: CaseFilter | None = None
    #: None: any holder; POOL: nobody holds it; a user id: that user holds it.
    holder: object = None

    def describe(self) -> dict:
        if self.case_ids is not None:
            return {"case_ids": len(self.case_ids)}
        args = (self.case_filter or CaseFilter()).as_args()
        if self.holder is not None:
            args["holder"] = str(self.holder)
        return {"filter": args}


@dataclass(slots=True)
class Item:
    """One chosen case as plain values: all a strategy and a preview need."""

    id: int
    contract_id: int
    amount: Decimal
    id_no: str
    area: str
    holder_id: int | None
    team_id: int | None


def max_cases() -> int:
    return int(current_app.config.get("COLLECTION_ALLOCATION_MAX_CASES", 200_000))


def chosen_items(scope: Scope, choice: Choice, basis: str = DEFAULT_BASIS) -> list[Item]:
    """The chosen cases, in id order. A named case the scope does not reach is a 404: to the
    user it does not exist (another's case, a contract without the module)."""
    money = Case.balance if basis == "balance" else Case.entrusted_amount
    columns = (
        Case.id,
        Case.contract_id,
        money,
        Case.id_no,
        Case.area,
        Case.holder_id,
        Case.team_id,
    )
    if choice.case_ids is not None:
        wanted = sorted({int(i) for i in choice.case_ids})
        rows = []
        for part in _chunks(wanted, ID_CHUNK):
            query = select(*columns).where(Case.id.in_(part), *case_conditions(scope))
            rows.extend(db.session.execute(query).all())
        if len(rows) != len(wanted):
            missing = sorted(set(wanted) - {row[0] for row in rows})
            raise NotFound(_("Case %(id)d is not among the cases you may allocate.", id=missing[0]))
        rows.sort(key=lambda row: row[0])
    else:
        conditions = case_conditions(scope, choice.case_filter, choice.holder)
        limit = max_cases()
        query = select(*columns).where(*conditions).order_by(Case.id).limit(limit + 1)
        rows = db.session.execute(query).all()
        if len(rows) > limit:
            raise UserError(
                _(
                    "The filter finds more than %(n)d cases; narrow it down to allocate them.",
                    n=limit,
                )
            )
    if not rows:
        raise UserError(_("No cases are chosen: select cases, or use a filter that finds some."))
    return [
        Item(
            r[0], r[1], r[2] if r[2] is not None else Decimal(0), r[3] or "", r[4] or "", r[5], r[6]
        )
        for r in rows
    ]


# -- strategies --------------------------------------------------------------------------------


@dataclass
class Draft:
    """What a strategy decided: ``(case id, user id or None, team id or None)`` per case it
    places, and the cases it leaves out, counted by reason."""

    assignments: list[tuple[int, int | None, int | None]] = field(default_factory=list)
    left_out: Counter = field(default_factory=Counter)

    def give(self, item: Item, user: User | None, team_id: int | None) -> None:
        self.assignments.append((item.id, user.id if user else None, team_id))


def _fields_error(name: str, message: str) -> InvalidInput:
    return InvalidInput(
        _("Some fields are not valid; see the messages by field."), fields={name: [message]}
    )


def _collectors(scope: Scope, items: list[Item], user_ids) -> list[Candidate]:
    """The chosen collectors, in the order given, each checked; refused with a clear message
    when one cannot hold cases or is a member of none of the cases' contracts."""
    ids = list(dict.fromkeys(int(i) for i in user_ids))
    if not ids:
        raise _fields_error("collectors", _("Choose at least one collector."))
    found = candidates(scope, ids)
    contracts = {item.contract_id for item in items}
    problems = []
    for user_id in ids:
        candidate = found.get(user_id)
        if candidate is None:
            problems.append(_("There is no user %(id)d.", id=user_id))
        elif candidate.refusal:
            problems.append(candidate.refusal)
        elif not candidate.contracts & contracts:
            problems.append(
                _(
                    "%(name)s is not a member of the contract of any chosen case.",
                    name=candidate.user.display_name,
                )
            )
    if problems:
        raise InvalidInput(" ".join(problems), fields={"collectors": problems})
    return [found[user_id] for user_id in ids]


def _no_collector(numbers: dict[int, str], contract_id: int) -> str:
    return _(
        "no chosen collector is a member of contract %(number)s",
        number=numbers.get(contract_id, contract_id),
    )


def _least_loaded(
    draft: Draft, units: list[list[Item]], pool: list[Candidate], load: Callable, add: Callable
) -> None:
    """Give each unit (a case, or a debtor's cases together) to the eligible candidate with
    the least load so far, ties to the one chosen first."""
    numbers = None
    order = {id(c): index for index, c in enumerate(pool)}
    for unit in units:
        contracts = {item.contract_id for item in unit}
        eligible = [c for c in pool if all(c.takes(k) for k in contracts)]
        if not eligible and len(unit) > 1:
            _least_loaded(draft, [[item] for item in unit], pool, load, add)
            continue
        if not eligible:
            numbers = numbers or _contract_numbers(c for c in contracts)
            draft.left_out[_no_collector(numbers, unit[0].contract_id)] += len(unit)
            continue
        chosen = min(eligible, key=lambda c: (*load(c), order[id(c)]))
        for item in unit:
            draft.give(item, chosen.user, chosen.user.team_id)
            add(chosen, item)


def _counting(pool: list[Candidate]):
    counts = dict.fromkeys((c.user.id for c in pool), 0)

    def load(c):
        return (counts[c.user.id],)

    def add(c, item):
        counts[c.user.id] += 1

    return load, add


def even_by_count(scope: Scope, items: list[Item], collectors) -> Draft:
    """Each collector gets as many cases as the next (±1), in case order."""
    pool, draft = _collectors(scope, items, collectors), Draft()
    _least_loaded(draft, [[item] for item in items], pool, *_counting(pool))
    return draft


def even_by_amount(scope: Scope, items: list[Item], collectors) -> Draft:
    """Balanced totals: largest case first, each to the collector with the least money so far
    (so the spread between the largest and smallest total is at most the largest case)."""
    pool, draft = _collectors(scope, items, collectors), Draft()
    money = dict.fromkeys((c.user.id for c in pool), Decimal(0))
    counts = dict.fromkeys((c.user.id for c in pool), 0)

    def load(c):
        return (money[c.user.id], counts[c.user.id])

    def add(c, item):
        money[c.user.id] += item.amount
        counts[c.user.id] += 1

    ordered = sorted(items, key=lambda item: (-item.amount, item.id))
    _least_loaded(draft, [[item] for item in ordered], pool, load, add)
    return draft


def same_debtor(scope: Scope, items: list[Item], collectors) -> Draft:
    """A case whose ID number matches a case someone already holds goes to that holder (the
    one holding most of the debtor's cases), if they may hold it; the rest go by even count,
    a debtor's cases together."""
    pool, draft = _collectors(scope, items, collectors), Draft()
    numbers = sorted({item.id_no for item in items if item.id_no})
    held: dict[str, Counter] = defaultdict(Counter)
    for part in _chunks(numbers, ID_CHUNK):
        query = (
            select(Case.id_no, Case.holder_id, func.count())
            .where(Case.id_no.in_(part), Case.holder_id.is_not(None))
            .group_by(Case.id_no, Case.holder_id)
        )
        for id_no, holder_id, count in db.session.execute(query):
            held[id_no][holder_id] += count
    holders = candidates(scope, {h for counter in held.values() for h in counter})
    load, add = _counting(pool)
    for c in pool:  # a chosen collector's cases of known debtors count towards their load
        holders[c.user.id] = c
    rest: dict[str, list[Item]] = {}
    for item in items:
        ranked = sorted(held.get(item.id_no, {}).items(), key=lambda pair: (-pair[1], pair[0]))
        holder = next(
            (holders[h] for h, _n in ranked if h in holders and holders[h].takes(item.contract_id)),
            None,
        )
        if holder is not None:
            draft.give(item, holder.user, holder.user.team_id)
            if holder in pool:
                add(holder, item)
        else:
            rest.setdefault(item.id_no or f"#{item.id}", []).append(item)
    _least_loaded(draft, list(rest.values()), pool, load, add)
    return draft


def by_area(scope: Scope, items: list[Item], areas: dict, mode: str = TO_POOL) -> Draft:
    """Each area's cases to the team the user mapped it to: to the team's pool, or evenly
    (by count) to those of its members who may hold them."""
    if mode not in AREA_MODES:
        raise _fields_error("area_mode", _("Choose the team's pool or its members."))
    try:
        mapping = {str(area): int(team) for area, team in (areas or {}).items() if team}
    except (TypeError, ValueError):
        raise _fields_error("areas", _("There is no such team.")) from None
    if not mapping:
        raise _fields_error("areas", _("Map at least one collection area to a team."))
    teams = {team_id: _check_team(scope, team_id) for team_id in set(mapping.values())}
    draft = Draft()
    per_team: dict[int, list[Item]] = defaultdict(list)
    for item in items:
        team_id = mapping.get(item.area)
        if team_id is None:
            draft.left_out[
                _("no team chosen for area %(area)s", area=item.area or _("(no area)"))
            ] += 1
        elif mode == TO_POOL:
            draft.give(item, None, teams[team_id].id)
        else:
            per_team[team_id].append(item)
    for team_id, team_items in per_team.items():
        members = [u.id for u in teams[team_id].members]
        found = candidates(scope, members)
        pool = [found[m] for m in members if m in found and not found[m].refusal]
        if not pool:
            draft.left_out[
                _("team %(team)s has no member who may hold cases", team=teams[team_id].name)
            ] += len(team_items)
            continue
        _least_loaded(draft, [[item] for item in team_items], pool, *_counting(pool))
    return draft


def manual(scope: Scope, items: list[Item], *, collector=None, team=None) -> Draft:
    """Every chosen case to one collector, or to a team's pool, or (neither) back to the pool.

    A collector who is not a member of a chosen case's contract is refused, naming it.
    A team leader's recall returns the cases to their team's pool.
    """
    draft = Draft()
    if collector is not None:
        found = candidates(scope, [collector]).get(int(collector))
        if found is None:
            raise _fields_error("target", _("There is no such user."))
        if found.refusal:
            raise _fields_error("target", found.refusal)
        outside = Counter(item.contract_id for item in items if not found.takes(item.contract_id))
        if outside:
            numbers = _contract_numbers(outside)
            names = ", ".join(
                _("%(number)s (%(n)d cases)", number=numbers.get(k, k), n=n)
                for k, n in sorted(outside.items())
            )
            raise _fields_error(
                "target",
                _(
                    "%(name)s is not a member of contract %(contracts)s.",
                    name=found.user.display_name,
                    contracts=names,
                ),
            )
        for item in items:
            draft.give(item, found.user, found.user.team_id)
        return draft
    team_id = _check_team(scope, team).id if team is not None else scope.team_id
    for item in items:
        draft.give(item, None, team_id)
    return draft


# -- the plan and its preview ------------------------------------------------------------------


def _key(user_id, team_id) -> str:
    if user_id is not None:
        return f"user:{user_id}"
    return f"team:{team_id}" if team_id is not None else POOL


def summarise(scope: Scope, items: list[Item], draft: Draft, basis: str) -> dict:
    """Per collector or team: the cases and money they hold before and after, what comes in
    and goes out; a case already where the plan puts it counts as unchanged."""
    by_id = {item.id: item for item in items}
    rows: dict[str, dict] = {}
    zero = Decimal(0)

    def row(key: str) -> dict:
        if key not in rows:
            rows[key] = {
                "key": key,
                "target": False,
                "in_cases": 0,
                "in_amount": zero,
                "out_cases": 0,
                "out_amount": zero,
            }
        return rows[key]

    unchanged, moving = 0, 0
    total = moving_amount = zero
    for case_id, user_id, team_id in draft.assignments:
        item = by_id[case_id]
        new = _key(user_id, team_id)
        old = _key(item.holder_id, item.team_id if item.holder_id is None else None)
        target = row(new)
        target["target"] = True
        total += item.amount
        if item.holder_id == user_id and item.team_id == team_id:
            unchanged += 1
            continue
        target["in_cases"] += 1
        target["in_amount"] += item.amount
        moving, moving_amount = moving + 1, moving_amount + item.amount
        if old != new:
            source = row(old)
            source["out_cases"] += 1
            source["out_amount"] += item.amount
    _before_and_names(scope, rows, basis)
    ordered = sorted(rows.values(), key=lambda r: (not r["target"], r["kind"] != "user", r["name"]))
    for r in ordered:
        r["after_cases"] = r["before_cases"] + r["in_cases"] - r["out_cases"]
        r["after_amount"] = r["before_amount"] + r["in_amount"] - r["out_amount"]
        for name in ("before_amount", "in_amount", "out_amount", "after_amount"):
            r[name] = str(r[name])
    return {
        "basis": basis,
        "rows": ordered,
        "total": {
            "cases": len(draft.assignments),
            "amount": str(total),
            "unchanged": unchanged,
            "in_cases": moving,
            "in_amount": str(moving_amount),
        },
        "left_out": dict(draft.left_out),
    }


def _before_and_names(scope: Scope, rows: dict[str, dict], basis: str) -> None:
    """What each row holds now among the scope's contracts, and its name."""
    money = Case.balance if basis == "balance" else Case.entrusted_amount
    in_scope = Case.contract_id.in_(scope.contract_ids or [0])
    user_ids = [int(k[5:]) for k in rows if k.startswith("user:")]
    team_ids = [int(k[5:]) for k in rows if k.startswith("team:")]
    before: dict[str, tuple[int, Decimal]] = {}
    if user_ids:
        query = (
            select(Case.holder_id, func.count(), func.sum(money))
            .where(Case.holder_id.in_(user_ids), in_scope)
            .group_by(Case.holder_id)
        )
        for user_id, count, amount in db.session.execute(query):
            before[f"user:{user_id}"] = (count, amount)
    if team_ids:
        query = (
            select(Case.team_id, func.count(), func.sum(money))
            .where(Case.team_id.in_(team_ids), Case.holder_id.is_(None), in_scope)
            .group_by(Case.team_id)
        )
        for team_id, count, amount in db.session.execute(query):
            before[f"team:{team_id}"] = (count, amount)
    if POOL in rows:
        query = select(func.count(), func.sum(money)).where(
            Case.holder_id.is_(None), Case.team_id.is_(None), in_scope
        )
        before[POOL] = tuple(db.session.execute(query).one())
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(user_ids or [0])))}
    teams = {t.id: t for t in db.session.scalars(select(Team).where(Team.id.in_(team_ids or [0])))}
    for key, r in rows.items():
        count, amount = before.get(key, (0, None))
        r["before_cases"], r["before_amount"] = count or 0, Decimal(amount or 0)
        kind, _sep, ident = key.partition(":")
        r["kind"], r["id"] = kind, int(ident) if ident else None
        if kind == "user":
            user = users.get(r["id"])
            r["name"] = user.display_name if user else f"#{ident}"
            r["team"] = user.team.name if user and user.team else ""
        elif kind == "team":
            team = teams.get(r["id"])
            r["name"], r["team"] = (team.name if team else f"#{ident}"), ""
        else:
            r["name"], r["team"] = str(_("Pool (unassigned)")), ""


def _plan(scope: Scope, strategy: str, items, draft: Draft, basis: str, params: dict):
    if not draft.assignments:
        reasons = "; ".join(f"{n} × {why}" for why, n in sorted(draft.left_out.items()))
        raise UserError(_("Nothing to allocate: %(reasons)s.", reasons=reasons or "—"))
    plan = AllocationPlan(
        user_id=scope.user.id,
        strategy=strategy,
        params={**params, "basis": basis, "summary": summarise(scope, items, draft, basis)},
        assignments=[list(a) for a in draft.assignments],
        created_at=utcnow(),
    )
    db.session.add(plan)
    db.session.flush()
    return plan


def preview(
    user,
    strategy: str,
    choice: Choice,
    *,
    collectors=(),
    areas: dict | None = None,
    area_mode: str = TO_POOL,
    basis: str = DEFAULT_BASIS,
    reason: str = "",
) -> AllocationPlan:
    """Compute a strategy's plan for the chosen cases and store it (flushed) for its preview."""
    scope = scope_for(user)
    if strategy not in STRATEGIES:
        raise _fields_error("strategy", _("Choose an allocation strategy."))
    if basis not in BASES:
        raise _fields_error("basis", _("Choose entrusted amount or balance."))
    items = chosen_items(scope, choice, basis)
    if strategy == EVEN_COUNT:
        draft = even_by_count(scope, items, collectors)
    elif strategy == EVEN_AMOUNT:
        draft = even_by_amount(scope, items, collectors)
    elif strategy == SAME_DEBTOR:
        draft = same_debtor(scope, items, collectors)
    else:
        draft = by_area(scope, items, areas or {}, area_mode)
    params = {
        "cases": choice.describe(),
        "collectors": [int(c) for c in collectors],
        "areas": {str(k): int(v) for k, v in (areas or {}).items() if v},
        "area_mode": area_mode,
        "reason": (reason or "").strip()[:200],
    }
    return _plan(scope, strategy, items, draft, basis, params)


def plan_direct(user, choice: Choice, *, collector=None, team=None, reason: str = ""):
    """The plan of a manual allocation (to a collector, a team's pool, or back to the pool),
    to be committed at once with :func:`commit_plan`."""
    scope = scope_for(user)
    if collector is not None and team is not None:
        raise _fields_error("target", _("Choose a collector or a team, not both."))
    items = chosen_items(scope, choice)
    draft = manual(scope, items, collector=collector, team=team)
    params = {
        "cases": choice.describe(),
        "collector": int(collector) if collector is not None else None,
        "team": int(team) if team is not None else None,
        "reason": (reason or "").strip()[:200],
    }
    return _plan(scope, MANUAL, items, draft, DEFAULT_BASIS, params)


def own_plan(plan_id, user) -> AllocationPlan:
    """The plan, if ``user`` made it; anyone else's answers 404."""
    plan = db.session.get(AllocationPlan, plan_id) if 0 < int(plan_id) < 2**31 else None
    if plan is None or user is None or plan.user_id != user.id:
        raise NotFound(_("There is no such allocation plan."))
    return plan


# -- commit ------------------------------------------------------------------------------------


@dataclass
class TargetResult:
    """What a commit did for one collector, team pool or the pool (a plan's target)."""

    planned: int = 0
    changed: int = 0
    #: The money of the cases given, counted as the plan's preview counted it.
    changed_amount: Decimal = Decimal(0)
    unchanged: int = 0
    skipped: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        return {
            "planned": self.planned,
            "changed": self.changed,
            "changed_amount": str(self.changed_amount),
            "unchanged": self.unchanged,
            "skipped": dict(self.skipped),
            "skipped_total": sum(self.skipped.values()),
        }


@dataclass
class Result:
    """What a commit did: cases given, already in place, and skipped by reason; in all and per
    target (``user:<id>``, ``team:<id>`` or ``pool``, the keys of the preview's rows)."""

    changed: int = 0
    unchanged: int = 0
    skipped: Counter = field(default_factory=Counter)
    #: The first skipped cases by serial, with their reason.
    examples: list[tuple[str, str]] = field(default_factory=list)
    targets: dict[str, TargetResult] = field(default_factory=dict)

    def target(self, key: str) -> TargetResult:
        if key not in self.targets:
            self.targets[key] = TargetResult()
        return self.targets[key]

    def skip(self, serial: str, reason: str, key: str | None = None) -> None:
        self.skipped[reason] += 1
        if key is not None:
            self.target(key).skipped[reason] += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append((serial, reason))

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def as_dict(self) -> dict:
        return {
            "changed": self.changed,
            "unchanged": self.unchanged,
            "skipped": dict(self.skipped),
            "skipped_total": self.skipped_total,
            "examples": [list(pair) for pair in self.examples],
            "targets": {key: t.as_dict() for key, t in self.targets.items()},
        }


def reason_text(plan: AllocationPlan) -> str:
    """The reason kept with each assignment: the user's, else the strategy's name."""
    return (plan.params or {}).get("reason") or str(STRATEGY_TITLES.get(plan.strategy, ""))


def commit_plan(plan: AllocationPlan, user, *, progress=None) -> Result:
    """Apply the plan exactly as previewed; flush, audit, never commit.

    Refused for another user's plan (404) and for a plan already committed (409). A case
    assigned again since the preview, out of the user's reach now, or whose planned holder
    may no longer hold it is skipped and reported, as is a case a rule refuses (``assign``'s
    ``check_case_work``: a paused or closed case …); nothing is reassigned silently.
    """
    if user is None or plan.user_id != user.id:
        raise NotFound(_("There is no such allocation plan."))
    claimed = db.session.execute(
        update(AllocationPlan)
        .where(AllocationPlan.id == plan.id, AllocationPlan.committed_at.is_(None))
        .values(committed_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:
        raise Conflict(_("This allocation plan was committed already."))
    db.session.refresh(plan)
    scope = scope_for(user)
    rows = plan.assignments
    holders = candidates(scope, {row[1] for row in rows})
    team_ids = {row[2] for row in rows if row[2] is not None}
    teams = {t.id: t for t in db.session.scalars(select(Team).where(Team.id.in_(team_ids or [0])))}
    money = "balance" if (plan.params or {}).get("basis") == "balance" else "entrusted_amount"
    reason = reason_text(plan)
    result = Result()
    for row in rows:
        result.target(_key(row[1], row[2])).planned += 1
    for done, part in enumerate(_chunks(rows, CHUNK)):
        _commit_chunk(scope, plan, part, holders, teams, reason, money, result)
        if progress is not None:
            progress(min((done + 1) * CHUNK, len(rows)), len(rows))
    plan.params = {**plan.params, "result": result.as_dict()}
    record(
        "collection.allocation_committed",
        obj=plan,
        user=user,
        details={
            "strategy": plan.strategy,
            "planned": len(rows),
            "changed": result.changed,
            "unchanged": result.unchanged,
            "skipped": result.skipped_total,
        },
    )
    db.session.flush()
    return result


def _commit_chunk(scope, plan, part, holders, teams, reason, money, result: Result) -> None:
    """Check a chunk of the plan's rows against the case file now; give each target its
    cases with one ``assign`` call. Three queries per chunk: the cases (with their contract,
    holder and team, which ``assign`` and its hooks read), those still in reach, and those
    assigned since the preview."""
    ids = [row[0] for row in part]
    reachable = set(
        db.session.scalars(select(Case.id).where(Case.id.in_(ids), *case_conditions(scope)))
    )
    moved = set(
        db.session.scalars(
            select(CaseAssignment.case_id).where(
                CaseAssignment.case_id.in_(ids), CaseAssignment.assigned_at > plan.created_at
            )
        )
    )
    query = (
        select(Case)
        .where(Case.id.in_(ids))
        .options(joinedload(Case.contract), joinedload(Case.holder), joinedload(Case.team))
    )
    cases = {case.id: case for case in db.session.scalars(query).unique()}
    groups: dict[tuple, list[Case]] = defaultdict(list)
    for case_id, user_id, team_id in part:
        key = _key(user_id, team_id)
        case = cases.get(case_id)
        if case is None:
            result.skip(f"#{case_id}", _("the case no longer exists"), key)
            continue
        if case_id not in reachable:
            result.skip(case.serial, _("it is no longer among the cases you may allocate"), key)
            continue
        if case_id in moved:
            result.skip(case.serial, _("it was assigned again after the preview"), key)
            continue
        if user_id is not None:
            holder = holders.get(user_id)
            refusal = holder.refusal if holder else _("the collector no longer exists")
            if not refusal and not holder.takes(case.contract_id):
                refusal = _(
                    "%(name)s is no longer a member of its contract", name=holder.user.display_name
                )
            if refusal:
                result.skip(case.serial, refusal.rstrip("."), key)
                continue
        if team_id is not None and team_id not in teams:
            result.skip(case.serial, _("the team no longer exists"), key)
            continue
        if case.holder_id == user_id and case.team_id == team_id:
            result.unchanged += 1
            result.target(key).unchanged += 1
            continue
        groups[(user_id, team_id)].append(case)
    for (user_id, team_id), group in groups.items():
        key = _key(user_id, team_id)
        holder = holders[user_id].user if user_id is not None else None
        outcome = assign(
            group, holder=holder, team=teams.get(team_id), user=scope.user, reason=reason
        )
        target = result.target(key)
        result.changed += len(outcome.changed)
        target.changed += len(outcome.changed)
        target.changed_amount += sum(
            (getattr(case, money) or Decimal(0) for case in outcome.changed), Decimal(0)
        )
        for case, why in outcome.skipped:
            result.skip(case.serial, why, key)


# -- commits too large for one request ---------------------------------------------------------

ALLOCATION_JOB = "collection.allocation_commit"


def inline_limit() -> int:
    """Past this many cases a plan is committed by a job with a progress page.

    Each case costs about a millisecond or two in ``assign`` (its history row, its audit entry
    in the hash chain, every module's ``after_case_assigned``): ``bench/allocation_speed.py``
    measured 1.0 ms on SQLite and 2.1 ms on PostgreSQL per case at 20 000 cases, so 1 000
    cases stay well within a request.
    """
    return int(current_app.config.get("COLLECTION_ALLOCATION_INLINE_MAX_CASES", 1000))


def needs_job(plan: AllocationPlan) -> bool:
    return len(plan.assignments) > inline_limit()


def start_commit_job(plan: AllocationPlan, user):
    """Enqueue the plan's commit (refused while one runs or once committed). Commits."""
    from core.jobs.models import QUEUED, RUNNING, Job

    if plan.user_id != user.id:
        raise NotFound(_("There is no such allocation plan."))
    if plan.committed_at is not None:
        raise Conflict(_("This allocation plan was committed already."))
    running = (plan.params or {}).get("job")
    job = db.session.get(Job, running) if running else None
    if job is not None and job.status in (QUEUED, RUNNING):
        raise Conflict(_("This allocation plan is being committed; wait for its job."))
    job = enqueue(ALLOCATION_JOB, {"plan_id": plan.id}, user)
    plan = db.session.get(AllocationPlan, plan.id)
    plan.params = {**plan.params, "job": job.id}
    db.session.commit()
    return job


@job_function(ALLOCATION_JOB)
def commit_job(ctx, *, plan_id: int) -> dict:
    """The plan's own user, if they still may allocate, commits it in one transaction."""
    user = ctx.user_who_may("collection.allocate", _("You may not allocate cases."))
    plan = own_plan(plan_id, user)
    result = commit_plan(plan, user, progress=ctx.progress)
    db.session.commit()
    return {"plan": plan_id, **result.as_dict()}
