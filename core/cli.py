"""The ``maple`` command: a Flask command group over :func:`core.create_app`."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import select
from werkzeug.serving import run_simple

from core import create_app
from core.extensions import db


def _create_app():
    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def main():
    """Maple: case management for debt-collection agencies."""


def register(app) -> None:
    """Put the core's commands on ``app.cli``; ``maple`` (a FlaskGroup) lists them from there."""
    from core.imports.commands import import_command

    for command in (db_group, create_admin, plugins_command, audit_group, worker, demo):
        app.cli.add_command(command)
    app.cli.add_command(import_command)


@click.group("db")
def db_group():
    """Database migrations of the core and every installed plugin."""


@db_group.command("upgrade")
@with_appcontext
def db_upgrade():
    """Upgrade the core's schema, then each plugin's, each with its own history."""
    from core.migrate import upgrade_all

    upgrade_all(echo=lambda plugin: click.echo(f"upgrading {plugin} …"))
    click.echo("database is up to date")


@db_group.command("status")
@with_appcontext
def db_status():
    """Show which histories have migrations waiting."""
    from core.migrate import pending

    for plugin, behind in pending().items():
        click.echo(f"{plugin:<20} {'pending' if behind else 'up to date'}")


@db_group.command("rebuild-totals")
@with_appcontext
def db_rebuild_totals():
    """Rebuild every per-day totals table (the core's and each plugin's) from its rows."""
    from core.extensions import db
    from core.plugins import all_hooks

    all_hooks().rebuild_day_totals()
    db.session.commit()
    click.echo("per-day totals rebuilt")


@db_group.command("revision")
@click.option("-m", "--message", required=True)
@click.option("--plugin", default="core", show_default=True, help="Whose history gets it.")
@click.option("--autogenerate/--empty", default=True)
@with_appcontext
def db_revision(message, plugin, autogenerate):
    """Write a new migration for the core or a plugin (developers)."""
    from alembic import command

    from core.migrate import alembic_config

    config = alembic_config(plugin)
    folder = config.get_main_option("version_locations")
    command.revision(config, message=message, autogenerate=autogenerate, version_path=folder)


@click.command("create-admin")
@click.option("--username", prompt=True)
@click.option(
    "--name", "display_name", default="", help="Shown in the UI; defaults to the user name."
)
@click.password_option()
@with_appcontext
def create_admin(username, display_name, password):
    """Create a user with the administrator role."""
    from core.auth.models import Role
    from core.auth.services import create_user
    from core.errors import UserError

    role = db.session.scalar(select(Role).filter_by(name="admin"))
    if role is None:
        raise click.ClickException("run `maple db upgrade` first: the roles do not exist yet")
    try:
        create_user(
            username=username, display_name=display_name or username, password=password, role=role
        )
    except UserError as error:
        raise click.ClickException(error.message) from error
    db.session.commit()
    click.echo(f"administrator {username} created")


@click.command("plugins")
@with_appcontext
def plugins_command():
    """List installed plugins: version, module, hooks implemented."""
    from importlib.metadata import PackageNotFoundError, packages_distributions, version

    from core.plugins import registry

    reg = registry()
    owners = packages_distributions()
    for name, plugin in reg.plugins.items():
        top = getattr(plugin, "__name__", type(plugin).__module__).split(".")[0]
        try:
            dist_version = version(owners.get(top, [top])[0])
        except PackageNotFoundError:
            dist_version = "-"
        module = reg.modules.get(name)
        hooks = sorted(caller.name for caller in reg.pm.get_hookcallers(plugin) or [])
        click.echo(f"{name}  version {dist_version}  module {module.name if module else '-'}")
        if module and module.requires:
            click.echo(f"    requires: {', '.join(module.requires)}")
        click.echo(f"    hooks: {', '.join(hooks)}")


@click.group("audit")
def audit_group():
    """The audit log."""


@audit_group.command("verify")
@with_appcontext
def audit_verify():
    """Check the audit log's hash chain; name the first row changed, inserted or deleted."""
    from core.audit.services import verify

    checked, problem = verify()
    if problem:
        click.echo(f"audit log BROKEN after {checked} rows: {problem.message}", err=True)
        raise SystemExit(1)
    click.echo(f"audit log intact: {checked} rows verified")


@click.command("worker")
@with_appcontext
def worker():
    """Run an RQ worker for Maple's jobs (needs MAPLE_REDIS_URL)."""
    from redis import Redis
    from rq import Worker

    from core.jobs.services import RQ_QUEUE

    url = current_app.config["REDIS_URL"]
    if not url:
        raise click.ClickException(
            "MAPLE_REDIS_URL is not set: without Redis, jobs run inside the web process"
        )
    Worker([RQ_QUEUE], connection=Redis.from_url(url)).work()


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Create the demo data and stop.")
@with_appcontext
def demo(host, port, no_serve):
    """Fill a fresh database with demo data, print the logins and start the server."""
    from core.demo import DEMO_PASSWORD, create_demo_data
    from core.migrate import upgrade_all

    if current_app.config["ENV"] == "production":
        raise click.ClickException("the demo refuses to run with MAPLE_ENV=production")
    upgrade_all()
    users = create_demo_data()
    db.session.commit()
    click.echo(f"\nMaple demo — sign in with any of these (password for all: {DEMO_PASSWORD}):")
    for username, role in users:
        click.echo(f"  {username:<16} {role}")
    if no_serve:
        return
    click.echo(f"\nOpen http://{host}:{port}/ in a browser. Ctrl+C stops the server.\n")
    # Flask ignores app.run() inside its own CLI, so serve with Werkzeug directly.
    run_simple(host, port, current_app._get_current_object(), threaded=True)


if __name__ == "__main__":
    main()
