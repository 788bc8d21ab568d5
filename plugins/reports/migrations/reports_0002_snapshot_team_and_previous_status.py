"""reports: bucket snapshots keep the team and the previous status; the movement index

Revision ID: reports_0002
Revises: reports_0001
Create Date: 2026-11-29 05:12:43.059470
"""

import sqlalchemy as sa
from alembic import op

revision = "reports_0002"
down_revision = "reports_0001"
branch_labels = None
depends_on = None

#: The roll-rate matrix's columns, grouped in this order (plugins/reports/snapshots.py).
MOVEMENT = [
    "month", "previous_bucket", "bucket", "status", "previous_status",
    "contract_id", "batch_id", "holder_id", "team_id",
]  # fmt: skip


def upgrade():
    with op.batch_alter_table("reports_bucket_snapshots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("team_id", sa.Integer(), nullable=True))
        # Rows taken before knew no previous status: "" (not in the previous snapshot).
        batch_op.add_column(
            sa.Column("previous_status", sa.String(length=16), nullable=False, server_default="")
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_reports_bucket_snapshots_team_id_teams"),
            "teams",
            ["team_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("reports_bucket_snapshots", schema=None) as batch_op:
        batch_op.alter_column("previous_status", server_default=None)
        batch_op.create_index("ix_reports_bucket_snapshots_movement", MOVEMENT, unique=False)


def downgrade():
    with op.batch_alter_table("reports_bucket_snapshots", schema=None) as batch_op:
        batch_op.drop_index("ix_reports_bucket_snapshots_movement")
        batch_op.drop_constraint(
            batch_op.f("fk_reports_bucket_snapshots_team_id_teams"), type_="foreignkey"
        )
        batch_op.drop_column("previous_status")
        batch_op.drop_column("team_id")
