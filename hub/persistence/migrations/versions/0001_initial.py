"""The initial schema: devices, alerts, cases, case events, edges.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create every table."""
    op.create_table(
        "devices",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("location", sa.String(256), nullable=False),
        sa.Column("edge_id", sa.String(64), nullable=True),
        sa.Column("zigbee_name", sa.String(256), nullable=True),
        _timestamp("created_at"),
        _timestamp("last_seen", nullable=True),
        sa.Column("last_readings", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_devices"),
    )
    op.create_index("ix_devices_edge_id", "devices", ["edge_id"])

    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("priority", sa.String(32), nullable=False),
        _timestamp("opened_at"),
        _timestamp("updated_at"),
        _timestamp("last_alert_at"),
        sa.Column("alert_count", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("open_key", sa.String(129), nullable=True),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"], name="fk_cases_device_id_devices"),
        sa.PrimaryKeyConstraint("id", name="pk_cases"),
        sa.UniqueConstraint("open_key", name="uq_cases_open_key"),
    )
    op.create_index("ix_cases_status", "cases", ["status"])
    op.create_index("ix_cases_device_id", "cases", ["device_id"])

    op.create_table(
        "alerts",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("edge_id", sa.String(64), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(32), nullable=False),
        _timestamp("ts"),
        _timestamp("detected_at"),
        _timestamp("received_at"),
        sa.Column("location", sa.String(256), nullable=True),
        sa.Column("reason", sa.JSON(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"], name="fk_alerts_device_id_devices"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_alerts_case_id_cases"),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
    )
    op.create_index("ix_alerts_device_id", "alerts", ["device_id"])
    op.create_index("ix_alerts_ts", "alerts", ["ts"])
    op.create_index("ix_alerts_case_id", "alerts", ["case_id"])

    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        _timestamp("ts"),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(64), nullable=True),
        sa.Column("alert_id", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_case_events_case_id_cases"),
        sa.PrimaryKeyConstraint("id", name="pk_case_events"),
    )
    op.create_index("ix_case_events_case_id", "case_events", ["case_id"])

    op.create_table(
        "edges",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        _timestamp("last_seen"),
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
