"""Camera evidence: pictures stored once by hash, attached to alerts (and through them, cases).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the evidence_blobs and evidence tables."""
    op.create_table(
        "evidence_blobs",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(32), nullable=False),
        sa.Column("stored_at", _TS, nullable=False),
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
        sa.Column("ts", _TS, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("received_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["sha256"], ["evidence_blobs.sha256"], name="fk_evidence_sha256_evidence_blobs"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_evidence"),
    )
    op.create_index("ix_evidence_alert_id", "evidence", ["alert_id"])
    op.create_index("ix_evidence_sha256", "evidence", ["sha256"])
    op.create_index("ix_evidence_received_at", "evidence", ["received_at"])


def downgrade() -> None:
    """Drop the evidence tables."""
    op.drop_table("evidence")
    op.drop_table("evidence_blobs")
