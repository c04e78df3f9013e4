"""Helpers for the detection tests: feed timed readings to ``detect`` on simulated time."""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from devices.kinds import AlertKind, AlertState, DeviceKind, Severity
from devices.observations import Observation, StateUpdate
from devices.payloads import Readings
from devices.registry import Device
from edge.detection import AlertDecision, DeviceState, detect, tick
from edge.detectors.profile import DEFAULT_PROFILE, DetectionProfile

T0 = datetime(2026, 4, 17, 12, 0, tzinfo=UTC)
RAISED, CLEARED = AlertState.RAISED, AlertState.CLEARED
CRIT, HIGH, MED, LOW = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW


def device(kind: DeviceKind, device_id: str = "dev-1", zigbee_name: str | None = None) -> Device:
    return Device(
        id=device_id,
        kind=kind,
        location="Building 3/Floor 12/Unit 1201",
        zigbee_name=zigbee_name,
    )


def reading(**values: Any) -> StateUpdate:
    return StateUpdate(Readings(**values))


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def feed(
    kind: DeviceKind,
    timed: Iterable[tuple[float, Observation]],
    state: DeviceState | None = None,
    profile: DetectionProfile = DEFAULT_PROFILE,
) -> tuple[DeviceState, list[AlertDecision]]:
    """Feed (seconds after T0, observation) pairs in order; return the state and all alerts."""
    current = state or DeviceState()
    alerts: list[AlertDecision] = []
    dev = device(kind)
    for seconds, observation in timed:
        result = detect(current, dev, observation, at(seconds), profile)
        current = result.state
        alerts.extend(result.alerts)
    return current, alerts


def ticked(
    kind: DeviceKind,
    state: DeviceState,
    seconds: float,
    profile: DetectionProfile = DEFAULT_PROFILE,
) -> tuple[DeviceState, list[AlertDecision]]:
    result = tick(state, device(kind), at(seconds), profile)
    return result.state, list(result.alerts)


def first(alerts: list[AlertDecision], kind: AlertKind, state: AlertState) -> AlertDecision | None:
    return next((a for a in alerts if a.kind is kind and a.state is state), None)


def minutes_after_t0(decision: AlertDecision | None) -> float | None:
    return None if decision is None else (decision.event_time - T0).total_seconds() / 60


def summary(alerts: list[AlertDecision]) -> list[tuple[AlertKind, AlertState, Severity]]:
    return [(a.kind, a.state, a.severity) for a in alerts]
