"""collection: the collection_settings table

Revision ID: collection_0001
Revises:
Create Date: 2026-11-29 02:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "collection_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "collection_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("max_unanswered_calls_per_day", sa.Integer(), nullable=False),
        sa.Column("third_party_after_failures", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
            name=op.f("fk_collection_settings_contract_id_contracts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collection_settings")),
        sa.UniqueConstraint("contract_id", name=op.f("uq_collection_settings_contract_id")),
    )


def downgrade():
    op.drop_table("collection_settings")
