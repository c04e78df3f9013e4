"""The hub's database engine and its migrations.

SQLite (the default, one file in the data folder) and PostgreSQL are both first-class.
"""

import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

logger = logging.getLogger(__name__)


MIGRATIONS_DIR = Path(__file__).parent / "migrations"


SQLITE_BUSY_TIMEOUT_MS = 10_000


"""How long a SQLite writer waits for another to finish before failing with 'locked'."""


SQLITE_WRITE_OPTION = "linli_sqlite_write"


"""Execution option that makes a SQLite transaction take the write lock when it begins."""


_MIGRATION_LOCK_ID = 0x4C494E4C49  # "LINLI": PostgreSQL advisory lock serialising upgrades


def _on_sqlite_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Take transaction control away from the sqlite3 module (it would not begin a
    # transaction before DDL or SELECT); the "begin" listener below emits BEGIN instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _on_sqlite_begin(conn: Connection) -> None:
    # A writer that began DEFERRED and read first cannot upgrade to the write lock once
    # another writer committed (SQLITE_BUSY, which busy_timeout does not retry): writers
    # take the lock up front, readers stay lock-free under WAL.
    write = conn.get_execution_options().get(SQLITE_WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def create_hub_engine(url: str) -> Engine:
    """Create the engine for ``url``: SQLite in WAL mode with a busy timeout, or PostgreSQL."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    database = parsed.database
    if not database or database == ":memory:":
        # One shared connection, or every thread would see its own empty database.
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
    event.listen(engine, "connect", _on_sqlite_connect)
    event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def alembic_config() -> Config:
    """Return an Alembic configuration pointing at the migrations shipped in this package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def migrate(engine: Engine) -> None:
    """Upgrade the database to the newest schema, in one transaction."""
    config = alembic_config()
    with engine.execution_options(**{SQLITE_WRITE_OPTION: True}).begin() as connection:
        if connection.dialect.name == "postgresql":
            # Two hub workers starting together must not both run the same migration.
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID}
            )
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    logger.info("database schema is up to date")
