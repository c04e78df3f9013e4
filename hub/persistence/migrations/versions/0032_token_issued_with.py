"""Which token issued an API token: ``api_tokens.issued_with``.

An API token issued through ``POST /tokens`` with another API token names that token, so that
revoking the one revokes the tokens it issued, and theirs (``hub.auth.repository``): a leaked
admin token cannot leave behind the tokens minted with it. NULL: issued signed in (a session:
signing out ends nothing the admin issued), by the bootstrap token or on the host, or stored
before this column.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-07 19:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from hub.persistence.migrations.conventions import add_columns, drop_columns

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the column."""
    add_columns("api_tokens", sa.Column("issued_with", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Drop the column."""
    drop_columns("api_tokens", "issued_with")
