"""Notices (通知) through the notification channels: ``notifications`` rows of a notice.

A row of the notifications queue is now either a case notice (``case_id``) or a household's
copy of a notice (``notice_id``, ``household_id``, ``contact``: whom it is for). A request
says whether a resident volunteer may help with it (``requests.volunteers``), and which stage
the household was last told through the messaging gateway (``requests.told_stage``).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 13:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from hub.persistence.migrations.conventions import add_columns, drop_columns

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Let a notification belong to a notice and a household instead of a case."""
    with op.batch_alter_table("notifications") as batch:
        batch.alter_column("case_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("notice_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("household_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("contact", sa.String(128), nullable=True))
        batch.create_foreign_key(
            "fk_notifications_notice_id_notices", "notices", ["notice_id"], ["id"]
        )
        batch.create_foreign_key(
            "fk_notifications_household_id_households", "households", ["household_id"], ["id"]
        )
        batch.create_index("ix_notifications_notice_id", ["notice_id"])
    add_columns(
        "requests",
        sa.Column("volunteers", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("told_stage", sa.String(32), nullable=True),
    )


def downgrade() -> None:
    """Drop the notices' notifications and the columns."""
    drop_columns("requests", "told_stage", "volunteers")
    op.execute("DELETE FROM notifications WHERE case_id IS NULL")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_index("ix_notifications_notice_id")
        batch.drop_constraint("fk_notifications_household_id_households", type_="foreignkey")
        batch.drop_constraint("fk_notifications_notice_id_notices", type_="foreignkey")
        batch.drop_column("contact")
        batch.drop_column("household_id")
        batch.drop_column("notice_id")
        batch.alter_column("case_id", existing_type=sa.Integer(), nullable=False)
