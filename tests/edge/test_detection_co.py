"""The CO dose model against UL 2034 and EN 50291, on simulated time.

Every table point is checked at both bounds: no alarm before the "must not alarm before"
time, an alarm by the "must alarm by" time, for several reading intervals.
"""

import random
from collections.abc import Callable

import pytest

from devices.kinds import AlertKind, DeviceKind
from edge.detection import AlertDecision, DeviceState, detect
from edge.detectors.co import EN_50291, UL_2034, CoExposure, CoSettings, CoStandard
from edge.detectors.profile import DEFAULT_PROFILE, DetectionProfile
from tests.edge.detection_series import (
    CLEARED,
    CRIT,
    RAISED,
    T0,
    at,
    device,
    feed,
    first,
    minutes_after_t0,
    reading,
    summary,
    ticked,
)

UL = DEFAULT_PROFILE
EN = DetectionProfile.for_co_standard("en50291")

# (ppm, must not alarm before [min], must alarm by [min]); None: never within the horizon.
UL_2034_TABLE = [(70.0, 60.0, 240.0), (150.0, 10.0, 50.0), (400.0, 4.0, 15.0)]
EN_50291_TABLE = [(50.0, 60.0, 90.0), (100.0, 10.0, 40.0), (300.0, 0.0, 3.0)]


def alarm_minute(
    ppm_at: Callable[[float], float],
    interval_s: float,
    horizon_min: float,
    profile: DetectionProfile = UL,
) -> float | None:
    """Return when (minutes) a CO detector reading ``ppm_at(minute)`` first alarms."""
    steps = int(horizon_min * 60 / interval_s) + 1
    timed = [(i * interval_s, reading(co_ppm=ppm_at(i * interval_s / 60))) for i in range(steps)]
    _, alerts = feed(DeviceKind.CO, timed, profile=profile)
    return minutes_after_t0(first(alerts, AlertKind.CO, RAISED))


def assert_inside(minute: float | None, ppm: float, not_before: float, alarm_by: float) -> None:
    """The alarm came inside the standard's window for ``ppm``."""
    assert minute is not None, f"{ppm} ppm did not alarm by {alarm_by} min"
    assert not_before < minute <= alarm_by


@pytest.mark.parametrize("interval_s", [10.0, 60.0, 120.0])
@pytest.mark.parametrize(("ppm", "not_before", "alarm_by"), UL_2034_TABLE)
def test_ul2034_steady_concentrations_alarm_inside_the_window(
    ppm: float, not_before: float, alarm_by: float, interval_s: float
) -> None:
    assert_inside(alarm_minute(lambda _: ppm, interval_s, alarm_by), ppm, not_before, alarm_by)


@pytest.mark.parametrize("interval_s", [10.0, 60.0, 120.0])
@pytest.mark.parametrize(("ppm", "not_before", "alarm_by"), EN_50291_TABLE)
def test_en50291_steady_concentrations_alarm_inside_the_window(
    ppm: float, not_before: float, alarm_by: float, interval_s: float
) -> None:
    minute = alarm_minute(lambda _: ppm, interval_s, alarm_by, EN)
    assert_inside(minute, ppm, not_before, alarm_by)


def test_ul2034_30_ppm_never_alarms_in_30_days_even_with_noise() -> None:
    rng = random.Random(30)
    minute = alarm_minute(lambda _: max(0.0, rng.gauss(30.0, 2.0)), 300.0, 30 * 24 * 60)
    assert minute is None


def test_en50291_30_ppm_does_not_alarm_before_120_min() -> None:
    assert alarm_minute(lambda _: 30.0, 60.0, 120.0, EN) is None


@pytest.mark.parametrize(
    ("profile", "ppm", "sigma", "not_before", "alarm_by"),
    [
        (UL, 70.0, 5.0, 60.0, 240.0),
        (UL, 150.0, 10.0, 10.0, 50.0),
        (UL, 400.0, 25.0, 4.0, 15.0),
        (EN, 50.0, 3.0, 60.0, 90.0),
        (EN, 100.0, 8.0, 10.0, 40.0),
    ],
)
def test_noise_around_a_level_keeps_the_window(
    profile: DetectionProfile, ppm: float, sigma: float, not_before: float, alarm_by: float
) -> None:
    rng = random.Random(int(ppm))
    minute = alarm_minute(lambda _: max(0.0, rng.gauss(ppm, sigma)), 30.0, alarm_by, profile)
    assert minute is not None
    assert not_before < minute <= alarm_by


def test_stepped_exposure_adds_up() -> None:
    # Clean for 10 min, 100 ppm for 20 min (never an alarm on its own so soon), then 400 ppm.
    def ppm(minute: float) -> float:
        return 0.0 if minute < 10 else 100.0 if minute < 30 else 400.0

    minute = alarm_minute(ppm, 30.0, 60.0)
    assert minute is not None
    # The 100 ppm dose carries over: sooner than 400 ppm alone would (8 min after the step).
    assert 30.0 < minute < 30.0 + UL_2034.target_s(400.0)  # type: ignore[operator]
    assert minute < 30.0 + 8.0


def test_a_one_minute_spike_of_400_ppm_does_not_alarm() -> None:
    def ppm(minute: float) -> float:
        return 400.0 if 30 <= minute < 31 else 5.0

    assert alarm_minute(ppm, 10.0, 240.0) is None


def test_repeated_bursts_add_up_but_rare_ones_are_forgotten() -> None:
    def bursts(every_min: float) -> Callable[[float], float]:
        return lambda minute: 400.0 if minute % every_min < 4 else 0.0

    # 4 min of 400 ppm is half the UL 2034 dose; every 10 min they overlap and alarm ...
    minute = alarm_minute(bursts(10.0), 30.0, 60.0)
    assert minute is not None
    assert minute < 30.0
    # ... every 4 hours the dose has decayed in between: never.
    assert alarm_minute(bursts(240.0), 60.0, 24 * 60) is None


def test_a_long_silence_counts_as_at_most_max_hold() -> None:
    """A detector silent past its check-in deadline (it is reported offline by then) adds at
    most ``max_hold_s`` of its last reading."""
    hold = CoSettings().max_hold_s
    timed = [(0.0, reading(co_ppm=40.0)), (3 * hold, reading(co_ppm=40.0))]
    state, alerts = feed(DeviceKind.CO, timed)
    assert alerts == []
    assert state.co.dose == pytest.approx(hold / UL_2034.target_s(40.0))  # type: ignore[operator]


def alarm_minute_ticking(
    ppm: float, report_s: float, horizon_min: float, profile: DetectionProfile = UL
) -> float | None:
    """When a detector that reports a steady ``ppm`` only every ``report_s`` first alarms,
    with the edge's time-driven detection ticking every 5 s in between."""
    state = DeviceState()
    for second in range(0, int(horizon_min * 60) + 1, 5):
        if second % report_s == 0:
            state, alerts = feed(
                DeviceKind.CO, [(float(second), reading(co_ppm=ppm))], state, profile
            )
        else:
            state, alerts = ticked(DeviceKind.CO, state, float(second), profile)
        alarm = first(alerts, AlertKind.CO, RAISED)
        if alarm is not None:
            return minutes_after_t0(alarm)
    return None


@pytest.mark.parametrize("report_s", [300, 900, 1800, 3600])
@pytest.mark.parametrize(("ppm", "not_before", "alarm_by"), UL_2034_TABLE)
def test_ul2034_holds_for_a_detector_that_reports_rarely(
    ppm: float, not_before: float, alarm_by: float, report_s: int
) -> None:
    """A battery detector reports on change, or every quarter of an hour: a steady level
    between its reports still stands, and the alarm comes at the dose, not at the next report
    (each reading once counted for 5 min only, and only at readings: 400 ppm reported every
    30 min alarmed at 60 min, 70 ppm reported hourly never)."""
    assert_inside(alarm_minute_ticking(ppm, report_s, alarm_by), ppm, not_before, alarm_by)


@pytest.mark.parametrize("report_s", [300, 900, 3600])
@pytest.mark.parametrize(("ppm", "not_before", "alarm_by"), EN_50291_TABLE)
def test_en50291_holds_for_a_detector_that_reports_rarely(
    ppm: float, not_before: float, alarm_by: float, report_s: int
) -> None:
    minute = alarm_minute_ticking(ppm, report_s, alarm_by, EN)
    assert_inside(minute, ppm, not_before, alarm_by)


def test_a_tick_raises_at_the_dose_with_its_reason_and_once() -> None:
    state, alerts = feed(DeviceKind.CO, [(0.0, reading(co_ppm=400.0))])
    assert alerts == []
    state, alerts = ticked(DeviceKind.CO, state, 7 * 60.0)
    assert alerts == []
    state, alerts = ticked(DeviceKind.CO, state, 9 * 60.0)
    [alarm] = alerts
    assert alarm.event_time == at(8 * 60.0)  # the instant the dose reached 1, not the tick's
    assert alarm.reason.rule == "co_dose>=1"
    assert alarm.reason.values == {"co_ppm": 400.0, "co_dose": 1.0}
    state, alerts = ticked(DeviceKind.CO, state, 10 * 60.0)
    assert alerts == []
    state, alerts = feed(DeviceKind.CO, [(11 * 60.0, reading(co_ppm=400.0))], state)
    assert alerts == []


def test_a_tick_never_raises_below_the_floor_or_past_the_hold() -> None:
    def co_alerts(ppm: float, silent_s: float) -> list[AlertDecision]:
        state, _ = feed(DeviceKind.CO, [(0.0, reading(co_ppm=ppm))])
        return [a for a in ticked(DeviceKind.CO, state, silent_s)[1] if a.kind is AlertKind.CO]

    assert co_alerts(30.0, 30 * 24 * 3600.0) == []
    # 40 ppm would reach the dose after about 4.6 h; the hold ends at 2 h (and the detector is
    # reported offline then).
    assert co_alerts(40.0, 24 * 3600.0) == []
    assert co_alerts(150.0, 24 * 3600.0) != []


def test_alarm_reason_names_rule_values_profile_and_triggering_time() -> None:
    timed = [(i * 60.0, reading(co_ppm=400.0)) for i in range(12)]
    _, alerts = feed(DeviceKind.CO, timed)
    [alarm] = alerts
    assert (alarm.kind, alarm.state, alarm.severity) == (AlertKind.CO, RAISED, CRIT)
    assert alarm.event_time == at(8 * 60.0)
    assert alarm.reason.rule == "co_dose>=1"
    assert alarm.reason.profile == "ul2034"
    assert alarm.reason.values == {"co_ppm": 400.0, "co_dose": 1.0}


def test_en50291_reason_names_its_profile() -> None:
    timed = [(i * 30.0, reading(co_ppm=300.0)) for i in range(8)]
    _, alerts = feed(DeviceKind.CO, timed, profile=EN)
    assert [a.reason.profile for a in alerts] == ["en50291"]


def test_clears_only_once_the_air_is_clean_and_the_dose_has_decayed() -> None:
    alarm = [(i * 60.0, reading(co_ppm=150.0)) for i in range(40)]
    state, alerts = feed(DeviceKind.CO, alarm)
    assert summary(alerts) == [(AlertKind.CO, RAISED, CRIT)]
    # 20 ppm is not clean: it holds, however long.
    state, alerts = feed(
        DeviceKind.CO, [(2400.0 + i * 60.0, reading(co_ppm=20.0)) for i in range(300)], state
    )
    assert alerts == []
    start = 2400.0 + 300 * 60.0
    state, alerts = feed(
        DeviceKind.CO, [(start + i * 60.0, reading(co_ppm=5.0)) for i in range(120)], state
    )
    cleared = first(alerts, AlertKind.CO, CLEARED)
    assert cleared is not None
    assert (cleared.event_time - at(start)).total_seconds() >= CoSettings().clean_for_s
    assert cleared.reason.values["co_dose"] <= CoSettings().clear_dose  # type: ignore[operator]
    assert summary(alerts) == [(AlertKind.CO, CLEARED, CRIT)]


def test_readings_around_the_floor_do_not_flap() -> None:
    rng = random.Random(7)
    timed = [(i * 60.0, reading(co_ppm=rng.choice([400.0, 10.0, 200.0]))) for i in range(60)]
    _, alerts = feed(DeviceKind.CO, timed)
    assert summary(alerts) == [(AlertKind.CO, RAISED, CRIT)]


def test_co_alarm_flag_raises_and_clears() -> None:
    timed = [(0.0, reading(co_alarm=True)), (1.0, reading(co_alarm=False))]
    _, alerts = feed(DeviceKind.CO, timed)
    assert summary(alerts) == [(AlertKind.CO, RAISED, CRIT), (AlertKind.CO, CLEARED, CRIT)]
    assert [a.reason.profile for a in alerts] == ["device-flag", "device-flag"]


def test_an_out_of_order_reading_does_not_count_twice() -> None:
    exposure = CoExposure().read(400.0, at(0), CoSettings()).read(400.0, at(60), CoSettings())
    assert exposure.read(400.0, at(30), CoSettings()) == exposure


def test_a_standard_refuses_a_table_that_does_not_fall() -> None:
    with pytest.raises(ValueError, match="points"):
        CoStandard("bad", ((70.0, 10.0), (150.0, 20.0)), floor_ppm=30.0)
    assert UL_2034.target_s(30.0) is None
    assert EN_50291.target_s(30.0) is not None


def test_state_with_a_dose_round_trips() -> None:
    state, _ = feed(DeviceKind.CO, [(0.0, reading(co_ppm=100.0)), (60.0, reading(co_ppm=3.0))])
    assert state.co.dose > 0
    assert DeviceState.from_json(state.to_json()) == state


def test_a_clock_set_back_after_running_ahead_keeps_counting_the_dose() -> None:
    """A reading stamped a day ahead of when it came (a device time trusted ahead: an
    accelerated simulation), then the clock set right: the readings after it count again
    (they were dropped as older), from the new time, with the dose so far."""
    co = device(DeviceKind.CO)
    state = detect(DeviceState(), co, reading(co_ppm=400.0), at(24 * 3600.0), received_at=T0).state
    alerts: list[AlertDecision] = []
    for m in range(12):
        result = detect(state, co, reading(co_ppm=400.0), at(60.0 * m), received_at=at(60.0 * m))
        state = result.state
        alerts.extend(result.alerts)
    alarm = first(alerts, AlertKind.CO, RAISED)
    assert alarm is not None
    assert alarm.event_time == at(8 * 60.0)
