"""The audit chain's anchors: its head, signed with a key the database does not hold
(``hub.audit.anchors``): ``audit_anchors``.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 03:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from hub.persistence.migrations.conventions import timestamp

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the table."""
    op.create_table(
        "audit_anchors",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        timestamp("ts"),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("mac", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_anchors"),
    )
    op.create_index("ix_audit_anchors_key_id_seq", "audit_anchors", ["key_id", "seq"])


def downgrade() -> None:
    """Drop the table."""
    op.drop_index("ix_audit_anchors_key_id_seq", table_name="audit_anchors")
    op.drop_table("audit_anchors")
