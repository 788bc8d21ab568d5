"""The ``maple`` command line."""

import subprocess
import sys

from sqlalchemy import select

from core.auth.models import User
from core.batches.models import IMPORTED, Batch
from core.cases.models import CONFIRMED, PENDING, Activity, Case, Payment
from core.clients.models import Contract
from core.demo import DEMO_BATCHES, DEMO_PASSWORD, DEMO_USERS, MORE_COLLECTORS
from core.demo_history import SHARES


def run(app, *args, input=None):
    return app.test_cli_runner().invoke(args=list(args), input=input)


def test_demo_creates_a_user_per_role_and_runs_twice_safely(app, db):
    first = run(app, "demo", "--no-serve")
    assert first.exit_code == 0, first.output
    assert DEMO_PASSWORD in first.output
    assert run(app, "demo", "--no-serve").exit_code == 0
    users = db.session.scalars(select(User)).all()
    expected = [name for name, _n, _r in DEMO_USERS] + [name for name, *_ in MORE_COLLECTORS]
    assert sorted(u.username for u in users) == sorted(expected)
    assert {u.role.name for u in users} == {role for _u, _n, role in DEMO_USERS}
    for username, _name, _role in DEMO_USERS:
        assert username in first.output
    batches = db.session.execute(
        select(Batch.batch_no, Batch.status, db.func.count(Case.id))
        .join(Case, Case.batch_id == Batch.id)
        .group_by(Batch.id)
        .order_by(Batch.batch_no)
    ).all()
    assert [tuple(row) for row in batches] == [
        (batch_no, IMPORTED, count) for batch_no, _d, _a, count in DEMO_BATCHES
    ]
    for username, held in SHARES:
        collector = db.session.scalar(select(User).filter_by(username=username))
        count = select(db.func.count(Case.id)).filter_by(holder_id=collector.id)
        assert db.session.scalar(count) == held
    # A month of records, repayments and claims, the same on every run.
    records = db.session.scalar(select(db.func.count(Activity.id)))
    assert records > 500
    assert db.session.scalar(select(db.func.count(Payment.id)).filter_by(status=CONFIRMED)) > 20
    assert db.session.scalar(select(db.func.count(Payment.id)).filter_by(status=PENDING)) > 3
    assert run(app, "demo", "--no-serve").exit_code == 0
    assert db.session.scalar(select(db.func.count(Activity.id))) == records
    contracts = db.session.scalars(select(Contract).order_by(Contract.number)).all()
    assert len(contracts) == 2  # one with every module on, one with none: modules are per contract
    assert contracts[1].enabled_modules == set()


def test_create_admin(app, db):
    result = run(
        app,
        "create-admin",
        "--username",
        "root",
        "--name",
        "Root",
        input="a-long-password\na-long-password\n",
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).filter_by(username="root"))
    assert user.role.name == "admin" and user.check_password("a-long-password")


def test_create_admin_refuses_a_short_password(app):
    result = run(app, "create-admin", "--username", "root", input="short\nshort\n")
    assert result.exit_code != 0
    assert "密码长度不能少于 10 个字符" in result.output  # the CLI speaks the default locale


def test_plugins_lists_the_core_and_its_hooks(app):
    result = run(app, "plugins")
    assert result.exit_code == 0
    assert "core" in result.output and "register_permissions" in result.output


def test_db_upgrade_is_idempotent_and_status_is_up_to_date(app):
    assert run(app, "db", "upgrade").exit_code == 0
    status = run(app, "db", "status")
    assert "pending" not in status.output and "up to date" in status.output


def test_migrations_match_the_models(app, db):
    """A model change without its migration fails here, on SQLite and PostgreSQL alike: the
    core's tables as its migrations build them, and each plugin's as its own do."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from core.migrate import migrating_plugins, owned_tables

    plugins = migrating_plugins()
    assert {"core", "collection", "reports"} <= set(plugins)
    for plugin in plugins:
        tables = owned_tables(plugin)
        with db.engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={
                    "include_object": lambda obj, name, type_, *_, tables=tables: (
                        name in tables
                        if type_ == "table"
                        else getattr(obj, "table", None) is None or obj.table.name in tables
                    ),
                    "compare_type": True,
                },
            )
            assert compare_metadata(context, db.metadata) == [], plugin


def test_the_maple_console_script_starts():
    result = subprocess.run(
        [sys.executable, "-m", "core.cli", "--help"],
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "demo" in result.stdout and "audit" in result.stdout
