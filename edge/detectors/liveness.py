"""Device liveness: how long each class of device may stay silent before it is a fault.

Every sensor and button has a check-in deadline; a silent smoke detector is an alert (a
``device_offline`` fault, never an alarm). Battery devices sleep and report rarely, so their
deadlines are hours; mains devices (cameras, door readers) are expected every few minutes.
We assume battery power for every Zigbee device and for SOS buttons, leak sensors and door
contacts, mains power for cameras and door readers.

An SOS button is the tightest battery deadline: a dead button is a resident who cannot call
for help. Leak sensors and door contacts are looser. The defaults assume each battery device
is configured to report (or to send a check-in) at least hourly; Zigbee2MQTT's own
availability default for battery devices is 25 h, so a site whose devices report less often
must raise these, per site, in the ``DetectionProfile``.
"""

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from devices.kinds import DeviceKind
from devices.registry import Device

HOUR_S = 3600.0


class Power(StrEnum):
    """How a device is powered, which decides how often it can be expected to speak."""

    BATTERY = "battery"
    MAINS = "mains"


MAINS_KINDS = frozenset({DeviceKind.CAMERA, DeviceKind.DOOR_READER})

DEFAULT_CHECKIN_S: Mapping[DeviceKind, float] = MappingProxyType(
    {
        DeviceKind.SOS_BUTTON: 2 * HOUR_S,
        DeviceKind.SMOKE: 2 * HOUR_S,
        DeviceKind.CO: 2 * HOUR_S,
        DeviceKind.GAS: 2 * HOUR_S,
        DeviceKind.HEAT: 2 * HOUR_S,
        DeviceKind.WATER_LEAK: 6 * HOUR_S,
        DeviceKind.DOOR_CONTACT: 6 * HOUR_S,
        DeviceKind.CAMERA: 600.0,
        DeviceKind.DOOR_READER: 600.0,
    }
)
"""Default check-in deadline of each device kind, in seconds."""

BATTERY_FALLBACK_S = 6 * HOUR_S
"""Deadline of a battery device whose kind's default assumes mains (a Zigbee door reader)."""


def power_of(device: Device) -> Power:
    """Return how a device is assumed to be powered."""
    if device.zigbee_name is not None or device.kind not in MAINS_KINDS:
        return Power.BATTERY
    return Power.MAINS


def checkin_deadline_s(device: Device, checkin_s: Mapping[DeviceKind, float]) -> float:
    """Return how long the device may stay silent before it is reported offline."""
    deadline = checkin_s.get(device.kind, BATTERY_FALLBACK_S)
    if power_of(device) is Power.BATTERY and device.kind in MAINS_KINDS:
        return max(deadline, BATTERY_FALLBACK_S)
    return deadline
