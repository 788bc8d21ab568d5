"""activity_day_totals: the timeline summed per agency-local day, contract, user and kind

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 08:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "activity_day_totals",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("promises", sa.Integer(), nullable=False),
        sa.Column("promised_cents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "contract_id", "user_id", "kind", name=op.f("pk_activity_day_totals")
        ),
    )
    # Filled as `maple db rebuild-totals` fills it: one grouped INSERT … SELECT per stretch
    # of one UTC offset of the agency's zone.
    from core.cases.services import rebuild_activity_day_totals

    rebuild_activity_day_totals(connection=op.get_bind())


def downgrade():
    op.drop_table("activity_day_totals")
