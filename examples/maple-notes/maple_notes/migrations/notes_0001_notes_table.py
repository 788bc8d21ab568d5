"""notes: the notes_notes table

Revision ID: notes_0001
Revises:
Create Date: 2026-11-29 00:00:00
"""

import sqlalchemy as sa
from alembic import op

import core.types

revision = "notes_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "notes_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.String(length=500), nullable=False),
        sa.Column("created_at", core.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_notes_notes_author_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
            name=op.f("fk_notes_notes_contract_id_contracts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notes_notes")),
    )
    op.create_index(
        op.f("ix_notes_notes_contract_id"), "notes_notes", ["contract_id"], unique=False
    )


def downgrade():
    op.drop_index(op.f("ix_notes_notes_contract_id"), table_name="notes_notes")
    op.drop_table("notes_notes")
