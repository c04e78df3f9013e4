"""Case management: correlated incidents, lifecycle, roster, supervision, notices, audit chain.

Cases get their correlation key for good, category, rule, place, assignee, resolution,
acknowledgement time, declines, site, grid and escalation level; ``case_members`` lists every
(device, kind) that joined a case; ``sites``, ``grids`` and ``responders`` are the roster cases
are dispatched by; ``case_timers`` hold the deadlines of supervision; ``notifications`` is the
durable queue of notices to webhooks and MQTT; ``silences`` holds maintenance windows and
drills; ``audit_log`` and its one-row ``audit_head`` hold the hash chain. Existing cases keep
their per-(device, kind) key and get their one member and a category from their kind.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from hub.persistence.migrations.conventions import foreign_key, index, timestamp

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of devices.kinds as of this revision: a migration must not change later.
_LIFE_SAFETY = ("sos", "smoke", "co", "heat", "gas", "camera_fire", "camera_smoke")
_FAULTS = (
    "device_offline",
    "battery_low",
    "device_tamper",
    "battery_declining",
    "sensor_stuck",
    "camera_tamper",
)
_SECURITY = (
    "door_forced",
    "door_held_open",
    "access_denied_burst",
    "camera_motion",
    "camera_person",
    "camera_loitering",
    "camera_obstruction",
)
_GENESIS_HASH = "0" * 64


def upgrade() -> None:
    """Add the case-management columns and tables, and backfill existing cases."""
    op.add_column(
        "cases", sa.Column("correlation_key", sa.String(129), nullable=False, server_default="")
    )
    op.add_column(
        "cases", sa.Column("category", sa.String(32), nullable=False, server_default="property")
    )
    op.add_column("cases", sa.Column("rule", sa.String(32), nullable=True))
    op.add_column("cases", sa.Column("place", sa.String(256), nullable=True))
    op.add_column("cases", sa.Column("assignee", sa.String(64), nullable=True))
    op.add_column("cases", sa.Column("resolution", sa.String(32), nullable=True))
    op.add_column("cases", timestamp("resolved_at", nullable=True))
    op.add_column("cases", timestamp("acknowledged_at", nullable=True))
    op.add_column("cases", sa.Column("declined", sa.JSON(), nullable=False, server_default="[]"))
    op.add_column("cases", sa.Column("site_id", sa.String(64), nullable=True))
    op.add_column("cases", sa.Column("grid_id", sa.String(64), nullable=True))
    index("cases", "site_id")
    op.add_column(
        "cases", sa.Column("escalation_level", sa.Integer(), nullable=False, server_default="0")
    )
    index("cases", "correlation_key")
    cases = sa.table(
        "cases",
        sa.column("kind", sa.String()),
        sa.column("device_id", sa.String()),
        sa.column("correlation_key", sa.String()),
        sa.column("category", sa.String()),
    )
    op.execute(
        cases.update().values(
            correlation_key=cases.c.device_id + "|" + cases.c.kind,
            category=sa.case(
                (cases.c.kind.in_(_LIFE_SAFETY), "life_safety"),
                (cases.c.kind.in_(_FAULTS), "maintenance"),
                (cases.c.kind.in_(_SECURITY), "security"),
                else_="property",
            ),
        )
    )
    op.execute("UPDATE cases SET resolved_at = updated_at WHERE status = 'resolved'")
    op.execute("UPDATE cases SET acknowledged_at = updated_at WHERE status = 'acknowledged'")

    op.create_table(
        "case_members",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        timestamp("first_alert_at"),
        timestamp("last_alert_at"),
        sa.Column("alert_count", sa.Integer(), nullable=False),
        foreign_key("case_members", "case_id", "cases"),
        foreign_key("case_members", "device_id", "devices"),
        sa.PrimaryKeyConstraint("case_id", "device_id", "kind", name="pk_case_members"),
    )
    index("case_members", "device_id")
    op.execute(
        "INSERT INTO case_members "
        "(case_id, device_id, kind, first_alert_at, last_alert_at, alert_count) "
        "SELECT id, device_id, kind, opened_at, last_alert_at, alert_count FROM cases"
    )

    op.create_table(
        "case_timers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        timestamp("due_at"),
        sa.Column("assignee", sa.String(64), nullable=True),
        timestamp("created_at"),
        timestamp("fired_at", nullable=True),
        foreign_key("case_timers", "case_id", "cases"),
        sa.PrimaryKeyConstraint("id", name="pk_case_timers"),
    )
    index("case_timers", "case_id")
    index("case_timers", "due_at")
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        timestamp("created_at"),
        sa.Column("attempts", sa.Integer(), nullable=False),
        timestamp("next_attempt_at", nullable=True),
        timestamp("claimed_until", nullable=True),
        timestamp("delivered_at", nullable=True),
        timestamp("failed_at", nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        foreign_key("notifications", "case_id", "cases"),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
    )
    index("notifications", "case_id")
    index("notifications", "next_attempt_at")
    op.create_table(
        "sites",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("timezone", sa.String(128), nullable=False),
        sa.Column("edge_ids", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sites"),
    )
    op.create_table(
        "grids",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("places", sa.JSON(), nullable=False),
        foreign_key("grids", "site_id", "sites"),
        sa.PrimaryKeyConstraint("id", name="pk_grids"),
    )
    index("grids", "site_id")
    op.create_table(
        "responders",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("grid_ids", sa.JSON(), nullable=False),
        sa.Column("shifts", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        foreign_key("responders", "site_id", "sites"),
        sa.PrimaryKeyConstraint("id", name="pk_responders"),
    )
    index("responders", "site_id")
    op.create_table(
        "silences",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("scope", sa.String(32), nullable=False),
        sa.Column("target", sa.String(256), nullable=False),
        sa.Column("kinds", sa.JSON(), nullable=False),
        timestamp("starts_at"),
        timestamp("ends_at"),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        timestamp("created_at"),
        sa.Column("ended_by", sa.String(64), nullable=True),
        timestamp("ended_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_silences"),
    )
    index("silences", "starts_at")
    index("silences", "ends_at")

    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        timestamp("ts"),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("alert_id", sa.String(64), nullable=True),
        sa.Column("actor", sa.String(64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_log"),
    )
    index("audit_log", "case_id")
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_head"),
    )
    head = sa.table(
        "audit_head",
        sa.column("id", sa.Integer()),
        sa.column("seq", sa.Integer()),
        sa.column("hash", sa.String()),
    )
    op.execute(head.insert().values(id=1, seq=0, hash=_GENESIS_HASH))


def downgrade() -> None:
    """Drop the case-management tables and columns."""
    op.drop_table("audit_head")
    op.drop_table("audit_log")
    op.drop_table("silences")
    op.drop_table("responders")
    op.drop_table("case_timers")
    op.drop_table("notifications")
    op.drop_table("grids")
    op.drop_table("sites")
    op.drop_table("case_members")
    op.drop_index("ix_cases_correlation_key", table_name="cases")
    op.drop_index("ix_cases_site_id", table_name="cases")
    for column in (
        "escalation_level",
        "grid_id",
        "site_id",
        "declined",
        "acknowledged_at",
        "resolved_at",
        "resolution",
        "assignee",
        "place",
        "rule",
        "category",
        "correlation_key",
    ):
        op.drop_column("cases", column)
