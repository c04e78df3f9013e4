"""Column sets the hand-written migrations share.

What a helper here creates must stay what it was when the first revision using it was released:
change nothing that an existing revision calls (add a new helper instead).
"""

import sqlalchemy as sa
from alembic import op


def household_device_table(table: str) -> None:
    """Create a table that puts a device (at most once) with a household, indexed by household."""
    op.create_table(
        table,
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=f"fk_{table}_device_id_devices"
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name=f"fk_{table}_household_id_households"
        ),
        sa.PrimaryKeyConstraint("device_id", name=f"pk_{table}"),
    )
    op.create_index(f"ix_{table}_household_id", table, ["household_id"])
