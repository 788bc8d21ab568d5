"""payments: the case's contract, for a period's payments per contract without the cases

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 11:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    # Nullable first, filled from the cases in one statement, then required (as 0005 did
    # for the timeline).
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contract_id", sa.Integer(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "UPDATE payments SET contract_id = cases.contract_id "
            "FROM cases WHERE cases.id = payments.case_id"
        )
        # The update wrote every row again after the old ones: rewritten once in the order
        # of the day paid, which a period's payments are read by.
        op.execute("CLUSTER payments USING ix_payments_paid_on")
        op.execute("ALTER TABLE payments SET WITHOUT CLUSTER")
    else:
        op.execute(
            "UPDATE payments SET contract_id = "
            "(SELECT cases.contract_id FROM cases WHERE cases.id = payments.case_id)"
        )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.alter_column("contract_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_payments_contract_id_contracts"), "contracts", ["contract_id"], ["id"]
        )
        batch_op.create_index(
            "ix_payments_contract_id_paid_on", ["contract_id", "paid_on"], unique=False
        )


def downgrade():
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_contract_id_paid_on")
        batch_op.drop_constraint(
            batch_op.f("fk_payments_contract_id_contracts"), type_="foreignkey"
        )
        batch_op.drop_column("contract_id")
