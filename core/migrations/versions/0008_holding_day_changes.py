"""holding_day_changes: the holders' history as changes per agency-local day, contract, holder
and team

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 11:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "holding_day_changes",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.Column("entrusted_cents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "contract_id", "user_id", "team_id",
            name=op.f("pk_holding_day_changes"),
        ),
    )  # fmt: skip
    # Filled as `maple db rebuild-totals` fills it.
    from core.cases.holdings import rebuild_holding_changes

    rebuild_holding_changes(connection=op.get_bind())


def downgrade():
    op.drop_table("holding_day_changes")
