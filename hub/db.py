"""The hub's database: the tables as typed ORM models, the engine factory and migrations.

SQLite (the default, one file in the data folder) and PostgreSQL are both first-class. The
schema itself is created and upgraded only by the Alembic migrations in ``hub/migrations``;
``tests/hub/test_migrations.py`` checks that they match these models.
"""

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    JSON,
    DateTime,
    Dialect,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool
from sqlalchemy.types import TypeDecorator

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

SQLITE_BUSY_TIMEOUT_MS = 10_000
"""How long a SQLite writer waits for another to finish before failing with 'locked'."""

SQLITE_WRITE_OPTION = "linli_sqlite_write"
"""Execution option that makes a SQLite transaction take the write lock when it begins."""

_MIGRATION_LOCK_ID = 0x4C494E4C49  # "LINLI": PostgreSQL advisory lock serialising upgrades

ID_LENGTH = 64
ENUM_LENGTH = 32
LOCATION_LENGTH = 256
NAME_LENGTH = 128
TOKEN_HASH_LENGTH = 64


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp, always read back as an aware UTC ``datetime``.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones, so UTC is stored without an
    offset and the offset is put back on read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes and convert to UTC before storing."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: pass a timezone-aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Constraint names spelled out, so that migrations can name what they create and drop."""


class Base(DeclarativeBase):
    """Base of the hub's tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class DeviceRow(Base):
    """A registered device."""

    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    kind: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    location: Mapped[str] = mapped_column(String(LOCATION_LENGTH))
    edge_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), index=True)
    zigbee_name: Mapped[str | None] = mapped_column(String(LOCATION_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_readings: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class CaseRow(Base):
    """One problem (a device and an alert kind) from its first alert until it is resolved."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    status: Mapped[str] = mapped_column(String(ENUM_LENGTH), index=True)
    kind: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    priority: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_alert_at: Mapped[datetime] = mapped_column(UTCDateTime())
    alert_count: Mapped[int] = mapped_column(Integer)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), index=True)
    open_key: Mapped[str | None] = mapped_column(String(2 * ID_LENGTH + 1), unique=True)
    """``"<device_id>|<kind>"`` while the case is unresolved, NULL once resolved: the unique
    index is what keeps racing hub workers from opening two cases for one problem."""


class AlertRow(Base):
    """An alert exactly as an edge sent it, with the case it joined."""

    __tablename__ = "alerts"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    edge_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), index=True)
    kind: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    state: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    severity: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    ts: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    location: Mapped[str | None] = mapped_column(String(LOCATION_LENGTH))
    reason: Mapped[dict[str, Any]] = mapped_column(JSON)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)


class CaseEventRow(Base):
    """One line of a case's append-only history."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime())
    action: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    note: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    alert_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))


class EdgeRow(Base):
    """The last status an edge reported."""

    __tablename__ = "edges"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    state: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    outbox_depth: Mapped[int] = mapped_column(Integer)
    counters: Mapped[dict[str, int]] = mapped_column(JSON)


class HouseholdRow(Base):
    """A home, with the hash of the secret token of its resident page."""

    __tablename__ = "households"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    location: Mapped[str] = mapped_column(String(LOCATION_LENGTH))
    token_hash: Mapped[str] = mapped_column(String(TOKEN_HASH_LENGTH), unique=True)
    """Hex SHA-256 of the access token; the token itself is never stored."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class HouseholdDeviceRow(Base):
    """An SOS button of a household; a button belongs to at most one household."""

    __tablename__ = "household_devices"

    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)


# Each domain below adds its rows under its own heading (their migrations are 0003-0007).

# --- case management: lifecycle, correlation, silences, audit (migration 0003) ---

# --- auth: users, roles, sites, API tokens (migration 0004) ---

# --- door access: people, credentials, schedules, doors, access log (migration 0005) ---

# --- camera evidence (migration 0006) ---

# --- telemetry and console history (migration 0007) ---


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
