"""Messages between an edge and the hub (see ``devices.topics`` for where each travels).

These cross a version boundary: edges in the field are upgraded later than the hub, and the
other way round. So unlike our configuration and API models they ignore unknown fields
(a newer peer may add some) instead of refusing the whole message — refusing would drop
an SOS over a field nobody needs. Every message carries a schema version ``v``.
"""

import logging
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from devices.kinds import AlertKind, AlertState, Severity
from devices.payloads import Readings
from devices.registry import Device, Identifier

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1

AlertId = Annotated[str, Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


DEVICES_NAMED = 3
"""Unreadable devices of one list named in the log, each; the rest are counted in one line."""


def _readable_devices(items: object) -> object:
    """Keep the devices of a registry or an inventory that this release can read.

    ``Device`` refuses unknown fields and kinds, and one device refused used to refuse the
    whole list: an edge older than the ``motion`` kind (2026-12-02) or than ``tasmota_topic``,
    ``shelly_id`` (2026-12-02) or ``temperature_unit`` (2026-12-05) refused a newer hub's
    whole registry, its SOS buttons with it, and after a restart knew none of them; a hub as
    old refused a newer edge's whole status. Now only the device it cannot read is left out
    (logged), as a device missing from a list is already handled: an edge keeps its site
    file's, a hub keeps what it registered.
    """
    if not isinstance(items, list):
        return items
    readable: list[Device] = []
    left_out = 0
    for item in items:
        try:
            readable.append(Device.model_validate(item))
        except ValidationError as exc:
            left_out += 1
            if left_out <= DEVICES_NAMED:
                named = item.get("id") if isinstance(item, dict) else None
                logger.warning("left out device %r that this release cannot read: %s", named, exc)
    if left_out > DEVICES_NAMED:
        # One line for the rest: a status of 87,000 (a stolen edge's) logged 87,000 warnings.
        logger.warning(
            "left out %d more devices that this release cannot read", left_out - DEVICES_NAMED
        )
    return readable


Devices = Annotated[list[Device], BeforeValidator(_readable_devices)]
"""A list of devices from a peer of another release: the unreadable ones left out."""


class WireModel(BaseModel):
    """Base of every edge↔hub message."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    v: int = SCHEMA_VERSION


class AlertReason(BaseModel):
    """Why an alert was raised or cleared: the rule, the values it saw, the profile applied."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    rule: str
    values: dict[str, float | bool | str] = {}
    profile: str | None = None


class Alert(WireModel):
    """One alert, with its own id so that every copy of it is recognised as the same alert."""

    id: AlertId
    edge_id: Identifier
    device_id: Identifier
    kind: AlertKind
    state: AlertState
    severity: Severity
    ts: AwareDatetime
    """Event time: when the triggering reading was taken (device time, else receive time)."""
    detected_at: AwareDatetime
    """When the edge decided, by the edge's clock."""
    location: str | None = None
    reason: AlertReason


class AlertBatch(WireModel):
    """Several alerts of one edge in one message, in the order the edge sends them.

    Sent on ``linli/edge/<edge_id>/alerts`` only to a hub whose ``HubStatus`` says it takes
    them (``alert_batch_max``); each alert is still acknowledged by its own id.
    """

    edge_id: Identifier
    alerts: list[Alert]


class TelemetryPoint(BaseModel):
    """The readings of one device at one moment."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    device_id: Identifier
    ts: AwareDatetime
    readings: Readings


class TelemetryBatch(WireModel):
    """Readings an edge forwards in bulk, best effort."""

    edge_id: Identifier
    points: list[TelemetryPoint]


class Checkin(BaseModel):
    """How long a device may stay silent before its edge reports it offline, and why."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    deadline_s: float = Field(gt=0)
    source: Literal["default", "configured", "learned"]
    """The kind's default, a site's or device's ``checkin_s``, or learned from the device's
    own rhythm (``edge.detectors.liveness``)."""
    learned_interval_s: float | None = Field(default=None, gt=0)
    """With a learned deadline: the typical interval between the device's check-ins."""


class EdgeStatus(WireModel):
    """An edge's liveness, inventory and counters (retained; the last will says offline)."""

    edge_id: Identifier
    state: Literal["online", "offline"]
    ts: datetime | None = None
    outbox_depth: int = 0
    devices: Devices = []
    counters: dict[str, int] = {}
    checkins: dict[Identifier, Checkin] = {}
    """Each inventory device's check-in deadline as the edge applies it now (added in stop
    40; an older edge sends none)."""
    in_memory: list[Identifier] = []
    """The edge's stores that hold data in memory only, because its disk refused to write it
    (a full, read-only or failing SD card): ``outbox`` (alerts), ``access`` (door log, door
    states, allow-list). What they hold is lost at a power cut: replace the card. Empty when
    all is on disk (added in stop 48; an older edge sends none)."""
    heartbeat_s: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    """How often the edge sends its status (its ``heartbeat_s`` setting), so the hub judges its
    silence by its own rhythm (``hub.fleet.supervision``). None: not said (an edge before
    2026-12-07); the hub's ``edge_silent_after_s`` applies."""


class AlertAck(WireModel):
    """The hub has committed these alerts: the edge may delete them from its outbox."""

    ids: list[AlertId]


class DeviceRegistry(WireModel):
    """Every device the hub knows for one edge, sent whenever that set changes (retained)."""

    edge_id: Identifier
    devices: Devices


class HubStatus(WireModel):
    """The hub's liveness (retained; the last will says offline)."""

    state: Literal["online", "offline"]
    alert_batch_max: int = Field(default=0, ge=0)
    """The most alerts an edge may put in one ``AlertBatch``; 0 (a hub older than batches, or
    one that wants none): one ``Alert`` per message."""
    alert_batch_bytes: int = Field(default=0, ge=0)
    """The largest ``AlertBatch`` payload the hub reads, in bytes."""


class FeedbackStage(StrEnum):
    """How far a resident's request has come, as the button's LED/buzzer and the page show it.

    ``received``: the edge has it (shown at once, even with the uplink down);
    ``case_opened``: the hub opened a case; ``acknowledged``: an operator acknowledged it or a
    responder accepted it ("someone is coming"); ``resolved``: it is over; ``cancelled``: the
    edge recorded the resident's cancel gesture (the case stays open for an operator);
    ``not_delivered``: the edge could not get the press to the hub in time (no ``AlertAck``
    within the edge's ``sos_not_delivered_after_s``): the resident should use the phone. Shown
    by the edge only, never sent by the hub (added 2026-12-07); the press stays in the outbox
    and is still delivered, and the hub's stages then show as usual.
    """

    RECEIVED = "received"
    CASE_OPENED = "case_opened"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"
    NOT_DELIVERED = "not_delivered"


class CaseFeedback(WireModel):
    """The hub tells an edge what became of a device's case, for the device's resident."""

    device_id: Identifier
    case_id: int
    stage: FeedbackStage
    version: int | None = None
    """The case's version when the hub read it (raised by every change of the case). Several
    hub workers publish from their own queues, so an older stage can arrive after a newer one:
    an edge shows no stage of a case older than one it heard already. None from hubs before
    2026-12-07 (shown as it comes)."""
