"""Devices reached through Tasmota or Shelly: ``devices.tasmota_topic`` and ``devices.shelly_id``.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 10:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from hub.persistence.migrations.conventions import add_columns, drop_columns

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the two nullable columns."""
    add_columns(
        "devices",
        sa.Column("tasmota_topic", sa.String(256), nullable=True),
        sa.Column("shelly_id", sa.String(64), nullable=True),
    )


def downgrade() -> None:
    """Drop them."""
    drop_columns("devices", "shelly_id", "tasmota_topic")
