"""payment_day_totals: confirmed payments per day paid, contract and the holder (and team)
they are attributed to

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 12:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "payment_day_totals",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("payments", sa.Integer(), nullable=False),
        sa.Column("paid_cents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "contract_id", "user_id", "team_id",
            name=op.f("pk_payment_day_totals"),
        ),
    )  # fmt: skip
    # Filled as `maple db rebuild-totals` fills it.
    from core.cases.holdings import rebuild_payment_totals

    rebuild_payment_totals(connection=op.get_bind())


def downgrade():
    op.drop_table("payment_day_totals")
