"""When an edge sent the status the hub holds: ``edges.status_sent_at``.

Hub workers share an edge's statuses, so a heartbeat sent before the edge's ``offline`` can be
stored after it; the sent time of the status held tells such a late one
(``hub.fleet.status_order``). NULL: not known (a status without a time, or stored before).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 01:20:00
"""

from collections.abc import Sequence

from hub.persistence.migrations.conventions import add_columns, drop_columns, timestamp

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the column."""
    add_columns("edges", timestamp("status_sent_at", nullable=True))


def downgrade() -> None:
    """Drop the column."""
    drop_columns("edges", "status_sent_at")
