"""Door access on the wire: reader frames, reader commands, the allow-list sync, the access log.

Where each travels (see ``devices.topics``)::

    linli/dev/<reader_id>/credential   reader → edge   CredentialFrame (a card or PIN presented)
    linli/dev/<reader_id>/set          edge → reader   ReaderCommand (unlock, deny, warn)
    linli/edge/<edge_id>/access_sync   edge → hub      AccessSyncRequest ("I have version n")
    linli/edge/<edge_id>/access_list   hub → edge      AccessListUpdate (changes after a version,
                                                       in chunks of at most CHUNK_BYTES)
    linli/edge/<edge_id>/access_log    edge → hub      AccessLogBatch (decisions, door events)
    linli/edge/<edge_id>/access_ack    hub → edge      AccessLogAck (records committed)

Secrets: an edge decides offline, so it must match a presented card without the hub. The hub
never stores or sends a card number or PIN: it sends, per site, a random key and the keyed
hash ``HMAC-SHA256(key, "<kind>:<value>")`` of every credential (``credential_hash``). The
edge hashes what a reader presents with the same key and looks the hash up. A log record names
the credential by its hub id, or, for an unknown one, by a short prefix of that keyed hash.

Like ``devices.messages`` these are versioned (``v``) and ignore unknown fields, except the
reader frame, which is device input and strict about the fields it reads.
"""

import hmac
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

from devices.messages import AlertId, WireModel
from devices.payloads import EventTime
from devices.registry import Identifier

HASH_HEX_LENGTH = 64
FINGERPRINT_LENGTH = 12
"""Hex characters of a keyed hash kept in the log for an unknown credential: enough to see
the same card tried again, far too few to recover anything."""

HashHex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class CredentialKind(StrEnum):
    """What a person presents at a reader."""

    CARD = "card"
    PIN = "pin"


CARD_PATTERN = r"^[0-9A-Za-z]{1,64}$"
PIN_PATTERN = r"^[0-9]{4,12}$"


def normalise_credential(kind: CredentialKind, value: str) -> str:
    """Return the canonical text of a credential (card numbers are case-insensitive hex)."""
    value = value.strip()
    return value.upper() if kind is CredentialKind.CARD else value


def credential_hash(key: bytes, kind: CredentialKind, value: str) -> str:
    """Return the keyed hash (hex) by which hub and edge know a credential."""
    message = f"{kind}:{normalise_credential(kind, value)}".encode()
    # The one-shot digest: the same HMAC as hmac.new(...).hexdigest(), without building an
    # HMAC object (two hash objects) per presented card.
    return hmac.digest(key, message, "sha256").hex()


# --- reader → edge -------------------------------------------------------------------------


class CredentialFrame(BaseModel):
    """A card or PIN presented at a reader, on ``linli/dev/<reader_id>/credential``.

    Exactly one of ``card`` and ``pin``. Strict types: ``{"card": 1234}`` is refused, not
    guessed at. The value is secret: never log a frame.
    """

    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)

    card: Annotated[str | None, Field(strict=True, pattern=CARD_PATTERN, repr=False)] = None
    pin: Annotated[str | None, Field(strict=True, pattern=PIN_PATTERN, repr=False)] = None
    ts: EventTime | None = None

    @model_validator(mode="after")
    def _one_credential(self) -> Self:
        if (self.card is None) == (self.pin is None):
            raise ValueError("a credential frame carries exactly one of 'card' and 'pin'")
        return self

    @property
    def kind(self) -> CredentialKind:
        """Return whether a card or a PIN was presented."""
        return CredentialKind.CARD if self.card is not None else CredentialKind.PIN

    @property
    def value(self) -> str:
        """Return the presented value (secret)."""
        value = self.card if self.card is not None else self.pin
        assert value is not None  # guaranteed by the validator
        return value


# --- edge → reader -------------------------------------------------------------------------


class ReaderAction(StrEnum):
    """What the edge tells a door controller to do."""

    UNLOCK = "unlock"
    DENY = "deny"
    WARN = "warn"
    """The door has been open long: sound the local buzzer before the alarm goes out."""


class ReaderCommand(BaseModel):
    """A command on ``linli/dev/<reader_id>/set``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    command: ReaderAction
    door_id: Identifier
    duration_s: float | None = None
    """For ``unlock``: how long the strike stays released."""
    decision_id: str | None = None


# --- configuration carried by the allow-list ------------------------------------------------


class TimeWindow(BaseModel):
    """Local wall-clock times on some weekdays, e.g. 07:00-19:00 Monday to Friday.

    ``days`` are ISO weekdays (1 = Monday). ``end`` at or before ``start`` means the window
    runs past midnight into the next day (22:00-06:00), and belongs to the day it starts on;
    ``start == end`` is 24 hours from ``start`` (00:00-00:00: the whole day).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: Annotated[frozenset[Annotated[int, Field(ge=1, le=7)]], Field(min_length=1)]
    start: time
    end: time

    @model_validator(mode="after")
    def _naive_minutes(self) -> Self:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("window times are local wall-clock times, without an offset")
        return self

    def contains(self, local: datetime) -> bool:
        """Return whether the local wall-clock time ``local`` falls in this window."""
        clock = local.time().replace(tzinfo=None)
        today = local.isoweekday()
        if self.start < self.end:
            return today in self.days and self.start <= clock < self.end
        yesterday = (local - timedelta(days=1)).isoweekday()
        return (today in self.days and clock >= self.start) or (
            yesterday in self.days and clock < self.end
        )


class AccessRule(BaseModel):
    """Doors a credential opens, at which times (no windows: at any time)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    doors: frozenset[Identifier]
    windows: tuple[TimeWindow, ...] = ()


class EntryStatus(StrEnum):
    """Whether a credential may be used at all."""

    ACTIVE = "active"
    REVOKED = "revoked"


class AllowEntry(BaseModel):
    """One credential as an edge knows it: keyed hash, owner, validity, rules."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: Literal["credential"] = "credential"
    credential_id: int
    person_id: int
    kind: CredentialKind
    hash: HashHex
    status: EntryStatus = EntryStatus.ACTIVE
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None
    rules: tuple[AccessRule, ...] = ()


class DoorConfig(BaseModel):
    """A door an edge controls: its reader(s), its contact, its timers."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: Literal["door"] = "door"
    id: Identifier
    name: str = ""
    reader_id: Identifier
    """The entry reader; its ``set`` topic receives the unlock command."""
    exit_reader_id: Identifier | None = None
    contact_id: Identifier | None = None
    """The door contact; without one the door is not monitored (no forced / held-open)."""
    unlock_s: Annotated[float, Field(gt=0, le=60)] = 5.0
    held_open_s: Annotated[float, Field(gt=0, le=3600)] = 30.0
    prewarn_s: Annotated[float, Field(gt=0, le=3600)] = 20.0
    """Open this long: the reader buzzes (local pre-warning); ``held_open_s``: the alarm."""
    forced_debounce_s: Annotated[float, Field(ge=0, le=10)] = 1.0
    anti_passback: bool = False
    burst_count: Annotated[int, Field(ge=2, le=1000)] = 5
    burst_window_s: Annotated[float, Field(gt=0, le=3600)] = 60.0

    @model_validator(mode="after")
    def _prewarn_first(self) -> Self:
        if self.prewarn_s >= self.held_open_s:
            raise ValueError("prewarn_s must be shorter than held_open_s")
        return self


class SiteAccess(BaseModel):
    """A site's time zone and the key of its credential hashes (secret: never logged)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: Literal["site"] = "site"
    timezone: str
    hash_key: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", repr=False)]


AccessBody = Annotated[SiteAccess | DoorConfig | AllowEntry, Field(discriminator="type")]

SITE_KEY = "site"


def door_key(door_id: str) -> str:
    """Return the sync key of a door."""
    return f"door:{door_id}"


def credential_key(credential_id: int) -> str:
    """Return the sync key of a credential."""
    return f"cred:{credential_id}"


class AccessItem(BaseModel):
    """One versioned entry of an edge's allow-list; no body means it was deleted."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    key: Annotated[str, Field(min_length=1, max_length=80)]
    version: Annotated[int, Field(ge=1)]
    body: AccessBody | None = None


# --- hub ↔ edge ------------------------------------------------------------------------------


class AccessSyncRequest(WireModel):
    """The edge asks for every change after the version it holds (0: everything)."""

    edge_id: Identifier
    have_version: Annotated[int, Field(ge=0)]


ACCESS_LIST_FORMAT = 2
"""Format (``v``) of ``AccessListUpdate``. 1: one message per update. 2: an update may come in
``parts`` chunks (``part`` 0..parts-1), each a valid message carrying some of the items; the
edge applies the update only once it holds every part. An edge refuses a format above the one
it knows (it would mistake a chunk for a whole update)."""

CHUNK_BYTES = 256 * 1024
"""Largest serialised ``AccessListUpdate`` the hub sends: well under the site broker's
``max_packet_size`` of 1 MiB (deploy/mosquitto.conf), which disconnects a client that sends
more. A snapshot of 10,000 credentials (~2.8 MB) goes as about a dozen chunks."""

_ENVELOPE_MARGIN = 64
"""Bytes reserved for the digits of ``part`` and ``parts`` when sizing a chunk's envelope."""


class AccessListUpdate(WireModel):
    """Changes to an edge's allow-list that take it from ``from_version`` to ``to_version``.

    ``full``: a snapshot; the edge drops every item not in it. Otherwise the edge applies the
    items only if it holds exactly ``from_version``, and asks for a catch-up if not.
    ``part``/``parts``: this message is chunk ``part`` of ``parts`` of the update (see
    ``ACCESS_LIST_FORMAT``); every chunk repeats the versions and ``full``.
    """

    v: int = ACCESS_LIST_FORMAT
    edge_id: Identifier
    from_version: Annotated[int, Field(ge=0)]
    to_version: Annotated[int, Field(ge=0)]
    full: bool = False
    part: Annotated[int, Field(ge=0)] = 0
    parts: Annotated[int, Field(ge=1, le=100_000)] = 1
    items: list[AccessItem] = Field(default_factory=list)

    @model_validator(mode="after")
    def _part_of_parts(self) -> Self:
        if self.part >= self.parts:
            raise ValueError("part must be below parts")
        return self

    @property
    def chunk_set(self) -> tuple[int, int, bool, int]:
        """Return what the chunks of one update share: versions, ``full`` and ``parts``."""
        return (self.from_version, self.to_version, self.full, self.parts)


def split_update(update: AccessListUpdate, max_bytes: int = CHUNK_BYTES) -> list[AccessListUpdate]:
    """Split an update into chunks whose JSON each stays within ``max_bytes``.

    Items keep their order; an update that fits goes as one message. An item too big for a
    chunk on its own (not seen in practice: a credential is ~280 bytes) travels alone.
    """
    envelope = len(update.model_copy(update={"items": []}).model_dump_json()) + _ENVELOPE_MARGIN
    groups: list[list[AccessItem]] = [[]]
    size = envelope
    for item in update.items:
        length = len(item.model_dump_json()) + 1  # the comma between items
        if groups[-1] and size + length > max_bytes:
            groups.append([])
            size = envelope
        groups[-1].append(item)
        size += length
    return [
        update.model_copy(update={"items": items, "part": index, "parts": len(groups)})
        for index, items in enumerate(groups)
    ]


def join_parts(parts: Sequence[AccessListUpdate]) -> AccessListUpdate:
    """Return the whole update that the chunks ``parts`` (all of one update, any order) make."""
    ordered = sorted(parts, key=lambda p: p.part)
    if not ordered or [p.part for p in ordered] != list(range(ordered[0].parts)):
        raise ValueError("the chunks of an update must be complete to be joined")
    if len({p.chunk_set for p in ordered}) != 1 or len({p.edge_id for p in ordered}) != 1:
        raise ValueError("chunks of different updates cannot be joined")
    items = [item for p in ordered for item in p.items]
    return ordered[0].model_copy(update={"items": items, "part": 0, "parts": 1})


class AccessEventKind(StrEnum):
    """What an access log record is about."""

    GRANTED = "granted"
    DENIED = "denied"
    DOOR_OPENED = "door_opened"
    DOOR_CLOSED = "door_closed"
    DOOR_FORCED = "door_forced"
    HELD_OPEN_WARNING = "held_open_warning"
    DOOR_HELD_OPEN = "door_held_open"
    DENIED_BURST = "denied_burst"


class AccessRecord(BaseModel):
    """One line of the access log: a decision or a door event, with its own id."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: AlertId
    edge_id: Identifier
    door_id: Identifier
    kind: AccessEventKind
    ts: AwareDatetime
    """When the edge decided or saw the event, by the edge's clock."""
    reader_id: Identifier | None = None
    credential_id: int | None = None
    person_id: int | None = None
    reason: Annotated[str, Field(max_length=64)] | None = None
    fingerprint: Annotated[str, Field(pattern=r"^[0-9a-f]{1,64}$")] | None = None


class AccessLogBatch(WireModel):
    """Access log records an edge forwards (QoS 1, re-sent until acknowledged)."""

    edge_id: Identifier
    records: list[AccessRecord]


class AccessLogAck(WireModel):
    """The hub has committed these access log records."""

    ids: list[AlertId]
