"""Alembic environment shared by the core and every plugin (see core.migrate)."""

from alembic import context

from core.extensions import db
from core.migrate import owned_tables, version_table

config = context.config
plugin = config.attributes["plugin"]
tables = owned_tables(plugin)


def include_object(obj, name, type_, reflected, compare_to):
    """Each history sees only its own tables, so the core and plugins never touch each other."""
    if type_ == "table":
        return name in tables
    table = getattr(obj, "table", None)
    return table is None or table.name in tables


def run_migrations_online() -> None:
    with db.engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=db.metadata,
            version_table=version_table(plugin),
            include_object=include_object,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
