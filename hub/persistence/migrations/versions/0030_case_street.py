"""The street and district a case's community was under when it opened: ``cases.street``,
``cases.district``.

Statistics climb a case to its community's street and district (``hub.statistics``): read
from the community as it is now, a community moved to another street took its past months
with it. Each case keeps them as they were when it opened. The cases before this revision
take their community's as they are now (what the statistics showed until now).

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Not in a batch: SQLite adds and drops a plain column in place (3.35+), where a batch that
# copied the table would break the keys of every alert and history line that names a case.


def upgrade() -> None:
    """Add the columns, filled from each case's community as it is now."""
    op.add_column("cases", sa.Column("street", sa.String(128), nullable=True))
    op.add_column("cases", sa.Column("district", sa.String(128), nullable=True))
    op.execute(
        "UPDATE cases SET"
        " street = (SELECT sites.street FROM sites WHERE sites.id = cases.site_id),"
        " district = (SELECT sites.district FROM sites WHERE sites.id = cases.site_id)"
        " WHERE site_id IS NOT NULL"
    )


def downgrade() -> None:
    """Drop the columns."""
    op.drop_column("cases", "district")
    op.drop_column("cases", "street")
