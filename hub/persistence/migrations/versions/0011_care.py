"""Care for those who live alone: care profiles (consent, waking hours, away-until), family
contacts and the home's sensors.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from hub.persistence.migrations.conventions import (
    foreign_key,
    household_device_table,
    index,
    timestamp,
)

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the care_profiles, care_contacts and care_devices tables."""
    op.create_table(
        "care_profiles",
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("consent_by", sa.String(128), nullable=False),
        timestamp("consent_at"),
        sa.Column("consent_note", sa.Text(), nullable=True),
        sa.Column("quiet_minutes", sa.Integer(), nullable=False),
        sa.Column("waking_from", sa.String(32), nullable=False),
        sa.Column("waking_until", sa.String(32), nullable=False),
        timestamp("away_until", nullable=True),
        timestamp("watched_since"),
        sa.Column("alarm_case_id", sa.Integer(), nullable=True),
        timestamp("updated_at"),
        sa.Column("updated_by", sa.String(64), nullable=True),
        foreign_key("care_profiles", "household_id", "households"),
        foreign_key("care_profiles", "alarm_case_id", "cases"),
        sa.PrimaryKeyConstraint("household_id", name="pk_care_profiles"),
    )
    op.create_table(
        "care_contacts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("relation", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        foreign_key("care_contacts", "household_id", "households"),
        sa.PrimaryKeyConstraint("id", name="pk_care_contacts"),
    )
    index("care_contacts", "household_id")
    household_device_table("care_devices")


def downgrade() -> None:
    """Drop the care tables."""
    op.drop_table("care_devices")
    op.drop_table("care_contacts")
    op.drop_table("care_profiles")
