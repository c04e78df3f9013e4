"""Devices reached through Tasmota or Shelly: ``devices.tasmota_topic`` and ``devices.shelly_id``.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 10:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the two nullable columns."""
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("tasmota_topic", sa.String(256), nullable=True))
        batch.add_column(sa.Column("shelly_id", sa.String(64), nullable=True))


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("shelly_id")
        batch.drop_column("tasmota_topic")
