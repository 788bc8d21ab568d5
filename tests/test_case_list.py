"""Batch management (批次管理): the case list's filters, paging, sorting, visibility, operations."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from flask_babel import force_locale
from sqlalchemy import select
from support.cases import make_batch, make_cases

from core.audit.models import AuditEntry
from core.auth.models import RolePermission
from core.batches.models import IMPORTED, NOT_IMPORTED
from core.cases import services
from core.cases.filters import CaseFilter, count_cases, list_query
from core.cases.models import CLOSED, NORMAL, PAUSED, Case
from core.errors import UserError


@pytest.fixture
def world(db, contract, make_user):
    """Two clients' contracts, three batches, a spread of cases."""
    first, second = contract(), contract()
    b1 = make_batch(db, first, "JS-01", area="苏南", status=IMPORTED)
    b2 = make_batch(db, first, "JS-02", area="苏北", status=NOT_IMPORTED)
    b3 = make_batch(db, second, "ZJ-01", area="浙东", status=IMPORTED)
    make_cases(db, first, b1, 3, entrusted_amount=Decimal("500.00"), days_overdue=20, bucket="M1")
    make_cases(db, first, b1, 2, entrusted_amount=Decimal("5000.00"), days_overdue=75)
    make_cases(db, first, b2, 4, entrusted_amount=Decimal("20000.00"), days_overdue=200)
    make_cases(db, second, b3, 5, entrusted_amount=Decimal("800.00"), status=PAUSED)
    make_cases(db, first, b1, 1, name="李四", serial="LS-1", card_no="6222021234567890123")
    make_cases(db, first, b1, 1, name="李小龙", id_no="11010119900307123X")
    admin = make_user("admin")
    return {"first": first, "second": second, "b1": b1, "b2": b2, "b3": b3, "admin": admin}


def found(user, **args) -> list[Case]:
    from core.extensions import db

    case_filter = CaseFilter.from_args(args)
    assert not case_filter.errors, case_filter.errors
    rows = db.session.execute(list_query(user, case_filter)).all()
    assert count_cases(user, case_filter) == len(rows)
    return rows


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({}, 16),
        ({"area": "苏南"}, 7),
        ({"batch_status": "not_imported"}, 4),
        ({"batch_no": "ZJ-01"}, 5),
        ({"status": "paused"}, 5),
        ({"amount_min": "1000"}, 8),
        ({"amount_max": "900"}, 8),
        ({"amount_min": "1000", "amount_max": "6000"}, 4),
        ({"days_min": "60"}, 6),
        ({"days_max": "30"}, 3),
        ({"bucket": "M1"}, 3),
        ({"q": "李"}, 2),
        ({"q": "李四"}, 1),
        ({"q": "LS-1"}, 1),
        ({"q": "0123"}, 1),  # card tail
        ({"q": "123X"}, 1),  # ID tail
        ({"q": "622202*********0123"}, 1),  # the card as it is shown masked
        ({"q": "110***********123X"}, 1),  # the ID as it is shown masked
        ({"q": "6222021234567890123"}, 1),  # the whole card number
    ],
)
def test_each_filter_narrows(world, args, expected):
    assert len(found(world["admin"], **args)) == expected


def test_client_and_contract_filters(world):
    admin, first, second = world["admin"], world["first"], world["second"]
    assert len(found(admin, client=str(second.client_id))) == 5
    assert len(found(admin, contract=str(first.id))) == 11
    assert len(found(admin, contract=str(first.id), status="paused")) == 0


def test_bad_filter_values_are_dropped_and_reported():
    case_filter = CaseFilter.from_args(
        {"amount_min": "lots", "status": "asleep", "sort": "password", "area": "苏南"}
    )
    assert set(case_filter.errors) == {"amount_min", "status", "sort"}
    assert case_filter.area == "苏南"
    assert case_filter.amount_min is None and case_filter.sort == "id"


def test_a_bad_filter_value_is_named_on_the_page_as_the_form_names_it(client, login_as, world):
    login_as("manager", locale="en")
    page = client.get("/cases/?days_min=-5").text
    assert "Days past due from: Must be between 0 and 100000." in page
    assert "days_min:" not in page


def test_sorting_is_whitelisted_and_stable(world):
    admin = world["admin"]
    rows = found(admin, sort="amount", dir="desc")
    amounts = [row.entrusted_amount for row in rows]
    assert amounts == sorted(amounts, reverse=True)
    ids_of_equal = [row.id for row in rows if row.entrusted_amount == Decimal("20000.00")]
    assert ids_of_equal == sorted(ids_of_equal, reverse=True)
    names = [row.name for row in found(admin, sort="name")]
    assert names == sorted(names)


def test_page_lists_sorts_and_pages(client, login_as, world):
    login_as("admin")
    response = client.get("/cases/?per_page=20&sort=amount&dir=desc")
    assert response.status_code == 200
    assert "16" in response.text
    first_page = client.get("/cases/?per_page=20&area=苏南")
    assert first_page.text.count('name="case"') == 7
    response = client.get("/cases/?per_page=20&page=2")  # 16 rows: one page only
    assert response.text.count('name="case"') == 16
    assert client.get("/cases/?sort=1;drop table cases").status_code == 200


def test_pagination_splits_the_result(client, login_as, db, contract):
    target = contract()
    batch = make_batch(db, target, "MANY")
    make_cases(db, target, batch, 45)
    login_as("admin")
    pages = [client.get(f"/cases/?per_page=20&page={n}") for n in (1, 2, 3)]
    assert [p.text.count('name="case"') for p in pages] == [20, 20, 5]
    assert "Page 3 of 3" in pages[2].text or "3 / 3" in pages[2].text or "45" in pages[2].text


def test_numbers_are_masked_unless_unmasked_by_a_holder(client, login_as, world, db):
    case = db.session.scalar(select(Case).filter_by(serial="LS-1"))
    login_as("manager")
    page = client.get("/cases/?q=LS-1")
    assert case.card_no not in page.text and "622202*********0123" in page.text
    assert case.mobile not in page.text
    assert "李四" not in page.text and "李*" in page.text
    page = client.get("/cases/?q=LS-1&unmask=1")  # a manager may not unmask: still masked
    assert case.card_no not in page.text


def test_unmasking_the_list_is_audited(client, login_as, world, db):
    case = db.session.scalar(select(Case).filter_by(serial="LS-1"))
    login_as("admin")
    page = client.get("/cases/?q=LS-1&unmask=1")
    assert case.card_no in page.text
    entry = db.session.scalar(select(AuditEntry).filter_by(action="cases.list_unmasked"))
    assert entry.details["filter"] == {"q": "LS-1"}


def _hold(cases, user, world, team=None):
    from core.extensions import db

    services.assign(cases, holder=user, team=team, user=world["admin"])
    db.session.commit()


def test_collector_sees_only_the_cases_they_hold_on_their_contracts(
    client, login_as, world, db, make_user
):
    collector = login_as("collector", contracts=[world["first"]])
    on_first = list(db.session.scalars(select(Case).filter_by(contract_id=world["first"].id)))
    on_second = db.session.scalar(select(Case).filter_by(contract_id=world["second"].id))
    _hold(on_first[:3], collector, world)
    _hold([on_second], collector, world)  # held, but on a contract that is not theirs
    _hold(on_first[3:5], make_user("collector"), world)  # a colleague's
    listing = client.get("/cases/?per_page=200")
    assert listing.text.count('data-case="') == 3
    assert on_second.serial not in listing.text and on_first[3].serial not in listing.text
    assert client.get(f"/cases/{on_second.id}").status_code == 404
    assert client.get(f"/cases/{on_first[3].id}").status_code == 404  # a colleague's case
    assert client.get(f"/cases/{on_first[5].id}").status_code == 404  # in the pool
    assert client.get(f"/cases/{on_first[0].id}").status_code == 200
    assert {row.id for row in found(collector)} == {c.id for c in on_first[:3]}


def test_team_leader_sees_their_teams_cases_and_a_manager_all(login_as, world, db, make_user):
    from core.auth.models import Team

    team, other = Team(name="一组"), Team(name="二组")
    db.session.add_all([team, other])
    db.session.commit()
    leader = make_user("team_leader", contracts=[world["first"]], team=team)
    member = make_user("collector", contracts=[world["first"]], team=team)
    outsider = make_user("collector", contracts=[world["first"]], team=other)
    on_first = list(db.session.scalars(select(Case).filter_by(contract_id=world["first"].id)))
    _hold(on_first[:2], member, world)
    _hold(on_first[2:3], None, world, team=team)  # the team's pool
    _hold(on_first[3:4], outsider, world)
    assert {row.id for row in found(leader)} == {c.id for c in on_first[:3]}
    assert services.can_see_case(leader, on_first[2]) and not services.can_see_case(
        leader, on_first[3]
    )
    manager = make_user("manager")
    assert len(found(manager)) == 16


def test_case_detail_page_shows_the_case_file_masked(client, login_as, world, db):
    case = db.session.scalar(select(Case).filter_by(serial="LS-1"))
    services.record_activity(
        case, world["admin"], at=datetime(2026, 3, 2, 3, 0, tzinfo=UTC), note="承诺月底还款"
    )
    services.assign([case], holder=world["admin"], user=world["admin"])
    db.session.commit()
    login_as("manager")
    page = client.get(f"/cases/{case.id}")
    assert page.status_code == 200
    assert "承诺月底还款" in page.text
    assert case.card_no not in page.text and case.id_no not in page.text
    assert world["first"].number in page.text


def test_case_detail_unmask_is_audited(client, login_as, world, db):
    case = db.session.scalar(select(Case).filter_by(serial="LS-1"))
    login_as("admin")
    page = client.post(f"/cases/{case.id}/unmask")
    assert case.card_no in page.text
    assert db.session.scalar(select(AuditEntry).filter_by(action="case.unmasked")) is not None


# -- operations -----------------------------------------------------------------------------------


def test_pause_close_resume_follow_the_state_machine(world, db):
    admin = world["admin"]
    cases = list(db.session.scalars(select(Case).where(Case.batch_id == world["b1"].id)))
    outcome = services.change_status(cases[:2], "pause", "客户投诉", admin)
    assert len(outcome.changed) == 2 and cases[0].status == PAUSED
    assert cases[0].status_reason == "客户投诉"
    outcome = services.change_status(cases[:3], "pause", "again", admin)
    assert len(outcome.changed) == 1 and len(outcome.skipped) == 2
    outcome = services.change_status(cases[:1], "close", "结案", admin)
    assert cases[0].status == CLOSED
    outcome = services.change_status(cases[:2], "resume", "恢复催收", admin)
    assert [c.status for c in cases[:2]] == [NORMAL, NORMAL]
    with pytest.raises(UserError):
        services.change_status(cases, "pause", "  ", admin)
    with pytest.raises(UserError):
        services.change_status(cases, "explode", "why", admin)


def test_a_paused_case_cannot_be_worked(world, db):
    admin = world["admin"]
    case = db.session.scalar(select(Case).filter_by(serial="LS-1"))
    services.change_status([case], "pause", "核实中", admin)
    with force_locale("en"), pytest.raises(services.CaseRefused) as info:
        services.record_activity(case, admin, at=datetime(2026, 3, 2, 3, 0, tzinfo=UTC))
    assert "cannot be worked" in info.value.message
    services.change_status([case], "resume", "核实完毕", admin)
    services.record_activity(case, admin, at=datetime(2026, 3, 2, 3, 0, tzinfo=UTC))


def test_operate_on_selected_cases_reports_changed_and_skipped(client, login_as, world, db):
    login_as("manager", locale="en")
    ids = [c.id for c in db.session.scalars(select(Case).order_by(Case.id)) if c.status == NORMAL][
        :2
    ]
    paused = db.session.scalar(select(Case.id).filter_by(status=PAUSED))
    response = client.post(
        "/cases/operate",
        data={
            "operation": "pause",
            "reason": "客户申请",
            "scope": "selected",
            "case": [*ids, paused],
            "query": "area=苏南",
        },
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "2 cases changed" in response.text
    assert "1 skipped" in response.text
    assert response.request.path == "/cases/"
    assert db.session.scalar(select(AuditEntry.id).filter_by(action="case.paused")) is not None


def test_operate_on_the_whole_filter_result(client, login_as, world, db):
    login_as("manager", locale="en")
    response = client.post(
        "/cases/operate",
        data={"operation": "close", "reason": "批量结案", "scope": "all", "query": "area=苏南"},
        follow_redirects=True,
    )
    assert "7 cases changed" in response.text
    db.session.expire_all()
    statuses = db.session.scalars(select(Case.status).where(Case.area == "苏南")).all()
    assert set(statuses) == {CLOSED}
    others = db.session.scalars(select(Case.status).where(Case.area != "苏南")).all()
    assert CLOSED not in others


def test_a_large_whole_result_operation_runs_as_a_job_of_its_user(app, client, login_as, world, db):
    app.config.update(OPERATION_INLINE_MAX_CASES=3, JOBS_INLINE=True)
    login_as("manager", locale="en")
    response = client.post(
        "/cases/operate",
        data={"operation": "close", "reason": "批量结案", "scope": "all", "query": "area=苏南"},
    )
    assert response.status_code == 302 and "/cases/jobs/" in response.headers["Location"]
    page = client.get(response.headers["Location"]).text
    assert "7 cases changed" in page
    db.session.expire_all()
    assert set(db.session.scalars(select(Case.status).where(Case.area == "苏南"))) == {CLOSED}
    job_url = response.headers["Location"]
    login_as("manager")  # another manager: the job is not theirs
    assert client.get(job_url).status_code == 404
    assert client.get(job_url + "/status").status_code == 404


def test_operation_needs_a_reason_and_the_permission(client, login_as, world, db):
    login_as("manager", locale="en")
    response = client.post(
        "/cases/operate",
        data={"operation": "pause", "reason": "", "scope": "all", "query": ""},
        follow_redirects=True,
    )
    assert "Give a reason" in response.text
    assert db.session.scalar(select(AuditEntry.id).filter_by(action="case.paused")) is None


def test_collector_may_not_operate(client, login_as, world):
    login_as("collector", contracts=[world["first"]])
    response = client.post("/cases/operate", data={"operation": "pause", "reason": "x"})
    assert response.status_code == 403


def test_whole_result_operation_touches_only_visible_cases(world, db, make_user):
    from core.cases.filters import ids_query

    collector = make_user("collector", contracts=[world["second"]])
    cases = db.session.scalars(select(Case).filter_by(contract_id=world["second"].id)).all()
    cases[0].holder = collector  # held, so visible, but paused: assign() would refuse it
    db.session.commit()
    assert count_cases(collector, CaseFilter()) == 1
    collector.role.grants.append(RolePermission(permission="core.cases.view_contract"))
    db.session.commit()
    outcome = services.change_status_of(ids_query(collector, CaseFilter()), "resume", "ok", None)
    assert outcome.changed == 5 and outcome.skipped == {}
    outcome = services.change_status_of(
        ids_query(world["admin"], CaseFilter()), "resume", "ok", None
    )
    assert outcome.changed == 0 and outcome.skipped_total == 16
    assert count_cases(collector, CaseFilter()) == 5


# -- find_cases: the page, the API and bench/case_list.py share it ----------------------------


@pytest.mark.parametrize(
    ("args", "sort"),
    [
        ({}, {}),
        ({"status": "paused"}, {"sort": "amount", "dir": "desc"}),
        ({"days_min": "10"}, {"sort": "days", "dir": "asc"}),
        ({"q": "李"}, {"sort": "name", "dir": "desc"}),
    ],
)
def test_a_collector_on_several_contracts_gets_the_merged_page_in_order(
    world, db, make_user, args, sort
):
    from core.cases.filters import find_cases

    collector = make_user("collector", contracts=[world["first"], world["second"]])
    case_filter = CaseFilter.from_args({**args, **sort})
    expected = [row.id for row in db.session.execute(list_query(collector, case_filter))]
    pages = [find_cases(collector, case_filter, page=n, per_page=3) for n in range(1, 7)]
    pages = [page for n, page in enumerate(pages, 1) if page.page == n]  # past the end: last
    assert [row.id for page in pages for row in page.rows] == expected
    assert {page.total for page in pages} == {len(expected)} and all(p.exact for p in pages)


def test_find_cases_caps_the_count_and_says_so(world, db):
    from core.cases.filters import find_cases

    admin = world["admin"]
    found_all = find_cases(admin, CaseFilter(), per_page=5, cap=10)
    assert (found_all.total, found_all.exact, len(found_all.rows)) == (10, False, 5)
    assert count_cases(admin, CaseFilter(), cap=10) == 11
    # past the last page: the last page when the count is exact, an empty page when capped
    assert find_cases(admin, CaseFilter(), page=99, per_page=5).page == 4
    assert find_cases(admin, CaseFilter(), page=99, per_page=5, cap=10).rows == []
    exact = find_cases(admin, CaseFilter.from_args({"status": "paused"}), cap=10)
    assert (exact.total, exact.exact) == (5, True)


def test_capped_total_on_the_page(client, login_as, world, monkeypatch):
    monkeypatch.setattr("core.cases.filters.COUNT_CAP", 10)
    login_as("manager", locale="en")
    page = client.get("/cases/?per_page=20")
    assert "More than 10 cases" in page.text


def test_name_prefix_search_takes_wildcards_literally(world, db):
    make_cases(db, world["first"], world["b1"], 1, name="王_%*?[1]")
    assert len(found(world["admin"], q="王_%*?[")) == 1
    assert len(found(world["admin"], q="王")) == 1
    assert len(found(world["admin"], q="李")) == 2
