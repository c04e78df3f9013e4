"""The door access tables: sites, doors, schedules, groups, people, credentials, the
versioned allow-list items each edge is sent, and the access log.

Kept apart from ``hub.persistence.tables`` so that neither module grows past ~600 lines;
``hub.persistence.schema`` puts them on one metadata with the others for the migrations and
their test.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.persistence.tables import (
    ENUM_LENGTH,
    ID_LENGTH,
    NAME_LENGTH,
    TOKEN_HASH_LENGTH,
    Base,
    UTCDateTime,
)


class AccessSiteRow(Base):
    """A site's door access: its edge, time zone, credential hash key and allow-list version."""

    __tablename__ = "access_sites"

    edge_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    timezone: Mapped[str] = mapped_column(String(ID_LENGTH))
    hash_key: Mapped[str] = mapped_column(String(TOKEN_HASH_LENGTH))
    """Hex HMAC key of the site's credential hashes; sent only to the site's edge."""
    version: Mapped[int] = mapped_column(Integer)
    """The newest allow-list version of the site's edge (``access_sync_items.version``)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AccessDoorRow(Base):
    """A door of a site, with its readers, contact and timers (``devices.access.DoorConfig``)."""

    __tablename__ = "access_doors"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    edge_id: Mapped[str] = mapped_column(ForeignKey("access_sites.edge_id"), index=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)


class AccessScheduleRow(Base):
    """Named weekly time windows (``devices.access.TimeWindow``), e.g. weekdays 07:00-19:00."""

    __tablename__ = "access_schedules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    windows: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


class AccessGroupRow(Base):
    """People who may open some doors of a site, always or on a schedule."""

    __tablename__ = "access_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    edge_id: Mapped[str] = mapped_column(ForeignKey("access_sites.edge_id"), index=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    door_ids: Mapped[list[str]] = mapped_column(JSON)
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("access_schedules.id"))


class AccessPersonRow(Base):
    """A resident or member of staff of a site, possibly of a household."""

    __tablename__ = "access_people"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    edge_id: Mapped[str] = mapped_column(ForeignKey("access_sites.edge_id"), index=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"), index=True)
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AccessMembershipRow(Base):
    """A person in a group."""

    __tablename__ = "access_memberships"

    person_id: Mapped[int] = mapped_column(ForeignKey("access_people.id"), primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("access_groups.id"), primary_key=True, index=True
    )


class AccessCredentialRow(Base):
    """A card or PIN, known only by its keyed hash (``devices.access.credential_hash``)."""

    __tablename__ = "access_credentials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("access_people.id"), index=True)
    kind: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    hash: Mapped[str] = mapped_column(String(TOKEN_HASH_LENGTH), unique=True)
    label: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AccessSyncItemRow(Base):
    """One versioned allow-list item of an edge, as last sent; no body: deleted (tombstone)."""

    __tablename__ = "access_sync_items"

    edge_id: Mapped[str] = mapped_column(ForeignKey("access_sites.edge_id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(2 * ID_LENGTH), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, index=True)
    body: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    """SQL NULL, not JSON null, for a tombstone, so that snapshots can leave them out."""


class AccessEventRow(Base):
    """One access log record from an edge: a decision or a door event."""

    __tablename__ = "access_events"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    edge_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    door_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    kind: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    ts: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    reader_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    credential_id: Mapped[int | None] = mapped_column(Integer)
    person_id: Mapped[int | None] = mapped_column(Integer, index=True)
    reason: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    fingerprint: Mapped[str | None] = mapped_column(String(TOKEN_HASH_LENGTH))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
