"""Who registered each device, and the edges that claim another edge's device:
``devices.registered_by``, ``device_claims``.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 20:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from hub.persistence.migrations.conventions import foreign_key, timestamp

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the provenance column (NULL for the registrations already made: their provenance is
    unknown, and ``hub.fleet.claims`` reads it as an edge's inventory) and the claims table."""
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("registered_by", sa.String(32), nullable=True))
    op.create_table(
        "device_claims",
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("edge_id", sa.String(64), nullable=False),
        timestamp("first_at"),
        timestamp("last_at"),
        sa.Column("location", sa.String(256), nullable=True),
        sa.Column("alerts", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        foreign_key("device_claims", "device_id", "devices"),
        foreign_key("device_claims", "case_id", "cases"),
        sa.PrimaryKeyConstraint("device_id", "edge_id", name="pk_device_claims"),
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table("device_claims")
    # Not in batch mode: on SQLite that copies the table, and dropping the old ``devices``
    # fails its foreign keys once cases point at it. SQLite drops a plain column itself (3.35+).
    op.drop_column("devices", "registered_by")
