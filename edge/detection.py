"""Alert detection: a pure function of (device state, device, observation, event time).

No I/O, no clock: the caller passes the event time in and carries out what comes back.
Each alert kind has one small rule with hysteresis (a separate raise and clear bound), so a
reading wobbling around one threshold does not flap. Only transitions produce alerts: a
second ``smoke: true`` while smoke is raised produces nothing.

The thresholds are PLACEHOLDERS (profile ``placeholder-thresholds``). The standards-based
detectors of the product brief (a UL 2034 / EN 50291 CO dose model, EN 54-5 rate-of-rise
heat) replace these rules later; they keep this module's shape.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from devices.kinds import AlertKind, AlertState, DeviceKind, Severity
from devices.messages import AlertReason
from devices.observations import AvailabilityChange, DeviceEvent, Observation, StateUpdate
from devices.payloads import ButtonEvent, Readings
from devices.registry import Device

PROFILE = "placeholder-thresholds"

CO_RAISE_PPM = 50.0
CO_CLEAR_PPM = 35.0
HEAT_RAISE_C = 57.0  # EN 54-5 class A1 static response lies between 54 and 65 °C
HEAT_CLEAR_C = 50.0
GAS_ALARM_LEL_PCT = 20.0  # industry default alarm level
GAS_WARNING_LEL_PCT = 10.0  # industry default warning level
GAS_CLEAR_LEL_PCT = 8.0
BATTERY_RAISE_PCT = 15.0
BATTERY_CLEAR_PCT = 25.0

HEAT_DEVICE_KINDS = frozenset({DeviceKind.HEAT, DeviceKind.SMOKE})
"""Only these devices' temperatures can be a fire; a humidity sensor's is telemetry."""

SOS_EVENTS = frozenset({ButtonEvent.PRESS, ButtonEvent.LONG_PRESS, ButtonEvent.DOUBLE_PRESS})
"""Events of an SOS button that call for help. A double press is still a resident asking for
help, so it counts too: a lost SOS is worse than a duplicate one."""

SEVERITIES: dict[AlertKind, Severity] = {
    AlertKind.SOS: Severity.CRITICAL,
    AlertKind.SMOKE: Severity.CRITICAL,
    AlertKind.HEAT: Severity.CRITICAL,
    AlertKind.CO: Severity.CRITICAL,
    AlertKind.GAS: Severity.CRITICAL,  # the alarm level; the warning level is HIGH
    AlertKind.WATER_LEAK: Severity.HIGH,
    AlertKind.DEVICE_OFFLINE: Severity.MEDIUM,
    AlertKind.BATTERY_LOW: Severity.LOW,
}


class GasLevel(StrEnum):
    """How far a gas detector has escalated."""

    CLEAR = "clear"
    WARNING = "warning"
    ALARM = "alarm"

    @property
    def severity(self) -> Severity:
        """Return the severity of an alert at this level."""
        return Severity.CRITICAL if self is GasLevel.ALARM else Severity.HIGH


_ON_OFF_KINDS = frozenset(
    {
        AlertKind.SMOKE,
        AlertKind.HEAT,
        AlertKind.CO,
        AlertKind.WATER_LEAK,
        AlertKind.BATTERY_LOW,
        AlertKind.DEVICE_OFFLINE,
    }
)
"""Conditions that are either raised or clear. Gas has levels; SOS has no clear state."""


class StateFormatError(ValueError):
    """A persisted device state that cannot be read back."""


@dataclass(frozen=True, slots=True)
class DeviceState:
    """What detection remembers about one device between messages (persisted as JSON)."""

    raised: frozenset[AlertKind] = frozenset()
    """The on/off conditions currently raised."""
    gas: GasLevel = GasLevel.CLEAR

    def __post_init__(self) -> None:
        if not self.raised <= _ON_OFF_KINDS:
            raise StateFormatError(f"not on/off conditions: {sorted(self.raised - _ON_OFF_KINDS)}")

    def to_json(self) -> str:
        """Serialise for the outbox."""
        return json.dumps({"raised": sorted(self.raised), "gas": self.gas}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "DeviceState":
        """Read a state written by ``to_json``, or raise ``StateFormatError``."""
        try:
            data = json.loads(text)
            return cls(
                raised=frozenset(AlertKind(kind) for kind in data.get("raised", [])),
                gas=GasLevel(data.get("gas", GasLevel.CLEAR)),
            )
        except (ValueError, TypeError, AttributeError) as exc:
            raise StateFormatError(f"unreadable device state {text[:80]!r}") from exc


@dataclass(frozen=True, slots=True)
class AlertDecision:
    """Detection's verdict that an alert begins or ends; the caller turns it into an Alert."""

    kind: AlertKind
    state: AlertState
    severity: Severity
    event_time: datetime
    reason: AlertReason


@dataclass(frozen=True, slots=True)
class Detection:
    """The outcome of one observation: the device's new state and the alerts to send."""

    state: DeviceState
    alerts: tuple[AlertDecision, ...] = ()
    self_test: bool = False
    """The observation reported a smoke detector self-test (recorded, never an alarm)."""


@dataclass(slots=True)
class _Step:
    """Accumulates one observation's decisions; private to this module."""

    state: DeviceState
    event_time: datetime
    alerts: list[AlertDecision] = field(default_factory=list)

    def emit(
        self,
        kind: AlertKind,
        alert_state: AlertState,
        severity: Severity,
        rule: str,
        values: dict[str, float | bool | str],
    ) -> None:
        reason = AlertReason(rule=rule, values=values, profile=PROFILE)
        self.alerts.append(AlertDecision(kind, alert_state, severity, self.event_time, reason))

    def switch(
        self,
        kind: AlertKind,
        *,
        raise_rule: str | None,
        clear_rule: str | None,
        values: dict[str, float | bool | str],
    ) -> None:
        """Raise or clear an on/off condition; give at most one of the two rules."""
        is_raised = kind in self.state.raised
        if raise_rule is not None and not is_raised:
            self.state = replace(self.state, raised=self.state.raised | {kind})
            self.emit(kind, AlertState.RAISED, SEVERITIES[kind], raise_rule, values)
        elif clear_rule is not None and is_raised:
            self.state = replace(self.state, raised=self.state.raised - {kind})
            self.emit(kind, AlertState.CLEARED, SEVERITIES[kind], clear_rule, values)


def detect(
    state: DeviceState, device: Device, observation: Observation, event_time: datetime
) -> Detection:
    """Return the device's new state and the alerts one observation causes."""
    step = _Step(state, event_time)
    self_test = False
    match observation:
        case StateUpdate(readings):
            self_test = readings.smoke_test is True
            for rule in _READING_RULES:
                rule(step, device, readings)
        case DeviceEvent(event):
            _sos_rule(step, device, event)
        case AvailabilityChange(online):
            step.switch(
                AlertKind.DEVICE_OFFLINE,
                raise_rule=None if online else "availability=offline",
                clear_rule="availability=online" if online else None,
                values={"availability": "online" if online else "offline"},
            )
    return Detection(step.state, tuple(step.alerts), self_test)


def _smoke_rule(step: _Step, device: Device, r: Readings) -> None:
    if r.smoke is None:
        return
    if r.smoke and r.smoke_test is True:
        # A detector in self-test sounds and may report smoke: that is a test, not a fire.
        return
    step.switch(
        AlertKind.SMOKE,
        raise_rule="smoke=true" if r.smoke else None,
        clear_rule=None if r.smoke else "smoke=false",
        values={"smoke": r.smoke},
    )


def _heat_rule(step: _Step, device: Device, r: Readings) -> None:
    if r.temperature_c is None or device.kind not in HEAT_DEVICE_KINDS:
        return
    t = r.temperature_c
    step.switch(
        AlertKind.HEAT,
        raise_rule=f"temperature_c>={HEAT_RAISE_C:g}" if t >= HEAT_RAISE_C else None,
        clear_rule=f"temperature_c<{HEAT_CLEAR_C:g}" if t < HEAT_CLEAR_C else None,
        values={"temperature_c": t},
    )


def _co_rule(step: _Step, device: Device, r: Readings) -> None:
    ppm, flag = r.co_ppm, r.co_alarm
    if ppm is None and flag is None:
        return
    raise_rule: str | None = None
    clear_rule: str | None = None
    if flag is True:
        raise_rule = "co_alarm=true"
    elif ppm is not None and ppm >= CO_RAISE_PPM:
        raise_rule = f"co_ppm>={CO_RAISE_PPM:g}"
    elif ppm is not None:
        clear_rule = f"co_ppm<{CO_CLEAR_PPM:g}" if ppm < CO_CLEAR_PPM else None
    else:
        clear_rule = "co_alarm=false"
    values = _present(co_ppm=ppm, co_alarm=flag)
    step.switch(AlertKind.CO, raise_rule=raise_rule, clear_rule=clear_rule, values=values)


def _gas_rule(step: _Step, device: Device, r: Readings) -> None:
    pct, flag = r.gas_lel_pct, r.gas
    if pct is None and flag is None:
        return
    values = _present(gas_lel_pct=pct, gas=flag)
    level = step.state.gas
    if flag is True:
        target, rule = GasLevel.ALARM, "gas=true"
    elif pct is not None and pct >= GAS_ALARM_LEL_PCT:
        target, rule = GasLevel.ALARM, f"gas_lel_pct>={GAS_ALARM_LEL_PCT:g}"
    elif pct is not None and pct >= GAS_WARNING_LEL_PCT:
        target, rule = GasLevel.WARNING, f"gas_lel_pct>={GAS_WARNING_LEL_PCT:g}"
    elif pct is None:
        target, rule = GasLevel.CLEAR, "gas=false"
    elif pct < GAS_CLEAR_LEL_PCT:
        target, rule = GasLevel.CLEAR, f"gas_lel_pct<{GAS_CLEAR_LEL_PCT:g}"
    else:
        return  # between the clear and warning bounds: hold whatever level we are at
    if target is GasLevel.CLEAR:
        if level is not GasLevel.CLEAR:
            step.state = replace(step.state, gas=GasLevel.CLEAR)
            step.emit(AlertKind.GAS, AlertState.CLEARED, level.severity, rule, values)
    elif _GAS_ORDER.index(target) > _GAS_ORDER.index(level):
        # Escalation (clear → warning → alarm) is a new raised alert with the higher severity;
        # de-escalation above the clear bound holds the level (hysteresis).
        step.state = replace(step.state, gas=target)
        step.emit(AlertKind.GAS, AlertState.RAISED, target.severity, rule, values)


_GAS_ORDER = (GasLevel.CLEAR, GasLevel.WARNING, GasLevel.ALARM)


def _water_leak_rule(step: _Step, device: Device, r: Readings) -> None:
    if r.water_leak is None:
        return
    step.switch(
        AlertKind.WATER_LEAK,
        raise_rule="water_leak=true" if r.water_leak else None,
        clear_rule=None if r.water_leak else "water_leak=false",
        values={"water_leak": r.water_leak},
    )


def _battery_rule(step: _Step, device: Device, r: Readings) -> None:
    pct, flag = r.battery_pct, r.battery_low
    if pct is None and flag is None:
        return
    values = _present(battery_pct=pct, battery_low=flag)
    raise_rule: str | None = None
    clear_rule: str | None = None
    if flag is True:
        raise_rule = "battery_low=true"
    elif pct is not None and pct < BATTERY_RAISE_PCT:
        raise_rule = f"battery_pct<{BATTERY_RAISE_PCT:g}"
    elif pct is not None:
        clear_rule = f"battery_pct>={BATTERY_CLEAR_PCT:g}" if pct >= BATTERY_CLEAR_PCT else None
    else:
        clear_rule = "battery_low=false"
    step.switch(AlertKind.BATTERY_LOW, raise_rule=raise_rule, clear_rule=clear_rule, values=values)


def _sos_rule(step: _Step, device: Device, event: str) -> None:
    if device.kind is not DeviceKind.SOS_BUTTON or event not in SOS_EVENTS:
        return
    # Every press is a new alert and SOS has no cleared state at the edge: the hub's case
    # (acknowledged by an operator) is what ends it.
    step.emit(
        AlertKind.SOS,
        AlertState.RAISED,
        SEVERITIES[AlertKind.SOS],
        "button_press",
        {"event": event},
    )


def _present(**readings: float | bool | None) -> dict[str, float | bool | str]:
    return {name: value for name, value in readings.items() if value is not None}


# Life-safety rules first, so one message's alerts leave in the order that matters.
_READING_RULES: tuple[Callable[[_Step, Device, Readings], None], ...] = (
    _smoke_rule,
    _heat_rule,
    _co_rule,
    _gas_rule,
    _water_leak_rule,
    _battery_rule,
)
