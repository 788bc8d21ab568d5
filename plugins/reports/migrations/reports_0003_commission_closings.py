"""reports: closed commission months and the bucket and rate of each of their payments

Revision ID: reports_0003
Revises: reports_0002
Create Date: 2026-11-29 08:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "reports_0003"
down_revision = "reports_0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "reports_commission_closings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_by_id", sa.Integer(), nullable=True),
        sa.Column("payments", sa.Integer(), nullable=False),
        sa.Column("recovered_cents", sa.BigInteger(), nullable=False),
        sa.Column("commission_cents", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["closed_by_id"], ["users.id"],
            name=op.f("fk_reports_commission_closings_closed_by_id_users"), ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contracts.id"],
            name=op.f("fk_reports_commission_closings_contract_id_contracts"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports_commission_closings")),
        sa.UniqueConstraint(
            "contract_id", "month", name=op.f("uq_reports_commission_closings_contract_id")
        ),
    )  # fmt: skip
    op.create_table(
        "reports_commission_closed_lines",
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("closing_id", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.String(length=8), nullable=False),
        sa.Column("rate", sa.Numeric(precision=6, scale=4), nullable=False),
        sa.ForeignKeyConstraint(
            ["closing_id"], ["reports_commission_closings.id"],
            name=op.f("fk_reports_commission_closed_lines_closing_id_reports_commission_closings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"],
            name=op.f("fk_reports_commission_closed_lines_payment_id_payments"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("payment_id", name=op.f("pk_reports_commission_closed_lines")),
    )  # fmt: skip
    with op.batch_alter_table("reports_commission_closed_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reports_commission_closed_lines_closing_id"), ["closing_id"]
        )


def downgrade():
    op.drop_table("reports_commission_closed_lines")
    op.drop_table("reports_commission_closings")
