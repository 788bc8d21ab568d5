"""The allocation JSON API: preview, commit, direct allocation and recall (real database)."""

from __future__ import annotations

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from core.auth.models import Team
from core.auth.services import issue_token
from core.cases.models import Case
from tests.support.cases import make_batch, make_cases

BASE = "/m/collection/api/allocation"


class Api:
    def __init__(self, client, token):
        self.client, self.headers = client, {"Authorization": f"Bearer {token}"}

    def __getattr__(self, method):
        def call(path, **kwargs):
            return self.client.open(
                BASE + path, method=method.upper(), headers=self.headers, **kwargs
            )

        return call


@pytest.fixture
def world(db, contract, make_user, app):
    with force_locale("en"):
        k, off = contract(modules=["collection"]), contract()
        team = Team(name="一组")
        db.session.add(team)
        db.session.commit()
        a = make_user("collector", username="alice", contracts=[k], team=team)
        b = make_user("collector", username="bob", contracts=[k], team=team)
        stranger = make_user("collector", username="sam", contracts=[off])
        cases = make_cases(db, k, make_batch(db, k, area="苏南"), 4)
        outside = make_cases(db, off, make_batch(db, off), 1)
        yield {
            "k": k,
            "off": off,
            "team": team,
            "a": a,
            "b": b,
            "stranger": stranger,
            "cases": cases,
            "outside": outside,
        }


@pytest.fixture
def api_as(client, make_user, db):
    def make(role="manager", **kwargs):
        user = make_user(role, **kwargs)
        _token, plain = issue_token(user, "test")
        db.session.commit()
        return Api(client, plain)

    return make


def holders(db, ids):
    db.session.expire_all()
    return dict(db.session.execute(select(Case.id, Case.holder_id).where(Case.id.in_(ids))).all())


def test_preview_then_commit_a_plan(api_as, world, db):
    api = api_as("manager", contracts=[world["k"]])
    response = api.post(
        "/plans",
        json={
            "strategy": "even_count",
            "filter": {"contract": str(world["k"].id)},
            "holder": "pool",
            "collectors": [world["a"].id, world["b"].id],
        },
    )
    assert response.status_code == 201, response.json
    plan = response.json
    assert plan["total"] == {"cases": 4, "amount": plan["total"]["amount"], "unchanged": 0}
    assert sorted(row["in_cases"] for row in plan["targets"] if row["target"]) == [2, 2]
    assert plan["committed_at"] is None and plan["result"] is None
    ids = [c.id for c in world["cases"]]
    assert set(holders(db, ids).values()) == {None}

    done = api.post(f"/plans/{plan['id']}/commit")
    assert done.status_code == 200, done.json
    assert done.json["job"] is None
    assert done.json["plan"]["result"]["changed"] == 4
    per_target = done.json["plan"]["result"]["targets"]
    assert [per_target[f"user:{world[u].id}"]["changed"] for u in ("a", "b")] == [2, 2]
    assert sorted(holders(db, ids).values()) == sorted([world["a"].id] * 2 + [world["b"].id] * 2)
    assert api.post(f"/plans/{plan['id']}/commit").status_code == 409
    assert api.get(f"/plans/{plan['id']}").json["result"]["changed"] == 4


def test_a_plan_is_only_its_users(api_as, world):
    mine = api_as("manager", contracts=[world["k"]])
    theirs = api_as("manager", contracts=[world["k"]])
    plan = mine.post(
        "/plans",
        json={
            "strategy": "even_amount",
            "collectors": [world["a"].id],
            "case_ids": [world["cases"][0].id],
        },
    ).json
    assert theirs.get(f"/plans/{plan['id']}").status_code == 404
    assert theirs.post(f"/plans/{plan['id']}/commit").status_code == 404


def test_assign_reassign_and_recall(api_as, world, db):
    api = api_as("manager", contracts=[world["k"]])
    ids = [c.id for c in world["cases"][:2]]
    response = api.post("/assign", json={"case_ids": ids, "user_id": world["a"].id})
    assert response.status_code == 200, response.json
    assert response.json["plan"]["strategy"] == "manual"
    assert set(holders(db, ids).values()) == {world["a"].id}
    api.post("/assign", json={"case_ids": ids, "user_id": world["b"].id, "reason": "调案"})
    assert set(holders(db, ids).values()) == {world["b"].id}
    to_team = api.post("/assign", json={"case_ids": ids, "team_id": world["team"].id})
    assert to_team.json["plan"]["result"]["changed"] == 2
    recalled = api.post("/recall", json={"case_ids": ids})
    assert recalled.status_code == 200
    db.session.expire_all()
    assert {
        (c.holder_id, c.team_id) for c in db.session.scalars(select(Case).where(Case.id.in_(ids)))
    } == {(None, None)}


def test_refusals_are_clear_4xx(api_as, world, make_user):
    api = api_as("manager", contracts=[world["k"]])
    case_id = world["cases"][0].id
    stranger = api.post("/assign", json={"case_ids": [case_id], "user_id": world["stranger"].id})
    assert stranger.status_code == 422
    assert "target" in stranger.json["error"]["fields"]
    outside = api.post(
        "/assign", json={"case_ids": [world["outside"][0].id], "user_id": world["a"].id}
    )
    assert outside.status_code == 404
    both = api.post("/assign", json={"case_ids": [case_id], "filter": {}, "user_id": 1})
    assert both.status_code == 422
    off = api.post(
        "/plans",
        json={
            "strategy": "even_count",
            "collectors": [world["a"].id],
            "filter": {"contract": str(world["off"].id)},
        },
    )
    assert off.status_code == 404
    collector = api_as("collector", contracts=[world["k"]])
    assert collector.post("/recall", json={"case_ids": [case_id]}).status_code == 403


def test_the_endpoints_are_in_the_openapi_document(client, world):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for path in ("/plans", "/plans/{plan_id}", "/plans/{plan_id}/commit", "/assign", "/recall"):
        assert BASE + path in paths, path
