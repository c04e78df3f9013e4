"""What the hub shows of devices and edges."""

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, Field

from devices.kinds import DeviceKind
from devices.messages import Checkin
from devices.registry import Device
from hub.cases.rules import Resolution
from hub.fleet.claims import Provenance
from hub.http.views import View


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
