"""Telemetry: recent readings kept by the hub for the console (``reading_history``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from hub.persistence.migrations.conventions import index, timestamp

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the reading_history table."""
    op.create_table(
        "reading_history",
        sa.Column("device_id", sa.String(64), nullable=False),
        timestamp("ts"),
        sa.Column("edge_id", sa.String(64), nullable=False),
        sa.Column("readings", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("device_id", "ts", name="pk_reading_history"),
    )
    index("reading_history", "ts")


def downgrade() -> None:
    """Drop the reading_history table."""
    op.drop_table("reading_history")
