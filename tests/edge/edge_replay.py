"""Replay device messages through detection as the agent does: each one received at a time on
the edge's clock, stamped (or not) with a time of the device's own, bounded by
``devices.observations.observed_at``; the time-driven half ticking every few seconds."""

from collections.abc import Iterable
from dataclasses import dataclass

from devices.kinds import AlertKind, AlertState, DeviceKind
from devices.observations import Observation, StateUpdate, observed_at
from devices.payloads import Readings
from edge.detection import AlertDecision, DeviceState, detect, tick
from edge.detectors.profile import DEFAULT_PROFILE, DetectionProfile
from tests.edge.detection_series import T0, at, device


@dataclass(frozen=True)
class Sent:
    """One message: received ``received_s`` after T0 (edge's clock), stamped ``stamped_s``
    after T0 by the device (None: no time of its own)."""

    received_s: float
    stamped_s: float | None
    observation: Observation


def stamped(received_s: float, stamped_s: float | None, **values: float | bool) -> Sent:
    """Return a message of readings ``values``."""
    readings = Readings.model_validate(values)
    return Sent(received_s, stamped_s, StateUpdate(readings, at(stamped_s) if stamped_s else None))


def replay(
    kind: DeviceKind,
    sent: Iterable[Sent],
    until_s: float,
    profile: DetectionProfile = DEFAULT_PROFILE,
    *,
    trust_device_time: bool = False,
    tick_s: float = 5.0,
) -> list[AlertDecision]:
    """Return every alert the messages and the ticks until ``until_s`` cause."""
    timed = replay_timed(
        kind, sent, until_s, profile, trust_device_time=trust_device_time, tick_s=tick_s
    )
    return [alert for _, alert in timed]


def replay_timed(
    kind: DeviceKind,
    sent: Iterable[Sent],
    until_s: float,
    profile: DetectionProfile = DEFAULT_PROFILE,
    *,
    trust_device_time: bool = False,
    tick_s: float = 5.0,
) -> list[tuple[float, AlertDecision]]:
    """Return every alert as ``replay``, each with when the edge decided it (s after T0)."""
    dev = device(kind)
    state = DeviceState()
    alerts: list[tuple[float, AlertDecision]] = []
    messages = sorted(sent, key=lambda s: s.received_s)
    now = 0.0
    while now <= until_s:
        while messages and messages[0].received_s <= now:
            message = messages.pop(0)
            received = at(message.received_s)
            observation = message.observation
            event_time = observed_at(observation, received, trust_device_time=trust_device_time)
            result = detect(
                state,
                dev,
                observation,
                event_time,
                profile,
                received_at=received,
                watching_since=T0,
            )
            state = result.state
            alerts.extend((now, alert) for alert in result.alerts)
        result = tick(state, dev, at(now), profile, watching_since=T0)
        state = result.state
        alerts.extend((now, alert) for alert in result.alerts)
        now += tick_s
    return alerts


def raised_at_min(alerts: list[AlertDecision], kind: AlertKind) -> float | None:
    """Return when the first ``kind`` alert was raised, in minutes after T0 (its own time)."""
    for alert in alerts:
        if alert.kind is kind and alert.state is AlertState.RAISED:
            return (alert.event_time - T0).total_seconds() / 60
    return None
