"""payments: why a claim was rejected

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 03:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("payments") as batch_op:
        batch_op.add_column(
            sa.Column("status_reason", sa.String(length=200), nullable=False, server_default="")
        )


def downgrade():
    with op.batch_alter_table("payments") as batch_op:
        batch_op.drop_column("status_reason")
