"""A Shelly Gen1's temperature unit: ``devices.temperature_unit``.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 17:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from hub.persistence.migrations.conventions import add_columns, drop_columns

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the nullable column (None: °C, as every device was read until now)."""
    add_columns("devices", sa.Column("temperature_unit", sa.String(1), nullable=True))


def downgrade() -> None:
    """Drop it."""
    drop_columns("devices", "temperature_unit")
