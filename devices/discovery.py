"""What the edge calls a detector it found on the site's Zigbee network unregistered
(``edge.discovery``): its id and its place, part of the contract (docs/contract.md §3), and how
anyone tells such a placeholder registration from a device placed where it really is.
"""

import hashlib
import re

from devices.location import MAX_LENGTH, SEPARATOR
from devices.registry import Device

PLACE = "Unregistered devices of edge {edge_id}"
"""The first part of a discovered device's location: one building-level place per edge, so
its unregistered fire detectors make one incident, apart from every other edge's."""

_NOT_IN_ID = re.compile(r"[^A-Za-z0-9._-]+")
_ID_LENGTH = 64


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


def is_placeholder(device: Device) -> bool:
    """Return whether ``device`` is registered at its discovered place: a detector nobody has
    placed where it really is yet (the hub shows it "not placed"; the edge lets any other
    registration of its Zigbee name win)."""
    return at_discovered_place(device.location, device.edge_id, device.zigbee_name)


def at_discovered_place(location: str, edge_id: str | None, zigbee_name: str | None) -> bool:
    """Return whether ``location`` is the place the edge ``edge_id`` gives the Zigbee device
    ``zigbee_name`` it found unregistered (``is_placeholder`` on a registration's values)."""
    return (
        edge_id is not None
        and zigbee_name is not None
        and location == discovered_location(edge_id, zigbee_name)
    )
