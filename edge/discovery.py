"""Detectors on the site's own Zigbee network that nobody has registered yet.

An installer pairs a smoke detector with the site's Zigbee2MQTT coordinator and has not
registered it yet (or never will: a replacement fitted in a hurry). Its messages reach the edge
through the bridge, whose identity the broker checks, and no stranger can pair a device
without the coordinator's permission to join. Refusing them as "not registered" would lose its
fire: the one failure this product must not have.

So a Zigbee2MQTT message from an unregistered device whose readings say what kind of detector
it is (smoke, CO, gas, water leak: the readings only those detectors send) is handled as a
device of its own (``discovered_device``): detected like any, its alerts raised with a place
that says what it is (``Unregistered devices of edge <edge>/<friendly name>``). The hub
registers it from its first fire, CO, gas or leak alert (``hub.fleet.rules.adopted_device``)
and opens the case; an operator then registers the detector where it really is, under the
same friendly name, and from then on the registration wins (the edge looks registered devices
up first).

Not discovered: devices whose readings do not name a detector (a thermometer is not a heat
detector, a button may be a light switch), devices of Tasmota or Shelly (each of those needs an
identity of its own on the broker, so an unregistered one cannot publish at all), and native
Linli devices (likewise). A discovered device is not part of the edge's inventory: no check-in
deadline, no feedback to it.
"""

import hashlib
import re
from collections.abc import Iterable

from devices.kinds import DeviceKind
from devices.location import MAX_LENGTH, SEPARATOR
from devices.observations import DeviceAddress, Observation, StateUpdate, ZigbeeAddress
from devices.registry import Device

PLACE = "Unregistered devices of edge {edge_id}"
"""The first part of a discovered device's location: one building-level place per edge, so
its unregistered fire detectors make one incident, apart from every other edge's."""

_DETECTOR_READINGS: tuple[tuple[DeviceKind, tuple[str, ...]], ...] = (
    (DeviceKind.SMOKE, ("smoke", "smoke_density_db_per_m")),
    (DeviceKind.CO, ("co_alarm", "co_ppm")),
    (DeviceKind.GAS, ("gas", "gas_lel_pct")),
    (DeviceKind.WATER_LEAK, ("water_leak",)),
)
"""The readings that say what kind of detector sent them, life safety first (a combined smoke
and CO detector is a smoke detector here; its CO readings are detected all the same)."""

_NOT_IN_ID = re.compile(r"[^A-Za-z0-9._-]+")
_ID_LENGTH = 64


def detector_kind(observations: Iterable[Observation]) -> DeviceKind | None:
    """Return the kind of detector whose readings ``observations`` carry, or None."""
    sent: set[str] = set()
    for observation in observations:
        if isinstance(observation, StateUpdate):
            sent.update(observation.readings.present())
    for kind, readings in _DETECTOR_READINGS:
        if sent.intersection(readings):
            return kind
    return None


def discovered_id(edge_id: str, friendly_name: str) -> str:
    """Return the id a discovered device goes by: the same for every message of the device,
    apart from every other edge's (two sites may both name a device ``smoke1``)."""
    digest = hashlib.sha256(f"{edge_id}\0{friendly_name}".encode()).hexdigest()[:10]
    name = _NOT_IN_ID.sub("_", friendly_name).strip("._-") or "device"
    head = f"{edge_id}.zigbee."
    room = _ID_LENGTH - len(head) - len(digest) - 1
    if room < 1:
        return f"{edge_id[: _ID_LENGTH - 19]}.zigbee.{digest}"
    return f"{head}{name[:room]}.{digest}"


def discovered_location(edge_id: str, friendly_name: str) -> str:
    """Return a discovered device's location: the edge's unregistered place, then the
    friendly name's parts (Zigbee2MQTT groups names with '/' too)."""
    parts = [part.strip() for part in friendly_name.split(SEPARATOR)]
    name = SEPARATOR.join(part for part in parts if part) or "unnamed"
    return f"{PLACE.format(edge_id=edge_id)}{SEPARATOR}{name}"[:MAX_LENGTH].rstrip(" /")


def discovered_device(
    edge_id: str, address: DeviceAddress, observations: Iterable[Observation]
) -> Device | None:
    """Return the device an unregistered sender is handled as, or None to refuse it (see the
    module's doc for which)."""
    if not isinstance(address, ZigbeeAddress):
        return None
    kind = detector_kind(observations)
    if kind is None:
        return None
    name = address.friendly_name
    return Device(
        id=discovered_id(edge_id, name),
        kind=kind,
        location=discovered_location(edge_id, name),
        edge_id=edge_id,
        zigbee_name=name,
    )
