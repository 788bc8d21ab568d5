"""collection: result codes, case work state, promises, complaints, templates, outbox,
allocation plans; the settings gain the first-contact and complaint deadlines

Revision ID: collection_0002
Revises: collection_0001
Create Date: 2026-11-29 02:42:20.363981
"""

import sqlalchemy as sa
from alembic import op

import core.types

revision = "collection_0002"
down_revision = "collection_0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "collection_allocation_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("strategy", sa.String(length=20), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("assignments", sa.JSON(), nullable=False),
        sa.Column("created_at", core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("committed_at", core.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_collection_allocation_plans_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collection_allocation_plans")),
    )
    with op.batch_alter_table("collection_allocation_plans", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_collection_allocation_plans_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "collection_result_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("label", sa.String(length=80), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
            name=op.f("fk_collection_result_codes_contract_id_contracts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collection_result_codes")),
        sa.UniqueConstraint(
            "contract_id", "code", name=op.f("uq_collection_result_codes_contract_id")
        ),
    )
    op.create_table(
        "collection_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", core.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
            name=op.f("fk_collection_templates_contract_id_contracts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["users.id"],
            name=op.f("fk_collection_templates_updated_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collection_templates")),
        sa.UniqueConstraint(
            "contract_id", "channel", "name", name=op.f("uq_collection_templates_contract_id")
        ),
    )
    op.create_table(
        "collection_case_work",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("holder_id", sa.Integer(), nullable=True),
        sa.Column("assigned_at", core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("first_contact_due", core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("first_contacted_at", core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_contact_at", core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_result", sa.String(length=40), nullable=False),
        sa.Column("follow_up_at", core.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_collection_case_work_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["holder_id"], ["users.id"], name=op.f("fk_collection_case_work_holder_id_users")
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_collection_case_work")),
    )
    with op.batch_alter_table("collection_case_work", schema=None) as batch_op:
        batch_op.create_index(
            "ix_collection_case_work_holder_id_first_contact_due",
            ["holder_id", "first_contact_due"],
            unique=False,
        )
        batch_op.create_index(
            "ix_collection_case_work_holder_id_follow_up_at",
            ["holder_id", "follow_up_at"],
            unique=False,
        )

    op.create_table(
        "collection_complaints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("registered_by_id", sa.Integer(), nullable=True),
        sa.Column("registered_at", core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("handler_id", sa.Integer(), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=False),
        sa.Column("resolved_at", core.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_collection_complaints_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
            name=op.f("fk_collection_complaints_contract_id_contracts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["handler_id"], ["users.id"], name=op.f("fk_collection_complaints_handler_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["registered_by_id"],
            ["users.id"],
            name=op.f("fk_collection_complaints_registered_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collection_complaints")),
    )
    with op.batch_alter_table("collection_complaints", schema=None) as batch_op:
        batch_op.create_index(
            "ix_collection_complaints_case_id_status", ["case_id", "status"], unique=False
        )
        batch_op.create_index(
            "ix_collection_complaints_status_due_at", ["status", "due_at"], unique=False
        )

    op.create_table(
        "collection_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=True),
        sa.Column("activity_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("gateway", sa.String(length=40), nullable=False),
        sa.Column("gateway_ref", sa.String(length=120), nullable=False),
        sa.Column("error", sa.String(length=300), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", core.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activities.id"],
            name=op.f("fk_collection_outbox_activity_id_activities"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_collection_outbox_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_collection_outbox_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["collection_templates.id"],
            name=op.f("fk_collection_outbox_template_id_collection_templates"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collection_outbox")),
    )
    with op.batch_alter_table("collection_outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_collection_outbox_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            "ix_collection_outbox_status_created_at", ["status", "created_at"], unique=False
        )

    op.create_table(
        "collection_promises",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("paid_amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("evaluated_at", core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", core.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activities.id"],
            name=op.f("fk_collection_promises_activity_id_activities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_collection_promises_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_collection_promises_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collection_promises")),
        sa.UniqueConstraint("activity_id", name=op.f("uq_collection_promises_activity_id")),
    )
    with op.batch_alter_table("collection_promises", schema=None) as batch_op:
        batch_op.create_index(
            "ix_collection_promises_case_id_due_on", ["case_id", "due_on"], unique=False
        )
        batch_op.create_index(
            "ix_collection_promises_status_due_on", ["status", "due_on"], unique=False
        )
        batch_op.create_index(
            "ix_collection_promises_user_id_status_due_on",
            ["user_id", "status", "due_on"],
            unique=False,
        )

    with op.batch_alter_table("collection_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("first_contact_hours", sa.Integer(), nullable=False, server_default="48")
        )
        batch_op.add_column(
            sa.Column("complaint_deadline_hours", sa.Integer(), nullable=False, server_default="72")
        )
        batch_op.add_column(
            sa.Column("agency_name", sa.String(length=120), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("agency_phone", sa.String(length=40), nullable=False, server_default="")
        )


def downgrade():
    with op.batch_alter_table("collection_settings", schema=None) as batch_op:
        batch_op.drop_column("agency_phone")
        batch_op.drop_column("agency_name")
        batch_op.drop_column("complaint_deadline_hours")
        batch_op.drop_column("first_contact_hours")

    with op.batch_alter_table("collection_promises", schema=None) as batch_op:
        batch_op.drop_index("ix_collection_promises_user_id_status_due_on")
        batch_op.drop_index("ix_collection_promises_status_due_on")
        batch_op.drop_index("ix_collection_promises_case_id_due_on")

    op.drop_table("collection_promises")
    with op.batch_alter_table("collection_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_collection_outbox_status_created_at")
        batch_op.drop_index(batch_op.f("ix_collection_outbox_case_id"))

    op.drop_table("collection_outbox")
    with op.batch_alter_table("collection_complaints", schema=None) as batch_op:
        batch_op.drop_index("ix_collection_complaints_status_due_at")
        batch_op.drop_index("ix_collection_complaints_case_id_status")

    op.drop_table("collection_complaints")
    with op.batch_alter_table("collection_case_work", schema=None) as batch_op:
        batch_op.drop_index("ix_collection_case_work_holder_id_follow_up_at")
        batch_op.drop_index("ix_collection_case_work_holder_id_first_contact_due")

    op.drop_table("collection_case_work")
    op.drop_table("collection_templates")
    op.drop_table("collection_result_codes")
    with op.batch_alter_table("collection_allocation_plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_collection_allocation_plans_user_id"))

    op.drop_table("collection_allocation_plans")
