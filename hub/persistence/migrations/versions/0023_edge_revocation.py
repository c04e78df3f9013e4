"""When an edge was revoked: ``edges.revoked_at``.

``linli broker revoke`` clears a revoked edge's retained status on the hub's broker; the hub
marks the edge offline and keeps the time, and takes its statuses again only as
``hub.fleet.revocation`` says (a stale retained copy never). NULL: not revoked.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 19:00:00
"""

from collections.abc import Sequence

from hub.persistence.migrations.conventions import add_columns, drop_columns, timestamp

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the column."""
    add_columns("edges", timestamp("revoked_at", nullable=True))


def downgrade() -> None:
    """Drop the column."""
    drop_columns("edges", "revoked_at")
