"""Alert detection: pure functions of (device state, device, input, event time).

No I/O, no clock: the caller passes the event time (or, for ``tick``, the current time) in
and carries out what comes back. Only transitions produce alerts: a second ``smoke: true``
while smoke is raised produces nothing. Every alert's reason names the rule, the values it
saw and the profile applied.

- ``detect`` handles one observation: readings feed the detectors in ``edge.detectors``
  (the CO dose model, the heat trend, the SOS gestures, the battery trend and flat lines)
  and the simpler rules here (gas levels, smoke flag and obscuration, leak, tamper,
  battery level); any message from the device proves it alive.
- ``tick`` handles the passing of time with no new reading: a leak that has stayed dry, a
  device past its check-in deadline.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from devices.kinds import AlertKind, AlertState, DeviceKind, Severity
from devices.messages import AlertReason
from devices.observations import AvailabilityChange, DeviceEvent, Observation, StateUpdate
from devices.payloads import DEVICE_ANNOUNCE, Readings
from devices.registry import Device
from edge.detectors import sos as sos_rules
from edge.detectors.co import CoExposure
from edge.detectors.faults import BatteryHistory, FlatLine
from edge.detectors.heat import HeatTrend
from edge.detectors.liveness import checkin_deadline_s
from edge.detectors.profile import DEFAULT_PROFILE, DetectionProfile
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
    co: CoExposure = field(default_factory=CoExposure)
    heat: HeatTrend = field(default_factory=HeatTrend)
    leak_dry_since: datetime | None = None
    """While a leak is raised: since when the sensor has read dry."""
    sos: SosState = field(default_factory=SosState)
    battery: BatteryHistory = field(default_factory=BatteryHistory)
    flat: tuple[tuple[str, FlatLine], ...] = ()
    """Per analog reading name (``STUCK_READINGS``), the value it keeps repeating."""

    def __post_init__(self) -> None:
        if not self.raised <= _ON_OFF_KINDS:
            raise StateFormatError(f"not on/off conditions: {sorted(self.raised - _ON_OFF_KINDS)}")

    def to_json(self) -> str:
        """Serialise for the outbox."""
        co = self.co
        data = {
            "raised": sorted(self.raised),
            "gas": self.gas,
            "last_seen": _time_text(self.last_seen),
            "co": {
                "dose": co.dose,
                "ppm": co.ppm,
                "at": _time_text(co.at),
                "until": _time_text(co.until),
                "clean_since": _time_text(co.clean_since),
            },
            "heat": {
                "samples": [[_time_text(at), c] for at, c in self.heat.samples],
                "cool_since": _time_text(self.heat.cool_since),
            },
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
                co=CoExposure(
                    dose=float(co.get("dose", 0.0)),
                    ppm=None if co.get("ppm") is None else float(co["ppm"]),
                    at=_parse_time(co.get("at")),
                    until=_parse_time(co.get("until")),
                    clean_since=_parse_time(co.get("clean_since")),
                ),
                heat=HeatTrend(
                    samples=tuple(
                        (_required_time(at), float(c)) for at, c in heat.get("samples", [])
                    ),
                    cool_since=_parse_time(heat.get("cool_since")),
                ),
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
            )
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            raise StateFormatError(f"unreadable device state {text[:80]!r}") from exc


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


@dataclass(frozen=True, slots=True)
class Detection:
    """The outcome of one observation or tick: the device's new state and the alerts."""

    state: DeviceState
    alerts: tuple[AlertDecision, ...] = ()
    self_test: bool = False
    """The observation reported a smoke detector self-test (recorded, never an alarm)."""


Values = dict[str, float | bool | str]


@dataclass(slots=True)
class _Step:
    """Accumulates one observation's (or tick's) decisions; private to this module."""

    state: DeviceState
    event_time: datetime
    alerts: list[AlertDecision] = field(default_factory=list)

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
    ) -> None:
        """Raise or clear an on/off condition; give at most one of the two rules."""
        is_raised = kind in self.state.raised
        if raise_rule is not None and not is_raised:
            self.state = replace(self.state, raised=self.state.raised | {kind})
            self.emit(kind, AlertState.RAISED, SEVERITIES[kind], raise_rule, values, profile, at)
        elif clear_rule is not None and is_raised:
            self.state = replace(self.state, raised=self.state.raised - {kind})
            self.emit(kind, AlertState.CLEARED, SEVERITIES[kind], clear_rule, values, profile, at)


def detect(
    state: DeviceState,
    device: Device,
    observation: Observation,
    event_time: datetime,
    profile: DetectionProfile = DEFAULT_PROFILE,
    *,
    received_at: datetime | None = None,
) -> Detection:
    """Return the device's new state and the alerts one observation causes.

    ``event_time`` is when the reading was taken (device time, else receive time);
    ``received_at`` is when the edge received it (defaults to ``event_time``).
    """
    step = _Step(state, event_time)
    seen = event_time if received_at is None else received_at
    self_test = False
    match observation:
        case StateUpdate(readings):
            _checked_in(step, seen, "message_received")
            self_test = readings.smoke_test is True
            for rule in _READING_RULES:
                rule(step, device, readings, profile)
        case DeviceEvent(event):
            _checked_in(step, seen, "message_received")
            if event == DEVICE_ANNOUNCE:
                _rejoined(step, device, profile)
            else:
                _sos_rule(step, device, event, profile)
        case AvailabilityChange(online=True):
            if AlertKind.DEVICE_OFFLINE in step.state.raised:
                _rejoined(step, device, profile)  # back from offline: as good as a re-join
            _checked_in(step, seen, "availability=online")
        case AvailabilityChange(online=False):
            # The bridge's (or the device's last will's) word, not a check-in by the device.
            step.switch(
                AlertKind.DEVICE_OFFLINE,
                raise_rule="availability=offline",
                clear_rule=None,
                values={"availability": "offline"},
                profile=LIVENESS_PROFILE,
            )
    return Detection(step.state, tuple(step.alerts), self_test)


def tick(
    state: DeviceState,
    device: Device,
    now: datetime,
    profile: DetectionProfile = DEFAULT_PROFILE,
    *,
    watching_since: datetime | None = None,
) -> Detection:
    """Return the device's new state and the alerts that the passing of time causes.

    ``watching_since`` is when the caller began listening (the edge's start): a check-in
    deadline never counts from earlier, so an edge that was down for hours does not report
    every device offline at once, and a device never heard from at all still gets a deadline.

    ``now`` is the edge's clock, compared only with ``last_seen`` (also the edge's clock).
    Each alert carries the moment its condition became true (a leak silent and dry for long
    enough, a check-in deadline passed), never later than ``now``.
    """
    step = _Step(state, now)
    _leak_tick(step, profile)
    _liveness_tick(step, device, now, profile, watching_since)
    return Detection(step.state, tuple(step.alerts))


# --- liveness ------------------------------------------------------------------------------


def _checked_in(step: _Step, seen: datetime, rule: str) -> None:
    last = step.state.last_seen
    if last is None or seen > last:
        step.state = replace(step.state, last_seen=seen)
    step.switch(
        AlertKind.DEVICE_OFFLINE,
        raise_rule=None,
        clear_rule=rule,
        values={"availability": "online"},
        profile=LIVENESS_PROFILE,
    )


def _liveness_tick(
    step: _Step,
    device: Device,
    now: datetime,
    profile: DetectionProfile,
    watching_since: datetime | None,
) -> None:
    known = [t for t in (step.state.last_seen, watching_since) if t is not None]
    if not known:
        return
    last = max(known)
    deadline_s = checkin_deadline_s(device, profile.checkin_s)
    due = last + timedelta(seconds=deadline_s)
    if now >= due:
        step.switch(
            AlertKind.DEVICE_OFFLINE,
            raise_rule="checkin_overdue",
            clear_rule=None,
            values={"silent_since": last.isoformat(), "deadline_s": deadline_s},
            profile=LIVENESS_PROFILE,
            at=due,
        )


# --- life safety ---------------------------------------------------------------------------


def _smoke_rule(step: _Step, device: Device, r: Readings, profile: DetectionProfile) -> None:
    density = r.smoke_density_db_per_m
    if r.smoke is None and density is None:
        return
    alarm = profile.smoke_density_alarm_db_per_m
    dense = density is not None and density >= alarm
    if (r.smoke or dense) and r.smoke_test is True:
        # A detector in self-test sounds and may report smoke: that is a test, not a fire.
        return
    values = _present(smoke=r.smoke, smoke_density_db_per_m=density)
    clear_below = profile.smoke_density_clear_db_per_m
    raise_rule: str | None = None
    clear_rule: str | None = None
    rule_profile = FLAG_PROFILE if density is None else SMOKE_DENSITY_PROFILE
    if r.smoke:
        raise_rule, rule_profile = "smoke=true", FLAG_PROFILE
    elif dense:
        raise_rule = f"smoke_density_db_per_m>={alarm:g}"
    elif density is None:
        clear_rule = "smoke=false"
    elif density < clear_below:
        # Hysteresis: measured obscuration clears only well below the alarm level.
        clear_rule = f"smoke_density_db_per_m<{clear_below:g}"
    step.switch(
        AlertKind.SMOKE,
        raise_rule=raise_rule,
        clear_rule=clear_rule,
        values=values,
        profile=rule_profile,
    )


def _heat_rule(step: _Step, device: Device, r: Readings, profile: DetectionProfile) -> None:
    if r.temperature_c is None or device.kind not in HEAT_DEVICE_KINDS:
        return
    settings = profile.heat
    trend = step.state.heat.read(r.temperature_c, step.event_time, settings)
    step.state = replace(step.state, heat=trend)
    values: Values = {"temperature_c": r.temperature_c}
    raise_rule: str | None = None
    clear_rule: str | None = None
    rate = trend.rate_of_rise(settings)
    if trend.fixed_exceeded(settings):
        raise_rule = f"temperature_c>={settings.fixed_c:g} on 2 consecutive readings"
    elif rate is not None:
        raise_rule = f"rate_of_rise>={settings.ror_c_per_min:g}C/min"
        values["rise_c_per_min"] = round(rate, 2)
    elif trend.cooled(step.event_time, settings):
        clear_bound = settings.fixed_c - settings.clear_margin_c
        clear_rule = f"temperature_c<{clear_bound:g} for {settings.clear_after_s:g}s"
    step.switch(
        AlertKind.HEAT,
        raise_rule=raise_rule,
        clear_rule=clear_rule,
        values=values,
        profile=HEAT_PROFILE,
    )


def _co_rule(step: _Step, device: Device, r: Readings, profile: DetectionProfile) -> None:
    ppm, flag = r.co_ppm, r.co_alarm
    if ppm is None and flag is None:
        return
    settings = profile.co
    exposure = step.state.co
    if ppm is not None:
        exposure = exposure.read(ppm, step.event_time, settings)
        step.state = replace(step.state, co=exposure)
    values = _present(co_ppm=ppm, co_alarm=flag)
    if ppm is not None:
        values["co_dose"] = round(exposure.dose, 3)
    if flag is True:
        step.switch(
            AlertKind.CO,
            raise_rule="co_alarm=true",
            clear_rule=None,
            values=values,
            profile=FLAG_PROFILE,
        )
    elif exposure.alarming:
        step.switch(
            AlertKind.CO,
            raise_rule="co_dose>=1",
            clear_rule=None,
            values=values,
            profile=settings.standard.name,
        )
    elif ppm is not None and exposure.clean(step.event_time, settings):
        step.switch(
            AlertKind.CO,
            raise_rule=None,
            clear_rule=(
                f"co_ppm<{settings.clean_ppm:g} for {settings.clean_for_s:g}s"
                f" and co_dose<={settings.clear_dose:g}"
            ),
            values=values,
            profile=settings.standard.name,
        )
    elif ppm is None and exposure.dose <= settings.clear_dose:
        step.switch(
            AlertKind.CO,
            raise_rule=None,
            clear_rule="co_alarm=false",
            values=values,
            profile=FLAG_PROFILE,
        )


def _gas_rule(step: _Step, device: Device, r: Readings, profile: DetectionProfile) -> None:
    pct, flag = r.gas_lel_pct, r.gas
    if pct is None and flag is None:
        return
    values = _present(gas_lel_pct=pct, gas=flag)
    level = step.state.gas
    alarm, warning, clear = (
        profile.gas_alarm_lel_pct,
        profile.gas_warning_lel_pct,
        profile.gas_clear_lel_pct,
    )
    name = f"lel-{warning:g}-{alarm:g}"
    if flag is True:
        target, rule, name = GasLevel.ALARM, "gas=true", FLAG_PROFILE
    elif pct is not None and pct >= alarm:
        target, rule = GasLevel.ALARM, f"gas_lel_pct>={alarm:g}"
    elif pct is not None and pct >= warning:
        target, rule = GasLevel.WARNING, f"gas_lel_pct>={warning:g}"
    elif pct is None:
        target, rule, name = GasLevel.CLEAR, "gas=false", FLAG_PROFILE
    elif pct < clear:
        target, rule = GasLevel.CLEAR, f"gas_lel_pct<{clear:g}"
    else:
        return  # between the clear and warning bounds: hold whatever level we are at
    if target is GasLevel.CLEAR:
        if level is not GasLevel.CLEAR:
            step.state = replace(step.state, gas=GasLevel.CLEAR)
            step.emit(AlertKind.GAS, AlertState.CLEARED, level.severity, rule, values, name)
    elif _GAS_ORDER.index(target) > _GAS_ORDER.index(level):
        # Escalation (clear → warning → alarm) is a new raised alert with the higher severity;
        # de-escalation above the clear bound holds the level (hysteresis), with no alert.
        step.state = replace(step.state, gas=target)
        step.emit(AlertKind.GAS, AlertState.RAISED, target.severity, rule, values, name)


_GAS_ORDER = (GasLevel.CLEAR, GasLevel.WARNING, GasLevel.ALARM)


# --- property and faults -------------------------------------------------------------------


def _water_leak_rule(step: _Step, device: Device, r: Readings, profile: DetectionProfile) -> None:
    # Wet raises at once: an unreported leak is worse than one extra case. Dry clears only
    # after the sensor has read dry for leak_dry_clear_s, so a flapping sensor (wet and dry
    # within a second, as real ones do) raises once instead of once per flap.
    if r.water_leak is None:
        return
    values: Values = {"water_leak": r.water_leak}
    if r.water_leak:
        step.state = replace(step.state, leak_dry_since=None)
        step.switch(
            AlertKind.WATER_LEAK,
            raise_rule="water_leak=true",
            clear_rule=None,
            values=values,
            profile=LEAK_PROFILE,
        )
        return
    if AlertKind.WATER_LEAK not in step.state.raised:
        return
    dry_since = step.state.leak_dry_since or step.event_time
    step.state = replace(step.state, leak_dry_since=dry_since)
    if (step.event_time - dry_since).total_seconds() >= profile.leak_dry_clear_s:
        _clear_leak(step, profile, values, step.event_time)


def _leak_tick(step: _Step, profile: DetectionProfile) -> None:
    # The last leak reading was dry and the device has said nothing since: it has been dry
    # for at least the silence. Judged on the edge's clock (last_seen), not on the device's
    # event times, which may run behind the edge's and would clear a flapping leak at once.
    last = step.state.last_seen
    if step.state.leak_dry_since is None or last is None:
        return
    if AlertKind.WATER_LEAK not in step.state.raised:
        return
    dry_at = last + timedelta(seconds=profile.leak_dry_clear_s)
    if step.event_time >= dry_at:
        _clear_leak(step, profile, {"water_leak": False}, dry_at)


def _clear_leak(step: _Step, profile: DetectionProfile, values: Values, at: datetime) -> None:
    step.state = replace(step.state, leak_dry_since=None)
    step.switch(
        AlertKind.WATER_LEAK,
        raise_rule=None,
        clear_rule=f"water_leak=false for {profile.leak_dry_clear_s:g}s",
        values=values,
        profile=LEAK_PROFILE,
        at=at,
    )


def _battery_rule(step: _Step, device: Device, r: Readings, profile: DetectionProfile) -> None:
    pct, flag = r.battery_pct, r.battery_low
    if pct is None and flag is None:
        return
    values = _present(battery_pct=pct, battery_low=flag)
    low, ok = profile.battery_raise_pct, profile.battery_clear_pct
    raise_rule: str | None = None
    clear_rule: str | None = None
    if flag is True:
        raise_rule = "battery_low=true"
    elif pct is not None and pct < low:
        raise_rule = f"battery_pct<{low:g}"
    elif pct is not None:
        clear_rule = f"battery_pct>={ok:g}" if pct >= ok else None
    else:
        clear_rule = "battery_low=false"
    step.switch(
        AlertKind.BATTERY_LOW,
        raise_rule=raise_rule,
        clear_rule=clear_rule,
        values=values,
        profile=BATTERY_PROFILE,
    )


def _sos_rule(step: _Step, device: Device, event: str, profile: DetectionProfile) -> None:
    if device.kind is not DeviceKind.SOS_BUTTON:
        return
    pressed = sos_rules.ButtonPressed(event, step.event_time)
    state, verdict = sos_rules.transition(step.state.sos, pressed, profile.sos)
    step.state = replace(step.state, sos=state)
    values: Values = {"event": event}
    match verdict:
        case sos_rules.RaiseSos(suspected, details):
            # Every raising press is a new alert, sent at once, never held back for a
            # possible cancel; a suspected uncommanded press is marked, never dropped.
            if suspected is not None:
                values.update(suspected_uncommanded=True, uncommanded_rule=suspected)
                values.update(details)
            step.emit(
                AlertKind.SOS,
                AlertState.RAISED,
                SEVERITIES[AlertKind.SOS],
                "button_press",
                values,
                SOS_PROFILE,
            )
        case sos_rules.CancelSos(raised_at, after_s):
            # Recorded, not erased: a cleared sos joins the open case as evidence, and an
            # operator still closes the case.
            values.update(
                cancel_window_s=profile.sos.cancel_window_s,
                seconds_after_press=round(after_s, 1),
                cancelled_press_at=raised_at.isoformat(),
            )
            step.emit(
                AlertKind.SOS,
                AlertState.CLEARED,
                SEVERITIES[AlertKind.SOS],
                sos_rules.RULE_CANCELLED,
                values,
                SOS_PROFILE,
            )


def _rejoined(step: _Step, device: Device, profile: DetectionProfile) -> None:
    if device.kind is not DeviceKind.SOS_BUTTON:
        return
    rejoined = sos_rules.DeviceRejoined(step.event_time)
    state, _ = sos_rules.transition(step.state.sos, rejoined, profile.sos)
    step.state = replace(step.state, sos=state)


def _tamper_rule(step: _Step, device: Device, r: Readings, profile: DetectionProfile) -> None:
    if r.tamper is None:
        return
    step.switch(
        AlertKind.DEVICE_TAMPER,
        raise_rule="tamper=true" if r.tamper else None,
        clear_rule=None if r.tamper else "tamper=false",
        values={"tamper": r.tamper},
        profile=TAMPER_PROFILE,
    )


def _battery_trend_rule(
    step: _Step, device: Device, r: Readings, profile: DetectionProfile
) -> None:
    if r.battery_pct is None:
        return
    settings = profile.battery_trend
    before = step.state.battery
    history, replaced = before.read(r.battery_pct, step.event_time, settings)
    if history is before:
        return  # not a new sample (too soon, or out of order): the trend is as it was
    step.state = replace(step.state, battery=history)
    if replaced:
        step.switch(
            AlertKind.BATTERY_DECLINING,
            raise_rule=None,
            clear_rule=f"battery_pct rose by >={settings.replacement_jump_pct:g} (replaced)",
            values={"battery_pct": r.battery_pct},
            profile=BATTERY_TREND_PROFILE,
        )
        return
    projection = history.projection(settings)
    if projection is None:
        return
    values: Values = {
        "battery_pct": r.battery_pct,
        "slope_pct_per_day": round(projection.slope_pct_per_day, 3),
        "window_days": settings.window_days,
    }
    days = projection.days_to_empty
    if days is not None:
        values["days_to_empty"] = round(days, 1)
    horizon = settings.horizon_days
    if days is not None and days <= horizon:
        step.switch(
            AlertKind.BATTERY_DECLINING,
            raise_rule=f"battery trend reaches 0% within {horizon:g} days",
            clear_rule=None,
            values=values,
            profile=BATTERY_TREND_PROFILE,
        )
    elif days is None or days > horizon * settings.clear_factor:
        step.switch(
            AlertKind.BATTERY_DECLINING,
            raise_rule=None,
            clear_rule=f"battery trend beyond {horizon * settings.clear_factor:g} days",
            values=values,
            profile=BATTERY_TREND_PROFILE,
        )


def _stuck_rule(step: _Step, device: Device, r: Readings, profile: DetectionProfile) -> None:
    present: dict[str, float] = {
        name: float(value) for name in STUCK_READINGS if (value := getattr(r, name)) is not None
    }
    names = list(present)
    if not names:
        return
    lines = dict(step.state.flat)
    for name in names:
        lines[name] = lines.get(name, FlatLine()).read(present[name], step.event_time)
    step.state = replace(step.state, flat=tuple(sorted(lines.items())))
    stuck = [
        (n, line) for n, line in sorted(lines.items()) if line.stuck(step.event_time, profile.stuck)
    ]
    settings = profile.stuck
    if stuck:
        name, line = stuck[0]
        assert line.since is not None
        assert line.value is not None
        hours = (step.event_time - line.since).total_seconds() / 3600
        step.switch(
            AlertKind.SENSOR_STUCK,
            raise_rule=(
                f"{name} bit-identical for >={settings.after_s:g}s"
                f" and >={settings.min_readings} readings"
            ),
            clear_rule=None,
            values={name: line.value, "unchanged_hours": round(hours, 2), "readings": line.count},
            profile=STUCK_PROFILE,
        )
    elif any(lines[name].count == 1 for name in names):
        # A reported value moved: the sensor is alive again.
        step.switch(
            AlertKind.SENSOR_STUCK,
            raise_rule=None,
            clear_rule="value changed",
            values=dict(present),
            profile=STUCK_PROFILE,
        )


def _present(**readings: float | bool | None) -> Values:
    return {name: value for name, value in readings.items() if value is not None}


# Life-safety rules first, so one message's alerts leave in the order that matters.
_READING_RULES: tuple[Callable[[_Step, Device, Readings, DetectionProfile], None], ...] = (
    _smoke_rule,
    _heat_rule,
    _co_rule,
    _gas_rule,
    _water_leak_rule,
    _tamper_rule,
    _battery_rule,
    _battery_trend_rule,
    _stuck_rule,
)
