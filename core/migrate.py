"""Alembic, run for the core and then for each plugin with its own history and version table.

The core's ``core/migrations/env.py`` serves every plugin: a plugin ships only revision
files in ``<package>/migrations/``; its revisions are tracked in ``alembic_version_<name>``
and see only the plugin's own tables, so a partner's plugin upgrades on its own.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app

from core.extensions import db
from core.plugins import CORE_PLUGIN, registry

CORE_MIGRATIONS = Path(__file__).parent / "migrations"


def core_tables() -> set[str]:
    """Tables the core owns: those of models defined under ``core`` and marked tables."""
    names = {t.name for t in db.metadata.tables.values() if t.info.get("owner") == "core"}
    for mapper in db.Model.registry.mappers:
        if mapper.class_.__module__.startswith("core."):
            names.update(table.name for table in mapper.tables)
    return names


def version_table(plugin: str) -> str:
    return "alembic_version" if plugin == CORE_PLUGIN else f"alembic_version_{plugin}"


def owned_tables(plugin: str) -> set[str]:
    if plugin == CORE_PLUGIN:
        return core_tables()
    return set(registry().model_tables.get(plugin, ()))


def alembic_config(plugin: str = CORE_PLUGIN) -> Config:
    config = Config()
    config.set_main_option("script_location", str(CORE_MIGRATIONS))
    config.set_main_option("path_separator", "os")
    if plugin == CORE_PLUGIN:
        folder = CORE_MIGRATIONS / "versions"
    else:
        folder = registry().migrations_dir(plugin)
        if folder is None:
            raise LookupError(f"plugin {plugin!r} has no migrations folder")
    config.set_main_option("version_locations", str(folder))
    config.attributes["plugin"] = plugin
    return config


def migrating_plugins() -> list[str]:
    """The core first, then every installed plugin that ships migrations, by name."""
    reg = registry()
    return [CORE_PLUGIN] + sorted(
        name for name in reg.plugins if name != CORE_PLUGIN and reg.migrations_dir(name)
    )


def upgrade_all(echo=None) -> None:
    """Upgrade the core, then each plugin; then make sure roles and grants are in place."""
    from core.auth.services import ensure_builtin_roles_and_grants

    for plugin in migrating_plugins():
        if echo:
            echo(plugin)
        command.upgrade(alembic_config(plugin), "heads")
    ensure_builtin_roles_and_grants(registry().permissions)
    db.session.commit()
    refresh_statistics()


def refresh_statistics() -> None:
    """Give SQLite's query planner the tables' statistics (``ANALYZE``, ~2 s at 1M cases).

    Without them SQLite takes every equality (``status = 'normal'``) as selective and may
    sort most of the case file for one page of the list. PostgreSQL's autovacuum keeps its
    own statistics. Run on upgrade, and worth running after a large import.
    """
    if db.engine.dialect.name != "sqlite":
        return
    with db.engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")


def pending() -> dict[str, bool]:
    """For each migrating plugin: does the database lag behind its newest revision?"""
    result = {}
    with db.engine.connect() as connection:
        for plugin in migrating_plugins():
            context = MigrationContext.configure(
                connection, opts={"version_table": version_table(plugin)}
            )
            heads = set(ScriptDirectory.from_config(alembic_config(plugin)).get_heads())
            result[plugin] = set(context.get_current_heads()) != heads
    return result


def app_database_url() -> str:
    return current_app.config["SQLALCHEMY_DATABASE_URI"]
