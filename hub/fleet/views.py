"""What the hub shows of devices and edges."""

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BeforeValidator, Field

from devices.kinds import DeviceKind
from devices.messages import Checkin
from devices.registry import Device
from hub.cases.rules import Resolution, nuisance_rate
from hub.fleet.claims import Provenance
from hub.fleet.rules import unserved_reason
from hub.http.views import View
from hub.persistence.tables import DeviceRow, EdgeRow


class DeviceView(View):
    """A registered device and what the hub last heard from it."""

    id: str
    kind: DeviceKind
    location: str
    edge_id: str | None
    zigbee_name: str | None
    tasmota_topic: str | None = None
    shelly_id: str | None = None
    temperature_unit: Literal["C", "F"] | None = None
    """The unit of a Shelly Gen1's bare temperatures (None: °C)."""
    registered_by: Provenance | None = None
    """Who registered it to its edge: an operator (vouched), an edge's inventory (trusted on
    first use; another edge's claim on it is taken, as contested) or the hub from an edge's
    alert about it (as an inventory, until one lists it); None: before this was recorded,
    read as an inventory (``hub.fleet.claims``)."""
    created_at: AwareDatetime
    last_seen: AwareDatetime | None
    last_readings: dict[str, float | bool | str] | None
    case_resolutions: dict[Resolution, int] = Field(default_factory=dict)
    """How the cases this device took part in were resolved (issue 6)."""
    nuisance_rate: float | None = None
    """Share of its judged cases that were false or nuisance alarms; None before any."""
    unserved_reason: str | None = None
    """Why no edge serves the device (none assigned, or its edge never reported); None if
    one does. A device no edge serves is never heard."""
    checkin: Checkin | None = None
    """How long it may stay silent before its edge reports it offline, and why (the kind's
    default, configured, or learned from its own rhythm), as its edge's last online status
    said; None before its edge said (an edge older than stop 40 never does)."""
    retired_at: AwareDatetime | None = None
    """When an operator took it out of service (``DELETE /api/v1/devices/{id}``); None: in
    service. A retired device is left out of the lists and its edge's registry; its history
    stays."""
    retired_by: str | None = None
    retired_reason: str | None = None

    def to_device(self) -> Device:
        """Return the registration alone, as sent to edges."""
        return Device(
            id=self.id,
            kind=self.kind,
            location=self.location,
            edge_id=self.edge_id,
            zigbee_name=self.zigbee_name,
            tasmota_topic=self.tasmota_topic,
            shelly_id=self.shelly_id,
            temperature_unit=self.temperature_unit,
        )


class EdgeView(View):
    """The last status an edge reported."""

    id: str
    state: Literal["online", "offline"]
    last_seen: datetime
    outbox_depth: int
    counters: dict[str, int]
    revoked_at: datetime | None = None
    """When ``linli broker revoke`` cleared its retained status (it is offline since, and its
    statuses are ignored until it is issued again); None: not revoked."""
    in_memory: Annotated[list[str], BeforeValidator(lambda stored: stored or [])] = Field(
        default_factory=list
    )
    """Its stores holding data in memory only because its disk refused them (``outbox``,
    ``access``), as its last online status said: lost at a power cut, replace the card."""
    heartbeat_s: float | None = None
    """How often it says it sends its status (``EdgeStatus.heartbeat_s``), by which the hub
    judges it lost (``hub.fleet.supervision.EdgeRhythm``); None: it does not say (an older
    edge: the hub's ``edge_silent_after_s``). Since 2026-12-07."""


def device_view(
    row: DeviceRow,
    resolutions: dict[Resolution, int] | None = None,
    reported: Mapping[str, Mapping[str, Any]] | None = None,
) -> DeviceView:
    """Return what the API shows of a device, with how its cases were resolved.

    With ``reported`` (``reported_checkins``: the edges that have reported, with the check-in
    deadlines each gave), it also says why no edge serves it and its current deadline.
    """
    judged = resolutions or {}
    by_edge = {} if reported is None or row.edge_id is None else reported.get(row.edge_id, {})
    checkin = by_edge.get(row.id)
    return DeviceView(
        id=row.id,
        kind=DeviceKind(row.kind),
        location=row.location,
        edge_id=row.edge_id,
        zigbee_name=row.zigbee_name,
        tasmota_topic=row.tasmota_topic,
        shelly_id=row.shelly_id,
        temperature_unit="F"
        if row.temperature_unit == "F"
        else "C"
        if row.temperature_unit
        else None,
        registered_by=None if row.registered_by is None else Provenance(row.registered_by),
        created_at=row.created_at,
        last_seen=row.last_seen,
        last_readings=row.last_readings,
        case_resolutions=judged,
        nuisance_rate=nuisance_rate(judged),
        unserved_reason=None
        if reported is None
        else unserved_reason(row.edge_id, frozenset(reported)),
        checkin=None if checkin is None else Checkin.model_validate(checkin),
        retired_at=row.retired_at,
        retired_by=row.retired_by,
        retired_reason=row.retired_reason,
    )


def edge_view(row: EdgeRow) -> EdgeView:
    """Return what the API shows of an edge."""
    return EdgeView.model_validate(row, from_attributes=True)
