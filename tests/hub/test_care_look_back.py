"""How far back the care check looks for a resident's last sign of life, on a real database
(SQLite and PostgreSQL) in simulated time. A quiet limit may be 48 *waking* hours: a home
awake 07:00–15:00 takes six days to count them. The readings were searched only 3 days back:
a last sign of life 4 days ago was not found, the quiet was counted from when the home was
first watched (weeks before) and a wellbeing check raised days early, a false alarm to the
family and the grid worker."""

from datetime import UTC, datetime, time, timedelta

import pytest

from hub.care.rules import LOOK_BACK, CareFacts, CareStatus, Sensor, WakingHours, check_activity
from hub.care.views import CareSettings, Consent, Contact
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.test_care_watch import DAUGHTER, MOTION, family_notices, make_grandma, readings

MORNING = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
WATCHED = MORNING - timedelta(days=30)
SHORT_DAY = CareSettings(
    consent=Consent(by="Zhao Min (daughter, guardian)"),
    contacts=[Contact(name="Zhao Min", relation="daughter", target=DAUGHTER)],
    device_ids=[MOTION],
    quiet_hours=48,
    waking_from=time(7, 0),
    waking_until=time(15, 0),
)


@pytest.fixture
def clock() -> FakeClock:
    """A clock that starts when the home was first watched, a month before."""
    return FakeClock(WATCHED)


@pytest.fixture
def grandma(store: HubStore) -> int:
    """Grandma's home, awake 07:00–15:00, checked on after 48 waking hours unseen."""
    household = make_grandma(store)
    store.care.put_care(household, SHORT_DAY, "op.wang")
    return household


def checked_in(store: HubStore, start: datetime, end: datetime) -> None:
    """The motion sensor reports every hour from start to end, seeing nobody."""
    ts = start
    while ts <= end:
        readings(store, ts, occupancy=False)
        ts += timedelta(hours=1)


def test_a_sign_of_life_four_days_ago_is_found_within_a_48_waking_hour_limit(
    store: HubStore, clock: FakeClock, grandma: int
) -> None:
    readings(store, MORNING, occupancy=True)  # seen moving at 10:00
    now = MORNING + timedelta(days=4)  # 5 + 8 + 8 + 8 + 3 = 32 waking hours since
    checked_in(store, MORNING + timedelta(hours=1), now)
    clock.now = now
    assert store.care.watch() == []
    assert family_notices(store) == []
    view = store.care.get_care(grandma)
    assert (view.status, view.last_activity) == (CareStatus.FINE, MORNING)
    assert view.quiet_hours_so_far == 32
    clock.now = MORNING + timedelta(days=6)  # 48 waking hours: now it is a check
    checked_in(store, now + timedelta(hours=1), clock.now)
    [case] = store.care.watch()
    assert case.kind == "no_activity"
    assert store.care.get_care(grandma).quiet_hours_so_far == 48


def test_a_resident_unseen_for_longer_than_the_look_back_is_still_checked_on(
    store: HubStore, clock: FakeClock, grandma: int
) -> None:
    """Nothing in the week searched: a check, counted from the search's start (at least
    that long), not from a month ago, when no reading was searched."""
    readings(store, MORNING, occupancy=True)
    clock.now = MORNING + timedelta(days=9)
    checked_in(store, clock.now - timedelta(hours=6), clock.now)
    [case] = store.care.watch()
    assert case.kind == "no_activity"
    assert family_notices(store) == [case.id]
    view = store.care.get_care(grandma)
    assert view.status is CareStatus.NO_ACTIVITY
    assert view.last_activity is None
    assert view.quiet_hours_so_far == 7 * 8
    note = store.cases.get_case(case.id).events[0].note or ""
    assert f"for at least 56.0 waking hours (since {(clock.now - LOOK_BACK).isoformat()})" in note


def test_a_home_whose_limit_the_look_back_cannot_hold_counts_from_when_it_was_watched() -> None:
    """Awake two hours a day, 48 waking hours take 24 days, more than is searched: nothing
    found in it, the quiet counts from when the home was watched — a check raised early
    rather than never (from the search's start, sliding with the clock, it never would)."""
    now = MORNING + timedelta(days=40)
    waking = WakingHours(start=time(7, 0), end=time(9, 0))
    facts = CareFacts(
        last_activity=None,
        watched_since=WATCHED,
        sensors=[Sensor(MOTION, now, timedelta(hours=6))],
        waking=waking,
        quiet_limit=timedelta(hours=48),
        searched_from=now - LOOK_BACK,
    )
    check = check_activity(facts, now)
    assert (check.status, check.since, check.wellbeing_check) == (
        CareStatus.NO_ACTIVITY,
        WATCHED,
        True,
    )
    # Searched from the first reading's time, a week holding the limit: from there.
    long_day = CareFacts(
        last_activity=None,
        watched_since=WATCHED,
        sensors=[Sensor(MOTION, now, timedelta(hours=6))],
        quiet_limit=timedelta(hours=48),
        searched_from=now - LOOK_BACK,
    )
    assert check_activity(long_day, now).since == now - LOOK_BACK
