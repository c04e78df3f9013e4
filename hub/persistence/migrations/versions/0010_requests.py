"""Residents' requests (点单): the request behind a case, its photos, updates and ratings.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from hub.persistence.migrations.conventions import foreign_key, index, timestamp

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the requests, request_photos, request_updates and rating tables."""
    op.create_table(
        "requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("place", sa.String(256), nullable=True),
        timestamp("preferred_from", nullable=True),
        timestamp("preferred_until", nullable=True),
        timestamp("visit_at", nullable=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(64), nullable=True),
        timestamp("created_at"),
        sa.Column("created_by", sa.String(64), nullable=True),
        foreign_key("requests", "case_id", "cases"),
        foreign_key("requests", "household_id", "households"),
        sa.PrimaryKeyConstraint("id", name="pk_requests"),
        sa.UniqueConstraint("case_id", name="uq_requests_case_id"),
        sa.UniqueConstraint("source", "external_id", name="uq_requests_source"),
    )
    index("requests", "household_id")
    op.create_table(
        "request_photos",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("phase", sa.String(32), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("thumbnail_sha256", sa.String(64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        timestamp("uploaded_at"),
        sa.Column("uploaded_by", sa.String(64), nullable=True),
        foreign_key("request_photos", "request_id", "requests"),
        sa.PrimaryKeyConstraint("id", name="pk_request_photos"),
    )
    index("request_photos", "request_id")
    index("request_photos", "sha256")
    index("request_photos", "thumbnail_sha256")
    op.create_table(
        "request_updates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        timestamp("ts"),
        sa.Column("actor", sa.String(64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        timestamp("visit_at", nullable=True),
        foreign_key("request_updates", "request_id", "requests"),
        sa.PrimaryKeyConstraint("id", name="pk_request_updates"),
    )
    index("request_updates", "request_id")
    op.create_table(
        "request_ratings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("fixed", sa.Boolean(), nullable=False),
        timestamp("resolved_at"),
        timestamp("rated_at"),
        sa.Column("responders", sa.JSON(), nullable=False),
        foreign_key("request_ratings", "request_id", "requests"),
        foreign_key("request_ratings", "case_id", "cases"),
        sa.PrimaryKeyConstraint("id", name="pk_request_ratings"),
        sa.UniqueConstraint("request_id", "resolved_at", name="uq_request_ratings_request_id"),
    )
    index("request_ratings", "request_id")
    index("request_ratings", "case_id")
    op.create_table(
        "responder_ratings",
        sa.Column("rating_id", sa.Integer(), nullable=False),
        sa.Column("responder_id", sa.String(64), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        timestamp("rated_at"),
        foreign_key("responder_ratings", "rating_id", "request_ratings"),
        sa.PrimaryKeyConstraint("rating_id", "responder_id", name="pk_responder_ratings"),
    )
    index("responder_ratings", "responder_id")


def downgrade() -> None:
    """Drop the requests' tables."""
    op.drop_table("responder_ratings")
    op.drop_table("request_ratings")
    op.drop_table("request_updates")
    op.drop_table("request_photos")
    op.drop_table("requests")
