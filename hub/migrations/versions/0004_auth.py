"""Auth: users, roles, site scopes, API tokens.

Reserved so that the domains can be built side by side; it creates nothing yet.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 00:00:00
"""

from collections.abc import Sequence

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create nothing yet."""


def downgrade() -> None:
    """Drop nothing yet."""
