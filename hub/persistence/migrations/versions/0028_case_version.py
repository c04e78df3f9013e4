"""Each case's version: ``cases.version``, raised by every change of the case.

Hub workers' live events reach a console in the order their relays send them, not in the
order the changes committed: a console keeps the case of the highest version it has seen
(``hub.cases.records.case_version``). Every case there is starts at 1.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 03:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Not in a batch: SQLite adds and drops a plain column in place (3.35+), where a batch that
# copied the table would break the keys of every alert and history line that names a case.


def upgrade() -> None:
    """Add the column."""
    op.add_column("cases", sa.Column("version", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    """Drop the column."""
    op.drop_column("cases", "version")
