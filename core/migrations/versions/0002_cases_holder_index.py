"""cases: the holder index carries the contract and id: a collector's list from the index

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 03:00:12
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_cases_holder_id_contract_id_id",
        "cases",
        ["holder_id", "contract_id", "id"],
        unique=False,
    )
    op.drop_index("ix_cases_holder_id", table_name="cases")


def downgrade():
    op.create_index("ix_cases_holder_id", "cases", ["holder_id"], unique=False)
    op.drop_index("ix_cases_holder_id_contract_id_id", table_name="cases")
