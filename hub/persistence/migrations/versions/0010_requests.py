"""Residents' requests (点单): the request behind a case, its photos, updates and ratings.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


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
        sa.Column("preferred_from", _TS, nullable=True),
        sa.Column("preferred_until", _TS, nullable=True),
        sa.Column("visit_at", _TS, nullable=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(64), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_requests_case_id_cases"),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name="fk_requests_household_id_households"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_requests"),
        sa.UniqueConstraint("case_id", name="uq_requests_case_id"),
        sa.UniqueConstraint("source", "external_id", name="uq_requests_source"),
    )
    op.create_index("ix_requests_household_id", "requests", ["household_id"])
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
        sa.Column("uploaded_at", _TS, nullable=False),
        sa.Column("uploaded_by", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name="fk_request_photos_request_id_requests"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_request_photos"),
    )
    op.create_index("ix_request_photos_request_id", "request_photos", ["request_id"])
    op.create_index("ix_request_photos_sha256", "request_photos", ["sha256"])
    op.create_index("ix_request_photos_thumbnail_sha256", "request_photos", ["thumbnail_sha256"])
    op.create_table(
        "request_updates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("ts", _TS, nullable=False),
        sa.Column("actor", sa.String(64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("visit_at", _TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name="fk_request_updates_request_id_requests"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_request_updates"),
    )
    op.create_index("ix_request_updates_request_id", "request_updates", ["request_id"])
    op.create_table(
        "request_ratings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("fixed", sa.Boolean(), nullable=False),
        sa.Column("resolved_at", _TS, nullable=False),
        sa.Column("rated_at", _TS, nullable=False),
        sa.Column("responders", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name="fk_request_ratings_request_id_requests"
        ),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_request_ratings_case_id_cases"),
        sa.PrimaryKeyConstraint("id", name="pk_request_ratings"),
        sa.UniqueConstraint("request_id", "resolved_at", name="uq_request_ratings_request_id"),
    )
    op.create_index("ix_request_ratings_request_id", "request_ratings", ["request_id"])
    op.create_index("ix_request_ratings_case_id", "request_ratings", ["case_id"])
    op.create_table(
        "responder_ratings",
        sa.Column("rating_id", sa.Integer(), nullable=False),
        sa.Column("responder_id", sa.String(64), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("rated_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["rating_id"],
            ["request_ratings.id"],
            name="fk_responder_ratings_rating_id_request_ratings",
        ),
        sa.PrimaryKeyConstraint("rating_id", "responder_id", name="pk_responder_ratings"),
    )
    op.create_index("ix_responder_ratings_responder_id", "responder_ratings", ["responder_id"])


def downgrade() -> None:
    """Drop the requests' tables."""
    op.drop_table("responder_ratings")
    op.drop_table("request_ratings")
    op.drop_table("request_updates")
    op.drop_table("request_photos")
    op.drop_table("requests")
