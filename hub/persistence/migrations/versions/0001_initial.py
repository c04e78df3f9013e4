"""The initial schema: devices, alerts, cases, case events, edges.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from hub.persistence.migrations.conventions import foreign_key, index, timestamp

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create every table."""
    op.create_table(
        "devices",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("location", sa.String(256), nullable=False),
        sa.Column("edge_id", sa.String(64), nullable=True),
        sa.Column("zigbee_name", sa.String(256), nullable=True),
        timestamp("created_at"),
        timestamp("last_seen", nullable=True),
        sa.Column("last_readings", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_devices"),
    )
    index("devices", "edge_id")

    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("priority", sa.String(32), nullable=False),
        timestamp("opened_at"),
        timestamp("updated_at"),
        timestamp("last_alert_at"),
        sa.Column("alert_count", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("open_key", sa.String(129), nullable=True),
        foreign_key("cases", "device_id", "devices"),
        sa.PrimaryKeyConstraint("id", name="pk_cases"),
        sa.UniqueConstraint("open_key", name="uq_cases_open_key"),
    )
    index("cases", "status")
    index("cases", "device_id")

    op.create_table(
        "alerts",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("edge_id", sa.String(64), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(32), nullable=False),
        timestamp("ts"),
        timestamp("detected_at"),
        timestamp("received_at"),
        sa.Column("location", sa.String(256), nullable=True),
        sa.Column("reason", sa.JSON(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        foreign_key("alerts", "device_id", "devices"),
        foreign_key("alerts", "case_id", "cases"),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
    )
    index("alerts", "device_id")
    index("alerts", "ts")
    index("alerts", "case_id")

    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        timestamp("ts"),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(64), nullable=True),
        sa.Column("alert_id", sa.String(64), nullable=True),
        foreign_key("case_events", "case_id", "cases"),
        sa.PrimaryKeyConstraint("id", name="pk_case_events"),
    )
    index("case_events", "case_id")

    op.create_table(
        "edges",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        timestamp("last_seen"),
        sa.Column("outbox_depth", sa.Integer(), nullable=False),
        sa.Column("counters", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_edges"),
    )


def downgrade() -> None:
    """Drop every table."""
    op.drop_table("edges")
    op.drop_table("case_events")
    op.drop_table("alerts")
    op.drop_table("cases")
    op.drop_table("devices")
