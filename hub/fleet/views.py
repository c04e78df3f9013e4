"""What the hub shows of devices and edges."""

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, Field

from devices.kinds import DeviceKind
from devices.registry import Device
from hub.cases.rules import Resolution
from hub.http.views import View


class DeviceView(View):
    """A registered device and what the hub last heard from it."""

    id: str
    kind: DeviceKind
    location: str
    edge_id: str | None
    zigbee_name: str | None
    created_at: AwareDatetime
    last_seen: AwareDatetime | None
    last_readings: dict[str, float | bool | str] | None
    case_resolutions: dict[Resolution, int] = Field(default_factory=dict)
    """How the cases this device took part in were resolved (issue 6)."""
    nuisance_rate: float | None = None
    """Share of its judged cases that were false or nuisance alarms; None before any."""

    def to_device(self) -> Device:
        """Return the registration alone, as sent to edges."""
        return Device(
            id=self.id,
            kind=self.kind,
            location=self.location,
            edge_id=self.edge_id,
            zigbee_name=self.zigbee_name,
        )


class EdgeView(View):
    """The last status an edge reported."""

    id: str
    state: Literal["online", "offline"]
    last_seen: datetime
    outbox_depth: int
    counters: dict[str, int]
