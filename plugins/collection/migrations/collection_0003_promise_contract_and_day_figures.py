"""collection: each promise carries its case's contract (a period's promises per contract);
collection_day_figures, the scorecard's figures per agency-local day, contract and user

Revision ID: collection_0003
Revises: collection_0002
Create Date: 2026-11-29 08:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "collection_0003"
down_revision = "collection_0002"
branch_labels = None
depends_on = None


def upgrade():
    # Nullable first, filled from the cases in one statement, then required.
    with op.batch_alter_table("collection_promises", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contract_id", sa.Integer(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        # A join (hash or merge) rather than an index probe per promise.
        op.execute(
            "UPDATE collection_promises SET contract_id = cases.contract_id "
            "FROM cases WHERE cases.id = collection_promises.case_id"
        )
    else:
        op.execute(
            "UPDATE collection_promises SET contract_id = "
            "(SELECT cases.contract_id FROM cases WHERE cases.id = collection_promises.case_id)"
        )
    # On SQLite this rebuilds the table (a one-time copy of every promise).
    with op.batch_alter_table("collection_promises", schema=None) as batch_op:
        batch_op.alter_column("contract_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_collection_promises_contract_id_contracts"),
            "contracts",
            ["contract_id"],
            ["id"],
        )
        batch_op.create_index(
            "ix_collection_promises_contract_id_created_at",
            ["contract_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_collection_promises_contract_id_evaluated_at",
            ["contract_id", "evaluated_at"],
            unique=False,
        )

    op.create_table(
        "collection_day_figures",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("right_party", sa.Integer(), nullable=False),
        sa.Column("promises_made", sa.Integer(), nullable=False),
        sa.Column("promises_kept", sa.Integer(), nullable=False),
        sa.Column("promises_broken", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "contract_id", "user_id", name=op.f("pk_collection_day_figures")
        ),
    )
    # Filled as `maple db rebuild-totals` fills it: grouped INSERT … SELECTs per stretch of
    # one UTC offset of the agency's zone (the records one contract at a time).
    from plugins.collection.day_figures import rebuild

    rebuild(connection=op.get_bind())


def downgrade():
    op.drop_table("collection_day_figures")
    with op.batch_alter_table("collection_promises", schema=None) as batch_op:
        batch_op.drop_index("ix_collection_promises_contract_id_evaluated_at")
        batch_op.drop_index("ix_collection_promises_contract_id_created_at")
        batch_op.drop_constraint(
            batch_op.f("fk_collection_promises_contract_id_contracts"), type_="foreignkey"
        )
        batch_op.drop_column("contract_id")
