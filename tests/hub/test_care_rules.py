"""No-activity for care households in simulated time: a quiet day, a night, a trip, a dead
sensor, all on plain values (milliseconds per test)."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from devices.observations import StateUpdate
from devices.zigbee2mqtt import decode_zigbee_state
from hub.care.rules import (
    CareFacts,
    CareStatus,
    Sensor,
    WakingHours,
    check_activity,
    is_activity,
    waking_time_between,
)

SH = ZoneInfo("Asia/Shanghai")
WATCHED = datetime(2026, 3, 1, 0, 0, tzinfo=SH)
MOTION = "b2-301-motion"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=SH)


def sensors(last_seen: datetime) -> list[Sensor]:
    return [Sensor(MOTION, last_seen, timedelta(hours=6))]


def facts(last_activity: datetime | None, now: datetime, **changes: Any) -> CareFacts:
    base = CareFacts(last_activity=last_activity, watched_since=WATCHED, sensors=sensors(now))
    return replace(base, **changes)


def test_waking_hours_are_counted_day_by_day_in_local_time() -> None:
    waking = WakingHours()
    assert waking_time_between(at(2, 20), at(3, 9), waking) == timedelta(hours=4)
    assert waking_time_between(at(2, 23), at(3, 6), waking) == timedelta(0)
    assert waking_time_between(at(2, 7), at(4, 7), waking) == timedelta(hours=30)
    night_shift = WakingHours(start=at(1, 20).time(), end=at(1, 4).time())
    assert waking_time_between(at(2, 21), at(3, 1), night_shift) == timedelta(hours=4)
    utc_now = at(3, 9).astimezone(UTC)
    assert waking_time_between(at(2, 20), utc_now, waking) == timedelta(hours=4)


def test_a_nights_sleep_is_fine() -> None:
    check = check_activity(facts(at(2, 21, 30), at(3, 7, 30)), at(3, 7, 30))
    assert check.status is CareStatus.FINE
    assert check.quiet == timedelta(hours=1)


def test_a_quiet_day_raises_no_activity() -> None:
    # Scenario 12: nothing since yesterday evening; by mid-morning it is a wellbeing check.
    evening = at(2, 19)
    assert check_activity(facts(evening, at(3, 8)), at(3, 8)).status is CareStatus.FINE
    check = check_activity(facts(evening, at(3, 10)), at(3, 10))
    assert check.status is CareStatus.NO_ACTIVITY
    assert check.since == evening
    assert check.quiet == timedelta(hours=6)


def test_a_trip_away_is_no_alarm_and_the_count_restarts_on_return() -> None:
    away = facts(at(1, 9), at(5, 12), away_until=at(6, 18))
    assert check_activity(away, at(5, 12)).status is CareStatus.AWAY
    back = facts(at(1, 9), at(6, 21), away_until=at(6, 18))
    assert check_activity(back, at(6, 21)).status is CareStatus.FINE
    still = facts(at(1, 9), at(7, 11), away_until=at(6, 18))
    assert check_activity(still, at(7, 11)).status is CareStatus.NO_ACTIVITY


def test_a_dead_sensor_is_a_fault_not_no_activity() -> None:
    dead = facts(at(2, 8), at(3, 12), sensors=sensors(at(2, 8, 5)))
    check = check_activity(dead, at(3, 12))
    assert check.status is CareStatus.SENSORS_SILENT
    assert check.silent == (MOTION,)
    # With a live door contact beside the dead motion sensor, the quiet home is watched.
    watched = [*sensors(at(2, 8, 5)), Sensor("b2-301-door", at(3, 11), timedelta(hours=6))]
    check = check_activity(facts(at(2, 8), at(3, 12), sensors=watched), at(3, 12))
    assert check.status is CareStatus.NO_ACTIVITY
    assert check.silent == (MOTION,)


def test_care_switched_on_recently_counts_from_then_and_no_sensor_is_not_watched() -> None:
    fresh = facts(None, at(3, 12), watched_since=at(3, 9))
    assert check_activity(fresh, at(3, 12)).status is CareStatus.FINE
    bare = facts(at(2, 8), at(3, 12), sensors=[])
    assert check_activity(bare, at(3, 12)).status is CareStatus.NOT_WATCHED


@pytest.mark.parametrize(
    ("readings", "alive"),
    [
        ({"occupancy": True}, True),
        ({"occupancy": False}, False),
        ({"contact": False}, True),
        ({"contact": True}, False),
        ({"battery_pct": 80.0}, False),
    ],
)
def test_signs_of_life(readings: dict[str, float | bool], alive: bool) -> None:
    assert is_activity(readings) is alive


def test_zigbee2mqtt_occupancy_is_read_as_it_is() -> None:
    # A real Aqara motion sensor message (realdata z2m_temperature_and_misc.json).
    message = {"battery": 74, "illuminance_above_threshold": False, "occupancy": False}
    [state] = decode_zigbee_state(message)
    assert isinstance(state, StateUpdate)
    assert state.readings.present() == {"battery_pct": 74.0, "occupancy": False}
    [moved] = decode_zigbee_state({"occupancy": True})
    assert isinstance(moved, StateUpdate)
    assert moved.readings.occupancy is True
