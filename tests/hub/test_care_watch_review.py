"""Found by an outside review of the care watch, on a real database (SQLite and PostgreSQL)
in simulated time: a resolved wellbeing check came straight back (and the family was told
again) while nothing new had been seen; a home whose sensors all went silent (a dead battery,
an edge cut off) was never checked on however long it stayed unseen; marking a household back
from a trip early raised an alarm counted from before the trip; a sign of life that arrived
after the check (an edge's backlog) reached neither the check nor the family; one household's
failing check left every household after it unchecked; a contact listed twice got every
message twice; the round read every household's site once per household."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from devices.kinds import DeviceKind
from devices.registry import Device
from hub.care.repository import CareRepository
from hub.care.rules import CareStatus
from hub.care.views import CareSettings, Consent, Contact
from hub.cases.rules import Resolution
from hub.cases.views import CaseView
from hub.residents.repository import household_sites_in
from hub.residents.rules import issue_token, web_sos_alert
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.test_care_watch import (
    DAUGHTER,
    EVENING,
    HOME,
    MOTION,
    family_notices,
    heartbeat,
    make_grandma,
    readings,
)


@pytest.fixture
def clock() -> FakeClock:
    """A clock that starts the evening before."""
    return FakeClock(EVENING - timedelta(hours=1))


@pytest.fixture
def grandma(store: HubStore) -> int:
    return make_grandma(store)


def test_a_resolved_wellbeing_check_does_not_come_straight_back(
    store: HubStore, clock: FakeClock, grandma: int
) -> None:
    readings(store, EVENING, occupancy=True)  # last seen moving at 19:00
    heartbeat(store, EVENING + timedelta(hours=1), EVENING + timedelta(hours=24))
    clock.now = EVENING + timedelta(hours=15)  # 10:00: the wellbeing check
    [case] = store.care.watch()
    # The grid worker finds her well, sitting still with a book, and closes the check.
    clock.advance(1800)
    store.cases.acknowledge(case.id, actor="grid-2")
    store.cases.resolve(
        case.id, "visited: she is well", resolution=Resolution.FALSE_ALARM, actor="grid-2"
    )
    clock.advance(60)
    assert store.care.watch() == []  # not a second check a minute later
    assert family_notices(store) == [case.id]  # nor a second message to the daughter
    assert store.care.get_care(grandma).status is CareStatus.FINE
    # Six more waking hours with nothing seen since the visit: a check again.
    clock.now = EVENING + timedelta(hours=15, minutes=31) + timedelta(hours=6)
    [again] = store.care.watch()
    assert again.id != case.id
    assert family_notices(store) == [case.id, again.id]


def test_a_home_unseen_because_its_sensors_went_silent_is_checked_on(
    store: HubStore, clock: FakeClock, grandma: int
) -> None:
    readings(store, EVENING, occupancy=True)  # and then the battery dies (or the edge goes)
    clock.now = EVENING + timedelta(hours=13)  # 08:00: silent, but only 1 waking hour
    assert store.care.watch() == []
    assert store.care.get_care(grandma).status is CareStatus.SENSORS_SILENT
    clock.now = EVENING + timedelta(hours=15)  # 10:00: nobody has seen her for 6 waking hours
    [case] = store.care.watch()
    assert (case.kind, case.category, case.priority) == ("no_activity", "wellbeing", "high")
    assert family_notices(store) == [case.id]
    detail = store.cases.get_case(case.id)
    assert any("silent" in (e.note or "") for e in detail.events)
    view = store.care.get_care(grandma)
    assert view.status is CareStatus.SENSORS_SILENT
    assert view.alarm_case_id == case.id
    clock.advance(600)
    assert store.care.watch() == []  # one at a time


def test_coming_home_early_counts_from_the_return(
    store: HubStore, clock: FakeClock, grandma: int
) -> None:
    readings(store, EVENING, occupancy=True)  # seen at 19:00, then leaves on a trip
    store.care.set_away(grandma, EVENING + timedelta(days=5), "op.wang")
    heartbeat(store, EVENING + timedelta(hours=1), EVENING + timedelta(days=3))
    clock.now = EVENING + timedelta(days=2)  # 19:00 two days on: she is back early
    back = store.care.set_away(grandma, None, "op.wang")
    assert back.status is CareStatus.FINE
    clock.advance(60)
    assert store.care.watch() == []  # not an alarm counted from before the trip
    assert family_notices(store) == []
    clock.now = EVENING + timedelta(days=2, hours=13)  # 08:00: a night's sleep
    assert store.care.watch() == []
    clock.now = EVENING + timedelta(days=2, hours=15)  # 10:00: 6 waking hours since
    [case] = store.care.watch()
    assert case.kind == "no_activity"


def test_a_round_reads_the_sites_once_not_once_per_household(
    store: HubStore, clock: FakeClock, grandma: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(5):
        device = Device(id=f"b2-40{n}-motion", kind=DeviceKind.MOTION, location=HOME)
        store.fleet.upsert_devices([device])
        home = store.households.create_household(f"Neighbour {n}", HOME, [], issue_token()[1])
        settings = CareSettings(consent=Consent(by="self"), device_ids=[device.id])
        store.care.put_care(home.id, settings, None)
    calls: list[int] = []

    def counted(session: Session) -> dict[int, str | None]:
        calls.append(1)
        return household_sites_in(session)

    monkeypatch.setattr("hub.care.repository.household_sites_in", counted)
    clock.now = EVENING + timedelta(hours=1)
    store.care.watch()
    assert len(calls) <= 1
    calls.clear()
    assert len(store.care.list_care()) == 6
    assert len(calls) <= 1


def test_a_sign_of_life_arriving_after_the_check_is_told_once(
    store: HubStore, clock: FakeClock, grandma: int
) -> None:
    readings(store, EVENING, occupancy=True)
    heartbeat(store, EVENING + timedelta(hours=1), EVENING + timedelta(hours=13))
    clock.now = EVENING + timedelta(hours=15)  # 10:00: the edge has been cut off since 08:00
    [case] = store.care.watch()
    # The edge comes back and its backlog says she moved at 09:30: the grid worker on the way
    # and the daughter hear of it, once; the check stays open until someone closes it.
    clock.advance(300)
    readings(store, EVENING + timedelta(hours=14, minutes=30), occupancy=True)
    [told] = store.care.watch()
    assert told.id == case.id
    assert told.status in {"open", "acknowledged", "dispatched", "accepted", "in_progress"}
    assert family_notices(store) == [case.id, case.id]
    notes = [e.note or "" for e in store.cases.get_case(case.id).events]
    assert sum("a sign of life" in n for n in notes) == 1
    clock.advance(60)
    assert store.care.watch() == []
    assert family_notices(store) == [case.id, case.id]
    assert store.care.get_care(grandma).alarm_case_id == case.id


def test_one_households_failing_check_leaves_the_others_checked(
    store: HubStore, clock: FakeClock, grandma: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    other_motion = Device(id="b2-302-motion", kind=DeviceKind.MOTION, location=HOME)
    store.fleet.upsert_devices([other_motion])
    other = store.households.create_household("Grandpa Sun", HOME, [], issue_token()[1])
    settings = CareSettings(consent=Consent(by="self"), device_ids=[other_motion.id])
    store.care.put_care(other.id, settings, None)
    # Nobody has seen either of them since 18:00 (his sensor is silent: a check as well).
    readings(store, EVENING, occupancy=True)
    heartbeat(store, EVENING + timedelta(hours=1), EVENING + timedelta(hours=15))
    real = CareRepository._watch_one

    def failing(
        self: CareRepository, session: Session, household_id: int, *args: Any
    ) -> list[CaseView]:
        if household_id == grandma:
            raise RuntimeError("a bad row")
        return real(self, session, household_id, *args)

    monkeypatch.setattr(CareRepository, "_watch_one", failing)
    clock.now = EVENING + timedelta(hours=15)
    [case] = store.care.watch()  # grandma's check failed; his was still made
    assert case.place == HOME


def test_a_contact_listed_twice_gets_each_message_once(
    store: HubStore, clock: FakeClock, grandma: int
) -> None:
    daughter = Contact(name="Zhao Min", relation="daughter", target=DAUGHTER)
    guardian = Contact(name="Zhao Min", relation="guardian", target=DAUGHTER)
    settings = CareSettings(
        consent=Consent(by="Zhao Min"), contacts=[daughter, guardian], device_ids=[MOTION]
    )
    store.care.put_care(grandma, settings, None)
    readings(store, EVENING, occupancy=True)
    clock.now = EVENING + timedelta(minutes=5)
    household = next(h for h in store.households.list_households() if h.id == grandma)
    device = store.households.household_sos_device(household)
    alert = web_sos_alert("sos-press-0002", device.id, device.location, clock.now)
    [sos] = store.intake.ingest_alerts([alert], clock.now).cases_opened
    store.care.watch()
    assert family_notices(store) == [sos.id]
    heartbeat(store, EVENING + timedelta(hours=1), EVENING + timedelta(hours=16))
    clock.now = EVENING + timedelta(hours=16)  # 11:00: 6 waking hours since the press
    [case] = store.care.watch()
    assert family_notices(store) == [sos.id, case.id]


def test_two_workers_checking_at_once_raise_one_check(
    store: HubStore, clock: FakeClock, grandma: int
) -> None:
    """Probed and sound: the profile's row lock makes the second worker see the first's case."""
    readings(store, EVENING, occupancy=True)
    heartbeat(store, EVENING + timedelta(hours=1), EVENING + timedelta(hours=15))
    clock.now = EVENING + timedelta(hours=15)
    with ThreadPoolExecutor(2) as pool:
        rounds = list(pool.map(lambda _: store.care.watch(), range(2)))
    assert sorted(len(r) for r in rounds) == [0, 1]
    assert len(family_notices(store)) == 1


def test_a_trip_marked_while_a_check_is_open_is_not_a_sign_of_life(
    store: HubStore, clock: FakeClock, grandma: int
) -> None:
    readings(store, EVENING, occupancy=True)
    heartbeat(store, EVENING + timedelta(hours=1), EVENING + timedelta(days=3))
    clock.now = EVENING + timedelta(hours=15)
    [case] = store.care.watch()
    clock.advance(300)  # her daughter calls: she left on a trip yesterday night
    store.care.set_away(grandma, EVENING + timedelta(days=2), "op.wang")
    assert store.care.watch() == []
    clock.now = EVENING + timedelta(days=2, hours=1)  # the trip is over, nothing seen since
    assert store.care.watch() == []
    assert family_notices(store) == [case.id]
    notes = [e.note or "" for e in store.cases.get_case(case.id).events]
    assert not any("a sign of life" in n for n in notes)


def test_a_sign_stamped_in_the_future_does_not_hold_the_check_off(
    store: HubStore, clock: FakeClock, grandma: int
) -> None:
    readings(store, EVENING, occupancy=True)  # last truly seen at 19:00
    # The edge's clock jumped a day ahead at 20:00: what it stamps lies in tomorrow.
    readings(store, EVENING + timedelta(days=1, hours=1), occupancy=True)
    heartbeat(store, EVENING + timedelta(days=1, hours=2), EVENING + timedelta(days=1, hours=16))
    clock.now = EVENING + timedelta(hours=15)  # 10:00: nobody has seen her for 6 waking hours
    [case] = store.care.watch()
    assert case.kind == "no_activity"
    assert store.care.get_care(grandma).last_activity == EVENING
