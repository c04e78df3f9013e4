"""A device an operator took out of service: ``devices.retired_at``, ``retired_by``,
``retired_reason``.

Retiring keeps the row (its cases, alerts and audit entries name it) and takes it out of the
lists, the site plan and its edge's registry (``hub.fleet.retirement``). NULL: in service, as
every device was until now.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 07:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from hub.persistence.migrations.conventions import add_columns, timestamp

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the nullable columns."""
    add_columns(
        "devices",
        timestamp("retired_at", nullable=True),
        sa.Column("retired_by", sa.String(64), nullable=True),
        sa.Column("retired_reason", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    """Drop them, in place: a batch would recreate ``devices`` on SQLite, which the cases
    and alerts naming its rows forbid (SQLite 3.35 and newer drop a plain column itself)."""
    for column in ("retired_reason", "retired_by", "retired_at"):
        op.drop_column("devices", column)
