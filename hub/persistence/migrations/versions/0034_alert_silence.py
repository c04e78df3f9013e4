"""Which silence kept an alert out of every case: ``alerts.silence_id``.

The live alert panel shows an alert a drill or maintenance window silenced as "on test", not
as an alarm to act on; the API's alert view says which silence (``silence_id``). The intake
knows it when it stores the alert; the stored row is all the API reads. Judging it again at
read time could differ from the intake's judgement (a silence ended early, a device moved
since), and the audit trail's ``alert_silenced`` entries are not indexed by alert. NULL for
every other alert, and for those stored before this migration.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-08 01:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from hub.persistence.migrations.conventions import add_columns, drop_columns

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the column."""
    add_columns("alerts", sa.Column("silence_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Drop the column."""
    drop_columns("alerts", "silence_id")
