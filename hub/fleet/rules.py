"""Which edge serves a device: the pure decisions behind registrations and device listings."""

from collections.abc import Collection, Mapping

from pydantic import ValidationError

from devices.kinds import AlertKind, DeviceKind
from devices.messages import Alert
from devices.registry import Device
from devices.zigbee_network import is_bridge_id
from hub.errors import InvalidInputError

_RAISED_BY: Mapping[AlertKind, DeviceKind] = {
    AlertKind.SMOKE: DeviceKind.SMOKE,
    AlertKind.CO: DeviceKind.CO,
    AlertKind.HEAT: DeviceKind.HEAT,
    AlertKind.GAS: DeviceKind.GAS,
    AlertKind.WATER_LEAK: DeviceKind.WATER_LEAK,
    AlertKind.SOS: DeviceKind.SOS_BUTTON,
    **{kind: DeviceKind.CAMERA for kind in AlertKind if kind.value.startswith("camera_")},
    # An edge's Zigbee network (``devices.zigbee_network``), listed by the edge itself.
    AlertKind.BRIDGE_OFFLINE: DeviceKind.ZIGBEE_BRIDGE,
}
"""The kind of device that raises each alert kind (a battery, a door or a fault alert does not
say what raised it). A combined detector (smoke and heat, smoke and CO) may be registered as
the other kind until its edge's next inventory corrects it; the case does not depend on it."""


class EdgeChoiceError(InvalidInputError):
    """A registration without ``edge_id`` that the hub cannot place on one edge."""

    def __init__(self, message: str, edges: list[str]) -> None:
        super().__init__(message)
        self.edges = edges


def assign_edge(
    requested: str | None, current: str | None, edges: Collection[str], *, given: bool
) -> str | None:
    """Return the edge a registration goes to, or raise ``EdgeChoiceError``.

    An ``edge_id`` given wins, ``null`` included: a device on purpose without an edge (the
    "one touch" of a resident's phone page). Without one, a registered device keeps its edge;
    a new one goes to the only edge there is; with several it is refused, naming them,
    because a device on the wrong edge is never heard. With no edge known yet it stays
    unassigned (flagged in listings) until it is registered again.
    """
    if given or requested is not None:
        return requested
    if current is not None:
        return current
    if len(edges) == 1:
        return next(iter(edges))
    if not edges:
        return None
    names = sorted(edges)
    raise EdgeChoiceError(
        f"edge_id is required: this hub has {len(names)} edges ({', '.join(names)}); "
        "say which one serves the device",
        names,
    )


def unserved_reason(edge_id: str | None, edges: Collection[str]) -> str | None:
    """Return why no edge serves a device, or None if one does."""
    if edge_id is None:
        return "no edge assigned: register it again with edge_id"
    if edge_id not in edges:
        return f"edge {edge_id} has never reported to this hub"
    return None


def adopted_device(alert: Alert) -> Device | None:
    """Return the registration the hub makes from an edge's alert about a device nobody
    registered, or None when the alert does not say what the device is.

    Refusing it would lose the alarm: the edge raises alerts only for devices it lists, so the
    hub missed the inventory (a lost status, a hub restored from an older backup), and an
    acknowledged refusal is final. It is what the edge's next inventory would register, from
    the alert: the device's kind from the alert's (a ``bridge_offline``'s: a Zigbee bridge), its
    place the alert's ``location`` (else its id), its edge the alert's (checked against the
    topic). No zigbee name, Tasmota topic or Shelly id: that is why it is never sent to the
    edge, whose own entry is better, and why the next inventory listing the device replaces
    it (``Provenance.ALERT``).
    """
    kind = _RAISED_BY.get(alert.kind)
    if kind is DeviceKind.ZIGBEE_BRIDGE and not is_bridge_id(alert.device_id, alert.edge_id):
        return None  # a bridge's id says whose it is: none of another edge's
    if kind is None:
        return None
    for location in (alert.location, alert.device_id):
        if location is None:
            continue
        try:
            return Device(id=alert.device_id, kind=kind, location=location, edge_id=alert.edge_id)
        except ValidationError:
            continue
    return None
