"""Detectors on the site's own Zigbee network that nobody has registered yet.

An installer pairs a smoke detector with the site's Zigbee2MQTT coordinator and has not
registered it yet (or never will: a replacement fitted in a hurry). Its messages reach the edge
through the bridge, whose identity the broker checks, and no stranger can pair a device
without the coordinator's permission to join. Refusing them as "not registered" would lose its
fire: the one failure this product must not have.

So a Zigbee2MQTT message from an unregistered device whose readings say what kind of detector
it is (smoke, CO, gas, water leak: the readings only those detectors send) is handled as a
device of its own (``discovered_device``), with an id and a place that say what it is
(``devices.discovery``: ``Unregistered devices of edge <edge>/<friendly name>``). The edge
remembers it (``edge.directory``, up to ``MAX_DISCOVERED``): its later messages are its own
whatever they carry (a battery report), it is supervised like any device of its kind (check-in
deadline, time-driven rules), and the edge's status lists it. The hub registers it from that
inventory, or from its first alarm if that comes first, at that place, and shows it "not
placed"; an operator then registers the detector where it really is, under the same friendly
name, and from then on the registration wins (the edge looks registered devices up first, and
a registration still at its discovered place yields the name to any other).

Not discovered: devices whose readings do not name a detector (a thermometer is not a heat
detector, a button may be a light switch), devices of Tasmota or Shelly (each of those needs an
identity of its own on the broker, so an unregistered one cannot publish at all), and native
Linli devices (likewise). An edge that restarts forgets what it found until the hub's registry
(which then names it) or the detector's next detector reading.
"""

from collections.abc import Iterable

from devices.discovery import discovered_id, discovered_location
from devices.kinds import DeviceKind
from devices.observations import DeviceAddress, Observation, StateUpdate, ZigbeeAddress
from devices.registry import Device

_DETECTOR_READINGS: tuple[tuple[DeviceKind, tuple[str, ...]], ...] = (
    (DeviceKind.SMOKE, ("smoke", "smoke_density_db_per_m")),
    (DeviceKind.CO, ("co_alarm", "co_ppm")),
    (DeviceKind.GAS, ("gas", "gas_lel_pct")),
    (DeviceKind.WATER_LEAK, ("water_leak",)),
)
"""The readings that say what kind of detector sent them, life safety first (a combined smoke
and CO detector is a smoke detector here; its CO readings are detected all the same)."""


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
