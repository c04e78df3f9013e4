"""A site's Zigbee networks as devices: the id, place and registration of each bridge.

Zigbee2MQTT (and the coordinator it drives) is the one way the edge hears every Zigbee2MQTT
device of a site; a Tasmota Zigbee bridge (Sonoff ZBBridge, Zigbee2Tasmota) is the one way it
hears the devices registered behind it (``tasmota_topic = "<bridge topic>/<name>"``). When a
bridge goes offline (its last will: ``<base>/bridge/state``, ``tele/<topic>/LWT``), every
smoke detector, CO detector and SOS button behind it is deaf at once: one alert about the
network says so (``edge.zigbee_bridge``), rather than one ``device_offline`` per device hours
later.

That alert is a ``bridge_offline`` about a device of kind ``zigbee_bridge`` that the edge
lists in its inventory once it has heard the bridge; its id and place are part of the contract
(docs/contract.md §3), so the hub can also register it from the alert alone
(``hub.fleet.rules.adopted_device``) when it missed the inventory.
"""

import hashlib
import re

from devices.kinds import DeviceKind
from devices.location import MAX_LENGTH, SEPARATOR
from devices.registry import Device

BRIDGE_ID_SUFFIX = ".zigbee-bridge"
"""Zigbee2MQTT's bridge's id is its edge's id with this after it: one per edge, apart from
every other edge's, and not a discovered device's (``<edge>.zigbee.<name>.<digest>``)."""

TASMOTA_BRIDGE_PART = ".tasmota-bridge."
"""A Tasmota Zigbee bridge's id: ``<edge>.tasmota-bridge.<topic>.<digest>``."""

PLACE = "Zigbee network of edge {edge_id}"
"""A bridge's location: the whole Zigbee network, not a room (a Tasmota bridge's: its topic
after it, ``Zigbee network of edge <edge>/Tasmota <topic>``)."""

_ID_LENGTH = 64
_NOT_IN_ID = re.compile(r"[^A-Za-z0-9._-]+")


def bridge_id(edge_id: str, tasmota_topic: str | None = None) -> str:
    """Return the id of edge ``edge_id``'s Zigbee2MQTT bridge, or of its Tasmota Zigbee bridge
    of topic ``tasmota_topic`` (an edge id too long to take the suffix is cut and told apart
    by a digest)."""
    if tasmota_topic is not None:
        return _tasmota_bridge_id(edge_id, tasmota_topic)
    whole = f"{edge_id}{BRIDGE_ID_SUFFIX}"
    if len(whole) <= _ID_LENGTH:
        return whole
    digest = hashlib.sha256(edge_id.encode()).hexdigest()[:10]
    head = edge_id[: _ID_LENGTH - len(BRIDGE_ID_SUFFIX) - len(digest) - 1].rstrip("._-")
    return f"{head}.{digest}{BRIDGE_ID_SUFFIX}"


def _tasmota_head(edge_id: str) -> str:
    return f"{edge_id[:24]}{TASMOTA_BRIDGE_PART}"


def _tasmota_bridge_id(edge_id: str, topic: str) -> str:
    digest = hashlib.sha256(f"{edge_id}\0{topic}".encode()).hexdigest()[:10]
    name = _NOT_IN_ID.sub("_", topic).strip("._-") or "bridge"
    head = _tasmota_head(edge_id)
    room = _ID_LENGTH - len(head) - len(digest) - 1
    return f"{head}{name[:room]}.{digest}"


def is_bridge_id(device_id: str, edge_id: str) -> bool:
    """Return whether ``device_id`` is the id of one of edge ``edge_id``'s Zigbee bridges."""
    return device_id == bridge_id(edge_id) or device_id.startswith(_tasmota_head(edge_id))


def bridge_device(edge_id: str, tasmota_topic: str | None = None) -> Device:
    """Return the device that stands for one of edge ``edge_id``'s Zigbee networks: its
    Zigbee2MQTT's, or (``tasmota_topic``) that of the Tasmota Zigbee bridge of that topic."""
    place = PLACE.format(edge_id=edge_id)
    if tasmota_topic is not None:
        place = f"{place}{SEPARATOR}Tasmota {tasmota_topic}"[:MAX_LENGTH].rstrip(" /")
    return Device(
        id=bridge_id(edge_id, tasmota_topic),
        kind=DeviceKind.ZIGBEE_BRIDGE,
        location=place,
        edge_id=edge_id,
    )
