"""Each edge's last reported check-in deadlines of its devices: ``edges.checkins``.

An edge's status now says how long each of its devices may stay silent before the edge
reports it offline, and whether that deadline was learned from the device's own rhythm
(``devices.messages.Checkin``); the hub keeps the last one of each edge, as JSON by device id,
and shows it with each device. NULL for an edge that has not sent one (older edges).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 03:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the column."""
    with op.batch_alter_table("edges") as batch:
        batch.add_column(sa.Column("checkins", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop the column."""
    with op.batch_alter_table("edges") as batch:
        batch.drop_column("checkins")
