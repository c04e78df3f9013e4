"""How often each edge says it sends its status: ``edges.heartbeat_s``.

The hub judges an edge silent by its own rhythm (``hub.fleet.supervision``): an edge that
beats every 300 s on a metered uplink is not lost after 120 s, one that beats every 5 s at a
critical site is lost well before. NULL: the edge did not say (an edge before 2026-12-07, or
stored before): the hub's ``edge_silent_after_s`` applies, as before.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07 16:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from hub.persistence.migrations.conventions import add_columns, drop_columns

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the column."""
    add_columns("edges", sa.Column("heartbeat_s", sa.Float(), nullable=True))


def downgrade() -> None:
    """Drop the column."""
    drop_columns("edges", "heartbeat_s")
