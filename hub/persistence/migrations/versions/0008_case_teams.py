"""Case teams: a case is dispatched to one responder per duty (``cases.team``).

Existing assignees become the lead member of their case's team, accepted if their case was
accepted or later.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from hub.persistence.migrations.conventions import drop_columns

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LEAD_DUTY = {
    "life_safety": "area",
    "security": "patrol",
    "property": "property",
    "maintenance": "maintenance",
}
_ACCEPTED = ("accepted", "in_progress", "resolved", "closed")


def upgrade() -> None:
    """Add the team column and make each case's assignee its lead member."""
    op.add_column("cases", sa.Column("team", sa.JSON(), nullable=False, server_default="[]"))
    cases = sa.table(
        "cases",
        sa.column("id", sa.Integer()),
        sa.column("category", sa.String()),
        sa.column("status", sa.String()),
        sa.column("assignee", sa.String()),
        sa.column("team", sa.JSON()),
    )
    conn = op.get_bind()
    assigned = conn.execute(
        sa.select(cases.c.id, cases.c.category, cases.c.status, cases.c.assignee).where(
            cases.c.assignee.is_not(None)
        )
    ).all()
    for case_id, category, status, assignee in assigned:
        lead = {
            "duty": _LEAD_DUTY.get(category, "area"),
            "responder": assignee,
            "accepted": status in _ACCEPTED,
        }
        conn.execute(cases.update().where(cases.c.id == case_id).values(team=[lead]))


def downgrade() -> None:
    """Drop the team column (the lead member stays the assignee)."""
    drop_columns("cases", "team")
