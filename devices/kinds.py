"""Device kinds, alert kinds and how urgent each alert kind is."""

from enum import StrEnum


class DeviceKind(StrEnum):
    """What a registered device is."""

    SMOKE = "smoke"
    CO = "co"
    GAS = "gas"
    HEAT = "heat"
    WATER_LEAK = "water_leak"
    SOS_BUTTON = "sos_button"
    DOOR_READER = "door_reader"
    DOOR_CONTACT = "door_contact"
    CAMERA = "camera"
    MOTION = "motion"
    """A motion / presence sensor (Zigbee2MQTT ``occupancy``): signs of life in a care household."""
    ZIGBEE_BRIDGE = "zigbee_bridge"
    """A site's Zigbee network as one device: Zigbee2MQTT and its coordinator (or a Tasmota
    Zigbee bridge), through which every Zigbee device behind it is heard. Listed by the edge
    once it has heard the bridge's state, never registered by hand
    (``devices.zigbee_network``); its ``device_offline`` says every device behind it is
    unheard."""


class AlertKind(StrEnum):
    """What an alert is about. Part of the public contract: only ever add members."""

    SMOKE = "smoke"
    CO = "co"
    HEAT = "heat"
    GAS = "gas"
    WATER_LEAK = "water_leak"
    SOS = "sos"
    DEVICE_OFFLINE = "device_offline"
    BATTERY_LOW = "battery_low"
    # Device health (faults): a device opened or removed from its mount, a battery falling
    # faster than its class should, an analog sensor whose value no longer moves.
    DEVICE_TAMPER = "device_tamper"
    BATTERY_DECLINING = "battery_declining"
    SENSOR_STUCK = "sensor_stuck"
    # A device sending far more messages than any device does (broken, looping, taken over).
    DEVICE_FLOODING = "device_flooding"
    # A site's Zigbee network gone deaf (Zigbee2MQTT's bridge, or a Tasmota Zigbee bridge,
    # offline): every device behind it unheard. About the bridge's own device (``zigbee_bridge``,
    # ``devices.zigbee_network``); the devices behind it raise no ``device_offline`` meanwhile.
    BRIDGE_OFFLINE = "bridge_offline"
    # Door access (security).
    DOOR_FORCED = "door_forced"
    DOOR_HELD_OPEN = "door_held_open"
    ACCESS_DENIED_BURST = "access_denied_burst"
    # Camera analytics: fire and smoke cues are life safety, tamper is a fault, the rest security.
    CAMERA_FIRE = "camera_fire"
    CAMERA_SMOKE = "camera_smoke"
    CAMERA_MOTION = "camera_motion"
    CAMERA_PERSON = "camera_person"
    CAMERA_LOITERING = "camera_loitering"
    CAMERA_OBSTRUCTION = "camera_obstruction"
    CAMERA_TAMPER = "camera_tamper"
    # Raised by the hub itself, never by an edge (``docs/residents.md``): a resident's request
    # (点单) and a care household with no sign of life for too many waking hours.
    RESIDENT_REQUEST = "resident_request"
    NO_ACTIVITY = "no_activity"
    # Raised by the hub itself: an edge speaks for a device registered to another edge
    # (``hub.fleet.claims``): a stolen edge, or a site whose devices were set up twice.
    DEVICE_CLAIM_CONFLICT = "device_claim_conflict"
    # Raised by the hub itself: an edge lost (its last will, its goodbye, or silent past
    # ``edge_silent_after_s``), every device it serves unwatched (``hub.fleet.supervision``).
    EDGE_OFFLINE = "edge_offline"


class AlertState(StrEnum):
    """Whether the condition behind an alert began or ended."""

    RAISED = "raised"
    CLEARED = "cleared"


class Severity(StrEnum):
    """How bad an alert is; a case's priority is the highest severity among its alerts."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """Return 0 for the most severe, larger for less severe."""
        return _SEVERITY_ORDER.index(self)


_SEVERITY_ORDER = (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW)

LIFE_SAFETY: frozenset[AlertKind] = frozenset(
    {
        AlertKind.SOS,
        AlertKind.SMOKE,
        AlertKind.CO,
        AlertKind.HEAT,
        AlertKind.GAS,
        AlertKind.CAMERA_FIRE,
        AlertKind.CAMERA_SMOKE,
    }
)
"""Kinds where a person may be in danger: forwarded first, handled fastest."""

FAULTS: frozenset[AlertKind] = frozenset(
    {
        AlertKind.DEVICE_OFFLINE,
        AlertKind.BATTERY_LOW,
        AlertKind.DEVICE_TAMPER,
        AlertKind.BATTERY_DECLINING,
        AlertKind.SENSOR_STUCK,
        AlertKind.CAMERA_TAMPER,
        AlertKind.DEVICE_FLOODING,
        AlertKind.BRIDGE_OFFLINE,
        AlertKind.EDGE_OFFLINE,
    }
)
"""Kinds that say a device needs maintenance. A fault is never an alarm."""

SECURITY: frozenset[AlertKind] = frozenset(
    {
        AlertKind.DOOR_FORCED,
        AlertKind.DOOR_HELD_OPEN,
        AlertKind.ACCESS_DENIED_BURST,
        AlertKind.CAMERA_MOTION,
        AlertKind.CAMERA_PERSON,
        AlertKind.CAMERA_LOITERING,
        AlertKind.CAMERA_OBSTRUCTION,
    }
)
"""Kinds about intrusion and access: no one is known to be in danger, someone should look."""


def forwarding_rank(kind: AlertKind) -> int:
    """Return the store-and-forward rank of an alert kind: lower leaves the edge first.

    A resident's SOS goes ahead of everything, then the other life-safety kinds, then
    property damage, then faults.
    """
    if kind is AlertKind.SOS:
        return 0
    if kind in LIFE_SAFETY:
        return 1
    if kind in FAULTS:
        return 3
    return 2
