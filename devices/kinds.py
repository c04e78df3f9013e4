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
    {AlertKind.SOS, AlertKind.SMOKE, AlertKind.CO, AlertKind.HEAT, AlertKind.GAS}
)
"""Kinds where a person may be in danger: forwarded first, handled fastest."""

FAULTS: frozenset[AlertKind] = frozenset({AlertKind.DEVICE_OFFLINE, AlertKind.BATTERY_LOW})
"""Kinds that say a device needs maintenance. A fault is never an alarm."""


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
