"""Found by an outside review of the pure care check: waking hours that span a
daylight-saving change were counted in wall-clock time (an hour too many or too few); a
silent home was never a wellbeing check however long nobody saw the resident; a closed check
did not restart the count."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hub.care.rules import (
    CareFacts,
    CareStatus,
    Sensor,
    WakingHours,
    check_activity,
    waking_time_between,
)

NY = ZoneInfo("America/New_York")
SH = ZoneInfo("Asia/Shanghai")
NIGHT_SHIFT = WakingHours(start=time(20, 0), end=time(4, 0), timezone="America/New_York")


def test_waking_hours_across_a_daylight_saving_change_are_real_hours() -> None:
    # Clocks go forward at 02:00 on 8 March 2026: 21:00 to 03:30 is 5.5 hours, not 6.5.
    start, end = datetime(2026, 3, 7, 21, 0, tzinfo=NY), datetime(2026, 3, 8, 3, 30, tzinfo=NY)
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=5, minutes=30)
    assert waking_time_between(start, end, NIGHT_SHIFT) == timedelta(hours=5, minutes=30)
    # And back at 02:00 on 1 November 2026: 21:00 to 03:30 is 7.5 hours, not 6.5.
    start, end = datetime(2026, 10, 31, 21, 0, tzinfo=NY), datetime(2026, 11, 1, 3, 30, tzinfo=NY)
    assert waking_time_between(start, end, NIGHT_SHIFT) == timedelta(hours=7, minutes=30)


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 3, day, hour, 0, tzinfo=SH)


def test_a_silent_home_unseen_for_the_quiet_limit_is_a_wellbeing_check() -> None:
    dead = [Sensor("b2-301-motion", at(2, 19), timedelta(hours=6))]
    facts = CareFacts(last_activity=at(2, 19), watched_since=at(1, 0), sensors=dead)
    early = check_activity(facts, at(3, 8))
    assert (early.status, early.wellbeing_check) == (CareStatus.SENSORS_SILENT, False)
    late = check_activity(facts, at(3, 10))
    assert (late.status, late.wellbeing_check) == (CareStatus.SENSORS_SILENT, True)


def test_a_closed_check_restarts_the_count() -> None:
    live = [Sensor("b2-301-motion", at(3, 11), timedelta(hours=6))]
    facts = CareFacts(
        last_activity=at(2, 19), watched_since=at(1, 0), sensors=live, checked_at=at(3, 10)
    )
    check = check_activity(facts, at(3, 11))
    assert (check.status, check.since, check.wellbeing_check) == (CareStatus.FINE, at(3, 10), False)
    assert check_activity(facts, at(3, 16)).status is CareStatus.NO_ACTIVITY
