"""What a device said, normalised: the output of every adapter, the input of detection."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from devices.payloads import Readings

DEVICE_CLOCK_AHEAD_S = 5.0
"""How far ahead of the edge's receive time a device's own time may lie (clock skew) before
the receive time bounds it. SNTP-synced firmware and a Zigbee2MQTT host on NTP are well
within a second of the edge; 5 s also covers timestamps cut to the second and a bridge's
clock drifting a few seconds between syncs. Small against what detection measures (EN 54-5's
60 s rate-of-rise window and 7.5 s sample spacing, UL 2034's minutes of CO): a reading stamped
5 s ahead holds the truly stamped ones after it back by at most 5 s."""
DEVICE_CLOCK_BEHIND_S = 86_400.0
"""How far behind the receive time a device's own time may lie and still be believed: a
site broker holds the edge's messages across a restart or an outage of hours, and those
readings keep the times they were taken. Further behind, the device's clock is not set (a
device with no real-time clock stamps 1970, or its firmware's build date): its time would
put alerts decades away from the evidence they must join, so the receive time is used."""


@dataclass(frozen=True, slots=True)
class StateUpdate:
    """New readings from a device; ``event_time`` is the device's own ``ts``, if it sent one."""

    readings: Readings
    event_time: datetime | None = None
    doubtful: frozenset[str] = frozenset()
    """Reading names whose value may be the sensor's error value rather than a measurement
    (a DS18B20's 85.0 °C power-on reset: ``devices.tasmota``); detection gives such a value
    less weight (``edge.detectors.heat``)."""


COUNT_ONLY = ""
"""The ``DeviceEvent.event`` of a message that carries only the device's count of its events,
no event (a Shelly Gen1 after a restart publishes ``{"event": "", "event_cnt": 0}``): nothing
happened, but the count starts again from it."""


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """Something a device reports happening once: a button press, a card presented."""

    event: str
    event_time: datetime | None = None
    count: tuple[str, int] | None = None
    """The device's own count of its events, where it sends one: (its input, the count)
    (Shelly Gen1's ``event_cnt``). A message with the count already seen repeats that event
    (a Shelly re-publishes its last one every 30 s): it is not a new one."""


@dataclass(frozen=True, slots=True)
class InputState:
    """A wired input's state, reported as a state and repeated (a Shelly input in switch mode:
    a pull cord); ``input`` names it within the device, as ``DeviceEvent.count`` does."""

    input: str
    on: bool
    event_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class AvailabilityChange:
    """The device (or its bridge) says it went online or offline."""

    online: bool


Observation = StateUpdate | DeviceEvent | InputState | AvailabilityChange


def observed_at(
    observation: Observation, received_at: datetime, *, trust_device_time: bool = False
) -> datetime:
    """Return when an observation happened: the device's own time, else when it was received.

    The device's time is bounded by the edge's: at most ``DEVICE_CLOCK_AHEAD_S`` after the
    receive time (a reading stamped minutes ahead would make every truly stamped one after it
    look out of order, and count the jump as CO exposure), and replaced by the receive time
    when it lies more than ``DEVICE_CLOCK_BEHIND_S`` behind (a clock never set).
    ``trust_device_time`` takes it as it is, for simulations that stamp readings in a
    simulated time of their own (``EdgeSettings.trust_device_time``).
    """
    if (
        not isinstance(observation, StateUpdate | DeviceEvent | InputState)
        or observation.event_time is None
    ):
        return received_at
    stamped = observation.event_time
    if trust_device_time:
        return stamped
    if stamped < received_at - timedelta(seconds=DEVICE_CLOCK_BEHIND_S):
        return received_at
    return min(stamped, received_at + timedelta(seconds=DEVICE_CLOCK_AHEAD_S))


@dataclass(frozen=True, slots=True)
class NativeAddress:
    """A device that publishes on the native topics under its own id."""

    device_id: str


@dataclass(frozen=True, slots=True)
class ZigbeeAddress:
    """A device reached through Zigbee2MQTT under its friendly name."""

    friendly_name: str


@dataclass(frozen=True, slots=True)
class TasmotaAddress:
    """A device reached through Tasmota: its ``%topic%``, or a Zigbee device behind it.

    ``zigbee`` lists the names a Tasmota Zigbee bridge gives the device, best first: its
    friendly name (``ZbName``) and its short address (``0xABCD``); empty for the Tasmota
    device itself.
    """

    topic: str
    zigbee: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ShellyAddress:
    """A Shelly device, by its id (``shellyflood-445566``, ``shellyplusht-c049ef8bc088``)."""

    shelly_id: str


DeviceAddress = NativeAddress | ZigbeeAddress | TasmotaAddress | ShellyAddress


@dataclass(frozen=True, slots=True)
class Decoded:
    """One MQTT message, decoded: who sent it and what it said (possibly nothing)."""

    address: DeviceAddress
    observations: tuple[Observation, ...]


def describe(address: DeviceAddress) -> str:
    """Return how a log line names the device at ``address``."""
    match address:
        case NativeAddress(name) | ZigbeeAddress(name) | ShellyAddress(name):
            return name
        case TasmotaAddress(topic, zigbee):
            return f"{topic}/{zigbee[0]}" if zigbee else topic
    raise AssertionError(f"unhandled address {address!r}")  # pragma: no cover
