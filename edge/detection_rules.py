"""The rules that turn one device's readings into alert decisions, life safety first.

Each rule is a pure function of (step, device, readings, profile): it reads the state in the
``Step``, switches conditions on or off and records the decisions there. ``READING_RULES`` is
their order for a state update; ``sos_rule`` and ``rejoined`` serve device events and
``leak_tick``, ``gas_tick`` and ``co_tick`` the passing of time (``edge.detection``, which
holds ``heat_tick``).
"""

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from devices.kinds import AlertKind, AlertState, DeviceKind
from devices.payloads import Readings
from devices.registry import Device
from edge.detection_state import (
    BATTERY_PROFILE,
    BATTERY_TREND_PROFILE,
    FLAG_PROFILE,
    HEAT_DEVICE_KINDS,
    HEAT_PROFILE,
    LEAK_PROFILE,
    SEVERITIES,
    SMOKE_DENSITY_PROFILE,
    SOS_PROFILE,
    STUCK_PROFILE,
    STUCK_READINGS,
    TAMPER_PROFILE,
    GasLevel,
    Step,
    Values,
)
from edge.detectors import sos as sos_rules
from edge.detectors.co import CoExposure, late_reading
from edge.detectors.faults import FlatLine
from edge.detectors.profile import DetectionProfile

# --- life safety ---------------------------------------------------------------------------


def _self_test_rule(step: Step, device: Device, r: Readings, profile: DetectionProfile) -> None:
    """Decide whether the observation is a self-test the edge believes (``Step.self_test``).

    A test is believed for ``self_test_max_s`` from when the edge first heard it said (its
    clock). Said longer, the flag is stale (Zigbee2MQTT republishing a cached ``self_test:
    true``): the detector's alarm flags count again, a missed fire being worse than a test
    taken for one. A reading that does not say a test ends it, one that says nothing of it
    too: Tasmota and native devices say a test only while it runs, and their next test is a
    test of its own.
    """
    if r.smoke_test is not True or step.seen is None:
        if step.state.self_test_since is not None:
            step.state = replace(step.state, self_test_since=None)
        return
    since = step.state.self_test_since or step.seen
    step.state = replace(step.state, self_test_since=since)
    running_s = (step.seen - since).total_seconds()
    step.self_test = running_s < profile.self_test_max_s
    if not step.self_test:
        step.stale_self_test_s = round(running_s, 1)


def _stale_test(step: Step, values: Values) -> Values:
    """Return ``values`` marked with a stale self-test's duration, if the message said one."""
    if step.stale_self_test_s is not None:
        values["stale_self_test_s"] = step.stale_self_test_s
    return values


def _smoke_rule(step: Step, device: Device, r: Readings, profile: DetectionProfile) -> None:
    density = r.smoke_density_db_per_m
    if r.smoke is None and density is None:
        return
    alarm = profile.smoke_density_alarm_db_per_m
    dense = density is not None and density >= alarm
    if (r.smoke or dense) and step.self_test:
        # A detector in self-test sounds and may report smoke: that is a test, not a fire.
        return
    values = _stale_test(step, _present(smoke=r.smoke, smoke_density_db_per_m=density))
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


def _heat_rule(step: Step, device: Device, r: Readings, profile: DetectionProfile) -> None:
    if r.temperature_c is None or device.kind not in HEAT_DEVICE_KINDS:
        return
    settings = profile.heat
    doubtful = "temperature_c" in step.doubtful
    trend = step.state.heat.read(r.temperature_c, step.event_time, settings, doubtful=doubtful)
    step.state = replace(step.state, heat=trend)
    values: Values = {"temperature_c": r.temperature_c}
    if doubtful:
        values["doubtful"] = True
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


def _co_rule(step: Step, device: Device, r: Readings, profile: DetectionProfile) -> None:
    ppm, flag = r.co_ppm, _unless_self_test(r.co_alarm, step)
    if ppm is None and flag is None:
        return
    settings = profile.co
    exposure = step.state.co
    if ppm is not None:
        exposure, late = late_reading(
            exposure,
            ppm,
            step.event_time,
            settings,
            came=step.state.co_seen,
            seen=step.seen,
            late_before=step.state.co_late,
        )
        if flag is True and exposure.clean_since is not None:
            # Clean air counts from when the detector stops saying alarm: the edge must not
            # clear what the detector still sounds (its next message would raise it again).
            exposure = replace(exposure, clean_since=None)
        step.state = replace(step.state, co=exposure, co_late=late)
    values = _stale_test(step, _present(co_ppm=ppm, co_alarm=flag))
    if ppm is not None:
        values["co_dose"] = round(exposure.dose, 3)
    raise_rule: str | None = None
    clear_rule: str | None = None
    rule_profile = settings.standard.name
    if flag is True:
        raise_rule, rule_profile = "co_alarm=true", FLAG_PROFILE
    elif exposure.alarming:
        raise_rule = "co_dose>=1"
    elif ppm is not None and exposure.clean(step.event_time, settings):
        clear_rule = (
            f"co_ppm<{settings.clean_ppm:g} for {settings.clean_for_s:g}s"
            f" and co_dose<={settings.clear_dose:g}"
        )
    elif ppm is None and exposure.dose <= settings.clear_dose:
        clear_rule, rule_profile = "co_alarm=false", FLAG_PROFILE
    else:
        return
    step.switch(
        AlertKind.CO,
        raise_rule=raise_rule,
        clear_rule=clear_rule,
        values=values,
        profile=rule_profile,
    )


def co_tick(step: Step, profile: DetectionProfile) -> None:
    """Raise CO at the instant the standing reading brings the dose to the alarm, between the
    detector's reports (``CoExposure.alarm_by``); clear it at the instant the standing clean
    reading has stood long enough and the dose has decayed (``CoExposure.cleared_by``)."""
    exposure = step.state.co
    # When the standing reading came, on the edge's clock (a state from an older edge has
    # only last_seen, which any message of the device moves).
    last = step.state.co_seen or step.state.last_seen
    if exposure.at is None or last is None:
        return
    # How long the reading has stood, on the edge's clock (compared only with co_seen), added
    # to its event time: the two clocks are never compared with each other.
    horizon = exposure.at + max(step.event_time - last, timedelta(0))
    if AlertKind.CO in step.state.raised:
        _co_clear_tick(step, exposure, horizon, profile)
        return
    reached = exposure.alarm_by(horizon, profile.co)
    if reached is None:
        return
    advanced = exposure.advance(reached, profile.co)
    step.state = replace(step.state, co=advanced)
    step.switch(
        AlertKind.CO,
        raise_rule="co_dose>=1",
        clear_rule=None,
        values=_present(co_ppm=exposure.ppm, co_dose=round(advanced.dose, 3)),
        profile=profile.co.standard.name,
        at=reached,
    )


def _co_clear_tick(
    step: Step, exposure: CoExposure, horizon: datetime, profile: DetectionProfile
) -> None:
    settings = profile.co
    cleared = exposure.cleared_by(horizon, settings)
    if cleared is None:
        return
    advanced = exposure.advance(cleared, settings)
    step.state = replace(step.state, co=advanced)
    step.switch(
        AlertKind.CO,
        raise_rule=None,
        clear_rule=(
            f"co_ppm<{settings.clean_ppm:g} for {settings.clean_for_s:g}s"
            f" and co_dose<={settings.clear_dose:g}"
        ),
        values=_present(co_ppm=exposure.ppm, co_dose=round(advanced.dose, 3)),
        profile=settings.standard.name,
        at=cleared,
    )


def _gas_rule(step: Step, device: Device, r: Readings, profile: DetectionProfile) -> None:
    pct, flag = r.gas_lel_pct, _unless_self_test(r.gas, step)
    if pct is None and flag is None:
        return
    values = _stale_test(step, _present(gas_lel_pct=pct, gas=flag))
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
        # Between the clear and warning bounds: hold whatever level we are at, and the air
        # is not clean yet.
        step.state = replace(step.state, gas_clean_since=None)
        return
    if target is GasLevel.CLEAR and pct is None:
        # The detector's own flag clears at once, as smoke's and CO's: it is the detector's
        # decision, made with its own hysteresis.
        if level is not GasLevel.CLEAR:
            _clear_gas(step, rule, values, name)
        return
    if target is GasLevel.CLEAR:
        if level is GasLevel.CLEAR:
            return
        # A measured level clears only once every reading has been below the clear level for
        # the hold: a concentration swinging round it raised and cleared at each swing.
        since = step.state.gas_clean_since or step.event_time
        step.state = replace(step.state, gas_clean_since=since)
        if (step.event_time - since).total_seconds() >= profile.gas_clear_hold_s:
            _clear_gas(step, f"{rule} for {profile.gas_clear_hold_s:g}s", values, name)
        return
    step.state = replace(step.state, gas_clean_since=None)
    if _GAS_ORDER.index(target) > _GAS_ORDER.index(level):
        # Escalation (clear → warning → alarm) is a new raised alert with the higher severity;
        # de-escalation above the clear bound holds the level (hysteresis), with no alert.
        step.state = replace(step.state, gas=target)
        step.emit(AlertKind.GAS, AlertState.RAISED, target.severity, rule, values, name)


_GAS_ORDER = (GasLevel.CLEAR, GasLevel.WARNING, GasLevel.ALARM)


def _clear_gas(
    step: Step, rule: str, values: Values, name: str, at: datetime | None = None
) -> None:
    level = step.state.gas
    step.state = replace(step.state, gas=GasLevel.CLEAR, gas_clean_since=None)
    step.emit(AlertKind.GAS, AlertState.CLEARED, level.severity, rule, values, name, at)


def gas_tick(step: Step, profile: DetectionProfile) -> None:
    """Clear gas whose last level was below the clear level once the device has said nothing
    for the clear hold (a detector reporting on change sends nothing more while the air stays
    clean). Judged on the edge's clock, as ``leak_tick``."""
    last = step.state.last_seen
    if step.state.gas is GasLevel.CLEAR or step.state.gas_clean_since is None or last is None:
        return
    hold = profile.gas_clear_hold_s
    clean_at = last + timedelta(seconds=hold)
    if step.event_time >= clean_at:
        warning, alarm = profile.gas_warning_lel_pct, profile.gas_alarm_lel_pct
        rule = f"gas_lel_pct<{profile.gas_clear_lel_pct:g} for {hold:g}s"
        _clear_gas(step, rule, {"quiet_s": hold}, f"lel-{warning:g}-{alarm:g}", clean_at)


def _unless_self_test(flag: bool | None, step: Step) -> bool | None:
    """Return a detector's own alarm flag, or None if it is raised during its self-test.

    A CO or gas detector under test sounds and may report its alarm (a Tuya gas sensor
    publishes ``gas: "True"`` with ``self_test: true``, Koenkk/zigbee-herdsman-converters#6351):
    that is a test, as for smoke. A measured level (``co_ppm``, ``gas_lel_pct``) still counts.
    """
    return None if flag is True and step.self_test else flag


# --- property and faults -------------------------------------------------------------------


def _water_leak_rule(step: Step, device: Device, r: Readings, profile: DetectionProfile) -> None:
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


def leak_tick(step: Step, profile: DetectionProfile) -> None:
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


def _clear_leak(step: Step, profile: DetectionProfile, values: Values, at: datetime) -> None:
    step.state = replace(step.state, leak_dry_since=None)
    step.switch(
        AlertKind.WATER_LEAK,
        raise_rule=None,
        clear_rule=f"water_leak=false for {profile.leak_dry_clear_s:g}s",
        values=values,
        profile=LEAK_PROFILE,
        at=at,
    )


def _battery_rule(step: Step, device: Device, r: Readings, profile: DetectionProfile) -> None:
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


def sos_rule(
    step: Step,
    device: Device,
    event: str,
    profile: DetectionProfile,
    *,
    raise_rule: str = "button_press",
    marked: str | None = None,
    extra: Values | None = None,
) -> None:
    """Apply an SOS button's gesture ``event``. ``marked``: a suspicion the caller already has
    of the press (``edge.detectors.inputs.RULE_FIRST_SIGHTING``), kept if the SOS rules
    find none of their own."""
    if device.kind is not DeviceKind.SOS_BUTTON:
        return
    pressed = sos_rules.ButtonPressed(event, step.event_time)
    state, verdict = sos_rules.transition(step.state.sos, pressed, profile.sos)
    step.state = replace(step.state, sos=state)
    values: Values = {"event": event, **(extra or {})}
    match verdict:
        case sos_rules.RaiseSos(suspected, details):
            suspected = suspected or marked
            # Every raising press is a new alert, sent at once, never held back for a
            # possible cancel; a suspected uncommanded press is marked, never dropped.
            if suspected is not None:
                values.update(suspected_uncommanded=True, uncommanded_rule=suspected)
                values.update(details)
            step.emit(
                AlertKind.SOS,
                AlertState.RAISED,
                SEVERITIES[AlertKind.SOS],
                raise_rule,
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


def rejoined(step: Step, device: Device, profile: DetectionProfile) -> None:
    if device.kind is not DeviceKind.SOS_BUTTON:
        return
    rejoined = sos_rules.DeviceRejoined(step.event_time)
    state, _ = sos_rules.transition(step.state.sos, rejoined, profile.sos)
    step.state = replace(step.state, sos=state)


def _tamper_rule(step: Step, device: Device, r: Readings, profile: DetectionProfile) -> None:
    if r.tamper is None:
        return
    step.switch(
        AlertKind.DEVICE_TAMPER,
        raise_rule="tamper=true" if r.tamper else None,
        clear_rule=None if r.tamper else "tamper=false",
        values={"tamper": r.tamper},
        profile=TAMPER_PROFILE,
    )


def _battery_trend_rule(step: Step, device: Device, r: Readings, profile: DetectionProfile) -> None:
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


def _stuck_rule(step: Step, device: Device, r: Readings, profile: DetectionProfile) -> None:
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
READING_RULES: tuple[Callable[[Step, Device, Readings, DetectionProfile], None], ...] = (
    _self_test_rule,
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
