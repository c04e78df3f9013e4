"""The residents' tables: requests (点单) with photos, updates and ratings (评价); care.

Kept apart from ``hub.persistence.tables`` so that neither module grows past ~600 lines;
``hub.persistence.schema`` puts both on one metadata for the migrations and their test.
"""

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from hub.persistence.tables import (
    ENUM_LENGTH,
    ID_LENGTH,
    LOCATION_LENGTH,
    NAME_LENGTH,
    Base,
    UTCDateTime,
)

SHA256_LENGTH = 64


class RequestRow(Base):
    """A resident's request and the case it opened (``hub.requests``)."""

    __tablename__ = "requests"
    __table_args__ = (UniqueConstraint("source", "external_id", name="uq_requests_source"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    category: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    text: Mapped[str] = mapped_column(Text)
    place: Mapped[str | None] = mapped_column(String(LOCATION_LENGTH))
    """Where the problem is, if not in the home (a stairwell, the bike basement)."""
    preferred_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    preferred_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    visit_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """The visit the responder planned (the latest update that named one)."""
    source: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    external_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    """The sender's message id of a gateway request: a re-sent message is the same request."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    volunteers: Mapped[bool] = mapped_column(Boolean, server_default=false())
    """A resident volunteer may help (``hub.requests.rules.volunteers_welcome``)."""
    told_stage: Mapped[str | None] = mapped_column(String(ENUM_LENGTH))
    """The stage the household was last told through the messaging gateway
    (``hub.requests.stages``)."""


class RequestPhotoRow(Base):
    """A photo of a request: the resident's (``report``) or the responder's (``after``)."""

    __tablename__ = "request_photos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    phase: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    sha256: Mapped[str] = mapped_column(String(SHA256_LENGTH), index=True)
    thumbnail_sha256: Mapped[str] = mapped_column(String(SHA256_LENGTH), index=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    uploaded_by: Mapped[str | None] = mapped_column(String(ID_LENGTH))


class RequestUpdateRow(Base):
    """A responder's note to the household: what was done, or when they will come."""

    __tablename__ = "request_updates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    note: Mapped[str | None] = mapped_column(Text)
    visit_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RequestRatingRow(Base):
    """A household's rating (评价) of one resolution of its request; kept for statistics."""

    __tablename__ = "request_ratings"
    __table_args__ = (
        UniqueConstraint("request_id", "resolved_at", name="uq_request_ratings_request_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    fixed: Mapped[bool] = mapped_column(Boolean)
    resolved_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """The resolution rated: a reopened and again resolved request is rated again."""
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    responders: Mapped[list[str]] = mapped_column(JSON)


class ResponderRatingRow(Base):
    """A rating as it counts for one responder who was on the case's team."""

    __tablename__ = "responder_ratings"

    rating_id: Mapped[int] = mapped_column(ForeignKey("request_ratings.id"), primary_key=True)
    responder_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, index=True)
    score: Mapped[int] = mapped_column(Integer)
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime())


__all__ = [
    "RequestPhotoRow",
    "RequestRatingRow",
    "RequestRow",
    "RequestUpdateRow",
    "ResponderRatingRow",
]


class CareProfileRow(Base):
    """A household flagged for care (独居老人): consent, waking hours, away-until (``hub.care``)."""

    __tablename__ = "care_profiles"

    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    consent_by: Mapped[str] = mapped_column(String(NAME_LENGTH))
    """Who consented to being watched (the resident, or their guardian), as recorded."""
    consent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    consent_note: Mapped[str | None] = mapped_column(Text)
    quiet_minutes: Mapped[int] = mapped_column(Integer)
    """Waking minutes with no sign of life before a wellbeing check."""
    waking_from: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    waking_until: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    away_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    watched_since: Mapped[datetime] = mapped_column(UTCDateTime())
    alarm_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    """The latest wellbeing-check case: no second one while it is active."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str | None] = mapped_column(String(ID_LENGTH))


class CareContactRow(Base):
    """A family member or guardian of a care household: a notification target."""

    __tablename__ = "care_contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    relation: Mapped[str] = mapped_column(String(NAME_LENGTH))
    channel: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    target: Mapped[str] = mapped_column(Text)


class CareDeviceRow(Base):
    """A sensor in a care household's home that shows signs of life (motion, door contact)."""

    __tablename__ = "care_devices"

    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)


class NoticeRow(Base):
    """A notice (通知) to a site, a building or some households (``hub.notices``)."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    category: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    title: Mapped[str] = mapped_column(String(NAME_LENGTH))
    body: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(String(ENUM_LENGTH))
    site_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), index=True)
    building: Mapped[str | None] = mapped_column(String(LOCATION_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    created_by: Mapped[str | None] = mapped_column(String(ID_LENGTH))


class NoticeRecipientRow(Base):
    """A household a notice went to, and when it was first read there (the receipt)."""

    __tablename__ = "notice_recipients"

    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"), primary_key=True)
    household_id: Mapped[int] = mapped_column(
        ForeignKey("households.id"), primary_key=True, index=True
    )
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
