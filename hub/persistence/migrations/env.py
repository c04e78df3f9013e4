"""Alembic environment of the hub.

The hub runs migrations itself at startup (``hub.db.migrate``) and passes its connection in
``config.attributes["connection"]``; the ``alembic`` command line works too, given
``-x url=<database url>`` or ``sqlalchemy.url`` in an ini file.
"""

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection

from hub.persistence.schema import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the hub's connection, or on one made from the given URL."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise RuntimeError("no database: pass -x url=<database url>")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("the hub's migrations run online only")
run_migrations_online()
