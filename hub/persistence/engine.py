"""The hub's database engine and its migrations.

SQLite (the default, one file in the data folder) and PostgreSQL are both first-class.
"""

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from hub.persistence.json_text import json_text

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


PING_AFTER_IDLE_S = 1.0
"""A pooled PostgreSQL connection idle this long is checked before it is used again."""

_CHECKED_IN_AT = "linli_checked_in_at"


def _on_checkin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    record.info[_CHECKED_IN_AT] = time.monotonic()


def _ping_if_idle(idle_s: float) -> Callable[[Any, ConnectionPoolEntry, Any], None]:
    """Return a pool ``checkout`` listener that pings a connection idle ``idle_s`` or longer.

    SQLAlchemy's ``pool_pre_ping`` pings at every checkout: a round trip more in every
    transaction, one in fifteen of a one-alert intake. A connection in steady use was used
    well under a second ago; one that sat idle (across a database restart, say) is pinged,
    and a dead one is replaced before anyone uses it. A connection that dies while in steady
    use fails its statement instead; SQLAlchemy then replaces the whole pool, and the callers
    retry (the ingest does: its alerts stay unacknowledged until stored).
    """

    def checkout(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        checked_in = record.info.get(_CHECKED_IN_AT)
        if checked_in is None or time.monotonic() - checked_in < idle_s:
            return  # new, or in steady use
        try:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            dbapi_connection.rollback()
        except Exception as exc:  # any failure: the connection is not to be used
            raise DisconnectionError(f"a pooled connection idle since then is gone: {exc}") from exc

    return checkout


def sqlite_file(url: str) -> Path | None:
    """Return the file of a SQLite ``url``; None for another database or SQLite in memory."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if not database or database == ":memory:" or parsed.query.get("mode") == "memory":
        return None
    return Path(database)


def create_hub_engine(url: str, *, ping_after_idle_s: float = PING_AFTER_IDLE_S) -> Engine:
    """Create the engine for ``url``: SQLite in WAL mode with a busy timeout, or PostgreSQL
    (its pooled connections checked after ``ping_after_idle_s`` idle).

    JSON columns are written by ``hub.persistence.json_text`` on both.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        engine = create_engine(url, json_serializer=json_text)
        event.listen(engine, "checkin", _on_checkin)
        event.listen(engine, "checkout", _ping_if_idle(ping_after_idle_s))
        return engine
    database = sqlite_file(url)
    if database is None:
        # One shared connection, or every thread would see its own empty database.
        engine = create_engine(
            url,
            poolclass=StaticPool,
            connect_args={"check_same_thread": False},
            json_serializer=json_text,
        )
    else:
        database.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, json_serializer=json_text)
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
