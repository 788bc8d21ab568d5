"""Sections other modules add to the reports: asked per contract through the contract's own
hooks, merged by key, narrowed to what the asking user may see."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.cases.models import Case
from plugins.reports.framework import INT, MONEY, RATE, TEXT, ReportFilter, Scope
from plugins.reports.sections import module_sections, sections_report
from tests.support.cases import make_cases


@pytest.fixture(autouse=True)
def _gauges_installed(with_gauges):
    """Every test here runs with the gauges module installed (before the app starts)."""


@pytest.fixture
def seeded(db, contract, make_user, english):
    """Two contracts with gauges and reports on, one with reports only; two collectors."""
    first = contract(modules=["reports", "gauges"])
    second = contract(modules=["reports", "gauges"])
    plain = contract(modules=["reports"])
    ann = make_user("collector", username="ann", name="Ann", contracts=[first, second, plain])
    bob = make_user("collector", username="bob", name="Bob", contracts=[first])
    manager = make_user("manager", contracts=[first, second, plain])
    make_cases(db, first, count=2, holder_id=ann.id, balance=Decimal("400.10"))
    make_cases(db, first, count=1, holder_id=bob.id, balance=Decimal("0.05"))
    make_cases(db, second, count=3, holder_id=ann.id, balance=Decimal("10.00"))
    make_cases(db, plain, count=4, holder_id=ann.id)
    return {
        "first": first,
        "second": second,
        "plain": plain,
        "ann": ann,
        "bob": bob,
        "manager": manager,
    }


def scope_of(user, **args):
    return Scope.of(user, ReportFilter.from_args(args))


def expected_row(db, contract, holder):
    cases = db.session.query(Case).filter_by(contract_id=contract.id, holder_id=holder.id).all()
    entrusted = sum((c.entrusted_amount for c in cases), Decimal(0))
    balance = sum((c.balance for c in cases), Decimal(0))
    return {
        "collector": holder.display_name,
        "cases": len(cases),
        "balance": balance,
        "repaid_rate": ((entrusted - balance) / entrusted).quantize(Decimal("0.0001")),
    }


def test_sections_of_several_contracts_merge_with_a_contract_column(db, seeded):
    (table,) = module_sections(scope_of(seeded["manager"]))
    assert table.key == "gauges.held" and table.title == "Cases held"
    assert [(c.key, c.kind) for c in table.columns] == [
        ("contract", TEXT),
        ("collector", TEXT),
        ("cases", INT),
        ("balance", MONEY),
        ("repaid_rate", RATE),
    ]
    first, second = seeded["first"], seeded["second"]
    assert table.rows == [
        {"contract": first.number, **expected_row(db, first, seeded["ann"])},
        {"contract": first.number, **expected_row(db, first, seeded["bob"])},
        {"contract": second.number, **expected_row(db, second, seeded["ann"])},
    ]
    assert table.note == "Counted as the cases stand now."


def test_one_contract_adds_no_contract_column(db, seeded):
    (table,) = module_sections(scope_of(seeded["manager"], contract=seeded["first"].id))
    assert table.columns[0].key == "collector"
    assert [row["collector"] for row in table.rows] == ["Ann", "Bob"]


def test_a_contract_without_the_module_adds_none(db, seeded):
    assert module_sections(scope_of(seeded["manager"], contract=seeded["plain"].id)) == []
    result = sections_report(scope_of(seeded["manager"], contract=seeded["plain"].id))
    assert result.tables == [] and "No other module" in result.notes[0]


def test_a_collector_sees_only_their_own_row(db, seeded):
    (table,) = module_sections(scope_of(seeded["bob"]))
    assert table.rows == [expected_row(db, seeded["first"], seeded["bob"])]
    assert table.columns[0].key == "collector"  # only one contract contributed rows


def test_keys_keep_only_the_sections_asked_for(db, seeded):
    scope = scope_of(seeded["manager"])
    assert module_sections(scope, {"gauges.held"})[0].key == "gauges.held"
    assert module_sections(scope, {"collection.denials"}) == []


def test_a_client_viewer_gets_only_its_clients_contracts(db, seeded, make_user):
    viewer = make_user("client_viewer", client=seeded["first"].client)
    (table,) = module_sections(scope_of(viewer))
    assert "contract" not in table.rows[0]  # only the first contract was asked
    assert [row["collector"] for row in table.rows] == ["Ann", "Bob"]


def test_a_module_is_told_which_sections_the_report_shows():
    from core.report_sections import one_pass, wanted

    assert wanted("collection.promises")  # outside a report: every section
    with one_pass([1, 2], {"collection.scorecard"}):
        assert wanted("collection.scorecard") and not wanted("collection.promises")
    with one_pass([1, 2]):
        assert wanted("collection.promises")


def test_a_team_or_collector_chosen_narrows_the_sections(db, seeded, make_user):
    from core.auth.models import Team

    team = Team(name="东区")
    db.session.add(team)
    db.session.flush()
    seeded["bob"].team_id = team.id
    db.session.commit()
    manager, bob = seeded["manager"], seeded["bob"]
    (table,) = module_sections(scope_of(manager, collector=str(bob.id)))
    assert table.rows == [expected_row(db, seeded["first"], bob)]
    (table,) = module_sections(scope_of(manager, team=str(team.id)))
    assert [row["collector"] for row in table.rows] == ["Bob"]
    (table,) = module_sections(scope_of(manager))
    assert {row["collector"] for row in table.rows} == {"Ann", "Bob"}


def test_narrow_keeps_the_reach_within_the_people_chosen():
    from core.report_sections import narrow, one_pass

    assert narrow(None) is None and narrow({3, 1}) == [1, 3]  # outside a report
    with one_pass([1], people={2, 3}):
        assert narrow(None) == [2, 3] and narrow([1, 3]) == [3]
    with one_pass([1], people=set()):  # a team without members
        assert narrow(None) == []
