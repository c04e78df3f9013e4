"""Telemetry: recent readings kept by the hub for the console.

Reserved so that the domains can be built side by side; it creates nothing yet.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 00:00:00
"""

from collections.abc import Sequence

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create nothing yet."""


def downgrade() -> None:
    """Drop nothing yet."""
