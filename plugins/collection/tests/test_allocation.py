"""Allocation (分案, 调案): each strategy's balance, preview equals commit, the team leader's
limits, history, hook and audit, and the allocation pages (real database)."""

from __future__ import annotations

import random
import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core import hookimpl
from core.audit.models import AuditEntry
from core.auth.models import Team
from core.cases.filters import CaseFilter
from core.cases.models import PAUSED, Case, CaseAssignment
from core.cases.services import assign
from core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from plugins.collection import allocation as service
from plugins.collection.allocation import Choice
from plugins.collection.models import AllocationPlan
from tests.support.cases import make_batch, make_cases


class AssignedProbe:
    """A plugin that records every ``after_case_assigned`` call."""

    PLUGIN_NAME = "assigned_probe"

    def __init__(self):
        self.calls = []

    @hookimpl
    def after_case_assigned(self, case, holder, previous):
        self.calls.append(
            (case.id, holder.id if holder else None, previous.id if previous else None)
        )


@pytest.fixture
def probe(app_config):
    found = AssignedProbe()
    app_config["PLUGIN_MODULES"] = [found]
    return found


class World:
    """One contract with collection on, one without; two teams; collectors, a leader, a manager."""

    def __init__(self, db, contract, make_user):
        self.db = db
        self.k = contract(modules=["collection"])
        self.off = contract()
        self.one, self.two = Team(name="一组"), Team(name="二组")
        db.session.add_all([self.one, self.two])
        db.session.commit()
        self.a = make_user(
            "collector", username="alice", name="Alice", contracts=[self.k], team=self.one
        )
        self.b = make_user(
            "collector", username="bob", name="Bob", contracts=[self.k], team=self.one
        )
        self.c = make_user(
            "collector", username="carol", name="Carol", contracts=[self.k], team=self.two
        )
        self.outsider = make_user("collector", username="olga", name="Olga", contracts=[self.off])
        self.manager = make_user("manager", username="mia", contracts=[self.k])
        self.leader = make_user("team_leader", username="leo", contracts=[self.k], team=self.one)
        self.batch = make_batch(db, self.k, area="苏南")

    def cases(self, count=1, **fields):
        return make_cases(self.db, self.k, self.batch, count, **fields)


@pytest.fixture
def world(db, contract, make_user, english):
    return World(db, contract, make_user)


def holders(db, cases) -> dict[int, int | None]:
    db.session.expire_all()
    ids = [c.id for c in cases]
    return dict(db.session.execute(select(Case.id, Case.holder_id).where(Case.id.in_(ids))).all())


def committed(db, plan, user):
    result = service.commit_plan(plan, user)
    db.session.commit()
    return result


def plan_matches_holders(db, plan) -> bool:
    db.session.expire_all()
    for case_id, user_id, team_id in plan.assignments:
        case = db.session.get(Case, case_id)
        if (case.holder_id, case.team_id) != (user_id, team_id):
            return False
    return True


# -- strategies --------------------------------------------------------------------------------


def test_even_by_count_gives_each_collector_as_many_cases_and_commit_equals_preview(world, db):
    cases = world.cases(10)
    plan = service.preview(
        world.manager,
        service.EVEN_COUNT,
        Choice(case_ids=[c.id for c in cases]),
        collectors=[world.a.id, world.b.id, world.c.id],
    )
    db.session.commit()
    rows = {row["key"]: row for row in plan.params["summary"]["rows"]}
    assert sorted(rows[f"user:{u.id}"]["in_cases"] for u in (world.a, world.b, world.c)) == [
        3,
        3,
        4,
    ]
    assert rows[f"user:{world.a.id}"]["before_cases"] == 0
    assert rows[f"user:{world.a.id}"]["after_cases"] == 4  # chosen first, takes the odd one
    assert plan.params["summary"]["total"]["cases"] == 10
    assert holders(db, cases) == {c.id: None for c in cases}  # a preview changes nothing

    result = committed(db, plan, world.manager)
    assert (result.changed, result.skipped_total) == (10, 0)
    assert plan_matches_holders(db, plan)
    assert counts_of(holders(db, cases)) == {world.a.id: 4, world.b.id: 3, world.c.id: 3}


def counts_of(mapping):
    from collections import Counter

    return dict(Counter(mapping.values()))


def test_even_by_amount_keeps_the_spread_within_the_largest_case(world, db):
    rng = random.Random(7)
    amounts = [Decimal(rng.randint(100, 90_000)) + Decimal("0.37") for _ in range(40)]
    cases = [world.cases(entrusted_amount=amount)[0] for amount in amounts]
    collectors = [world.a.id, world.b.id, world.c.id]
    plan = service.preview(
        world.manager,
        service.EVEN_AMOUNT,
        Choice(case_ids=[c.id for c in cases]),
        collectors=collectors,
    )
    db.session.commit()
    totals = {u: Decimal(0) for u in collectors}
    by_id = {c.id: c.entrusted_amount for c in cases}
    for case_id, user_id, _team in plan.assignments:
        totals[user_id] += by_id[case_id]
    assert max(totals.values()) - min(totals.values()) <= max(amounts)
    rows = {row["key"]: row for row in plan.params["summary"]["rows"]}
    assert {u: Decimal(rows[f"user:{u}"]["in_amount"]) for u in collectors} == totals
    assert plan.params["summary"]["total"]["amount"] == str(sum(amounts))
    committed(db, plan, world.manager)
    assert plan_matches_holders(db, plan)


def test_even_by_amount_counts_the_balance_when_asked(world, db):
    (case,) = world.cases(entrusted_amount=Decimal("1000.00"), balance=Decimal("250.00"))
    plan = service.preview(
        world.manager,
        service.EVEN_AMOUNT,
        Choice(case_ids=[case.id]),
        collectors=[world.a.id],
        basis="balance",
    )
    (row,) = plan.params["summary"]["rows"][:1]
    assert (plan.params["summary"]["basis"], row["in_amount"]) == ("balance", "250.00")


def test_same_debtor_goes_to_whoever_already_holds_one(world, db):
    debtor, pair = "320102198001011234", "11010519491231002X"
    (held,) = world.cases(id_no=debtor)
    service.assign([held], holder=world.c, user=world.manager)
    db.session.commit()
    (same,) = world.cases(id_no=debtor)
    twins = world.cases(2, id_no=pair)
    others = [world.cases(id_no=f"3201021980010{n:05d}")[0] for n in range(4)]
    chosen = [same, *twins, *others]
    plan = service.preview(
        world.manager,
        service.SAME_DEBTOR,
        Choice(case_ids=[c.id for c in chosen]),
        collectors=[world.a.id, world.b.id],
    )
    placed = {case_id: user_id for case_id, user_id, _team in plan.assignments}
    assert placed[same.id] == world.c.id  # Carol holds the debtor's other case
    assert placed[twins[0].id] == placed[twins[1].id]  # a debtor's new cases stay together
    counts = counts_of({k: v for k, v in placed.items() if k != same.id})
    assert counts == {world.a.id: 3, world.b.id: 3}
    committed(db, plan, world.manager)
    assert plan_matches_holders(db, plan)


def test_by_area_to_team_pools_or_to_their_members(world, db):
    south = world.cases(3, area="苏南")
    north = world.cases(2, area="苏北")
    (nowhere,) = world.cases(area="海外")
    everything = Choice(case_filter=CaseFilter(contract=world.k.id))
    areas = {"苏南": world.one.id, "苏北": world.two.id}
    plan = service.preview(world.manager, service.AREA_TEAM, everything, areas=areas)
    placed = {case_id: (user_id, team_id) for case_id, user_id, team_id in plan.assignments}
    assert {placed[c.id] for c in south} == {(None, world.one.id)}
    assert {placed[c.id] for c in north} == {(None, world.two.id)}
    assert nowhere.id not in placed
    assert plan.params["summary"]["left_out"] == {"no team chosen for area 海外": 1}
    committed(db, plan, world.manager)
    assert plan_matches_holders(db, plan)

    members = service.preview(
        world.manager, service.AREA_TEAM, everything, areas=areas, area_mode=service.TO_MEMBERS
    )
    placed = {case_id: user_id for case_id, user_id, _team in members.assignments}
    # Team 一组: Alice, Bob and their leader, who holds cases too.
    south_holders = counts_of({c.id: placed[c.id] for c in south})
    assert south_holders == {world.a.id: 1, world.b.id: 1, world.leader.id: 1}
    assert {placed[c.id] for c in north} == {world.c.id}


def test_a_collector_outside_the_cases_contract_is_refused(world, db):
    cases = world.cases(2)
    with pytest.raises(InvalidInput) as caught:
        service.plan_direct(
            world.manager, Choice(case_ids=[c.id for c in cases]), collector=world.outsider.id
        )
    assert "Olga is not a member of contract" in caught.value.fields["target"][0]
    with pytest.raises(InvalidInput) as caught:
        service.preview(
            world.manager,
            service.EVEN_COUNT,
            Choice(case_ids=[cases[0].id]),
            collectors=[world.a.id, world.outsider.id],
        )
    assert "Olga" in caught.value.fields["collectors"][0]
    with pytest.raises(InvalidInput) as caught:  # a manager's role holds no cases
        service.plan_direct(
            world.manager, Choice(case_ids=[cases[0].id]), collector=world.manager.id
        )
    assert "may not hold cases" in caught.value.fields["target"][0]


# -- manual allocation, reassignment, recall ---------------------------------------------------


def test_assign_reassign_and_recall_keep_history_fire_the_hook_and_audit(probe, world, db):
    (case,) = world.cases()
    for target in (world.a, world.b):  # 分案, then 调案
        plan = service.plan_direct(
            world.manager, Choice(case_ids=[case.id]), collector=target.id, reason="workload"
        )
        committed(db, plan, world.manager)
    plan = service.plan_direct(world.manager, Choice(case_ids=[case.id]))
    result = committed(db, plan, world.manager)
    assert result.changed == 1
    db.session.expire_all()
    assert (case.holder_id, case.team_id) == (None, None)
    history = db.session.scalars(
        select(CaseAssignment).filter_by(case_id=case.id).order_by(CaseAssignment.id)
    ).all()
    assert [(h.user_id, h.ended_at is None) for h in history] == [
        (world.a.id, False),
        (world.b.id, False),
        (None, True),
    ]
    assert history[0].reason == "workload" and history[0].assigned_by_id == world.manager.id
    assert probe.calls == [
        (case.id, world.a.id, None),
        (case.id, world.b.id, world.a.id),
        (case.id, None, world.b.id),
    ]
    actions = db.session.scalars(
        select(AuditEntry.action).where(
            AuditEntry.action.in_(["case.assigned", "collection.allocation_committed"])
        )
    ).all()
    assert actions.count("case.assigned") == 3
    assert actions.count("collection.allocation_committed") == 3


def test_a_case_already_there_is_unchanged_and_a_paused_one_skipped(world, db):
    held, paused, free = world.cases(3)
    service.assign([held], holder=world.a, user=world.manager)
    paused.status = PAUSED
    db.session.commit()
    plan = service.plan_direct(
        world.manager, Choice(case_ids=[held.id, paused.id, free.id]), collector=world.a.id
    )
    result = committed(db, plan, world.manager)
    assert (result.changed, result.unchanged, result.skipped_total) == (1, 1, 1)
    (why,) = result.skipped
    assert "paused" in why
    assert result.examples == [(paused.serial, why)]
    assert holders(db, [paused])[paused.id] is None


def test_a_case_assigned_again_after_the_preview_is_skipped_not_reassigned(world, db):
    first, second = world.cases(2)
    plan = service.preview(
        world.manager,
        service.EVEN_COUNT,
        Choice(case_ids=[first.id, second.id]),
        collectors=[world.a.id],
    )
    db.session.commit()
    service.assign([first], holder=world.c, user=world.manager)
    db.session.commit()
    result = committed(db, plan, world.manager)
    assert result.changed == 1
    assert result.skipped == {"it was assigned again after the preview": 1}
    assert holders(db, [first, second]) == {first.id: world.c.id, second.id: world.a.id}


def test_a_plan_is_committed_once_and_only_by_its_user(world, db, make_user):
    cases = world.cases(2)
    plan = service.preview(
        world.manager,
        service.EVEN_COUNT,
        Choice(case_ids=[c.id for c in cases]),
        collectors=[world.a.id],
    )
    db.session.commit()
    other = make_user("manager", contracts=[world.k])
    with pytest.raises(NotFound):
        service.commit_plan(plan, other)
    db.session.rollback()
    committed(db, plan, world.manager)
    with pytest.raises(Conflict):
        service.commit_plan(db.session.get(AllocationPlan, plan.id), world.manager)
    db.session.rollback()
    assert plan.params["result"]["changed"] == 2


# -- who may allocate what ---------------------------------------------------------------------


def test_a_team_leader_allocates_only_their_teams_cases_to_their_team(world, db):
    mine, theirs = world.cases(2)
    service.assign([mine], holder=None, team=world.one, user=world.manager)
    service.assign([theirs], holder=world.c, user=world.manager)
    db.session.commit()
    with pytest.raises(NotFound):  # another team's case does not exist for them
        service.plan_direct(world.leader, Choice(case_ids=[theirs.id]), collector=world.a.id)
    with pytest.raises(InvalidInput) as caught:
        service.plan_direct(world.leader, Choice(case_ids=[mine.id]), collector=world.c.id)
    assert "not a member of your team" in caught.value.fields["target"][0]
    with pytest.raises(NotAllowed):
        service.plan_direct(world.leader, Choice(case_ids=[mine.id]), team=world.two.id)
    everything = Choice(case_filter=CaseFilter())
    plan = service.preview(
        world.leader, service.EVEN_COUNT, everything, collectors=[world.a.id, world.b.id]
    )
    assert [row[0] for row in plan.assignments] == [mine.id]  # the filter reaches their team's
    committed(db, plan, world.leader)
    recall = service.plan_direct(world.leader, Choice(case_ids=[mine.id]))
    committed(db, recall, world.leader)
    db.session.expire_all()
    assert (mine.holder_id, mine.team_id) == (None, world.one.id)  # back to the team's pool
    assert [
        c.username
        for c in db.session.scalars(service.collectors_query(service.scope_for(world.leader)))
    ] == ["alice", "bob", "leo"]


def test_a_leader_without_a_team_and_a_collector_may_not_allocate(world, db, make_user):
    loner = make_user("team_leader", contracts=[world.k])
    with pytest.raises(NotAllowed):
        service.scope_for(loner)
    with pytest.raises(NotAllowed):
        service.scope_for(world.a)


def test_cases_of_a_contract_without_collection_are_out_of_reach(world, db):
    (outside,) = make_cases(db, world.off)
    with pytest.raises(NotFound):
        service.plan_direct(world.manager, Choice(case_ids=[outside.id]), collector=world.a.id)


def test_a_large_plan_is_committed_by_a_job(world, db, app):
    app.config.update(COLLECTION_ALLOCATION_INLINE_MAX_CASES=5, JOBS_INLINE=True)
    cases = world.cases(12)
    plan = service.preview(
        world.manager,
        service.EVEN_COUNT,
        Choice(case_filter=CaseFilter(contract=world.k.id)),
        collectors=[world.a.id, world.b.id],
    )
    db.session.commit()
    assert service.needs_job(plan)
    job = service.start_commit_job(plan, world.manager)
    db.session.expire_all()
    assert job.status == "done", job.error
    assert job.result["changed"] == 12
    assert counts_of(holders(db, cases)) == {world.a.id: 6, world.b.id: 6}
    with pytest.raises(Conflict):
        service.start_commit_job(db.session.get(AllocationPlan, plan.id), world.manager)


# -- pages -------------------------------------------------------------------------------------


def test_a_collector_has_no_access_to_the_allocation_pages(world, client, login_as):
    login_as("collector", contracts=[world.k])
    assert client.get("/m/collection/allocation/").status_code == 403
    assert client.post("/m/collection/allocation/preview", data={}).status_code == 403
    assert client.post("/m/collection/allocation/assign", data={}).status_code == 403


def test_the_page_lists_only_collection_contracts_and_404s_the_others(world, db, client, login_as):
    world.cases(2)
    make_cases(db, world.off, make_batch(db, world.off), 3)
    login_as("manager", contracts=[world.k, world.off])
    page = client.get("/m/collection/allocation/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert text.count('name="case"') == 2 and world.k.number in text
    assert f">{world.off.number}</option>" not in text
    assert client.get(f"/m/collection/allocation/?contract={world.off.id}").status_code == 404


def test_preview_then_commit_through_the_pages(world, db, client, login_as):
    cases = world.cases(4)
    manager = login_as("manager", contracts=[world.k])
    form = {
        "query": f"contract={world.k.id}",
        "scope": "all",
        "strategy": "even_count",
        "collector": [str(world.a.id), str(world.b.id)],
        "basis": "entrusted_amount",
    }
    response = client.post("/m/collection/allocation/preview", data=form)
    assert response.status_code == 302
    plan_url = response.headers["Location"]
    page = client.get(plan_url).get_data(as_text=True)
    assert "Alice" in page and "Bob" in page and 'id="commit"' in page
    plan = db.session.scalar(select(AllocationPlan).filter_by(user_id=manager.id))
    assert client.post(f"{plan_url}/commit").status_code == 302
    assert counts_of(holders(db, cases)) == {world.a.id: 2, world.b.id: 2}
    again = client.post(f"{plan_url}/commit")
    assert again.status_code == 409
    assert plan_matches_holders(db, plan)


def test_the_plans_total_counts_what_comes_in_apart_from_what_stays(world, db, client, login_as):
    cases = world.cases(4)
    assign(cases[:1], holder=world.a, user=None)  # already Alice's: the plan leaves it there
    db.session.commit()
    login_as("manager", contracts=[world.k], locale="en")
    form = {"query": f"contract={world.k.id}", "scope": "all", "strategy": "same_debtor",
            "collector": [str(world.a.id), str(world.b.id)], "basis": "entrusted_amount"}  # fmt: skip
    page = client.get(
        client.post("/m/collection/allocation/preview", data=form).headers["Location"]
    )
    total = page.get_data(as_text=True).split('id="plan-total"')[1].split("</tr>")[0]
    assert "<strong>3</strong>" in total and "4 cases in the plan" in total
    assert "1 already where the plan puts them" in total


def test_a_bad_allocation_form_is_shown_again_with_its_message(world, client, login_as):
    (case,) = world.cases()
    login_as("manager", contracts=[world.k], locale="en")
    nobody = client.post(
        "/m/collection/allocation/preview",
        data={"query": "", "case": str(case.id), "strategy": "even_count"},
    )
    assert nobody.status_code == 422
    assert "Choose at least one collector." in nobody.get_data(as_text=True)
    stranger = client.post(
        "/m/collection/allocation/assign",
        data={"query": "", "case": str(case.id), "target": f"user:{world.outsider.id}"},
    )
    assert stranger.status_code == 422
    assert "Olga is not a member of contract" in stranger.get_data(as_text=True)
    none = client.post("/m/collection/allocation/assign", data={"query": "", "target": "pool"})
    assert none.status_code == 400


def test_give_directly_and_recall_through_the_page(world, db, client, login_as):
    cases = world.cases(2)
    login_as("manager", contracts=[world.k])
    ids = [str(c.id) for c in cases]
    response = client.post(
        "/m/collection/allocation/assign",
        data={"query": "", "case": ids, "target": f"user:{world.c.id}"},
    )
    assert response.status_code == 302
    assert set(holders(db, cases).values()) == {world.c.id}
    client.post(
        "/m/collection/allocation/assign", data={"query": "", "case": ids, "target": "pool"}
    )
    assert set(holders(db, cases).values()) == {None}
    assert db.session.scalar(select(func.count()).select_from(CaseAssignment)) == 4


def test_a_large_direct_allocation_runs_as_a_job_with_its_page(world, db, app, client, login_as):
    app.config.update(COLLECTION_ALLOCATION_INLINE_MAX_CASES=5, JOBS_INLINE=True)
    cases = world.cases(8)
    login_as("manager", contracts=[world.k])
    response = client.post(
        "/m/collection/allocation/assign",
        data={"query": f"contract={world.k.id}", "scope": "all", "target": f"user:{world.b.id}"},
    )
    assert response.status_code == 302 and "/allocation/jobs/" in response.headers["Location"]
    page = client.get(response.headers["Location"])
    assert page.status_code == 200 and "8" in page.get_data(as_text=True)
    state = client.get(response.headers["Location"] + "/status").json
    assert (state["status"], state["result"]["changed"]) == ("done", 8)
    assert set(holders(db, cases).values()) == {world.b.id}


# -- what the plan page says -------------------------------------------------------------------


def test_an_out_of_date_plan_shows_what_its_commit_did_per_target(world, db, client, login_as):
    cases = world.cases(3)
    login_as("manager", contracts=[world.k], locale="en")
    form = {
        "query": "",
        "case": [str(c.id) for c in cases],
        "strategy": "even_count",
        "collector": [str(world.a.id), str(world.b.id)],
    }
    plan_url = client.post("/m/collection/allocation/preview", data=form).headers["Location"]
    service.assign(cases[:2], holder=world.c, user=world.manager)  # Alice's case and Bob's
    db.session.commit()
    page = client.post(f"{plan_url}/commit", follow_redirects=True).get_data(as_text=True)
    result = db.session.scalar(select(AllocationPlan)).params["result"]
    alice, bob = (result["targets"][f"user:{u.id}"] for u in (world.a, world.b))
    assert (alice["planned"], alice["changed"], alice["skipped_total"]) == (2, 1, 1)
    assert (bob["planned"], bob["changed"], bob["skipped_total"]) == (1, 0, 1)
    assert bob["skipped"] == {"it was assigned again after the preview": 1}
    assert alice["changed_amount"] == str(cases[2].entrusted_amount)
    assert "1 case allocated." in page and "2 cases skipped." in page
    done = page.split('id="result-targets"')[1].split("</table>")[0]
    bob_row = done.split(f'data-target="user:{world.b.id}"')[1].split("</tr>")[0]
    cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in bob_row.split("<td")[1:]]
    cells = [cell.split(">", 1)[1].strip() for cell in cells]
    # name, planned, allocated, money, already there, skipped, why
    assert cells[0].startswith("Bob") and cells[1:3] == ["1", "0"] and cells[4:6] == ["0", "1"]
    assert cells[6] == "1 × it was assigned again after the preview"
    assert '<details class="card" id="plan-preview">' in page  # the preview is no longer the news


def test_a_recall_says_the_cases_went_back_to_the_pool(world, db, client, login_as):
    cases = world.cases(2)
    service.assign(cases, holder=world.a, user=world.manager)
    db.session.commit()
    login_as("manager", contracts=[world.k], locale="en")
    ids = [str(c.id) for c in cases]
    page = client.post(
        "/m/collection/allocation/assign",
        data={"query": "", "case": ids, "target": "pool"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "2 cases returned to the pool." in page and "allocated" not in page
    page = client.post(
        "/m/collection/allocation/assign",
        data={"query": "", "case": ids[:1], "target": f"user:{world.b.id}"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "1 case allocated." in page
    plan = db.session.scalars(select(AllocationPlan).order_by(AllocationPlan.id)).first()
    page = client.get(f"/m/collection/allocation/plans/{plan.id}").get_data(as_text=True)
    assert "2 cases returned to the pool." in page and "2 selected cases" in page


def test_a_team_leaders_recall_returns_cases_to_their_teams_pool(world, db, client):
    (case,) = world.cases()
    service.assign([case], holder=world.a, user=world.manager)
    db.session.commit()
    from core.auth.services import start_session

    world.leader.locale = "en"
    session = start_session(world.leader, "127.0.0.1")
    db.session.commit()
    with client.session_transaction() as flask_session:
        flask_session["_user_id"] = session.id
    page = client.post(
        "/m/collection/allocation/assign",
        data={"query": "", "case": str(case.id), "target": "pool"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "1 case returned to your team&#39;s pool." in page


def test_the_plan_names_its_filter_as_the_case_list_does(world, db, client, login_as):
    world.cases(2, area="苏南")
    login_as("manager", contracts=[world.k], locale="en")
    for holder, shown in (("pool", "Holder: in the pool"), (str(world.a.id), "Holder: Alice")):
        form = {
            "query": f"area=苏南&holder={holder}&contract={world.k.id}&status=normal",
            "scope": "all",
            "strategy": "even_count",
            "collector": [str(world.a.id)],
        }
        response = client.post("/m/collection/allocation/preview", data=form)
        if holder != "pool":  # Alice holds nothing: the filter finds no case
            assert response.status_code == 400
            continue
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        chosen = page[page.index('id="plan-cases"') :].split("</dd>")[0]
        assert shown in chosen and "Collection area: 苏南" in chosen
        assert f"Contract: {world.k.number}" in chosen and "Case status: normal" in chosen
        assert "area=" not in chosen and "holder=" not in chosen
    service.assign(world.cases(1, area="苏南"), holder=world.a, user=world.manager)
    db.session.commit()
    form["query"] = f"holder={world.a.id}"
    page = client.get(
        client.post("/m/collection/allocation/preview", data=form).headers["Location"]
    ).get_data(as_text=True)
    assert "Holder: Alice" in page.split('id="plan-cases"')[1].split("</dd>")[0]


def test_the_plan_counts_the_selected_cases(world, db, client, login_as):
    cases = world.cases(2)
    login_as("manager", contracts=[world.k], locale="en")
    for chosen, text in ((cases[:1], "1 selected case<"), (cases, "2 selected cases<")):
        form = {
            "query": "",
            "case": [str(c.id) for c in chosen],
            "strategy": "even_count",
            "collector": [str(world.a.id)],
        }
        url = client.post("/m/collection/allocation/preview", data=form).headers["Location"]
        assert text in client.get(url).get_data(as_text=True)


def test_a_leader_in_no_team_is_told_so(world, make_user):
    loner = make_user("team_leader", contracts=[world.k])
    with pytest.raises(NotAllowed) as caught:
        service.scope_for(loner)
    assert str(caught.value.message) == (
        "You are in no team, so there are no cases you may allocate."
    )
