"""activities: the case's contract, for a period's records per contract; case_assignments: an
index on when each began

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 06:04:48
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    # Nullable first, filled from the cases in one statement, then required.
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contract_id", sa.Integer(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        # A join (hash or merge) rather than an index probe per record.
        op.execute(
            "UPDATE activities SET contract_id = cases.contract_id "
            "FROM cases WHERE cases.id = activities.case_id"
        )
        # Updating writes a new version of every row, in the join's order, after the old
        # ones: the table doubles and loses its order in time, so a period's records (a range
        # of ix_activities_at) would be read from all over it. Rewritten in time order (once;
        # not kept clustered: new records arrive in time order anyway).
        op.execute("CLUSTER activities USING ix_activities_at")
        op.execute("ALTER TABLE activities SET WITHOUT CLUSTER")
    else:
        op.execute(
            "UPDATE activities SET contract_id = "
            "(SELECT cases.contract_id FROM cases WHERE cases.id = activities.case_id)"
        )
    # On SQLite this rebuilds the table (a one-time copy of every record).
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.alter_column("contract_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_activities_contract_id_contracts"), "contracts", ["contract_id"], ["id"]
        )
        batch_op.create_index("ix_activities_contract_id_at", ["contract_id", "at"], unique=False)

    with op.batch_alter_table("case_assignments", schema=None) as batch_op:
        batch_op.create_index("ix_case_assignments_assigned_at", ["assigned_at"], unique=False)


def downgrade():
    with op.batch_alter_table("case_assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_case_assignments_assigned_at")

    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index("ix_activities_contract_id_at")
        batch_op.drop_constraint(
            batch_op.f("fk_activities_contract_id_contracts"), type_="foreignkey"
        )
        batch_op.drop_column("contract_id")
