"""Camera evidence: pictures stored once by hash, attached to alerts (and through them, cases).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from hub.persistence.migrations.conventions import foreign_key, index, timestamp

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the evidence_blobs and evidence tables."""
    op.create_table(
        "evidence_blobs",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(32), nullable=False),
        timestamp("stored_at"),
        sa.PrimaryKeyConstraint("sha256", name="pk_evidence_blobs"),
    )
    op.create_table(
        "evidence",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("alert_id", sa.String(64), nullable=False),
        sa.Column("edge_id", sa.String(64), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("variant", sa.String(32), nullable=False),
        timestamp("ts"),
        sa.Column("sha256", sa.String(64), nullable=False),
        timestamp("received_at"),
        foreign_key("evidence", "sha256", "evidence_blobs", "sha256"),
        sa.PrimaryKeyConstraint("id", name="pk_evidence"),
    )
    index("evidence", "alert_id")
    index("evidence", "sha256")
    index("evidence", "received_at")


def downgrade() -> None:
    """Drop the evidence tables."""
    op.drop_table("evidence")
    op.drop_table("evidence_blobs")
