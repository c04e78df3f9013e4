"""Registered devices: what a device is, where it is, and which edge serves it."""

import re
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

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

_LEVEL = r"[^/#+\s]+"
_TASMOTA_PATTERN = re.compile(rf"{_LEVEL}(/[^/#+]*[^/#+\s])?")


def check_tasmota_topic(value: str) -> str:
    """Return ``value`` if it can name a Tasmota device: ``<topic>`` or ``<topic>/<zigbee>``."""
    if not _TASMOTA_PATTERN.fullmatch(value) or len(value) > 128:
        raise ValueError(
            f"{value!r} is not a Tasmota topic: '<topic>' or '<bridge topic>/<zigbee name or "
            "0xSHORT>', no '#', '+' or spaces in the topic"
        )
    return value


TasmotaTopicName = Annotated[str, AfterValidator(check_tasmota_topic)]
"""How a device is reached through Tasmota (see ``Device``)."""

BRIDGE_FIELDS = ("zigbee_name", "tasmota_topic", "shelly_id")
"""The fields that say through which third-party firmware a device reaches its edge."""


def _is_none(value: object) -> bool:
    return value is None


class Device(BaseModel):
    """A device registered at a site.

    At most one of these says how a third-party device reaches the edge; native devices
    (``linli/dev/<id>/...``) leave them all empty:

    - ``zigbee_name``: its Zigbee2MQTT friendly name (``zigbee2mqtt/<friendly_name>``);
    - ``tasmota_topic``: its Tasmota ``%topic%`` (``tele/<topic>/SENSOR``), or for a Zigbee
      device behind a Tasmota Zigbee bridge ``<bridge topic>/<ZbName or 0xSHORT>``;
    - ``shelly_id``: its Shelly id (``shellies/<id>/...`` on Gen1, ``src`` on Gen2+).

    ``temperature_unit`` (``"C"`` when absent) is the unit of the bare temperatures a Shelly
    Gen1 publishes on ``sensor/temperature``: the unit set in the device's own settings, which
    nothing on MQTT says. A Gen1 H&T or Smoke set to °F publishes ``72`` for a 22 °C room;
    read as °C that is a heat alarm. Every other payload says its unit (Gen2+ ``tC``,
    Tasmota ``TempUnit``, Zigbee2MQTT and native devices °C), so the field is refused on any
    device without a ``shelly_id``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Identifier
    kind: DeviceKind
    location: LocationText
    edge_id: Identifier | None = None
    zigbee_name: str | None = None
    # The newer fields are left out when empty, so an edge or hub of an older release (which
    # forbids unknown fields) still reads registries and inventories.
    tasmota_topic: TasmotaTopicName | None = Field(None, exclude_if=_is_none)
    shelly_id: Identifier | None = Field(None, exclude_if=_is_none)
    temperature_unit: Literal["C", "F"] | None = Field(None, exclude_if=_is_none)

    @model_validator(mode="after")
    def _one_bridge(self) -> Self:
        named = [field for field in BRIDGE_FIELDS if getattr(self, field)]
        if len(named) > 1:
            raise ValueError(f"a device is reached one way only, not by {' and '.join(named)}")
        if self.temperature_unit is not None and self.shelly_id is None:
            raise ValueError(
                "temperature_unit is for a Shelly Gen1 (shelly_id) only: every other payload "
                "says its unit"
            )
        return self

    @property
    def fahrenheit(self) -> bool:
        """Whether the device's bare temperatures are in °F (``temperature_unit``)."""
        return self.temperature_unit == "F"
