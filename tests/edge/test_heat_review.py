"""An outside review of the heat detector (EN 54-5 class A1R, US rate of rise) on sensor
profiles it was not tuned on: noisy sensors, coarse sampling, warm days and sunny windows.

Simulated time, the edge's tick between readings; each rise is preceded by flat readings,
as a real sensor's history is.
"""

import random
from collections.abc import Callable

import pytest

from devices.kinds import AlertKind, DeviceKind
from edge.detection import AlertDecision, DeviceState, detect, tick
from tests.edge.detection_series import CLEARED, RAISED, at, device, reading

# EN 54-5 class A1 upper response limits (s) at each rate of rise (K/min).
A1_UPPER_S = {3.0: 13 * 60 + 40, 5.0: 8 * 60 + 20, 10.0: 4 * 60 + 20, 20.0: 2 * 60 + 20}


def replay(
    celsius: Callable[[float], float],
    period_s: float,
    until_s: float,
    *,
    first_s: float = 0.0,
    jitter_c: float = 0.0,
    seed: int = 0,
    copies: Callable[[float], int] = lambda t: 1,
    tick_s: float = 5.0,
) -> list[AlertDecision]:
    """A sensor reporting ``celsius(t)`` every ``period_s`` from ``first_s`` (± ``jitter_c``,
    rounded to 0.1 °C, each report published ``copies(t)`` times one second apart)."""
    rng = random.Random(seed)
    dev = device(DeviceKind.HEAT)
    state = DeviceState()
    alerts: list[AlertDecision] = []
    next_s, now = first_s, first_s
    while now <= until_s:
        while next_s <= now:
            value = round(celsius(next_s) + rng.uniform(-jitter_c, jitter_c), 1)
            for copy in range(copies(next_s)):
                result = detect(state, dev, reading(temperature_c=value), at(next_s + copy))
                state = result.state
                alerts.extend(result.alerts)
            next_s += period_s
        result = tick(state, dev, at(now))
        state = result.state
        alerts.extend(result.alerts)
        now += tick_s
    return [a for a in alerts if a.kind is AlertKind.HEAT]


def raised_s(alerts: list[AlertDecision]) -> float | None:
    times = [(a.event_time - at(0)).total_seconds() for a in alerts if a.state is RAISED]
    return times[0] if times else None


def ramp(start_c: float, rate: float, begins_s: float) -> Callable[[float], float]:
    return lambda t: start_c + rate * max(t - begins_s, 0.0) / 60


@pytest.mark.parametrize("period_s", [2.0, 5.0, 10.0])
def test_a_sensor_jittering_by_1_c_still_sees_a_fast_rise_from_the_cold(period_s: float) -> None:
    # Class R: 10 K/min from -10 °C in an unheated store, a sensor with ±1 °C of noise. Each
    # 7.5 s interval of the rise (1.25 °C) was judged alone, and noise made one of them a
    # pause: the rate of rise failed, and the alarm came as late as 414 s (A1: by 260 s).
    begins = 300.0
    late = []
    for seed in range(30):
        alerts = replay(ramp(-10.0, 10.0, begins), period_s, begins + 450, jitter_c=1.0, seed=seed)
        responded = raised_s(alerts)
        if responded is None or responded - begins > A1_UPPER_S[10.0]:
            late.append((seed, responded))
    assert late == []


@pytest.mark.parametrize("copies", [1, 2])
@pytest.mark.parametrize("rate", [10.0, 20.0])
def test_a_sensor_reporting_every_minute_meets_a1_whenever_the_rise_begins(
    rate: float, copies: int
) -> None:
    # Each report published once, or twice a second apart (Zigbee2MQTT's temperature and
    # humidity reports): the rise is judged the same way, within A1's upper limits.
    for offset in range(0, 60, 5):
        begins = 600.0 + offset
        alerts = replay(ramp(25.0, rate, begins), 60.0, begins + 300, copies=lambda t: copies)
        responded = raised_s(alerts)
        assert responded is not None
        assert responded - begins <= A1_UPPER_S[rate], offset


@pytest.mark.parametrize("seed", range(4))
def test_a_jittering_sensor_on_a_warm_day_and_at_a_sunny_window_never_alarms(seed: int) -> None:
    # 22 -> 45 °C over 8 hours, ±1 °C, then the sun through a window: +3 °C in a minute.
    def day(t: float) -> float:
        return 22.0 + 23.0 * min(t, 8 * 3600.0) / (8 * 3600.0) + (3.0 if t > 8 * 3600 else 0.0)

    assert replay(day, 10.0, 9 * 3600.0, jitter_c=1.0, seed=seed, tick_s=60.0) == []


@pytest.mark.parametrize("period_s", [10.0, 60.0, 120.0])
def test_one_wild_reading_published_twice_raises_nothing(period_s: float) -> None:
    # Zigbee2MQTT publishes a device's whole state for each report (temperature, then
    # humidity): one wild reading reaches the edge twice, a second apart. Its copy left one
    # interval to judge, and a sensor reporting every minute raised heat on it.
    wild = 1800.0

    def celsius(t: float) -> float:
        return 40.0 if t == wild else 24.0

    alerts = replay(celsius, period_s, wild + 600, copies=lambda t: 2 if t == wild else 1)
    assert alerts == []


@pytest.mark.parametrize("jitter_c", [0.5, 1.0])
def test_heat_from_a_jittering_sensor_clears_once_the_room_has_cooled(jitter_c: float) -> None:
    # 70 °C for 5 min, then the room back at 25 °C, reported every 10 s with noise. "Not
    # rising" was judged on the last interval: noise read as rising at every other report,
    # and the alarm stood for 45 min (±0.5 °C) or for ever (±1 °C).
    def room(t: float) -> float:
        return 70.0 if 600 <= t < 900 else 25.0

    for seed in range(3):
        alerts = replay(room, 10.0, 3600.0, jitter_c=jitter_c, seed=seed, tick_s=30.0)
        cleared = [a for a in alerts if a.state is CLEARED]
        assert [a.state for a in alerts] == [RAISED, CLEARED], seed
        seconds = (cleared[0].event_time - at(900)).total_seconds()
        assert 300.0 <= seconds <= 320.0, seed
