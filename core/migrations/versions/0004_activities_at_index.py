"""activities: an index on the time, for a period's records across cases

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 05:23:14
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_activities_at", "activities", ["at"], unique=False)


def downgrade():
    op.drop_index("ix_activities_at", table_name="activities")
