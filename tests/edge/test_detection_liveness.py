"""Check-in deadlines learned from each device's own rhythm, on plain values and injected time.

A day (or a week) of a device is replayed as its wake-ups (each a burst of messages, as a
Shelly Gen1 publishes its topics) between ticks every 5 minutes of the edge's clock, through
``detect`` and ``tick``; only ``device_offline`` alerts are looked at.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from devices.detection_config import DeviceDetection, SiteDetection
from devices.kinds import AlertKind, DeviceKind
from devices.observations import AvailabilityChange, Observation
from devices.registry import Device
from edge.detection import (
    AlertDecision,
    DeviceState,
    StateFormatError,
    checkin_deadline_of,
    detect,
    tick,
)
from edge.detectors.liveness import (
    HOUR_S,
    LEARN_CAP_S,
    LEARN_WINDOW,
    CheckinDeadline,
    CheckinRhythm,
    DeadlineSource,
    Power,
)
from edge.detectors.profile import DEFAULT_PROFILE, DetectionProfile, ProfileBook
from tests.edge.detection_series import CLEARED, RAISED, at, device, reading

MINUTE_S = 60.0
DAY_S = 24 * HOUR_S
CAP_S = LEARN_CAP_S[Power.BATTERY]
TICK_S = 300.0

FLOOD = device(DeviceKind.WATER_LEAK, "bike-flood")  # a Shelly Flood (Gen1): 6 h by default
HT = device(DeviceKind.HEAT, "hall-ht")  # a Shelly H&T (Gen1): 2 h by default
SMOKE = device(DeviceKind.SMOKE, "b3-smoke")
CAMERA = device(DeviceKind.CAMERA, "gate-camera")

WAKE_UP: tuple[Observation, ...] = (
    # What a Shelly Gen1 battery device publishes when it wakes, within a second or two.
    reading(water_leak=False),
    reading(temperature_c=21.5),
    reading(battery_pct=97.0),
)


@dataclass
class Replay:
    """A device's state and its ``device_offline`` alerts over a replayed span of time."""

    dev: Device
    profile: DetectionProfile = DEFAULT_PROFILE
    watching_since: datetime | None = None
    state: DeviceState = field(default_factory=DeviceState)
    offline: list[AlertDecision] = field(default_factory=list)
    clock_s: float = 0.0

    def run(self, wakes_s: list[float], until_s: float) -> "Replay":
        """Replay wake-ups (seconds after T0) and the edge's ticks up to ``until_s``."""
        pending = sorted(wakes_s)
        while self.clock_s <= until_s:
            while pending and pending[0] <= self.clock_s:
                self.wake(pending.pop(0))
            self.tick(self.clock_s)
            self.clock_s += TICK_S
        assert not pending, "wake-ups after the replayed span"
        return self

    def wake(self, seconds: float, observations: tuple[Observation, ...] = WAKE_UP) -> None:
        for i, observation in enumerate(observations):
            result = detect(
                self.state,
                self.dev,
                observation,
                at(seconds + 0.4 * i),
                self.profile,
                watching_since=self.watching_since,
            )
            self.state = result.state
            self.offline.extend(a for a in result.alerts if a.kind is AlertKind.DEVICE_OFFLINE)

    def tick(self, seconds: float) -> None:
        result = tick(
            self.state, self.dev, at(seconds), self.profile, watching_since=self.watching_since
        )
        self.state = result.state
        self.offline.extend(a for a in result.alerts if a.kind is AlertKind.DEVICE_OFFLINE)

    def raised_at_h(self) -> list[float]:
        """Hours after T0 (to 1/100) at which ``device_offline`` was raised."""
        return [
            round((a.event_time - at(0)).total_seconds() / HOUR_S, 2)
            for a in self.offline
            if a.state is RAISED
        ]

    def deadline(self) -> CheckinDeadline:
        return checkin_deadline_of(self.state, self.dev, self.profile)


def every(interval_s: float, count: int, start_s: float = 0.0) -> list[float]:
    return [start_s + i * interval_s for i in range(count)]


def test_a_shelly_flood_waking_every_24_h_learns_a_deadline_just_over_a_day() -> None:
    week = Replay(FLOOD).run(every(DAY_S, 8), 7 * DAY_S + 1)
    # Learning needs 3 intervals: the first 3 days are on the 6 h default, each day's false
    # fault cleared by the next wake-up; from the 4th wake-up on, not one.
    assert week.raised_at_h() == [6.0, 30.0, 54.0]
    assert [a.state for a in week.offline] == [RAISED, CLEARED] * 3
    assert week.deadline() == CheckinDeadline(CAP_S, DeadlineSource.LEARNED, DAY_S - 0.8)


def test_a_learned_device_that_dies_is_reported_by_the_cap() -> None:
    last_wake = 7 * DAY_S
    dead = Replay(FLOOD).run(every(DAY_S, 8), last_wake + 3 * DAY_S)
    assert dead.raised_at_h()[3:] == [7 * 24 + 26.0]
    offline = dead.offline[-1]
    assert offline.reason.rule == "checkin_overdue"
    assert offline.reason.values == {
        "silent_since": at(last_wake + 0.8).isoformat(),
        "deadline_s": 26 * HOUR_S,
        "deadline_source": "learned",
        "learned_interval_s": DAY_S - 0.8,
    }


def test_an_h_and_t_waking_every_6_h_is_learned_at_twice_its_interval() -> None:
    jittered_h = [0.0, 5.8, 12.0, 18.0, 24.3, 30.2, 36.4, 42.3, 48.1, 54.0, 60.2]
    ht = Replay(HT).run([h * HOUR_S for h in jittered_h], 61 * HOUR_S)
    assert ht.raised_at_h() == [2.0, 7.8, 14.0]  # on the 2 h default until 3 intervals
    deadline = ht.deadline()
    # The second longest of the last 8 intervals (6.3, 6.2, 6.2 ... 5.8 h): 6.2 h.
    assert deadline.source is DeadlineSource.LEARNED
    assert deadline.learned_interval_s == pytest.approx(6.2 * HOUR_S - 0.8)
    assert deadline.seconds == pytest.approx(2 * (6.2 * HOUR_S - 0.8))
    # It dies after its last wake-up: reported twice its interval later, not 26 h.
    ht.run([], 80 * HOUR_S)
    assert ht.raised_at_h()[3:] == [pytest.approx(60.2 + 12.4, abs=0.01)]


def test_a_device_reporting_every_40_min_stays_on_its_default() -> None:
    day = every(40 * MINUTE_S, 37)  # a whole day
    smoke = Replay(SMOKE).run(day, day[-1])
    assert smoke.offline == []
    assert len(smoke.state.rhythm.intervals) == LEARN_WINDOW
    assert smoke.deadline() == CheckinDeadline(2 * HOUR_S, DeadlineSource.DEFAULT)
    smoke.run([], day[-1] + 3 * HOUR_S)  # then it falls silent
    assert smoke.raised_at_h() == [pytest.approx(day[-1] / HOUR_S + 2, abs=0.01)]
    assert smoke.offline[0].reason.values["deadline_source"] == "default"


def test_one_long_outage_does_not_teach_a_long_deadline() -> None:
    before = every(40 * MINUTE_S, 10)
    after = every(40 * MINUTE_S, 5, start_s=before[-1] + 20 * HOUR_S)  # silent 20 h once
    smoke = Replay(SMOKE).run(before + after, after[-1])
    assert smoke.raised_at_h() == [pytest.approx(before[-1] / HOUR_S + 2, abs=0.01)]
    assert max(smoke.state.rhythm.intervals) == pytest.approx(20 * HOUR_S, abs=1)
    assert smoke.deadline().source is DeadlineSource.DEFAULT
    smoke.run([], after[-1] + 3 * HOUR_S)
    assert smoke.raised_at_h()[1:] == [pytest.approx(after[-1] / HOUR_S + 2, abs=0.01)]


def test_a_new_device_whose_only_long_gap_is_one_is_not_learned() -> None:
    # Two quick reports at installation, then a day of silence, then one more report.
    flood = Replay(FLOOD).run([0.0, 10 * MINUTE_S, 20 * MINUTE_S, 20 * MINUTE_S + DAY_S], 2 * DAY_S)
    assert len(flood.state.rhythm.intervals) == 3
    assert flood.deadline().source is DeadlineSource.DEFAULT


def test_the_messages_of_one_wake_up_are_one_check_in() -> None:
    flood = Replay(FLOOD)
    for day in range(3):
        flood.wake(day * DAY_S, WAKE_UP * 3)  # nine messages in 3.6 s
    assert flood.state.rhythm.intervals == (DAY_S - 3.2, DAY_S - 3.2)


def test_a_restart_keeps_what_was_learned_and_does_not_learn_its_own_downtime() -> None:
    learned = Replay(FLOOD).run(every(DAY_S, 5), 4 * DAY_S)
    assert learned.deadline().source is DeadlineSource.LEARNED
    stored = learned.state.to_json()
    assert json.loads(stored)["checkin_intervals"] == [DAY_S - 0.8] * 4

    # The edge is down from 4 d + 1 h to 4 d + 10 h, then starts again from its stored state.
    restarted = at(4 * DAY_S + 10 * HOUR_S)
    after = Replay(FLOOD, watching_since=restarted, state=DeviceState.from_json(stored))
    after.clock_s = 4 * DAY_S + 10 * HOUR_S
    after.run([5 * DAY_S, 6 * DAY_S], 6 * DAY_S + 2 * DAY_S)
    # No false fault 6 h after the restart; the dead device still reported 26 h after its
    # last word, by the learned deadline.
    assert after.raised_at_h() == [6 * 24 + 26.0]
    # The interval across the restart was not heard whole: not learned. The next one was.
    assert after.state.rhythm.intervals == (DAY_S - 0.8,) * 5


def test_an_edge_start_never_heard_from_since_keeps_the_learned_deadline() -> None:
    learned = Replay(FLOOD).run(every(DAY_S, 5), 4 * DAY_S)
    restarted = at(4 * DAY_S + HOUR_S)
    state = DeviceState.from_json(learned.state.to_json())
    assert tick(state, FLOOD, at(5 * DAY_S), watching_since=restarted).alerts == ()
    late = tick(state, FLOOD, at(5 * DAY_S + 4 * HOUR_S), watching_since=restarted)
    # Timed from the restart (it may have spoken while the edge was down), learned length.
    assert [a.event_time for a in late.alerts] == [restarted + timedelta(seconds=CAP_S)]


def site_profile(site: SiteDetection, dev: Device) -> DetectionProfile:
    return ProfileBook.build(site, devices=[dev]).for_device(dev)


@pytest.mark.parametrize(
    "site",
    [
        SiteDetection(checkin_s={DeviceKind.WATER_LEAK: 6 * HOUR_S}),
        SiteDetection(devices={"bike-flood": DeviceDetection(checkin_s=6 * HOUR_S)}),
    ],
    ids=["site-kind", "device"],
)
def test_a_configured_checkin_beats_learning(site: SiteDetection) -> None:
    # The operator's word, even at the very value of the default: every day a fault.
    week = Replay(FLOOD, profile=site_profile(site, FLOOD)).run(every(DAY_S, 8), 7 * DAY_S + 1)
    assert week.raised_at_h() == [6.0 + 24 * d for d in range(7)]
    assert week.deadline() == CheckinDeadline(6 * HOUR_S, DeadlineSource.CONFIGURED)
    assert week.offline[0].reason.values["deadline_source"] == "configured"


def test_a_site_setting_one_kind_leaves_the_others_to_learn() -> None:
    site = SiteDetection(checkin_s={DeviceKind.SMOKE: 3 * HOUR_S})
    week = Replay(FLOOD, profile=site_profile(site, FLOOD)).run(every(DAY_S, 8), 7 * DAY_S)
    assert week.deadline().source is DeadlineSource.LEARNED


def test_a_mains_device_learns_no_more_than_an_hour() -> None:
    seen: tuple[Observation, ...] = (AvailabilityChange(online=True),)  # frames read
    camera = Replay(CAMERA)
    for i in range(6):
        camera.wake(i * 30 * MINUTE_S, seen)
    assert camera.deadline() == CheckinDeadline(HOUR_S, DeadlineSource.LEARNED, 30 * MINUTE_S)
    for i in range(6, 12):
        camera.wake(i * 3 * HOUR_S, seen)
    assert camera.deadline().seconds == LEARN_CAP_S[Power.MAINS] == HOUR_S


def test_a_device_that_reports_more_often_again_returns_to_its_default() -> None:
    daily = every(DAY_S, 5)
    then = every(40 * MINUTE_S, LEARN_WINDOW, start_s=daily[-1] + 40 * MINUTE_S)
    flood = Replay(FLOOD).run(daily + then[:6], then[5])
    assert flood.deadline().source is DeadlineSource.LEARNED  # two long ones still in view
    flood.run(then[6:], then[-1])
    assert flood.deadline() == CheckinDeadline(6 * HOUR_S, DeadlineSource.DEFAULT)


def test_a_device_whose_interval_stretches_as_its_battery_dies_is_capped() -> None:
    # Every wake-up an hour later than the one before: 6 h, 7 h, ... 15 h.
    wakes = [HOUR_S * sum(range(6, 6 + i)) for i in range(11)]
    dying = Replay(HT).run(wakes, wakes[-1])
    # Followed as it stretches (a fault only while it was still being learned) ...
    assert dying.raised_at_h() == [2.0, 8.0, 15.0]
    assert dying.deadline() == CheckinDeadline(CAP_S, DeadlineSource.LEARNED, 14 * HOUR_S - 0.8)
    # ... but once silent, it is reported within the cap.
    dying.run([], wakes[-1] + 2 * DAY_S)
    assert dying.raised_at_h()[3:] == [(wakes[-1] + CAP_S) / HOUR_S]


def test_the_rhythm_round_trips_and_an_older_state_has_none() -> None:
    state = DeviceState(rhythm=CheckinRhythm((DAY_S, 6 * HOUR_S)))
    assert DeviceState.from_json(state.to_json()) == state
    assert DeviceState.from_json('{"last_seen": null}').rhythm == CheckinRhythm()


@pytest.mark.parametrize(
    "text",
    [
        '{"checkin_intervals": ["a day"]}',
        '{"checkin_intervals": [-60]}',
        '{"checkin_intervals": [NaN]}',
        '{"checkin_intervals": 3600}',
    ],
)
def test_unreadable_check_in_intervals_are_refused(text: str) -> None:
    with pytest.raises(StateFormatError):
        DeviceState.from_json(text)
