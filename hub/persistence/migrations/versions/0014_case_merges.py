"""A case taken into another: ``cases.merged_into``.

An SOS press handled before the fire it is part of opens an SOS case; the fire case, when it
opens, takes that case in (``hub.cases.merging``). The case taken in is closed, and names
the case it went into.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the case a case went into."""
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("merged_into", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_cases_merged_into_cases", "cases", ["merged_into"], ["id"])


def downgrade() -> None:
    """Drop it."""
    with op.batch_alter_table("cases") as batch:
        batch.drop_constraint("fk_cases_merged_into_cases", type_="foreignkey")
        batch.drop_column("merged_into")
