"""Read simulator output the way the edge does: decode every step, name the device it is from.

``detected_alert_kinds`` runs the edge's real detection (``edge.detection``) over what was
observed, so scenario expectations are checked against the real detectors without an edge
process. The reading thresholds below describe the scenarios' shapes (the gas bounds, the
heat fixed point, the battery level), for the tests that check those shapes.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from devices.adapters import decode
from devices.kinds import AlertKind, AlertState
from devices.observations import (
    NativeAddress,
    Observation,
    StateUpdate,
    ZigbeeAddress,
    observed_at,
)
from devices.registry import Device
from devices.site import SiteFile
from devices.topics import CREDENTIAL_CHANNEL, DEVICE_ROOT
from edge.detection import AlertDecision, DeviceState, detect, tick
from edge.detectors.profile import DEFAULT_PROFILE, DetectionProfile
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
        if step.topic.startswith(f"{DEVICE_ROOT}/") and step.topic.endswith(
            f"/{CREDENTIAL_CHANNEL}"
        ):
            continue  # a card at a reader: the edge's access control reads it, not detection
        decoded = decode(step.topic, step.payload)
        assert decoded is not None, f"{step.topic} decoded to nothing"
        address = decoded.address
        assert isinstance(address, NativeAddress | ZigbeeAddress), address  # what simulators send
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


def detected_alerts(
    seen: Iterable[Seen],
    epoch: datetime,
    profile: DetectionProfile = DEFAULT_PROFILE,
    *,
    tick_every_s: float = 60.0,
) -> list[AlertDecision]:
    """Run the edge's real detection over ``seen`` as an edge started at ``epoch`` would.

    Each observation is judged at its own event time (the payload's, else ``epoch + at``) and
    received at ``epoch + at``; every ``tick_every_s`` of simulated time, the time-driven half
    (check-in deadlines, a leak that stayed dry) runs for every device seen so far.
    """
    states: dict[str, DeviceState] = {}
    devices: dict[str, Device] = {}
    alerts: list[AlertDecision] = []
    next_tick = tick_every_s
    for s in seen:
        while s.at >= next_tick:
            now = epoch + timedelta(seconds=next_tick)
            for device_id, device in devices.items():
                result = tick(states[device_id], device, now, profile, watching_since=epoch)
                states[device_id] = result.state
                alerts.extend(result.alerts)
            next_tick += tick_every_s
        received = epoch + timedelta(seconds=s.at)
        event_time = observed_at(s.observation, received)
        devices[s.device.id] = s.device
        before = states.get(s.device.id, DeviceState())
        result = detect(before, s.device, s.observation, event_time, profile, received_at=received)
        states[s.device.id] = result.state
        alerts.extend(result.alerts)
    return alerts


def detected_alert_kinds(seen: Iterable[Seen], epoch: datetime) -> set[AlertKind]:
    """Return the alert kinds the edge's real detectors raise on ``seen``."""
    return {a.kind for a in detected_alerts(seen, epoch) if a.state is AlertState.RAISED}
