"""What detection works on: a device's remembered state, the decisions it returns, and the
``Step`` that the rules (``edge.detection_rules``) add their decisions to.

``DeviceState`` is persisted as JSON in the outbox's state table, in the same transaction as
the alerts it produced (``edge.outbox``).
"""

import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from devices.kinds import AlertKind, AlertState, DeviceKind, Severity
from devices.messages import Alert, AlertReason
from devices.registry import Device
from edge.detectors import sos as sos_rules
from edge.detectors.co import CoExposure
from edge.detectors.faults import BatteryHistory, FlatLine
from edge.detectors.heat import HeatTrend
from edge.detectors.inputs import InputMemory
from edge.detectors.liveness import LEARN_WINDOW, CheckinRhythm
from edge.detectors.sos import SosPhase, SosState

HEAT_PROFILE = "en54-5-a1r"
FLAG_PROFILE = "device-flag"
"""Profile of rules that trust a detector's own alarm flag (smoke, co_alarm, gas)."""
LEAK_PROFILE = "leak-dry-hold"
BATTERY_PROFILE = "battery-level"
LIVENESS_PROFILE = "checkin-deadline"
SOS_PROFILE = "sos-button"
TAMPER_PROFILE = "device-flag"
BATTERY_TREND_PROFILE = "battery-trend-theil-sen"
STUCK_PROFILE = "flat-line"
FLOOD_PROFILE = "message-rate"
SMOKE_DENSITY_PROFILE = "smoke-obscuration"

STUCK_READINGS = ("temperature_c", "humidity_pct")
"""Analog readings that normally wander. Not co_ppm or gas_lel_pct: clean air reads 0."""

HEAT_DEVICE_KINDS = frozenset({DeviceKind.HEAT, DeviceKind.SMOKE})
"""Only these devices' temperatures can be a fire; a humidity sensor's is telemetry."""

SOS_EVENTS = sos_rules.DEFAULT_RAISE_ON
"""Events of an SOS button that call for help by default (``DetectionProfile.sos``)."""

SEVERITIES: dict[AlertKind, Severity] = {
    AlertKind.SOS: Severity.CRITICAL,
    AlertKind.SMOKE: Severity.CRITICAL,
    AlertKind.HEAT: Severity.CRITICAL,
    AlertKind.CO: Severity.CRITICAL,
    AlertKind.GAS: Severity.CRITICAL,  # the alarm level; the warning level is HIGH
    AlertKind.WATER_LEAK: Severity.HIGH,
    AlertKind.DEVICE_OFFLINE: Severity.MEDIUM,
    AlertKind.BATTERY_LOW: Severity.LOW,
    AlertKind.DEVICE_TAMPER: Severity.MEDIUM,
    AlertKind.SENSOR_STUCK: Severity.MEDIUM,
    AlertKind.BATTERY_DECLINING: Severity.LOW,
    AlertKind.DEVICE_FLOODING: Severity.MEDIUM,
    AlertKind.BRIDGE_OFFLINE: Severity.HIGH,  # every smoke, CO and SOS device behind it deaf
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
        AlertKind.DEVICE_TAMPER,
        AlertKind.SENSOR_STUCK,
        AlertKind.BATTERY_DECLINING,
        AlertKind.DEVICE_FLOODING,
        AlertKind.BRIDGE_OFFLINE,
    }
)
"""Conditions that are either raised or clear. Gas has levels; every SOS press is an alert of
its own (cleared only by the button's cancel gesture, ``edge.detectors.sos``)."""


class StateFormatError(ValueError):
    """A persisted device state that cannot be read back."""


@dataclass(frozen=True, slots=True)
class DeviceState:
    """What detection remembers about one device between messages (persisted as JSON).

    Fields added later have defaults, so a state persisted by an older edge still loads.
    """

    raised: frozenset[AlertKind] = frozenset()
    """The on/off conditions currently raised."""
    gas: GasLevel = GasLevel.CLEAR
    last_seen: datetime | None = None
    """When the edge last heard from the device (its check-in), by the edge's clock.

    Not the device's own ``ts``: deadlines are judged against the edge's clock in ``tick``,
    and a device clock running an hour behind would otherwise be an hour "overdue"."""
    rhythm: CheckinRhythm = field(default_factory=CheckinRhythm)
    """The device's latest intervals between check-ins, from which its deadline is learned
    (``edge.detectors.liveness``)."""
    co: CoExposure = field(default_factory=CoExposure)
    co_seen: datetime | None = None
    """When the edge received the standing CO reading (``co.at`` is the device's time of it),
    by the edge's clock: how long that reading has stood is judged from here, not from
    ``last_seen``, which any message of the device moves (a battery report between two CO
    readings is no CO reading)."""
    co_late: bool = False
    """The last CO reading was older than the standing one (late, or the device's clock went
    back: a second such reading in a row tells which, ``edge.detection_rules``)."""
    heat: HeatTrend = field(default_factory=HeatTrend)
    heat_seen: datetime | None = None
    """When the edge received the newest heat sample, by its clock: a reading at or above the
    fixed level that nothing followed is confirmed after a hold judged from here."""
    gas_clean_since: datetime | None = None
    """While gas is raised: since when every gas reading has been below the clear level
    (event time); it clears after the clear hold."""
    leak_dry_since: datetime | None = None
    """While a leak is raised: since when the sensor has read dry."""
    sos: SosState = field(default_factory=SosState)
    battery: BatteryHistory = field(default_factory=BatteryHistory)
    flat: tuple[tuple[str, FlatLine], ...] = ()
    """Per analog reading name (``STUCK_READINGS``), the value it keeps repeating."""
    event_counts: tuple[tuple[str, int], ...] = ()
    """Per input, the device's own count of its last event (``DeviceEvent.count``)."""
    inputs: InputMemory = field(default_factory=InputMemory)
    """The device's inputs read as states (``edge.detectors.inputs``)."""
    flooded_at: datetime | None = None
    """When the edge last saw the device's topic flooding (``edge.detectors.flooding``)."""
    self_test_since: datetime | None = None
    """Since when the device has said its self-test is running, by the edge's clock: a test
    said for longer than a test takes is no longer believed (``edge.detection_rules``)."""
    offline_since: datetime | None = None
    """A Zigbee bridge's only (``edge.zigbee_bridge``): since when it has said it is offline,
    by the edge's clock; its alert waits a grace from here. None while it is online."""

    def __post_init__(self) -> None:
        if not self.raised <= _ON_OFF_KINDS:
            raise StateFormatError(f"not on/off conditions: {sorted(self.raised - _ON_OFF_KINDS)}")

    def stepped(self, step: timedelta) -> "DeviceState":
        """Return the state with the times it read on the edge's clock moved by ``step``, the
        clock's step (``edge.clock_step``): a reading that stood ten minutes before it still
        has, and a device silent for a minute (a gas or leak hold) still has been."""

        def moved(at: datetime | None) -> datetime | None:
            return None if at is None else at + step

        return replace(
            self,
            last_seen=moved(self.last_seen),
            co_seen=moved(self.co_seen),
            heat_seen=moved(self.heat_seen),
            self_test_since=moved(self.self_test_since),
            flooded_at=moved(self.flooded_at),
            offline_since=moved(self.offline_since),
        )

    def to_json(self) -> str:
        """Serialise for the outbox."""
        co = self.co
        data = {
            "raised": sorted(self.raised),
            "gas": self.gas,
            "last_seen": _time_text(self.last_seen),
            "checkin_intervals": list(self.rhythm.intervals),
            "co": {
                "dose": co.dose,
                "ppm": co.ppm,
                "at": _time_text(co.at),
                "until": _time_text(co.until),
                "clean_since": _time_text(co.clean_since),
                "seen": _time_text(self.co_seen),
                "late": self.co_late,
            },
            "heat": {
                "samples": [[_time_text(at), c] for at, c in self.heat.samples],
                "doubtful": [_time_text(at) for at in self.heat.doubtful],
                "cool_since": _time_text(self.heat.cool_since),
                "seen": _time_text(self.heat_seen),
            },
            "gas_clean_since": _time_text(self.gas_clean_since),
            "leak_dry_since": _time_text(self.leak_dry_since),
            "sos": {
                "phase": self.sos.phase,
                "raised_at": _time_text(self.sos.raised_at),
                "presses": [_time_text(at) for at in self.sos.presses],
                "rejoined_at": _time_text(self.sos.rejoined_at),
            },
            "battery": [[_time_text(at), pct] for at, pct in self.battery.samples],
            "flat": {
                name: [line.value, _time_text(line.since), line.count] for name, line in self.flat
            },
            "event_counts": dict(self.event_counts),
            "inputs": {
                "states": dict(self.inputs.states),
                "momentary": sorted(self.inputs.momentary),
                "raised": {name: _time_text(at) for name, at in self.inputs.raised},
            },
            "flooded_at": _time_text(self.flooded_at),
            "self_test_since": _time_text(self.self_test_since),
            "offline_since": _time_text(self.offline_since),
        }
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "DeviceState":
        """Read a state written by ``to_json`` (of this or an older edge), or raise."""
        try:
            data = json.loads(text)
            co = data.get("co", {})
            heat = data.get("heat", {})
            return cls(
                raised=frozenset(AlertKind(kind) for kind in data.get("raised", [])),
                gas=GasLevel(data.get("gas", GasLevel.CLEAR)),
                last_seen=_parse_time(data.get("last_seen")),
                rhythm=_rhythm(data.get("checkin_intervals", [])),
                co=CoExposure(
                    dose=float(co.get("dose", 0.0)),
                    ppm=None if co.get("ppm") is None else float(co["ppm"]),
                    at=_parse_time(co.get("at")),
                    until=_parse_time(co.get("until")),
                    clean_since=_parse_time(co.get("clean_since")),
                ),
                co_seen=_parse_time(co.get("seen")),
                co_late=co.get("late", False) is True,
                heat=HeatTrend(
                    samples=tuple(
                        (_required_time(at), float(c)) for at, c in heat.get("samples", [])
                    ),
                    doubtful=tuple(_required_time(at) for at in heat.get("doubtful", [])),
                    cool_since=_parse_time(heat.get("cool_since")),
                ),
                heat_seen=_parse_time(heat.get("seen")),
                gas_clean_since=_parse_time(data.get("gas_clean_since")),
                leak_dry_since=_parse_time(data.get("leak_dry_since")),
                sos=_sos_state(data.get("sos", {})),
                battery=BatteryHistory(
                    tuple((_required_time(at), float(pct)) for at, pct in data.get("battery", []))
                ),
                flat=tuple(
                    (
                        str(name),
                        FlatLine(
                            None if value is None else float(value),
                            _parse_time(since),
                            int(count),
                        ),
                    )
                    for name, (value, since, count) in sorted(data.get("flat", {}).items())
                ),
                event_counts=tuple(
                    (str(name), int(count))
                    for name, count in sorted(data.get("event_counts", {}).items())
                ),
                inputs=_input_memory(data.get("inputs", {})),
                flooded_at=_parse_time(data.get("flooded_at")),
                self_test_since=_parse_time(data.get("self_test_since")),
                offline_since=_parse_time(data.get("offline_since")),
            )
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            raise StateFormatError(f"unreadable device state {text[:80]!r}") from exc


def _input_memory(data: dict[str, Any]) -> InputMemory:
    states = data.get("states", {})
    if any(not isinstance(on, bool) for on in states.values()):
        raise StateFormatError(f"input states are not true or false: {states!r}")
    return InputMemory(
        states=tuple(sorted((str(name), on) for name, on in states.items())),
        momentary=frozenset(str(name) for name in data.get("momentary", [])),
        raised=tuple(
            sorted((str(name), _required_time(at)) for name, at in data.get("raised", {}).items())
        ),
    )


def _rhythm(intervals: list[Any]) -> CheckinRhythm:
    seconds = tuple(float(s) for s in intervals)
    if not all(0 < s < float("inf") for s in seconds):
        raise StateFormatError(f"check-in intervals that are not durations: {intervals!r}")
    return CheckinRhythm(seconds[-LEARN_WINDOW:])


def _sos_state(data: dict[str, Any]) -> SosState:
    return SosState(
        phase=SosPhase(data.get("phase", SosPhase.IDLE)),
        raised_at=_parse_time(data.get("raised_at")),
        presses=tuple(_required_time(at) for at in data.get("presses", [])),
        rejoined_at=_parse_time(data.get("rejoined_at")),
    )


def _time_text(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse_time(value: Any) -> datetime | None:
    return None if value is None else _required_time(value)


def _required_time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise TypeError(f"not a time: {value!r}")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"time without a timezone: {value!r}")
    return parsed


@dataclass(frozen=True, slots=True)
class AlertDecision:
    """Detection's verdict that an alert begins or ends; the caller turns it into an Alert."""

    kind: AlertKind
    state: AlertState
    severity: Severity
    event_time: datetime
    reason: AlertReason

    def alert(self, alert_id: str, edge_id: str, device: Device, detected_at: datetime) -> Alert:
        """Return the alert this decision about ``device`` makes, under ``alert_id``."""
        return Alert(
            id=alert_id,
            edge_id=edge_id,
            device_id=device.id,
            kind=self.kind,
            state=self.state,
            severity=self.severity,
            ts=self.event_time,
            detected_at=detected_at,
            location=device.location,
            reason=self.reason,
        )


@dataclass(frozen=True, slots=True)
class Detection:
    """The outcome of one observation or tick: the device's new state and the alerts."""

    state: DeviceState
    alerts: tuple[AlertDecision, ...] = ()
    self_test: bool = False
    """The observation reported a smoke detector self-test (recorded, never an alarm)."""


Values = dict[str, float | bool | str]


@dataclass(slots=True)
class Step:
    """Accumulates one observation's (or tick's) decisions (``edge.detection`` and its rules)."""

    state: DeviceState
    event_time: datetime
    alerts: list[AlertDecision] = field(default_factory=list)
    seen: datetime | None = None
    """When the edge received the observation, by its clock (None for a tick)."""
    doubtful: frozenset[str] = frozenset()
    """Readings of the observation that may be the sensor's error value
    (``StateUpdate.doubtful``)."""
    self_test: bool = False
    """The observation is a self-test the edge believes: the detector's own alarm flags in it
    are a test (``edge.detection_rules``)."""
    stale_self_test_s: float | None = None
    """How long the device has said its self-test is running, when that is past the bound
    and no longer believed: its alarm flags count, and their alerts say so."""

    def emit(
        self,
        kind: AlertKind,
        alert_state: AlertState,
        severity: Severity,
        rule: str,
        values: Values,
        profile: str,
        at: datetime | None = None,
    ) -> None:
        reason = AlertReason(rule=rule, values=values, profile=profile)
        when = self.event_time if at is None else at
        self.alerts.append(AlertDecision(kind, alert_state, severity, when, reason))

    def switch(
        self,
        kind: AlertKind,
        *,
        raise_rule: str | None,
        clear_rule: str | None,
        values: Values,
        profile: str,
        at: datetime | None = None,
        severity: Severity | None = None,
    ) -> None:
        """Raise or clear an on/off condition; give at most one of the two rules.

        ``severity`` replaces the kind's (``SEVERITIES``) where one device's condition says
        more than the kind does (a Zigbee bridge offline: every device behind it deaf)."""
        is_raised = kind in self.state.raised
        level = SEVERITIES[kind] if severity is None else severity
        if raise_rule is not None and not is_raised:
            self.state = replace(self.state, raised=self.state.raised | {kind})
            self.emit(kind, AlertState.RAISED, level, raise_rule, values, profile, at)
        elif clear_rule is not None and is_raised:
            self.state = replace(self.state, raised=self.state.raised - {kind})
            self.emit(kind, AlertState.CLEARED, level, clear_rule, values, profile, at)
