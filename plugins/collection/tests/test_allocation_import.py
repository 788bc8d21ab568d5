"""The allocation sheet (分案导入): dry run and commit through the core's import pipeline."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from core.auth.models import Team
from core.cases.models import PAUSED, CaseAssignment
from core.imports import services
from tests.support.cases import make_batch, make_cases
from tests.support.workbooks import xlsx_bytes

KIND = "collection_allocation"


@pytest.fixture(autouse=True)
def uploads(app_config, tmp_path):
    app_config["UPLOAD_FOLDER"] = str(tmp_path / "uploads")


@pytest.fixture
def world(db, contract, make_user):
    k = contract(modules=["collection"])
    one, two = Team(name="一组"), Team(name="二组")
    db.session.add_all([one, two])
    db.session.commit()
    people = {
        "alice": make_user("collector", username="alice", name="Alice", contracts=[k], team=one),
        "bob": make_user("collector", username="bob", name="鲍勃", contracts=[k], team=one),
        "carol": make_user("collector", username="carol", name="Carol", contracts=[k], team=two),
        "sam": make_user("collector", username="sam", name="Sam", contracts=[]),
        "twin1": make_user("collector", username="twin1", name="双胞胎", contracts=[k]),
        "twin2": make_user("collector", username="twin2", name="双胞胎", contracts=[k]),
        "manager": make_user("manager", username="mia", contracts=[k], locale="en"),
        "leader": make_user("team_leader", username="leo", contracts=[k], team=one, locale="en"),
    }
    batch = make_batch(db, k)
    cases = make_cases(db, k, batch, 8)
    return {"k": k, "batch": batch, "cases": cases, "one": one, "two": two, **people}


def run_sheet(batch, rows, user):
    data = xlsx_bytes([["个案序列号", "催收员", "小组"], *rows])
    run = services.start_import(batch, KIND, io.BytesIO(data), "分案.xlsx", user)
    services.db.session.commit()
    assert run.match_key == "serial"
    return run


def test_allocation_sheet_dry_run_reports_each_rejected_row_then_commits(world, db):
    c = world["cases"]
    c[5].status = PAUSED
    db.session.commit()
    rows = [
        [c[0].serial, "alice", ""],  # 2: by user name
        [c[1].serial, "鲍勃", "一组"],  # 3: by display name, team checked
        ["NO-SUCH-CASE", "alice", ""],  # 4: no case
        [c[2].serial, "nobody", ""],  # 5: unknown collector
        [c[3].serial, "sam", ""],  # 6: not a member of the contract
        [c[4].serial, "双胞胎", ""],  # 7: two users have this name
        [c[5].serial, "alice", ""],  # 8: paused
        [c[0].serial, "bob", ""],  # 9: the same case again
        [c[6].serial, "carol", "一组"],  # 10: not in that team
    ]
    run = run_sheet(world["batch"], rows, world["manager"])
    report = services.dry_run(run, user=world["manager"])
    assert (report["rows_read"], report["updated"], report["rejected"]) == (9, 2, 7)
    reasons = {number: (column, reason) for number, column, reason in report["errors"]}
    assert reasons[4][0] == "个案序列号"
    assert reasons[5] == ("催收员", "There is no user nobody.")
    assert reasons[6][0] == "催收员" and "not a member of contract" in reasons[6][1]
    assert "2 users are named 双胞胎" in reasons[7][1]
    assert "paused" in reasons[8][1]
    assert reasons[9] == ("个案序列号", "The case appears twice in the file.")
    assert reasons[10][0] == "小组" and "not a member of team 一组" in reasons[10][1]
    db.session.expire_all()
    assert {case.holder_id for case in c} == {None}  # a dry run changes nothing

    report = services.commit(run.id, user=world["manager"], skip_invalid=True)
    assert report["committed"] and (report["updated"], report["rejected"]) == (2, 7)
    db.session.expire_all()
    assert (c[0].holder_id, c[1].holder_id) == (world["alice"].id, world["bob"].id)
    assert c[1].team_id == world["one"].id
    history = db.session.scalar(select(CaseAssignment).filter_by(case_id=c[0].id))
    assert history.reason == f"Allocation sheet, import #{run.id}"
    assert history.assigned_by_id == world["manager"].id


def test_all_or_nothing_keeps_every_holder_when_a_row_is_rejected(world, db):
    c = world["cases"]
    run = run_sheet(
        world["batch"], [[c[0].serial, "alice", ""], [c[1].serial, "x", ""]], world["manager"]
    )
    services.dry_run(run, user=world["manager"])
    report = services.commit(run.id, user=world["manager"])
    assert not report["committed"]
    db.session.expire_all()
    assert c[0].holder_id is None


def test_a_case_already_held_there_is_unchanged(world, db):
    (case,) = world["cases"][:1]
    run = run_sheet(world["batch"], [[case.serial, "alice", ""]], world["manager"])
    services.commit(run.id, user=world["manager"], skip_invalid=True)
    again = run_sheet(world["batch"], [[case.serial, "Alice", ""]], world["manager"])
    report = services.dry_run(again, user=world["manager"])
    assert (report["unchanged"], report["updated"]) == (1, 0)


def test_a_team_leader_imports_only_within_their_team(world, db):
    from core.cases.services import assign

    mine, theirs = world["cases"][:2]
    assign([mine], holder=None, team=world["one"], user=world["manager"])
    assign([theirs], holder=world["carol"], user=world["manager"])
    db.session.commit()
    rows = [[mine.serial, "bob", ""], [theirs.serial, "alice", ""], [mine.serial, "carol", ""]]
    run = run_sheet(world["batch"], rows[:2], world["leader"])
    report = services.dry_run(run, user=world["leader"])
    assert report["updated"] == 1
    (error,) = report["errors"]
    assert error == [3, "个案序列号", "This case is not among the cases you may allocate."]
    other = run_sheet(world["batch"], rows[2:], world["leader"])
    report = services.dry_run(other, user=world["leader"])
    assert "not a member of your team" in report["errors"][0][2]


def test_a_user_who_may_not_allocate_cannot_import_the_sheet(world, db, make_user):
    clerk = make_user("assist_staff", contracts=[world["k"]], locale="en")
    run = run_sheet(world["batch"], [[world["cases"][0].serial, "alice", ""]], clerk)
    report = services.dry_run(run, user=clerk)
    assert report["message"] == "You may not allocate cases."


def test_the_kind_is_offered_with_collection_and_has_a_template(
    world, db, contract, client, login_as
):
    assert KIND in [kind.name for kind in services.offered_kinds(world["k"])]
    assert KIND not in [kind.name for kind in services.offered_kinds(contract())]
    login_as("manager")
    response = client.get(f"/imports/templates/{KIND}.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    headers = [cell.value for cell in sheet[1]]
    assert headers[:5] == ["个案序列号", "档案号", "卡号", "证件号", "委案日期"]
    assert headers[5:] == ["催收员", "小组"]
