"""Notices (通知) to a site, a building or households, with per-household read receipts.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from hub.persistence.migrations.conventions import foreign_key, index, timestamp

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the notices and notice_recipients tables."""
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("title", sa.String(128), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("scope", sa.String(32), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=True),
        sa.Column("building", sa.String(256), nullable=True),
        timestamp("created_at"),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_notices"),
    )
    index("notices", "site_id")
    index("notices", "created_at")
    op.create_table(
        "notice_recipients",
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        timestamp("read_at", nullable=True),
        foreign_key("notice_recipients", "notice_id", "notices"),
        foreign_key("notice_recipients", "household_id", "households"),
        sa.PrimaryKeyConstraint("notice_id", "household_id", name="pk_notice_recipients"),
    )
    index("notice_recipients", "household_id")


def downgrade() -> None:
    """Drop the notices' tables."""
    op.drop_table("notice_recipients")
    op.drop_table("notices")
