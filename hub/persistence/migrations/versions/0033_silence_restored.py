"""Which silences over had their alarms still raised reported: ``silence_restores``.

An alarm raised during a silence and still raised when it ends is taken into a case then
(``hub.silences.restore``): the edge does not raise it again. The supervisor's round looks
for silences over with no row here, reports what they left raised and adds the row, so that it
is done once across hub workers and after a restart; ``checked_through`` says up to when the
alerts it covered were received when it was last looked at (one raised during it and delivered
after its end is reported then). A silence over before this table is reported at the first
round after the upgrade, if an alarm it silenced is still raised.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-07 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from hub.persistence.migrations.conventions import foreign_key, timestamp

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the table."""
    op.create_table(
        "silence_restores",
        sa.Column("silence_id", sa.Integer(), nullable=False),
        timestamp("restored_at"),
        timestamp("checked_through"),
        foreign_key("silence_restores", "silence_id", "silences"),
        sa.PrimaryKeyConstraint("silence_id", name="pk_silence_restores"),
    )


def downgrade() -> None:
    """Drop the table."""
    op.drop_table("silence_restores")
