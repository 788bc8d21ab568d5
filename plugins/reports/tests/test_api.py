"""The reports' JSON API: bearer tokens, the list of reports, one report's tables with money
as strings, 400 naming each bad filter value, and the endpoints in the OpenAPI document."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.auth.models import RolePermission
from core.auth.services import issue_token
from plugins.reports.tests.conftest import confirmed_in_march

BASE = "/m/reports/api"
MARCH = {"start": "2026-03-01", "end": "2026-03-31"}


@pytest.fixture(autouse=True)
def _gauges_installed(with_gauges):
    """The shared world has the gauges module on."""


@pytest.fixture
def collectors_use_the_api(db, world):
    """The agency lets its collectors use the API (only managers may, out of the box)."""
    db.session.add(RolePermission(role_id=world["bob"].role_id, permission="core.api.use"))
    db.session.commit()


@pytest.fixture
def api_get(client, db):
    """``api_get(user, path, **query)``: a GET with ``user``'s bearer token."""

    def get(user, path, **query):
        _token, plain = issue_token(user, "test")
        db.session.commit()
        headers = {"Authorization": f"Bearer {plain}", "Accept-Language": "en"}
        return client.get(BASE + path, query_string=query, headers=headers)

    return get


def test_list_names_the_reports_the_user_may_open(api_get, world, collectors_use_the_api):
    found = api_get(world["manager"], "/reports")
    assert found.status_code == 200
    keys = [item["key"] for item in found.json]
    assert "recovery" in keys and "sections" in keys
    recovery = next(item for item in found.json if item["key"] == "recovery")
    assert recovery["uses_period"] and recovery["uses_group"]
    collector_keys = [item["key"] for item in api_get(world["bob"], "/reports").json]
    assert "commission" not in collector_keys


def test_a_report_as_json_has_money_as_strings_to_the_cent(api_get, world):
    found = api_get(world["manager"], "/reports/recovery", **MARCH, group="contract")
    assert found.status_code == 200, found.json
    body = found.json
    assert body["key"] == "recovery" and body["filter"]["start"] == "2026-03-01"
    expected = confirmed_in_march({world["first"].id, world["second"].id})
    totals = [table["totals"]["recovered"] for table in body["tables"] if table["totals"]]
    assert totals and all(isinstance(t, str) and Decimal(t) == expected for t in totals)
    kinds = {c["key"]: c["kind"] for c in body["tables"][-1]["columns"]}
    assert kinds["recovered"] == "money"


def test_a_collector_gets_only_their_own_figures(api_get, world, collectors_use_the_api):
    body = api_get(world["bob"], "/reports/recovery", **MARCH).json
    totals = [Decimal(t["totals"]["recovered"]) for t in body["tables"] if t["totals"]]
    assert totals and all(total == Decimal("0.07") for total in totals)


def test_bad_filter_values_are_400_with_each_field_named(api_get, world):
    found = api_get(world["manager"], "/reports/recovery", start="2026-02-30", group="planet")
    assert found.status_code == 400
    assert set(found.json["error"]["fields"]) == {"start", "group"}
    backwards = api_get(world["manager"], "/reports/recovery", start="2026-03-31", end="2026-03-01")
    assert backwards.status_code == 400 and "end" in backwards.json["error"]["fields"]


def test_an_id_the_user_may_not_pick_is_400(api_get, world, collectors_use_the_api):
    found = api_get(world["bob"], "/reports/recovery", collector=str(world["ann"].id), **MARCH)
    assert found.status_code == 400
    assert set(found.json["error"]["fields"]) == {"collector"}


def test_unknown_report_is_404_and_a_forbidden_one_403(api_get, world, collectors_use_the_api):
    assert api_get(world["manager"], "/reports/nothing").status_code == 404
    assert api_get(world["bob"], "/reports/commission").status_code == 403


def test_the_api_takes_no_session_cookie(client, world, sign_in_as):
    sign_in_as(world["manager"])
    assert client.get(BASE + "/reports").status_code == 401


def test_the_endpoints_are_in_the_openapi_document(client, world):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for path in ("/reports", "/reports/{key}"):
        assert BASE + path in paths, path
    parameters = {p["name"] for p in paths[BASE + "/reports/{key}"]["get"]["parameters"]}
    assert {"key", "start", "end", "period", "group", "client", "collector"} <= parameters
