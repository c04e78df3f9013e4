"""The hub's tables as typed ORM models, one per record kind.

The schema itself is created and upgraded only by the Alembic migrations in
``hub/persistence/migrations``; ``tests/hub/test_migrations.py`` checks that they match these
models, the residents' (``hub.persistence.community``) and the others, all on
``hub.persistence.schema``.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

ID_LENGTH = 64


ENUM_LENGTH = 32


LOCATION_LENGTH = 256


NAME_LENGTH = 128


TOKEN_HASH_LENGTH = 64


PASSWORD_HASH_LENGTH = 160


NAIVE_DATETIME = "naive datetimes are not stored: pass a timezone-aware one"


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
            raise ValueError(NAIVE_DATETIME)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """On SQLite, one function from an aware datetime to the text SQLAlchemy's SQLite
        ``DATETIME`` stores (``2025-03-01 02:00:00.000000``, UTC); elsewhere the default.

        The default chains ``process_bind_param`` into ``DATETIME``'s formatter: 2.3 µs a
        value where this takes 0.8, and a take stores several timestamps per alert.
        ``tests/hub/test_timestamps.py`` checks that both give the same text.
        """
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        return sqlite_utc_text

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def sqlite_utc_text(value: datetime | None) -> str | None:
    """Return ``value`` in UTC as the text SQLite stores it; refuse a naive datetime."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(NAIVE_DATETIME)
    t = value.astimezone(UTC)
    # %-formatting: 0.9 µs where the same f-string takes 1.4.
    return "%04d-%02d-%02d %02d:%02d:%02d.%06d" % (  # noqa: UP031
        t.year,
        t.month,
        t.day,
        t.hour,
        t.minute,
        t.second,
        t.microsecond,
    )


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
    tasmota_topic: Mapped[str | None] = mapped_column(String(LOCATION_LENGTH))
    shelly_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    temperature_unit: Mapped[str | None] = mapped_column(String(1))
    registered_by: Mapped[str | None] = mapped_column(String(ENUM_LENGTH))
    """``operator`` (the API), ``inventory`` (an edge's status); NULL: older, as inventory."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_readings: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """When an operator retired it (``hub.fleet.retirement``); NULL: in service."""
    retired_by: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    retired_reason: Mapped[str | None] = mapped_column(Text)


class DeviceClaimRow(Base):
    """An edge that speaks for a device registered to another edge (``hub.fleet.claims``)."""

    __tablename__ = "device_claims"

    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), primary_key=True)
    edge_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_at: Mapped[datetime] = mapped_column(UTCDateTime())
    location: Mapped[str | None] = mapped_column(String(LOCATION_LENGTH))
    alerts: Mapped[int] = mapped_column(Integer)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))


class CaseRow(Base):
    """One problem (a device and an alert kind) from its first alert until it is resolved."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    status: Mapped[str] = mapped_column(String(ENUM_LENGTH), index=True)
    kind: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    priority: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    """Indexed for the statistics, which read the cases opened in a period."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_alert_at: Mapped[datetime] = mapped_column(UTCDateTime())
    alert_count: Mapped[int] = mapped_column(Integer)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), index=True)
    open_key: Mapped[str | None] = mapped_column(String(2 * ID_LENGTH + 1), unique=True)
    """The correlation key while the case is active, NULL once resolved: the unique index is
    what keeps racing hub workers from opening two cases for one incident."""
    # Case management (issue 6): correlation, lifecycle, resolution.
    correlation_key: Mapped[str] = mapped_column(String(2 * ID_LENGTH + 1), index=True)
    """The incident's key for good (``hub.cases.correlation``): how a recurrence finds it
    to reopen."""
    category: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    rule: Mapped[str | None] = mapped_column(String(ENUM_LENGTH))
    place: Mapped[str | None] = mapped_column(String(LOCATION_LENGTH))
    assignee: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    """The lead member of the team (its first duty's responder), kept for queries and scoping."""
    team: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    """The responders the case is dispatched to, one per duty (``hub.dispatch.Assignment``)."""
    resolution: Mapped[str | None] = mapped_column(String(ENUM_LENGTH))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """When a person first took the case on (acknowledged or accepted it)."""
    declined: Mapped[list[str]] = mapped_column(JSON)
    """Responders who declined the case: it is not dispatched to them again."""
    site_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), index=True)
    grid_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    escalation_level: Mapped[int] = mapped_column(Integer)
    """0 = the community; raised each time a deadline passes (``hub.cases.supervision``)."""
    merged_into: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    """The case this one went into, with its members and alerts (``hub.cases.merging``)."""
    street: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    """The street (街道) its site was under when it opened: its statistics stay there if the
    community later moves to another street (``hub.statistics``); NULL: none then."""
    district: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    """The district of that street, when it opened."""
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    """Raised by every change of the case (``hub.cases.records.case_version``): a console
    given the same case by several hub workers, in any order, keeps the highest."""


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
    silence_id: Mapped[int | None] = mapped_column(Integer)
    """The silence that kept it out of every case (``hub.cases.silenced``); NULL for every
    other alert, and for those stored before migration 0034. No foreign key and no index: set
    once by the intake, read only with the row."""


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
    checkins: Mapped[dict[str, dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    """Its devices' check-in deadlines by device id, as its last online status gave them
    (``devices.messages.Checkin``); None before an edge sent any."""
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    """When its retained status was cleared (``linli broker revoke``): its statuses are
    taken again only as ``hub.fleet.revocation`` says. None: not revoked."""
    status_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    """When the edge sent the status held (its ``ts``; ``hub.fleet.status_order``)."""
    in_memory: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    """Its stores holding data in memory only, as its last online status said
    (``EdgeStatus.in_memory``: the disk refused them); None before it said any."""
    heartbeat_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    """How often it sends its status, as its last online status said
    (``EdgeStatus.heartbeat_s``; ``hub.fleet.supervision`` judges its silence by it); None: it
    did not say (an older edge): the hub's ``edge_silent_after_s`` applies."""


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


class CaseMemberRow(Base):
    """A device and alert kind that joined a case: a case lists all its evidence."""

    __tablename__ = "case_members"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), primary_key=True, index=True)
    kind: Mapped[str] = mapped_column(String(ENUM_LENGTH), primary_key=True)
    first_alert_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_alert_at: Mapped[datetime] = mapped_column(UTCDateTime())
    alert_count: Mapped[int] = mapped_column(Integer)


class CaseTimerRow(Base):
    """A deadline of a case (``hub.cases.supervision``); fired once, by whichever hub worker
    sets ``fired_at`` first."""

    __tablename__ = "case_timers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    assignee: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class NotificationRow(Base):
    """A notice waiting for (or past) delivery to a webhook or MQTT: a case's
    (``hub.cases.notify``), or a household's copy of a notice (``hub.notices``)."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id"), index=True)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"))
    contact: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    """Whom a notice's copy is for: the household (through the gateway) or a family contact."""
    channel: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    target: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    """NULL once delivered or given up."""
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """A worker delivering it holds it until then; after that another may try."""
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)


class SiteRow(Base):
    """A community (``hub.roster.Site``); its devices are those of its edges."""

    __tablename__ = "sites"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    timezone: Mapped[str] = mapped_column(String(NAME_LENGTH))
    edge_ids: Mapped[list[str]] = mapped_column(JSON)
    street: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    """The street (街道) that supervises the community, up the chain (``hub.statistics``)."""
    district: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    """The district (区) the street belongs to."""
    map: Mapped[list[dict[str, Any]]] = mapped_column(JSON, server_default="[]")
    """The coordinates of its places (``hub.positions.rules.MapPlace``)."""


class GridRow(Base):
    """A grid (网格) of a site: the places it covers."""

    __tablename__ = "grids"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    places: Mapped[list[str]] = mapped_column(JSON)


class ResponderRow(Base):
    """A person cases are dispatched to, with the grids covered and the on-call shifts."""

    __tablename__ = "responders"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    role: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    grid_ids: Mapped[list[str]] = mapped_column(JSON)
    shifts: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean)


class SilenceRow(Base):
    """A maintenance window or fire drill (``hub.silences.rules``): who set it, from, until, why."""

    __tablename__ = "silences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    target: Mapped[str] = mapped_column(String(LOCATION_LENGTH))
    kinds: Mapped[list[str]] = mapped_column(JSON)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    """When it ends; moved earlier when someone ends it early."""
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_by: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SilenceRestoreRow(Base):
    """A silence over whose alarms still raised were reported (``hub.silences.restore``):
    one row each, made once across hub workers. A table of its own, not a column of
    ``silences``: the intake reads the silences whole, on every schema it may meet."""

    __tablename__ = "silence_restores"

    silence_id: Mapped[int] = mapped_column(ForeignKey("silences.id"), primary_key=True)
    restored_at: Mapped[datetime] = mapped_column(UTCDateTime())
    checked_through: Mapped[datetime] = mapped_column(UTCDateTime())
    """Alerts it covered received after this are looked at again: one raised during it and
    delivered after it ended (an edge's store and forward) is reported then."""


class AuditEntryRow(Base):
    """One link of the hash-chained audit trail (``hub.audit.chain``); never updated."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ts: Mapped[datetime] = mapped_column(UTCDateTime())
    action: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    case_id: Mapped[int | None] = mapped_column(Integer, index=True)
    """No foreign key on purpose: the trail outlives anything it mentions."""
    alert_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    actor: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(TOKEN_HASH_LENGTH))
    hash: Mapped[str] = mapped_column(String(TOKEN_HASH_LENGTH))
    token_id: Mapped[int | None] = mapped_column(Integer)
    """The API token that acted under the name ``actor`` (its id, never its secret); NULL
    for a person, the hub, and every entry written before migration 0027. No foreign key:
    the trail outlives the token."""


class AuditHeadRow(Base):
    """The one row naming the chain's last entry; locked by every append (serialises them)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(TOKEN_HASH_LENGTH))


class AuditAnchorRow(Base):
    """The audit chain's head as it was at a moment, signed with the hub's anchor key, which
    the database does not hold (``hub.audit.anchors``)."""

    __tablename__ = "audit_anchors"
    __table_args__ = (Index("ix_audit_anchors_key_id_seq", "key_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(TOKEN_HASH_LENGTH))
    ts: Mapped[datetime] = mapped_column(UTCDateTime())
    key_id: Mapped[str] = mapped_column(String(16))
    """Which key signed it (a hash of the key, not the key)."""
    mac: Mapped[str] = mapped_column(String(TOKEN_HASH_LENGTH))


class UserRow(Base):
    """A person who signs in: an operator, a responder or an admin."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(ID_LENGTH), unique=True)
    display_name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    role: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    sites: Mapped[list[str] | None] = mapped_column(JSON)
    """The sites the user may see; NULL means every site."""
    password_hash: Mapped[str] = mapped_column(String(PASSWORD_HASH_LENGTH))
    """``scrypt$N$r$p$salt$hash`` (see ``hub.auth.rules``); the password itself is never stored."""
    disabled: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TokenRow(Base):
    """A bearer token: a user's sign-in session, or an API token for a script or an edge."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(TOKEN_HASH_LENGTH), unique=True)
    """Hex SHA-256 of the token; the token itself is never stored."""
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    kind: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    """A session's user (it acts as that user); an API token's issuer, the admin whose
    account issued it (it acts under its own name, while the issuer could still issue it:
    ``hub.auth.repository``); NULL for an API token that stands on its own."""
    role: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    sites: Mapped[list[str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    issued_with: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """An API token issued with another API token: that token's id (revoking it revokes this
    one); NULL otherwise (migration 0032)."""


class ReadingHistoryRow(Base):
    """Readings of one device at one instant, kept for the console (pruned by age).

    The key (device, event time) makes a re-sent batch harmless and is the index the console's
    "readings around this case" query walks. No foreign key to ``devices``: readings of a device
    registered later are kept, and pruning never has to look elsewhere.
    """

    __tablename__ = "reading_history"

    device_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True, index=True)
    edge_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    readings: Mapped[dict[str, float | bool]] = mapped_column(JSON)
