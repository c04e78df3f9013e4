"""The cases another case took in, by that case: an index on ``cases.merged_into``.

The statistics count a case's climbs with those of the cases it took in (an SOS case that
climbed before its fire case took it in), one lookup by ``merged_into`` per case of the
period: without the index, each is a scan of every case.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06 20:00:00
"""

from collections.abc import Sequence

from alembic import op

from hub.persistence.migrations.conventions import index

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the index."""
    index("cases", "merged_into")


def downgrade() -> None:
    """Drop the index."""
    op.drop_index("ix_cases_merged_into", table_name="cases")
