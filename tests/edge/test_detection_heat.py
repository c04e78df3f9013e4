"""Heat detection (EN 54-5 A1R): fixed point, sustained rate of rise, spikes, warm days."""

import random

import pytest

from devices.kinds import AlertKind, AlertState, DeviceKind, Severity
from devices.observations import Observation
from edge.detectors.heat import HeatSettings
from edge.detectors.profile import DetectionProfile
from tests.edge.detection_series import (
    CLEARED,
    CRIT,
    RAISED,
    T0,
    feed,
    first,
    reading,
    summary,
)

ROR = HeatSettings().ror_c_per_min


def series(
    temperatures: list[float], interval_s: float = 30.0, start_s: float = 0.0
) -> list[tuple[float, Observation]]:
    return [
        (start_s + i * interval_s, reading(temperature_c=t)) for i, t in enumerate(temperatures)
    ]


def heat_alerts(
    temperatures: list[float], interval_s: float = 30.0, profile: DetectionProfile | None = None
) -> list[tuple[AlertKind, AlertState, Severity]]:
    timed = [(i * interval_s, reading(temperature_c=t)) for i, t in enumerate(temperatures)]
    _, alerts = feed(DeviceKind.HEAT, timed, profile=profile or DetectionProfile())
    return summary(alerts)


@pytest.mark.parametrize("fixed_c", [54.0, 57.0, 65.0])
def test_fixed_point_needs_two_consecutive_readings_at_or_above_it(fixed_c: float) -> None:
    profile = DetectionProfile(heat=HeatSettings(fixed_c=fixed_c))
    below = fixed_c - 0.1
    assert heat_alerts([40.0, below, below, below], 120.0, profile) == []
    assert heat_alerts([40.0, fixed_c, 40.0, fixed_c, 40.0], 120.0, profile) == []
    assert heat_alerts([40.0, fixed_c, fixed_c], 120.0, profile) == [(AlertKind.HEAT, RAISED, CRIT)]


@pytest.mark.parametrize("fixed_c", [53.9, 65.1])
def test_fixed_point_outside_en54_5_class_a1_is_refused(fixed_c: float) -> None:
    with pytest.raises(ValueError, match="54-65"):
        HeatSettings(fixed_c=fixed_c)


def test_fixed_alarm_reason_and_event_time() -> None:
    timed = [(0.0, reading(temperature_c=58.0)), (90.0, reading(temperature_c=59.0))]
    _, alerts = feed(DeviceKind.SMOKE, timed)
    [alarm] = alerts
    assert alarm.reason.rule == "temperature_c>=57 on 2 consecutive readings"
    assert alarm.reason.profile == "en54-5-a1r"
    assert alarm.reason.values == {"temperature_c": 59.0}
    assert (alarm.event_time - T0).total_seconds() == 90.0


@pytest.mark.parametrize("interval_s", [10.0, 20.0, 30.0, 60.0])
def test_rate_of_rise_just_above_the_threshold_alarms_well_below_the_fixed_point(
    interval_s: float,
) -> None:
    rate = ROR * 1.05
    temps = [20.0 + rate * i * interval_s / 60 for i in range(int(600 / interval_s))]
    timed = [(i * interval_s, reading(temperature_c=t)) for i, t in enumerate(temps)]
    _, alerts = feed(DeviceKind.HEAT, timed)
    alarm = first(alerts, AlertKind.HEAT, RAISED)
    assert alarm is not None
    assert alarm.reason.rule == "rate_of_rise>=8.3C/min"
    seconds = (alarm.event_time - T0).total_seconds()
    # Sustained: at least the 60 s window and two intervals, at most the window plus two.
    assert max(60.0, 2 * interval_s) <= seconds <= 60.0 + 2 * interval_s
    assert alarm.reason.values["temperature_c"] < 57.0  # type: ignore[operator]


def test_rate_of_rise_just_below_the_threshold_waits_for_the_fixed_point() -> None:
    rate = ROR * 0.95
    temps = [20.0 + rate * i * 0.5 for i in range(40)]  # every 30 s
    _, alerts = feed(DeviceKind.HEAT, series(temps))
    alarm = first(alerts, AlertKind.HEAT, RAISED)
    assert alarm is not None
    assert alarm.reason.rule.startswith("temperature_c>=57")


def test_a_rise_shorter_than_the_window_is_not_sustained() -> None:
    # 40 s of a steep rise then flat: a door opened onto a hot kitchen, not a fire.
    assert heat_alerts([22.0, 22.0, 30.0, 38.0, 39.0, 39.0, 39.0], 20.0) == []


@pytest.mark.parametrize(
    "temps",
    [
        [22.0, 22.0, 85.0, 22.0, 22.0],  # one implausible sample
        [22.0, 22.0, 22.0, 85.0],  # the newest one implausible
        [22.0, 30.0, 22.0, 30.0, 22.0, 30.0],  # a sensor oscillating
    ],
)
def test_a_single_implausible_sample_does_not_alarm(temps: list[float]) -> None:
    assert heat_alerts(temps) == []


def test_a_hot_summer_day_never_alarms() -> None:
    rng = random.Random(2026)
    # 25 → 40 °C over 6 hours, read every minute with ±0.3 °C noise, then the sun on the
    # sensor: +2.5 °C/min for 4 minutes.
    temps = [25.0 + 15.0 * i / 360 + rng.gauss(0.0, 0.3) for i in range(360)]
    temps += [40.0 + 2.5 * i for i in range(1, 5)]
    assert heat_alerts(temps, 60.0) == []


# EN 54-5 class A1, response times from the typical application temperature (25 °C) at each
# rate of rise: (lower, upper) limit in seconds. A class-R detector must also meet the upper
# limits at 10 K/min and more from well below it.
EN54_5_A1_RESPONSE_S = {
    1.0: (29 * 60, 40 * 60 + 20),
    3.0: (7 * 60 + 13, 13 * 60 + 40),
    5.0: (4 * 60 + 9, 8 * 60 + 20),
    10.0: (60, 4 * 60 + 20),
    20.0: (30, 2 * 60 + 20),
    30.0: (20, 60 + 40),
}


def _ramp_response_s(
    rate: float, start_c: float, interval_s: float, noise_c: float, seed: int
) -> float | None:
    """Feed a heat ramp read every ``interval_s`` (0.1 °C steps, ± ``noise_c``); return when
    the heat alarm was raised, in seconds after the ramp began."""
    rng = random.Random(seed)
    upper = EN54_5_A1_RESPONSE_S[rate][1]
    timed = [
        (t, reading(temperature_c=round(start_c + rate * t / 60 + rng.uniform(-1, 1) * noise_c, 1)))
        for t in (i * interval_s for i in range(int((upper + 60) / interval_s) + 1))
    ]
    _, alerts = feed(DeviceKind.HEAT, timed)
    alarm = first(alerts, AlertKind.HEAT, RAISED)
    return None if alarm is None else (alarm.event_time - T0).total_seconds()


@pytest.mark.parametrize("interval_s", [1.0, 2.0, 5.0, 10.0, 20.0])
@pytest.mark.parametrize("noise_c", [0.0, 0.3])
@pytest.mark.parametrize("rate", sorted(EN54_5_A1_RESPONSE_S))
def test_en54_5_class_a1_response_times_whatever_the_sensor_reports(
    rate: float, noise_c: float, interval_s: float
) -> None:
    """Inside the standard's window at every rate, from a sensor reporting every second (it
    once never saw a rate of rise: 16 samples spanned 16 s of a 60 s window) to one reporting
    every 20 s, with or without noise."""
    lower, upper = EN54_5_A1_RESPONSE_S[rate]
    for seed in range(3):
        responded = _ramp_response_s(rate, 25.0, interval_s, noise_c, seed)
        assert responded is not None, seed
        assert lower <= responded <= upper, (seed, responded)


@pytest.mark.parametrize("interval_s", [1.0, 5.0, 10.0])
@pytest.mark.parametrize("rate", [10.0, 20.0, 30.0])
def test_class_r_responds_in_time_from_a_cold_start(rate: float, interval_s: float) -> None:
    """From -10 °C a fast rise is a fire long before the fixed point: the rate of rise answers
    within the A1 upper limit."""
    responded = _ramp_response_s(rate, -10.0, interval_s, 0.3, seed=1)
    assert responded is not None
    assert responded <= EN54_5_A1_RESPONSE_S[rate][1]


def test_a_sun_warmed_sensor_reporting_every_second_does_not_alarm() -> None:
    """+2.5 °C/min for ten minutes, read every second with noise: well under the rate."""
    rng = random.Random(5)
    timed = [
        (float(t), reading(temperature_c=round(25.0 + 2.5 * t / 60 + rng.gauss(0.0, 0.3), 1)))
        for t in range(600)
    ]
    _, alerts = feed(DeviceKind.HEAT, timed)
    assert alerts == []


def test_clears_below_the_fixed_point_minus_7_after_5_minutes() -> None:
    hot = [60.0, 61.0]
    warm = [52.0] * 20  # above 50 °C: holds
    cool = [45.0] * 12
    _, alerts = feed(DeviceKind.HEAT, series(hot + warm + cool, 60.0))
    assert summary(alerts) == [(AlertKind.HEAT, RAISED, CRIT), (AlertKind.HEAT, CLEARED, CRIT)]
    cleared = alerts[1]
    assert cleared.reason.rule == "temperature_c<50 for 300s"
    first_cool_s = 60.0 * len(hot + warm)
    assert (cleared.event_time - T0).total_seconds() == first_cool_s + 300.0


@pytest.mark.parametrize("kind", [DeviceKind.WATER_LEAK, DeviceKind.CO, DeviceKind.DOOR_CONTACT])
def test_temperature_of_other_devices_is_only_telemetry(kind: DeviceKind) -> None:
    timed = [(i * 60.0, reading(temperature_c=80.0 + 10 * i)) for i in range(5)]
    _, alerts = feed(kind, timed)
    assert alerts == []


def test_a_clock_set_back_after_running_ahead_restarts_the_trend() -> None:
    """One reading stamped a day ahead, then the clock set right: a fire after it alarms (the
    later readings were dropped as older than that one); a late copy minutes old is still
    ignored."""
    ahead = (24 * 3600.0, reading(temperature_c=22.0))
    late_copy = (24 * 3600.0 - 120.0, reading(temperature_c=99.0))
    fire = [(60.0 * m, reading(temperature_c=t)) for m, t in ((1, 40.0), (2, 58.0), (3, 59.0))]
    state, alerts = feed(DeviceKind.HEAT, [ahead, late_copy])
    assert alerts == []
    assert [c for _, c in state.heat.samples] == [22.0]
    _, alerts = feed(DeviceKind.HEAT, fire, state)
    alarm = first(alerts, AlertKind.HEAT, RAISED)
    assert alarm is not None
    assert (alarm.event_time - T0).total_seconds() == 180.0
