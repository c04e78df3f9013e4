"""Read simulator output the way the edge does: decode every step, name the device it is from.

``placeholder_alert_kinds`` applies the edge's current placeholder thresholds to what was
observed, so scenario expectations can be checked here without running an edge.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from devices.adapters import decode
from devices.kinds import AlertKind, DeviceKind
from devices.observations import (
    AvailabilityChange,
    DeviceEvent,
    NativeAddress,
    Observation,
    StateUpdate,
)
from devices.payloads import ButtonEvent
from devices.registry import Device
from devices.site import SiteFile
from simulators.sensors import Step

CO_RAISE_PPM = 50.0
CO_CLEAR_PPM = 35.0
HEAT_C = 57.0
GAS_WARNING_LEL = 10.0
GAS_ALARM_LEL = 20.0
BATTERY_LOW_PCT = 15.0


@dataclass(frozen=True)
class Seen:
    """One observation decoded from one step, with the device it came from."""

    at: float
    device: Device
    observation: Observation


def observe(site: SiteFile, steps: Iterable[Step]) -> list[Seen]:
    """Decode every step; fail if one does not decode or names no registered device."""
    by_id = {d.id: d for d in site.devices}
    by_zigbee = {d.zigbee_name: d for d in site.devices if d.zigbee_name}
    seen: list[Seen] = []
    for step in steps:
        decoded = decode(step.topic, step.payload)
        assert decoded is not None, f"{step.topic} decoded to nothing"
        address = decoded.address
        device = (
            by_id[address.device_id]
            if isinstance(address, NativeAddress)
            else by_zigbee[address.friendly_name]
        )
        seen.extend(Seen(step.at, device, obs) for obs in decoded.observations)
    return seen


def readings(seen: Iterable[Seen], name: str) -> list[tuple[float, float | bool]]:
    """Return ``(at, value)`` of one reading name, in the order observed."""
    out: list[tuple[float, float | bool]] = []
    for s in seen:
        if isinstance(s.observation, StateUpdate):
            value = s.observation.readings.present().get(name)
            if value is not None:
                out.append((s.at, value))
    return out


def placeholder_alert_kinds(seen: Iterable[Seen]) -> set[AlertKind]:
    """Return the alert kinds the edge's placeholder thresholds would raise on ``seen``."""
    kinds: set[AlertKind] = set()
    for s in seen:
        match s.observation:
            case StateUpdate(r):
                if (r.co_ppm or 0.0) >= CO_RAISE_PPM or r.co_alarm:
                    kinds.add(AlertKind.CO)
                if (r.temperature_c or 0.0) >= HEAT_C:
                    kinds.add(AlertKind.HEAT)
                if (r.gas_lel_pct or 0.0) >= GAS_WARNING_LEL or r.gas:
                    kinds.add(AlertKind.GAS)
                if r.smoke:
                    kinds.add(AlertKind.SMOKE)
                if r.water_leak:
                    kinds.add(AlertKind.WATER_LEAK)
                if (r.battery_pct is not None and r.battery_pct < BATTERY_LOW_PCT) or (
                    r.battery_low
                ):
                    kinds.add(AlertKind.BATTERY_LOW)
            case DeviceEvent(event):
                if s.device.kind is DeviceKind.SOS_BUTTON and event in (
                    ButtonEvent.PRESS,
                    ButtonEvent.LONG_PRESS,
                ):
                    kinds.add(AlertKind.SOS)
            case AvailabilityChange(online):
                if not online:
                    kinds.add(AlertKind.DEVICE_OFFLINE)
    return kinds
