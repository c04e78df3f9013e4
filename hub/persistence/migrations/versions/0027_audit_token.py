"""Which API token caused an audit entry: ``audit_log.token_id``.

A token acts under the name an admin gave it, which may be a person's; the id tells the two
apart on the trail (``hub.audit.acting``). NULL on every entry written before: those were
chained without the field and still verify (``hub.audit.chain.canonical``).

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 03:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from hub.persistence.migrations.conventions import add_columns, drop_columns

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the column."""
    add_columns("audit_log", sa.Column("token_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Drop the column."""
    drop_columns("audit_log", "token_id")
