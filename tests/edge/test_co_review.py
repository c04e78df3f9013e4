"""An outside review of the CO dose model (UL 2034, EN 50291) as a hostile tester would run
it: irregular reports, and how and when an alarm clears for a detector reporting on change.

Simulated time throughout: the edge's tick runs between readings, hours replay in
milliseconds.
"""

import random
from collections.abc import Iterable, Mapping

import pytest

from devices.kinds import AlertKind, DeviceKind
from edge.detection import AlertDecision, DeviceState, detect, tick
from edge.detectors.profile import DEFAULT_PROFILE, DetectionProfile
from tests.edge.detection_series import CLEARED, RAISED, at, device, minutes_after_t0, reading

UL = DEFAULT_PROFILE
EN = DetectionProfile.for_co_standard("en50291")
HOUR = 3600.0


def replay(
    readings: Iterable[tuple[float, Mapping[str, object]]],
    until_s: float,
    profile: DetectionProfile = UL,
    tick_s: float = 10.0,
) -> tuple[DeviceState, list[AlertDecision]]:
    """Detect each (seconds after T0, readings) as it comes, with the edge's tick between."""
    dev = device(DeviceKind.CO)
    state = DeviceState()
    alerts: list[AlertDecision] = []
    pending = sorted(readings, key=lambda r: r[0])
    now = 0.0
    while now <= until_s:
        while pending and pending[0][0] <= now:
            seconds, values = pending.pop(0)
            result = detect(state, dev, reading(**values), at(seconds), profile)
            state = result.state
            alerts.extend(result.alerts)
        result = tick(state, dev, at(now), profile)
        state = result.state
        alerts.extend(result.alerts)
        now += tick_s
    return state, [a for a in alerts if a.kind is AlertKind.CO]


def minutes(alerts: list[AlertDecision], state: object) -> list[float]:
    return [m for a in alerts if a.state is state and (m := minutes_after_t0(a)) is not None]


@pytest.mark.parametrize(
    ("profile", "ppm", "not_before", "alarm_by"),
    [
        (UL, 70.0, 60.0, 240.0),
        (UL, 150.0, 10.0, 50.0),
        (UL, 400.0, 4.0, 15.0),
        (EN, 50.0, 60.0, 90.0),
        (EN, 100.0, 10.0, 40.0),
        (EN, 300.0, 0.0, 3.0),
    ],
)
def test_irregular_reports_from_10_s_to_10_min_alarm_inside_the_window(
    profile: DetectionProfile, ppm: float, not_before: float, alarm_by: float
) -> None:
    rng = random.Random(ppm)
    for _ in range(5):
        times, t = [], rng.uniform(0.0, 10.0)
        while t < alarm_by * 60:
            times.append(t)
            t += rng.choice([10.0, 30.0, 60.0, 120.0, 300.0, 600.0]) * rng.uniform(0.8, 1.2)
        _, alerts = replay([(t, {"co_ppm": ppm}) for t in times], alarm_by * 60, profile, 5.0)
        [raised] = minutes(alerts, RAISED)
        assert not_before < raised - times[0] / 60 <= alarm_by


def test_an_alarm_clears_between_reports_once_the_air_is_clean_and_the_dose_decayed() -> None:
    # A detector reporting on change: 400 ppm, then (ventilated) one 0 ppm at 15 min, then
    # nothing while the air stays clean. The alarm cleared only at its next reading, which
    # may be hours on: the operator saw CO for as long. It clears now at the instant the
    # clean reading has stood 10 min and the dose has decayed to 0.5 (1.5 -> 0.5 at a one
    # hour half-life: log2(3) h), as a reading then would clear it.
    state, alerts = replay([(0.0, {"co_ppm": 400.0}), (15 * 60.0, {"co_ppm": 0.0})], 6 * HOUR)
    assert minutes(alerts, RAISED) == [8.0]
    [cleared] = [a for a in alerts if a.state is CLEARED]
    expected = 15.0 + 60.0 * 1.5849625007211563  # log2(1.5 / 0.5) hours of clean air
    assert minutes_after_t0(cleared) == pytest.approx(expected, abs=1e-6)
    assert cleared.reason.rule == "co_ppm<15 for 600s and co_dose<=0.5"
    assert cleared.reason.values == {"co_ppm": 0.0, "co_dose": 0.5}
    assert AlertKind.CO not in state.raised


def test_a_tick_clear_is_when_a_reading_would_clear() -> None:
    # The same exposure reported every 5 min: the reading after the instant clears it; the
    # tick clears it at the instant itself, no later, and only once.
    reports = [(0.0, {"co_ppm": 400.0})] + [
        (15 * 60.0 + 300.0 * i, {"co_ppm": 0.0}) for i in range(40)
    ]
    _, alerts = replay(reports, 4 * HOUR)
    [cleared] = minutes(alerts, CLEARED)
    assert 15.0 + 95.0 < cleared <= 15.0 + 100.0


def test_no_clear_while_the_detector_itself_still_says_alarm() -> None:
    # A detector whose own alarm still sounds (co_alarm true) although it reads 0 ppm: the
    # tick must not clear it (the next message would raise it again: a flapping case).
    reports = [(0.0, {"co_ppm": 400.0, "co_alarm": False})] + [
        (15 * 60.0 + 600.0 * i, {"co_ppm": 0.0, "co_alarm": True}) for i in range(30)
    ]
    _, alerts = replay(reports, 5 * HOUR, tick_s=30.0)
    assert minutes(alerts, RAISED) == [8.0]
    assert minutes(alerts, CLEARED) == []


def test_clean_air_counts_from_when_the_detector_stops_saying_alarm() -> None:
    reports = [
        (0.0, {"co_ppm": 400.0}),
        (15 * 60.0, {"co_ppm": 0.0, "co_alarm": True}),
        (3 * HOUR, {"co_ppm": 0.0, "co_alarm": False}),
    ]
    _, alerts = replay(reports, 4 * HOUR, tick_s=30.0)
    [cleared] = minutes(alerts, CLEARED)
    assert cleared == pytest.approx(180.0 + 10.0)
