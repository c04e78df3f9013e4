"""Door access: sites, doors, schedules, groups, people, credentials, sync items, access log.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from hub.persistence.migrations.conventions import foreign_key, index, timestamp

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the door access tables."""
    op.create_table(
        "access_sites",
        sa.Column("edge_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("hash_key", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        timestamp("created_at"),
        sa.PrimaryKeyConstraint("edge_id", name="pk_access_sites"),
    )
    op.create_table(
        "access_doors",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("edge_id", sa.String(64), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        foreign_key("access_doors", "edge_id", "access_sites", "edge_id"),
        sa.PrimaryKeyConstraint("id", name="pk_access_doors"),
    )
    index("access_doors", "edge_id")
    op.create_table(
        "access_schedules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("windows", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_access_schedules"),
    )
    op.create_table(
        "access_groups",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("edge_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("door_ids", sa.JSON(), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=True),
        foreign_key("access_groups", "edge_id", "access_sites", "edge_id"),
        foreign_key("access_groups", "schedule_id", "access_schedules"),
        sa.PrimaryKeyConstraint("id", name="pk_access_groups"),
    )
    index("access_groups", "edge_id")
    op.create_table(
        "access_people",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("edge_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=True),
        timestamp("valid_from", nullable=True),
        timestamp("valid_until", nullable=True),
        timestamp("created_at"),
        foreign_key("access_people", "edge_id", "access_sites", "edge_id"),
        foreign_key("access_people", "household_id", "households"),
        sa.PrimaryKeyConstraint("id", name="pk_access_people"),
    )
    index("access_people", "edge_id")
    index("access_people", "household_id")
    op.create_table(
        "access_memberships",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        foreign_key("access_memberships", "person_id", "access_people"),
        foreign_key("access_memberships", "group_id", "access_groups"),
        sa.PrimaryKeyConstraint("person_id", "group_id", name="pk_access_memberships"),
    )
    index("access_memberships", "group_id")
    op.create_table(
        "access_credentials",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("label", sa.String(128), nullable=True),
        timestamp("valid_from", nullable=True),
        timestamp("valid_until", nullable=True),
        timestamp("revoked_at", nullable=True),
        timestamp("created_at"),
        foreign_key("access_credentials", "person_id", "access_people"),
        sa.PrimaryKeyConstraint("id", name="pk_access_credentials"),
        sa.UniqueConstraint("hash", name="uq_access_credentials_hash"),
    )
    index("access_credentials", "person_id")
    op.create_table(
        "access_sync_items",
        sa.Column("edge_id", sa.String(64), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=True),
        foreign_key("access_sync_items", "edge_id", "access_sites", "edge_id"),
        sa.PrimaryKeyConstraint("edge_id", "key", name="pk_access_sync_items"),
    )
    index("access_sync_items", "version")
    op.create_table(
        "access_events",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("edge_id", sa.String(64), nullable=False),
        sa.Column("door_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        timestamp("ts"),
        sa.Column("reader_id", sa.String(64), nullable=True),
        sa.Column("credential_id", sa.Integer(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("fingerprint", sa.String(64), nullable=True),
        timestamp("received_at"),
        sa.PrimaryKeyConstraint("id", name="pk_access_events"),
    )
    index("access_events", "door_id")
    index("access_events", "ts")
    index("access_events", "person_id")


def downgrade() -> None:
    """Drop the door access tables."""
    for table in (
        "access_events",
        "access_sync_items",
        "access_credentials",
        "access_memberships",
        "access_people",
        "access_groups",
        "access_schedules",
        "access_doors",
        "access_sites",
    ):
        op.drop_table(table)
