"""An outside review of the CO dose model against UL 2034 and EN 50291, as a Zigbee CO sensor
reports: Zigbee2MQTT messages decoded as the edge decodes them, detected on event time, and
the edge's tick between them (simulated time: hours replay in milliseconds).

A Tuya-style detector reports its ``co`` on change (of a few ppm) and its battery now and
then: while the air stays clean nothing but battery reports come, for hours.
"""

import json
from collections.abc import Callable, Iterable

import pytest

from devices.kinds import AlertKind, DeviceKind
from edge.detection import AlertDecision, DeviceState, detect, tick
from edge.detectors.profile import DEFAULT_PROFILE, DetectionProfile
from tests.devices.test_tasmota_shelly import decode
from tests.edge.detection_series import RAISED, at, device, minutes_after_t0

EN = DetectionProfile.for_co_standard("en50291")
UL = DEFAULT_PROFILE
HOUR = 3600.0
DAY = 24 * HOUR


def replay(
    messages: Iterable[tuple[float, dict[str, object]]],
    until_s: float,
    profile: DetectionProfile,
    tick_s: float = 10.0,
) -> list[AlertDecision]:
    """Decode each (seconds after T0, Zigbee2MQTT payload) as it comes, ticking between."""
    dev = device(DeviceKind.CO)
    state = DeviceState()
    alerts: list[AlertDecision] = []
    pending = sorted(messages, key=lambda m: m[0])
    now = 0.0
    while now <= until_s:
        while pending and pending[0][0] <= now:
            seconds, payload = pending.pop(0)
            (decoded,) = decode("zigbee2mqtt/b3 1201 co", json.dumps(payload), DeviceKind.CO)
            for observation in decoded.observations:
                result = detect(state, dev, observation, at(seconds), profile)
                state = result.state
                alerts.extend(result.alerts)
        result = tick(state, dev, at(now), profile)
        state = result.state
        alerts.extend(result.alerts)
        now += tick_s
    return alerts


def co(ppm: int) -> dict[str, object]:
    return {"co": ppm, "carbon_monoxide": False, "battery": 90}


def battery_every_hour(start_s: float, end_s: float) -> list[tuple[float, dict[str, object]]]:
    return [(start_s + HOUR * i, {"battery": 90}) for i in range(1, int((end_s - start_s) / HOUR))]


def test_en50291_a_day_of_clean_air_forgets_an_earlier_exposure() -> None:
    # 100 ppm for 19 min (just short of its alarm), then clean air: the sensor reports 0 once
    # and then only its battery, for a day. Then a steady 50 ppm, reported every 5 min: EN
    # 50291 allows its alarm only between 60 and 90 min, as from clean air. A dose kept for
    # a day (the clean reading decayed it for 2 h only) alarmed after 57 min.
    exposure = [(60.0 * m, co(100)) for m in range(19)] + [(19 * 60.0, co(0))]
    step_s = 19 * 60.0 + DAY
    fifty = [(step_s + 300.0 * i, co(50)) for i in range(25)]
    alerts = replay(
        [*exposure, *battery_every_hour(19 * 60.0, step_s), *fifty],
        step_s + 95 * 60.0,
        EN,
        tick_s=60.0,
    )
    raised = [minutes_after_t0(a) for a in alerts if a.kind is AlertKind.CO and a.state is RAISED]
    assert len(raised) == 1
    minutes = raised[0] - step_s / 60  # type: ignore[operator]
    assert 60.0 < minutes <= 90.0


def tuya(
    ppm_at: Callable[[float], float],
    until_s: float,
    every_s: float = 300.0,
    change_ppm: int = 5,
    silent: tuple[float, float] | None = None,
) -> list[tuple[float, dict[str, object]]]:
    """A Tuya-style CO detector: samples every 10 s, reports integer ppm on a change of
    ``change_ppm`` or every ``every_s``; reports in ``silent`` (from, to seconds) are lost."""
    messages: list[tuple[float, dict[str, object]]] = []
    last: int | None = None
    last_s = -1e9
    for seconds in range(0, int(until_s) + 1, 10):
        value = round(ppm_at(seconds / 60))
        if last is None or abs(value - last) >= change_ppm or seconds - last_s >= every_s:
            if silent is None or not silent[0] < seconds < silent[1]:
                messages.append((float(seconds), co(value)))
            last, last_s = value, seconds
    return messages


def raised_minutes(alerts: list[AlertDecision]) -> list[float | None]:
    return [minutes_after_t0(a) for a in alerts if a.kind is AlertKind.CO and a.state is RAISED]


# (profile, ppm, must not alarm before [min], must alarm by [min]) after a step from clean air
# five minutes in.
TABLE = [
    (UL, 70, 60.0, 240.0),
    (UL, 150, 10.0, 50.0),
    (UL, 400, 4.0, 15.0),
    (EN, 50, 60.0, 90.0),
    (EN, 100, 10.0, 40.0),
    (EN, 300, 0.0, 3.0),
]


@pytest.mark.parametrize("every_s", [60.0, 300.0])
@pytest.mark.parametrize("gap", [False, True])
@pytest.mark.parametrize(("profile", "ppm", "not_before", "alarm_by"), TABLE)
def test_a_step_from_clean_air_alarms_inside_the_window_as_a_tuya_detector_reports(
    profile: DetectionProfile,
    ppm: int,
    not_before: float,
    alarm_by: float,
    every_s: float,
    gap: bool,
) -> None:
    # With and without 20 minutes of lost reports right after the step.
    silent = (6 * 60.0, 26 * 60.0) if gap else None
    until_s = (5 + alarm_by + 5) * 60

    def level(minute: float) -> float:
        return 0.0 if minute < 5 else ppm

    alerts = replay(tuya(level, until_s, every_s, silent=silent), until_s, profile)
    minutes = raised_minutes(alerts)
    assert len(minutes) == 1
    assert not_before < minutes[0] - 5 <= alarm_by  # type: ignore[operator]


def test_one_clean_reading_does_not_reset_the_dose() -> None:
    # 150 ppm for 20 min (0.8 of UL 2034's dose), one reading of clean air (a window opened
    # and shut), 150 ppm again: the alarm comes about 5 min later, not 25.
    def level(minute: float) -> float:
        return 0.0 if 20 <= minute < 21 else 150.0

    minutes = raised_minutes(replay(tuya(level, 60 * 60.0, 60.0), 60 * 60.0, UL))
    assert len(minutes) == 1
    assert 21 < minutes[0] < 30  # type: ignore[operator]


def test_the_same_value_resent_with_new_timestamps_is_one_steady_exposure() -> None:
    messages = [(10.0 * i, co(150)) for i in range(360)]
    minutes = raised_minutes(replay(messages, 60 * 60.0, UL))
    assert len(minutes) == 1
    assert 10 < minutes[0] <= 50  # type: ignore[operator]
