"""No-activity for care households in simulated time: a quiet day, a night, a trip, a dead
sensor, all on plain values (milliseconds per test)."""

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from devices.observations import StateUpdate
from devices.zigbee2mqtt import decode_zigbee_state
from hub.care.rules import (
    CHANGES,
    RETRIGGER,
    CareFacts,
    CareStatus,
    Sensor,
    SensorReading,
    WakingHours,
    check_activity,
    last_sign_of_life,
    waking_time_between,
)

SH = ZoneInfo("Asia/Shanghai")
WATCHED = datetime(2026, 3, 1, 0, 0, tzinfo=SH)
MOTION = "b2-301-motion"
DOOR = "b2-301-door"
RADAR = "b2-301-radar"


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


def history(*readings: tuple[str, datetime, Mapping[str, float | bool]]) -> list[SensorReading]:
    """Readings given oldest first, returned newest first as the repository reads them."""
    return sorted((SensorReading(*r) for r in readings), key=lambda r: r.ts, reverse=True)


def test_each_motion_is_a_sign_of_life_and_nothing_else_of_a_reading_is() -> None:
    readings = history(
        (MOTION, at(2, 8), {"occupancy": True}),
        (MOTION, at(2, 8, 2), {"occupancy": True, "battery_pct": 80.0}),  # moving still
        (MOTION, at(2, 10), {"occupancy": False}),
        (MOTION, at(2, 11), {"battery_pct": 79.0, "temperature_c": 21.0}),
    )
    assert last_sign_of_life(readings) == at(2, 8, 2)
    assert last_sign_of_life(history((MOTION, at(2, 10), {"occupancy": False}))) is None
    assert last_sign_of_life([]) is None


def test_a_door_left_open_is_one_sign_not_one_an_hour() -> None:
    # A Zigbee door contact re-sends its state with each battery report, about hourly
    # (Koenkk/zigbee2mqtt#827): the door opened at 20:00 and stayed open.
    readings = [(DOOR, at(2, 19), {"contact": True})]
    readings.append((DOOR, at(2, 20), {"contact": False}))
    readings += [(DOOR, at(2, 20) + timedelta(hours=h), {"contact": False}) for h in range(1, 15)]
    assert last_sign_of_life(history(*readings)) == at(2, 20)


def test_a_door_closing_is_a_sign_as_its_opening_is() -> None:
    readings = history(
        (DOOR, at(2, 19), {"contact": True}),
        (DOOR, at(2, 20), {"contact": False}),
        (DOOR, at(2, 20, 1), {"contact": True}),
        (DOOR, at(2, 21), {"contact": True, "battery_pct": 90.0}),
    )
    assert last_sign_of_life(readings) == at(2, 20, 1)


def test_a_devices_earliest_reading_counts_if_it_says_open_or_someone_there() -> None:
    # Nothing before it in the history: a door already open, someone already in view, are
    # taken as signs at that reading (never later); a closed door, an empty room, are not.
    assert last_sign_of_life(history((DOOR, at(2, 9), {"contact": False}))) == at(2, 9)
    assert last_sign_of_life(history((DOOR, at(2, 9), {"contact": True}))) is None
    assert last_sign_of_life(history((RADAR, at(2, 9), {"presence": True}))) == at(2, 9)
    assert last_sign_of_life(history((RADAR, at(2, 9), {"presence": False}))) is None


def test_a_radar_that_keeps_seeing_someone_still_is_one_sign_at_the_start() -> None:
    # A Tuya mmWave radar reports presence with every target distance, every few seconds,
    # for as long as someone is in view: a fall at 09:00 and nobody moves after it.
    readings = [(RADAR, at(3, 8, 30), {"presence": False, "occupancy": False})]
    readings.append((RADAR, at(3, 8, 40), {"presence": True, "occupancy": True}))  # walks in
    readings += [
        (RADAR, at(3, 9) + timedelta(seconds=30 * n), {"presence": True, "occupancy": False})
        for n in range(6 * 120)
    ]
    assert last_sign_of_life(history(*readings)) == at(3, 8, 40)


def test_leaving_a_radars_view_is_a_sign_of_life() -> None:
    readings = history(
        (RADAR, at(3, 8), {"presence": True}),
        (RADAR, at(3, 9), {"presence": False}),
        (RADAR, at(3, 10), {"presence": False}),
    )
    assert last_sign_of_life(readings) == at(3, 9)


def test_one_devices_repetitions_do_not_hide_anothers_change() -> None:
    readings = history(
        (DOOR, at(2, 19), {"contact": True}),
        (RADAR, at(2, 20), {"presence": False}),
        (DOOR, at(2, 21), {"contact": False}),  # opened
        (RADAR, at(2, 22), {"presence": False}),
        (DOOR, at(2, 23), {"contact": False}),
        (RADAR, at(3, 1), {"presence": False}),
    )
    assert last_sign_of_life(readings) == at(2, 21)


def _reference(readings: list[SensorReading]) -> datetime | None:
    """The rule read plainly: every reading oldest first, each compared with the one before."""
    signs: list[datetime] = []
    before: dict[tuple[str, str], bool] = {}
    moved_at: dict[str, datetime] = {}
    for reading in sorted(readings, key=lambda r: r.ts):
        moved = reading.readings.get("occupancy")
        if moved is True:
            previous_true = moved_at.get(reading.device_id)
            if previous_true is None or reading.ts - previous_true <= RETRIGGER:
                signs.append(reading.ts)
            moved_at[reading.device_id] = reading.ts
        elif moved is False:
            moved_at.pop(reading.device_id, None)
        for name, first in CHANGES.items():
            value = reading.readings.get(name)
            if isinstance(value, bool):
                previous = before.get((reading.device_id, name))
                if value is not previous if previous is not None else value is first:
                    signs.append(reading.ts)
                before[(reading.device_id, name)] = value
    return max(signs, default=None)


_FLAG = st.one_of(st.none(), st.booleans())


@given(
    st.lists(
        st.tuples(
            st.sampled_from([DOOR, RADAR, MOTION]),
            st.sampled_from([1, 5, 14, 15, 16, 60]),  # minutes after the reading before
            st.fixed_dictionaries(
                {}, optional={"occupancy": _FLAG, "contact": _FLAG, "presence": _FLAG}
            ),
        ),
        max_size=40,
    )
)
def test_reading_newest_first_and_stopping_early_finds_what_reading_all_finds(
    steps: list[tuple[str, int, dict[str, bool | None]]],
) -> None:
    readings: list[SensorReading] = []
    ts = at(2, 8)
    for device, gap, values in steps:
        ts += timedelta(minutes=gap)
        present = {k: v for k, v in values.items() if v is not None}
        readings.append(SensorReading(device, ts, present))
    assert last_sign_of_life(
        history(*((r.device_id, r.ts, dict(r.readings)) for r in readings))
    ) == _reference(readings)


def test_zigbee2mqtt_occupancy_is_read_as_it_is() -> None:
    # A real Aqara motion sensor message (realdata z2m_temperature_and_misc.json).
    message = {"battery": 74, "illuminance_above_threshold": False, "occupancy": False}
    [state] = decode_zigbee_state(message)
    assert isinstance(state, StateUpdate)
    assert state.readings.present() == {"battery_pct": 74.0, "occupancy": False}
    [moved] = decode_zigbee_state({"occupancy": True})
    assert isinstance(moved, StateUpdate)
    assert moved.readings.occupancy is True
