"""reports: commission tiers and month-end bucket snapshots

Revision ID: reports_0001
Revises:
Create Date: 2026-11-29 05:09:08.492067
"""

import sqlalchemy as sa
from alembic import op

import core.types

revision = "reports_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "reports_commission_tiers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.String(length=8), nullable=False),
        sa.Column("rate", sa.Numeric(precision=6, scale=4), nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
            name=op.f("fk_reports_commission_tiers_contract_id_contracts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports_commission_tiers")),
        sa.UniqueConstraint(
            "contract_id", "bucket", name=op.f("uq_reports_commission_tiers_contract_id")
        ),
    )
    op.create_table(
        "reports_bucket_snapshots",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("holder_id", sa.Integer(), nullable=True),
        sa.Column("bucket", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("balance", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("previous_bucket", sa.String(length=8), nullable=False),
        sa.Column("taken_at", core.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["batches.id"],
            name=op.f("fk_reports_bucket_snapshots_batch_id_batches"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_reports_bucket_snapshots_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
            name=op.f("fk_reports_bucket_snapshots_contract_id_contracts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["holder_id"],
            ["users.id"],
            name=op.f("fk_reports_bucket_snapshots_holder_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("month", "case_id", name=op.f("pk_reports_bucket_snapshots")),
    )
    with op.batch_alter_table("reports_bucket_snapshots", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reports_bucket_snapshots_month_contract_id", ["month", "contract_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("reports_bucket_snapshots", schema=None) as batch_op:
        batch_op.drop_index("ix_reports_bucket_snapshots_month_contract_id")

    op.drop_table("reports_bucket_snapshots")
    op.drop_table("reports_commission_tiers")
