"""Which of an edge's stores hold data in memory only: ``edges.in_memory``.

An edge whose disk refuses a write (a full, read-only or failing SD card) keeps alerts and
door records in memory rather than stopping its alarms; its status now names those stores
(``devices.messages.EdgeStatus.in_memory``), and the hub keeps the last ones said, as a JSON
list, so an operator sees which card to replace. NULL for an edge that has not said (older
edges): nothing known to be in memory.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 00:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the column."""
    with op.batch_alter_table("edges") as batch:
        batch.add_column(sa.Column("in_memory", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop the column."""
    with op.batch_alter_table("edges") as batch:
        batch.drop_column("in_memory")
