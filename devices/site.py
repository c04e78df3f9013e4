"""The site file: one community's devices as one edge serves them (TOML).

Example::

    [site]
    name = "Sample Courtyard"
    edge_id = "edge-courtyard"

    [[devices]]
    id = "b3-f12-1201-smoke"
    kind = "smoke"
    location = "Building 3/Floor 12/Unit 1201"

    [[devices]]
    id = "b3-f12-1201-sos"
    kind = "sos_button"
    location = "Building 3/Floor 12/Unit 1201"
    zigbee_name = "b3 1201 sos"        # reached through Zigbee2MQTT under this friendly name

    [[devices]]
    id = "bike-basement-leak"
    kind = "water_leak"
    location = "Building 3/Basement"
    shelly_id = "shellyflood-445566"   # a Shelly (or tasmota_topic = "<topic>" for Tasmota)
"""

import tomllib
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, model_validator

from devices.camera import CameraConfig
from devices.detection_config import SiteDetection
from devices.registry import BRIDGE_FIELDS, Device, Identifier


class SiteInfo(BaseModel):
    """Who the site is and which edge serves it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    edge_id: Identifier


class SiteFile(BaseModel):
    """A parsed site file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    site: SiteInfo
    devices: list[Device] = []
    cameras: list[CameraConfig] = []
    """Camera analytics per camera device (``devices.camera``)."""
    detection: SiteDetection = SiteDetection()
    """Detector settings of the site and of single devices (``devices.detection_config``)."""

    @model_validator(mode="after")
    def _unique_devices(self) -> Self:
        ids = [d.id for d in self.devices]
        if len(ids) != len(set(ids)):
            raise ValueError("device ids in a site file must be unique")
        for field in BRIDGE_FIELDS:
            names = [getattr(d, field) for d in self.devices if getattr(d, field)]
            if len(names) != len(set(names)):
                raise ValueError(f"{field} values in a site file must be unique")
        return self

    @classmethod
    def load(cls, path: Path) -> "SiteFile":
        """Read and validate a site file."""
        with path.open("rb") as f:
            return cls.model_validate(tomllib.load(f))

    def with_edge(self) -> list[Device]:
        """Return the devices, each stamped with this site's edge id."""
        return [d.model_copy(update={"edge_id": self.site.edge_id}) for d in self.devices]
