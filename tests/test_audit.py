"""The audit log's hash chain: any row changed, inserted or deleted out of band is named."""

from sqlalchemy import text

from core.audit.models import AuditEntry
from core.audit.services import record


def write_entries(db, n=4):
    ids = [
        record("test.action", object_type="thing", object_id=i, details={"i": i}).id
        for i in range(n)
    ]
    db.session.commit()
    return ids


def verify(app):
    return app.test_cli_runner().invoke(args=["audit", "verify"])


def test_intact_chain_verifies(app, db):
    write_entries(db)
    result = verify(app)
    assert result.exit_code == 0, result.output
    assert "4 rows verified" in result.output


def test_changed_row_is_named(app, db):
    ids = write_entries(db)
    db.session.execute(
        text("UPDATE audit_log SET username = 'mallory' WHERE id = :id"), {"id": ids[1]}
    )
    db.session.commit()
    result = verify(app)
    assert result.exit_code == 1
    assert f"row {ids[1]} was changed or inserted" in result.output


def test_deleted_row_is_named(app, db):
    ids = write_entries(db)
    db.session.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": ids[2]})
    db.session.commit()
    result = verify(app)
    assert result.exit_code == 1
    assert f"row {ids[3]}: its link to the row before does not match" in result.output
    assert f"after row {ids[1]}" in result.output


def test_inserted_row_is_named(app, db):
    ids = write_entries(db)
    last = db.session.get(AuditEntry, ids[-1])
    db.session.execute(
        text(
            "INSERT INTO audit_log (id, at, username, ip, action, object_type, object_id, "
            "outcome, details, prev_hash, hash) VALUES (:id, :at, '', '', 'forged', '', '', "
            "'success', '{}', :prev, :hash)"
        ),
        {
            "id": ids[-1] + 1,
            "at": last.at.replace(tzinfo=None),
            "prev": last.hash,
            "hash": "0" * 64,
        },
    )
    db.session.commit()
    result = verify(app)
    assert result.exit_code == 1
    assert f"row {ids[-1] + 1} was changed or inserted" in result.output


def test_orm_refuses_to_change_or_delete_entries(db):
    import pytest

    entry = record("test.action")
    db.session.commit()
    entry.action = "rewritten"
    with pytest.raises(RuntimeError, match="never changed"):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.get(AuditEntry, entry.id))
    with pytest.raises(RuntimeError, match="never deleted"):
        db.session.flush()
    db.session.rollback()


def test_details_carry_no_password(client, make_user, db):
    make_user("collector", username="li")
    client.post("/login", data={"username": "li", "password": "secret-guess-123"})
    dump = " ".join(str(e.details) for e in db.session.query(AuditEntry))
    assert "secret-guess-123" not in dump


def test_entries_of_one_transaction_chain_across_savepoints_and_commits(app, db):
    record("test.action", object_type="thing", object_id=1)
    with db.session.begin_nested() as savepoint:
        record("test.action", object_type="thing", object_id=2)
        savepoint.rollback()  # the entry goes: the next one must not link to it
    record("test.action", object_type="thing", object_id=3)
    record("test.action", object_type="thing", object_id=4)
    db.session.commit()
    db.session.rollback()
    record("test.action", object_type="thing", object_id=5)  # a new transaction reads again
    db.session.commit()
    ids = db.session.scalars(db.select(AuditEntry.object_id).order_by(AuditEntry.id)).all()
    assert ids == ["1", "3", "4", "5"]
    result = verify(app)
    assert result.exit_code == 0, result.output
