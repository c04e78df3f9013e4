"""A site's place up the chain: ``sites.street`` and ``sites.district``; cases by opening time.

A community (site) is supervised by its street (街道), the street by its district (区): the
statistics group communities by them (``hub.statistics``). Both optional: a site without them
counts in the totals, under no street. The statistics read the cases opened in a period:
``cases.opened_at`` is indexed for them.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from hub.persistence.migrations.conventions import add_columns, drop_columns, index

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the site's street and district."""
    add_columns(
        "sites",
        sa.Column("street", sa.String(128), nullable=True),
        sa.Column("district", sa.String(128), nullable=True),
    )
    index("cases", "opened_at")


def downgrade() -> None:
    """Drop them."""
    op.drop_index("ix_cases_opened_at", table_name="cases")
    drop_columns("sites", "district", "street")
