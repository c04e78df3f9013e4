"""Whose clock detection runs on: a device's time bounded by the edge's, and late readings.

Found by an outside review (2026-12-06) replaying the standards against device clocks: one
reading stamped ahead held alarms back or counted as CO exposure; a reading arriving late
was taken for the clock going back and wiped the CO exposure. Each message is received on
the edge's clock and stamped by the device (``tests.edge.edge_replay``), as in the agent.
"""

from datetime import UTC, datetime, timedelta

import pytest

from devices.kinds import AlertKind, DeviceKind
from devices.observations import (
    DEVICE_CLOCK_AHEAD_S,
    DEVICE_CLOCK_BEHIND_S,
    DeviceEvent,
    StateUpdate,
    observed_at,
)
from devices.payloads import Readings
from edge.detectors.profile import DetectionProfile
from tests.edge.detection_series import T0, at
from tests.edge.edge_replay import Sent, raised_at_min, replay, replay_timed, stamped

EN = DetectionProfile.for_co_standard("en50291")
MIN = 60.0

# --- the bound: observed_at ------------------------------------------------------------------


def test_a_device_time_ahead_of_the_receive_time_is_bounded_by_it() -> None:
    ahead = StateUpdate(Readings(co_ppm=1.0), at(3600.0))
    assert observed_at(ahead, T0) == T0 + timedelta(seconds=DEVICE_CLOCK_AHEAD_S)
    skewed = StateUpdate(Readings(co_ppm=1.0), at(2.0))  # within the skew: kept
    assert observed_at(skewed, T0) == at(2.0)
    press = DeviceEvent("press", at(600.0))
    assert observed_at(press, T0) == T0 + timedelta(seconds=DEVICE_CLOCK_AHEAD_S)


@pytest.mark.parametrize(
    "clock",
    [
        datetime(1970, 1, 1, 0, 42, tzinfo=UTC),  # no real-time clock: seconds since boot
        T0 - timedelta(days=365),  # a clock a year behind (its firmware's build date)
        T0 - timedelta(seconds=DEVICE_CLOCK_BEHIND_S + 1),
    ],
)
def test_a_device_time_far_behind_is_replaced_by_the_receive_time(clock: datetime) -> None:
    assert observed_at(StateUpdate(Readings(smoke=True), clock), T0) == T0


def test_a_late_delivery_within_a_day_keeps_the_device_time() -> None:
    """Readings a site broker held for the edge across a restart keep when they were taken."""
    for late in (timedelta(seconds=30), timedelta(hours=3), timedelta(hours=23)):
        assert observed_at(StateUpdate(Readings(smoke=True), T0 - late), T0) == T0 - late


def test_a_simulation_trusts_the_device_time() -> None:
    ahead = StateUpdate(Readings(co_ppm=1.0), at(3600.0))
    assert observed_at(ahead, T0, trust_device_time=True) == at(3600.0)
    old = StateUpdate(Readings(co_ppm=1.0), T0 - timedelta(days=300))
    assert observed_at(old, T0, trust_device_time=True) == T0 - timedelta(days=300)


# --- one reading stamped ahead ---------------------------------------------------------------

EN54_5_A1_AT_10_K_PER_MIN_S = (60.0, 260.0)
"""EN 54-5 class A1 at 10 K/min from 25 °C: respond after 1 min, within 4 min 20 s."""


def heat_rise(glitch_s: float | None) -> list[Sent]:
    """A 10 K/min rise from 25 °C reported every 5 s, truly stamped; the third reading stamped
    ``glitch_s`` ahead (a device clock that jumped, then was set right)."""
    sent = []
    for i in range(60):
        t = 5.0 * i
        stamp = t + (glitch_s if glitch_s is not None and i == 2 else 0.0)
        sent.append(stamped(t, stamp, temperature_c=25.0 + 10.0 * t / MIN))
    return sent


def test_a_reading_stamped_minutes_ahead_does_not_hold_a_rate_of_rise_back() -> None:
    """Raised at 5.7 min before the bound, past EN 54-5 A1's 4 min 20 s."""
    plain = raised_at_min(replay(DeviceKind.HEAT, heat_rise(None), 300.0), AlertKind.HEAT)
    glitched = raised_at_min(replay(DeviceKind.HEAT, heat_rise(300.0), 400.0), AlertKind.HEAT)
    assert plain is not None
    assert glitched is not None
    lower, upper = EN54_5_A1_AT_10_K_PER_MIN_S
    assert lower <= glitched * MIN <= upper
    assert glitched * MIN <= plain * MIN + DEVICE_CLOCK_AHEAD_S + 5.0


def test_a_clean_reading_stamped_ahead_does_not_hold_300_ppm_back() -> None:
    """EN 50291: 300 ppm alarms within 3 min. A clean-air reading stamped 5 min ahead made the
    truly stamped 300 ppm readings after it look older for those 5 min (alarm at 6.5 min)."""
    sent = [stamped(0.0, 300.0, co_ppm=0.0)]
    sent += [stamped(30.0 * i, 30.0 * i, co_ppm=300.0) for i in range(1, 40)]
    minute = raised_at_min(replay(DeviceKind.CO, sent, 20 * MIN, EN), AlertKind.CO)
    assert minute is not None
    assert minute <= 3.0


def test_a_jump_ahead_does_not_count_as_co_exposure() -> None:
    """UL 2034: 70 ppm must not alarm before 60 min. One reading stamped an hour ahead counted
    the hour as exposure at the standing 70 ppm: alarmed at 40 min."""
    sent = [stamped(5 * MIN * i, 5 * MIN * i, co_ppm=70.0) for i in range(60)]
    sent[1] = stamped(5 * MIN, 5 * MIN + 3600.0, co_ppm=70.0)
    minute = raised_at_min(replay(DeviceKind.CO, sent, 240 * MIN), AlertKind.CO)
    assert minute is not None
    assert 60.0 <= minute <= 240.0


def test_an_accelerated_simulation_keeps_its_own_time() -> None:
    """A scenario stamps 70 ppm in simulated time, an hour of it in a minute of the edge's
    clock; with the device's time trusted the dose is the simulated hour's."""
    sent = [stamped(i, 60.0 * i, co_ppm=70.0) for i in range(200)]
    trusted = replay(DeviceKind.CO, sent, 200.0, trust_device_time=True)
    assert raised_at_min(trusted, AlertKind.CO) == pytest.approx(100.0)
    assert raised_at_min(replay(DeviceKind.CO, sent, 200.0), AlertKind.CO) is None


def test_a_device_stamping_1970_alarms_on_the_edges_timeline() -> None:
    """A CO detector with no real-time clock stamps the seconds since it booted: its alarm
    comes at UL 2034's 8 min for 400 ppm, stamped on the edge's clock, not in 1970."""
    boot = datetime(1970, 1, 1, tzinfo=UTC)
    sent = [
        Sent(MIN * m, None, StateUpdate(Readings(co_ppm=400.0), boot + timedelta(minutes=m)))
        for m in range(20)
    ]
    alerts = replay(DeviceKind.CO, sent, 20 * MIN)
    assert raised_at_min(alerts, AlertKind.CO) == pytest.approx(8.0)


# --- late readings ---------------------------------------------------------------------------


def co_with_late(late_ppm: float, late_by_s: float = 6 * MIN) -> list[Sent]:
    """150 ppm reported every minute on time; after each, a reading taken ``late_by_s``
    before arriving (a bridge's redelivery), of ``late_ppm``."""
    sent = []
    for m in range(60):
        sent.append(stamped(m * MIN, m * MIN, co_ppm=150.0))
        sent.append(stamped(m * MIN + 1, m * MIN + 1 - late_by_s, co_ppm=late_ppm))
    return sent


def test_late_clean_readings_do_not_reset_the_co_exposure() -> None:
    """UL 2034: 150 ppm alarms by 50 min. Each late clean reading replaced the standing 150 ppm
    as "the clock went back", and the next one counted from its old time at 0 ppm: no alarm
    within the hour."""
    minute = raised_at_min(replay(DeviceKind.CO, co_with_late(0.0), 60 * MIN), AlertKind.CO)
    assert minute is not None
    assert 10.0 <= minute <= 50.0
    assert minute == pytest.approx(25.0)  # as if the late readings had never come


def test_late_copies_do_not_count_the_exposure_twice() -> None:
    """UL 2034: 150 ppm must not alarm before 10 min. Each late copy restarted the reading
    from its old time, counting those minutes again: alarmed at 4 min."""
    minute = raised_at_min(replay(DeviceKind.CO, co_with_late(150.0), 60 * MIN), AlertKind.CO)
    assert minute == pytest.approx(25.0)


def test_a_device_clock_set_back_still_counts_its_readings() -> None:
    """A device clock set back an hour (within the day the edge believes): from the second
    reading behind the standing one on, its readings stand from when they came, timed on the
    edge's clock; 400 ppm from the jump alarms within UL 2034's 15 min."""
    sent = [stamped(m * MIN, m * MIN, co_ppm=0.0) for m in range(10)]
    sent += [stamped(m * MIN, m * MIN - 3600.0, co_ppm=400.0) for m in range(10, 40)]
    alerts = replay_timed(DeviceKind.CO, sent, 40 * MIN)
    decided = [edge_s for edge_s, a in alerts if a.kind is AlertKind.CO]
    assert decided, "no CO alarm"
    assert decided[0] <= (10 + 15) * MIN
