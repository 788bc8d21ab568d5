"""cases: when each was first contacted, for the first-contact deadline without the timeline

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 08:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("first_contact_at", sa.DateTime(timezone=True), nullable=True)
        )
    # One grouped UPDATE … FROM (SQLite 3.33+ and PostgreSQL), as `maple db rebuild-totals`.
    from core.cases.services import rebuild_first_contacts

    rebuild_first_contacts(connection=op.get_bind())


def downgrade():
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("first_contact_at")
