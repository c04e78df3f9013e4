"""Registered devices: what a device is, where it is, and which edge serves it."""

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

from devices.kinds import DeviceKind
from devices.location import LocationText

_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_identifier(value: str) -> str:
    """Return ``value`` if it can be a device or edge id (safe as one MQTT topic level)."""
    if not _ID_PATTERN.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid id: 1-64 characters of letters, digits, '.', '_', '-', "
            "starting with a letter or digit"
        )
    return value


Identifier = Annotated[str, AfterValidator(check_identifier)]
"""A device or edge id: one MQTT topic level, no wildcards, no separators."""


class Device(BaseModel):
    """A device registered at a site.

    ``zigbee_name`` is the Zigbee2MQTT friendly name when the device reaches the edge through
    Zigbee2MQTT (``zigbee2mqtt/<friendly_name>``); native devices leave it empty.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Identifier
    kind: DeviceKind
    location: LocationText
    edge_id: Identifier | None = None
    zigbee_name: str | None = None
