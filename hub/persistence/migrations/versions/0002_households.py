"""Households, their resident-page token hashes and their SOS buttons.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

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
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_households"),
        sa.UniqueConstraint("token_hash", name="uq_households_token_hash"),
    )
    op.create_table(
        "household_devices",
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name="fk_household_devices_device_id_devices"
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name="fk_household_devices_household_id_households"
        ),
        sa.PrimaryKeyConstraint("device_id", name="pk_household_devices"),
    )
    op.create_index("ix_household_devices_household_id", "household_devices", ["household_id"])


def downgrade() -> None:
    """Drop the households and household_devices tables."""
    op.drop_table("household_devices")
    op.drop_table("households")
