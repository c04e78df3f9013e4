"""Responders' live positions and the sites' maps: ``responder_positions``, ``sites.map``.

A site lists where its buildings, hazard sources and key places are; responders' phones
report their positions (OwnTracks); dispatch sends the nearest first, and a case shows who is
on site (``hub.positions``).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from hub.persistence.migrations.conventions import add_columns, drop_columns, timestamp

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the map of each site and the positions table."""
    add_columns("sites", sa.Column("map", sa.JSON(), server_default="[]", nullable=False))
    op.create_table(
        "responder_positions",
        sa.Column("responder_id", sa.String(64), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        timestamp("at"),
        timestamp("received_at"),
        sa.PrimaryKeyConstraint("responder_id", name="pk_responder_positions"),
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table("responder_positions")
    drop_columns("sites", "map")
