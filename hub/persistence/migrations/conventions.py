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


def foreign_key(
    table: str, column: str, target: str, target_column: str = "id"
) -> sa.ForeignKeyConstraint:
    """Return the key from ``table.column`` to ``target.target_column``, named by the convention."""
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.{target_column}"], name=f"fk_{table}_{column}_{target}"
    )


def index(table: str, column: str) -> None:
    """Create the index of one column, named by the convention."""
    op.create_index(f"ix_{table}_{column}", table, [column])


def timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    """Return a column of aware timestamps (not null unless told)."""
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def add_columns(table: str, *columns: sa.Column[object]) -> None:
    """Add the columns to the table, in one batch (SQLite recreates the table if it must)."""
    with op.batch_alter_table(table) as batch:
        for column in columns:
            batch.add_column(column)


def drop_columns(table: str, *names: str) -> None:
    """Drop the named columns from the table, in this order, in one batch."""
    with op.batch_alter_table(table) as batch:
        for name in names:
            batch.drop_column(name)
