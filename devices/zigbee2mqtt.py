"""Zigbee2MQTT payloads, as devices really send them, mapped to Linli readings and events.

Quirks handled here, all seen in real messages (shared/realdata/payloads):

- ``contact: true`` means the door is CLOSED (kept as is: Linli uses the same convention);
- ``battery`` arrives as a number, a numeric string (``"80.00"``) or ``null``;
- SOS buttons send ``action: "emergency"`` and then ``null`` or ``""`` in later messages: only
  a non-empty action is an event;
- ``last_seen`` is epoch milliseconds or ISO 8601, depending on the bridge's settings;
- availability is plain ``online`` in old bridges and ``{"state": "online"}`` in new ones;
- a device that (re)joins (new battery, power back, re-pairing) is announced on
  ``bridge/event`` as ``device_announce``: some SOS buttons then send ``emergency`` by
  themselves (Koenkk/zigbee2mqtt#31727), so the edge wants to know.
"""

import logging
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from devices.errors import PayloadError
from devices.lenient import LenientNumber, LenientTime, clamp_percent
from devices.observations import DeviceEvent, Observation, StateUpdate
from devices.payloads import ButtonEvent, Readings

logger = logging.getLogger(__name__)

# Zigbee2MQTT action names (zigbee-herdsman-converters) mapped to Linli button events.
ACTION_EVENTS: dict[str, str] = {
    "emergency": ButtonEvent.PRESS,
    "sos": ButtonEvent.PRESS,
    "single": ButtonEvent.PRESS,
    "press": ButtonEvent.PRESS,
    "on": ButtonEvent.PRESS,
    "double": ButtonEvent.DOUBLE_PRESS,
    "long": ButtonEvent.LONG_PRESS,
    "hold": ButtonEvent.LONG_PRESS,
}


class ZigbeePayload(BaseModel):
    """The fields of a Zigbee2MQTT device message that Linli reads; the rest is ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    smoke: bool | None = None
    test: bool | None = None
    water_leak: bool | None = None
    contact: bool | None = None
    occupancy: bool | None = None
    tamper: bool | None = None
    gas: bool | None = None
    carbon_monoxide: bool | None = None
    battery_low: bool | None = None
    smoke_density_dbm: LenientNumber = None
    battery: LenientNumber = None
    temperature: LenientNumber = None
    humidity: LenientNumber = None
    action: str | None = None
    last_seen: LenientTime = None


def decode_zigbee_state(data: dict[str, Any]) -> tuple[Observation, ...]:
    """Map one Zigbee2MQTT device message to Linli observations."""
    try:
        z = ZigbeePayload.model_validate(data)
        readings = Readings(
            smoke=z.smoke,
            smoke_test=z.test,
            water_leak=z.water_leak,
            contact=z.contact,
            occupancy=z.occupancy,
            tamper=z.tamper,
            gas=z.gas,
            co_alarm=z.carbon_monoxide,
            battery_low=z.battery_low,
            battery_pct=clamp_percent(z.battery),
            temperature_c=z.temperature,
            humidity_pct=clamp_percent(z.humidity),
            smoke_density_db_per_m=(
                None if z.smoke_density_dbm is None else max(z.smoke_density_dbm, 0.0)
            ),
        )
    except ValidationError as exc:
        raise PayloadError(
            f"Zigbee2MQTT payload has wrong types: {exc.errors()[0]['msg']}"
        ) from exc
    observations: list[Observation] = []
    if readings.present():
        observations.append(StateUpdate(readings, z.last_seen))
    if z.action:
        event = ACTION_EVENTS.get(z.action)
        if event is None:
            logger.debug("ignoring Zigbee2MQTT action %r", z.action)
        else:
            observations.append(DeviceEvent(event, z.last_seen))
    return tuple(observations)


ANNOUNCE_TYPES = frozenset({"device_announce", "device_joined"})
"""``bridge/event`` types that say a device (re)joined the network."""


def decode_zigbee_announce(data: Any) -> str | None:
    """Return the friendly name a ``bridge/event`` announces (re)joining, else None."""
    if not isinstance(data, dict) or data.get("type") not in ANNOUNCE_TYPES:
        return None
    body = data.get("data")
    name = body.get("friendly_name") if isinstance(body, dict) else None
    return name if isinstance(name, str) and name else None


def decode_zigbee_availability(text: str, data: Any) -> bool:
    """Return whether a Zigbee2MQTT availability payload says online."""
    state = data.get("state") if isinstance(data, dict) else text.strip()
    if state not in ("online", "offline"):
        raise PayloadError(f"availability {text[:40]!r} is neither online nor offline")
    return state == "online"
