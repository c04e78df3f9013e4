"""Device liveness: how long each class of device may stay silent before it is a fault.

Every sensor and button has a check-in deadline; a silent smoke detector is an alert (a
``device_offline`` fault, never an alarm). Battery devices sleep and report rarely, so their
deadlines are hours; mains devices (cameras, door readers) are expected every few minutes.
We assume battery power for every Zigbee device and for SOS buttons, leak sensors and door
contacts, mains power for cameras and door readers.

An SOS button is the tightest battery deadline: a dead button is a resident who cannot call
for help. Leak sensors and door contacts are looser. The defaults assume each battery device
is configured to report (or to send a check-in) at least hourly; Zigbee2MQTT's own
availability default for battery devices is 25 h.

Many battery devices report far less often (Shelly Gen1 battery devices wake only on a change
or a periodic wake-up hours apart; a Zigbee sensor reporting on change has a multi-hour
heartbeat), so each device's deadline is also learned from its own rhythm
(``CheckinRhythm``): twice the second longest of its last 8 intervals between wake-ups, once
it has shown 3, only ever lengthening the kind's default and never beyond 26 h (1 h for mains
devices). A ``checkin_s`` that the site or the device configures is the operator's word and
is never learned over (docs/detection.md, "Check-in deadlines").
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
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

LEARN_WINDOW = 8
"""How many of a device's latest intervals between wake-ups are remembered: 8 days of a
device waking daily, 2 of one waking every 6 h; a change of rhythm is followed within 8."""
LEARN_MIN_INTERVALS = 3
"""Intervals a device must have shown before its rhythm counts (until then: the default)."""
LEARN_FACTOR = 2.0
"""The learned deadline is this multiple of the device's typical long interval: the device
may miss one wake-up, not two (SmartThings' Device-Watch set a Zigbee device's checkInterval
to twice its reporting interval plus a minute or two: "allows 2 check-in misses")."""
LEARN_CAP_S: Mapping[Power, float] = MappingProxyType(
    {
        # A daily wake-up (24 h) with margin, just above Zigbee2MQTT's 25 h battery
        # availability default: a device that truly dies is still reported within a day.
        Power.BATTERY: 26 * HOUR_S,
        # A powered device has no reason to sleep (Tasmota's longest TelePeriod is 1 h): one
        # silent for an hour is unplugged or broken, whatever it did before.
        Power.MAINS: 1 * HOUR_S,
    }
)
"""The longest deadline learning may give a device, by power class."""
SAME_WAKE_S = 60.0
"""Messages this close to the one before are the same wake-up, not an interval: a Shelly
Gen1 publishes its flood, temperature and battery topics within a second or two."""


class DeadlineSource(StrEnum):
    """Where a device's check-in deadline comes from (``deadline_source`` in its alert)."""

    DEFAULT = "default"
    """The kind's default (``DEFAULT_CHECKIN_S``), the device not (yet) learned."""
    CONFIGURED = "configured"
    """The site's ``checkin_s`` for the kind, or the device's own: never learned over."""
    LEARNED = "learned"
    """Longer than the default, from the device's own rhythm (``CheckinRhythm``)."""


@dataclass(frozen=True, slots=True)
class CheckinRhythm:
    """A device's latest intervals between wake-ups, as the edge heard them (edge clock)."""

    intervals: tuple[float, ...] = ()
    """Seconds between one wake-up and the next, oldest first, at most ``LEARN_WINDOW``."""

    def heard(
        self, previous: datetime | None, seen: datetime, watching_since: datetime | None
    ) -> "CheckinRhythm":
        """Return the rhythm with a check-in at ``seen``, after one at ``previous``.

        Only a silence the edge listened to all along counts: an interval that began before
        ``watching_since`` (the edge was down for part of it) is no evidence of the device's
        rhythm, nor is a second message of the same wake-up.
        """
        if previous is None or (watching_since is not None and previous < watching_since):
            return self
        interval = (seen - previous).total_seconds()
        if interval < SAME_WAKE_S:
            return self
        return CheckinRhythm((*self.intervals, interval)[-LEARN_WINDOW:])

    def typical_s(self) -> float | None:
        """Return the device's typical long interval, or None until it has shown enough.

        The second longest of the window, not the longest: a long gap the device has not
        repeated (it, the radio or the broker was down once) teaches nothing by itself.
        """
        if len(self.intervals) < LEARN_MIN_INTERVALS:
            return None
        return sorted(self.intervals)[-2]


@dataclass(frozen=True, slots=True)
class CheckinDeadline:
    """How long a device may stay silent, and why that long."""

    seconds: float
    source: DeadlineSource
    learned_interval_s: float | None = None
    """With a learned deadline: the typical interval it was learned from."""


def power_of(device: Device) -> Power:
    """Return how a device is assumed to be powered."""
    if device.zigbee_name is not None or device.kind not in MAINS_KINDS:
        return Power.BATTERY
    return Power.MAINS


def checkin_deadline_s(device: Device, checkin_s: Mapping[DeviceKind, float]) -> float:
    """Return how long the device may stay silent by its kind's deadline alone."""
    deadline = checkin_s.get(device.kind, BATTERY_FALLBACK_S)
    if power_of(device) is Power.BATTERY and device.kind in MAINS_KINDS:
        return max(deadline, BATTERY_FALLBACK_S)
    return deadline


def checkin_deadline(
    device: Device,
    checkin_s: Mapping[DeviceKind, float],
    configured: frozenset[DeviceKind],
    rhythm: CheckinRhythm,
) -> CheckinDeadline:
    """Return the device's check-in deadline: configured, else learned, else the default.

    ``configured`` are the kinds whose ``checkin_s`` a site or this device set. A learned
    deadline only lengthens the default, up to the power class's cap (``LEARN_CAP_S``).
    """
    base = checkin_deadline_s(device, checkin_s)
    if device.kind in configured:
        return CheckinDeadline(base, DeadlineSource.CONFIGURED)
    typical = rhythm.typical_s()
    if typical is None:
        return CheckinDeadline(base, DeadlineSource.DEFAULT)
    learned = min(LEARN_FACTOR * typical, LEARN_CAP_S[power_of(device)])
    if learned <= base:
        return CheckinDeadline(base, DeadlineSource.DEFAULT)
    return CheckinDeadline(learned, DeadlineSource.LEARNED, typical)
