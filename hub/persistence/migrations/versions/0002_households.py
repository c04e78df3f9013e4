"""Households, their resident-page token hashes and their SOS buttons.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from hub.persistence.migrations.conventions import household_device_table, timestamp

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the households and household_devices tables."""
    op.create_table(
        "households",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("location", sa.String(256), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_households"),
        sa.UniqueConstraint("token_hash", name="uq_households_token_hash"),
    )
    household_device_table("household_devices")


def downgrade() -> None:
    """Drop the households and household_devices tables."""
    op.drop_table("household_devices")
    op.drop_table("households")
