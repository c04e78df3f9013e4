"""What a device said, normalised: the output of every adapter, the input of detection."""

from dataclasses import dataclass
from datetime import datetime

from devices.payloads import Readings


@dataclass(frozen=True, slots=True)
class StateUpdate:
    """New readings from a device; ``event_time`` is the device's own ``ts``, if it sent one."""

    readings: Readings
    event_time: datetime | None = None


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


def observed_at(observation: Observation, received_at: datetime) -> datetime:
    """Return when an observation happened: the device's own time, else when it was received."""
    if (
        isinstance(observation, StateUpdate | DeviceEvent | InputState)
        and observation.event_time is not None
    ):
        return observation.event_time
    return received_at


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
