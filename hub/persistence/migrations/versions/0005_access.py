"""Door access: sites, doors, schedules, groups, people, credentials, sync items, access log.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the door access tables."""
    op.create_table(
        "access_sites",
        sa.Column("edge_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("hash_key", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("edge_id", name="pk_access_sites"),
    )
    op.create_table(
        "access_doors",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("edge_id", sa.String(64), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["edge_id"], ["access_sites.edge_id"], name="fk_access_doors_edge_id_access_sites"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_access_doors"),
    )
    op.create_index("ix_access_doors_edge_id", "access_doors", ["edge_id"])
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
        sa.ForeignKeyConstraint(
            ["edge_id"], ["access_sites.edge_id"], name="fk_access_groups_edge_id_access_sites"
        ),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["access_schedules.id"],
            name="fk_access_groups_schedule_id_access_schedules",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_access_groups"),
    )
    op.create_index("ix_access_groups_edge_id", "access_groups", ["edge_id"])
    op.create_table(
        "access_people",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("edge_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=True),
        sa.Column("valid_from", _TS, nullable=True),
        sa.Column("valid_until", _TS, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["edge_id"], ["access_sites.edge_id"], name="fk_access_people_edge_id_access_sites"
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name="fk_access_people_household_id_households"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_access_people"),
    )
    op.create_index("ix_access_people_edge_id", "access_people", ["edge_id"])
    op.create_index("ix_access_people_household_id", "access_people", ["household_id"])
    op.create_table(
        "access_memberships",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["access_people.id"],
            name="fk_access_memberships_person_id_access_people",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"], ["access_groups.id"], name="fk_access_memberships_group_id_access_groups"
        ),
        sa.PrimaryKeyConstraint("person_id", "group_id", name="pk_access_memberships"),
    )
    op.create_index("ix_access_memberships_group_id", "access_memberships", ["group_id"])
    op.create_table(
        "access_credentials",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("label", sa.String(128), nullable=True),
        sa.Column("valid_from", _TS, nullable=True),
        sa.Column("valid_until", _TS, nullable=True),
        sa.Column("revoked_at", _TS, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["access_people.id"],
            name="fk_access_credentials_person_id_access_people",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_access_credentials"),
        sa.UniqueConstraint("hash", name="uq_access_credentials_hash"),
    )
    op.create_index("ix_access_credentials_person_id", "access_credentials", ["person_id"])
    op.create_table(
        "access_sync_items",
        sa.Column("edge_id", sa.String(64), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["edge_id"], ["access_sites.edge_id"], name="fk_access_sync_items_edge_id_access_sites"
        ),
        sa.PrimaryKeyConstraint("edge_id", "key", name="pk_access_sync_items"),
    )
    op.create_index("ix_access_sync_items_version", "access_sync_items", ["version"])
    op.create_table(
        "access_events",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("edge_id", sa.String(64), nullable=False),
        sa.Column("door_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("ts", _TS, nullable=False),
        sa.Column("reader_id", sa.String(64), nullable=True),
        sa.Column("credential_id", sa.Integer(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("fingerprint", sa.String(64), nullable=True),
        sa.Column("received_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_access_events"),
    )
    op.create_index("ix_access_events_door_id", "access_events", ["door_id"])
    op.create_index("ix_access_events_ts", "access_events", ["ts"])
    op.create_index("ix_access_events_person_id", "access_events", ["person_id"])


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
