"""Found by an outside review of the care watch (a social worker's eye), on a real database
(SQLite and PostgreSQL) in simulated time: marking a resident back after her trip's end date
had passed (or changing her profile then) forgot the return, and raised a wellbeing check at
once counted from before the trip; an SOS pressed while a wellbeing check was open reached the
family as "a sign of life" on that check, a reassurance sent about an emergency; a check raised
while one of the home's sensors was dead did not say so, so the grid worker and the family
read a flat battery as a silent resident; a motion sensor stuck on "occupied", re-sending
``occupancy: true`` with every hourly heartbeat (Koenkk/zigbee2mqtt#2297, #31712), was someone
moving every hour, and no check ever came."""

from datetime import datetime, timedelta

from sqlalchemy import select

from devices.kinds import DeviceKind
from devices.messages import TelemetryBatch, TelemetryPoint
from devices.payloads import Readings
from devices.registry import Device
from hub.care.rules import CareStatus, SensorReading, last_sign_of_life
from hub.care.views import CareSettings, Consent, Contact
from hub.persistence.tables import NotificationRow, ReadingHistoryRow
from hub.residents.rules import web_sos_alert
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.test_care_watch import (
    DAUGHTER,
    EVENING,
    HOME,
    MOTION,
    family_notices,
    heartbeat,
    readings,
)
from tests.hub.test_care_watch_review import clock, grandma

__all__ = ["clock", "grandma"]  # the evening before, and grandma at home

DOOR = "b2-301-door"
RETURN = EVENING + timedelta(days=1, hours=15)  # 10:00 local, two days after she left


def settings(**changes: object) -> CareSettings:
    """Grandma's care settings as ``make_grandma`` puts them, with ``changes``."""
    base: dict[str, object] = {
        "consent": Consent(by="Zhao Min (daughter, guardian)"),
        "contacts": [Contact(name="Zhao Min", relation="daughter", target=DAUGHTER)],
        "device_ids": [MOTION],
    }
    return CareSettings.model_validate(base | changes)


def family_notes(store: HubStore) -> list[str]:
    """The notes of every notice sent to the daughter, oldest first."""
    with store.db.reading() as session:
        payloads = session.scalars(
            select(NotificationRow.payload)
            .where(NotificationRow.target == DAUGHTER)
            .order_by(NotificationRow.id)
        )
        return [str(p.get("note") or "") for p in payloads]


def away_for_two_days(store: HubStore, clock: FakeClock, grandma: int) -> None:
    """She is seen at 19:00, leaves on a trip until 10:00 two days on; her motion sensor checks
    in all along, seeing nobody; it is now 11:00 on the day of her return."""
    readings(store, EVENING, occupancy=True)
    store.care.set_away(grandma, RETURN, "op.wang")
    heartbeat(store, EVENING + timedelta(hours=1), RETURN + timedelta(hours=2))
    clock.now = RETURN + timedelta(hours=1)
    view = store.care.get_care(grandma)
    assert (view.status, view.quiet_hours_so_far) == (CareStatus.FINE, 1.0)


def test_marking_her_back_after_the_trip_ended_keeps_the_count_from_the_return(
    store: HubStore, clock: FakeClock, grandma: int
) -> None:
    away_for_two_days(store, clock, grandma)
    back = store.care.set_away(grandma, None, "grid-2")  # the grid worker: "she is back"
    assert back.away_until == RETURN
    assert (back.status, back.quiet_hours_so_far) == (CareStatus.FINE, 1.0)
    assert store.care.watch() == []  # not a check counted from before the trip
    assert family_notices(store) == []
    clock.now = RETURN + timedelta(hours=6)  # 16:00: six waking hours since the return
    [case] = store.care.watch()
    assert case.kind == "no_activity"


def test_changing_her_profile_after_the_trip_ended_keeps_the_count_from_the_return(
    store: HubStore, clock: FakeClock, grandma: int
) -> None:
    away_for_two_days(store, clock, grandma)
    # An integrator's PUT adds her son, leaving ``away_until`` out (documented: not away).
    son = Contact(name="Zhao Lei", relation="son", target="https://gateway.example/notify?to=son")
    contacts = [Contact(name="Zhao Min", relation="daughter", target=DAUGHTER), son]
    view = store.care.put_care(grandma, settings(contacts=contacts), "op.wang")
    assert view.away_until == RETURN
    assert store.care.watch() == []
    assert family_notices(store) == []


def press_sos(store: HubStore, grandma: int, at: datetime, press_id: str) -> int:
    """Grandma presses her SOS on the phone page at ``at``; return the SOS case's id."""
    household = next(h for h in store.households.list_households() if h.id == grandma)
    device = store.households.household_sos_device(household)
    alert = web_sos_alert(press_id, device.id, device.location, at)
    [sos] = store.intake.ingest_alerts([alert], at).cases_opened
    return sos.id


def test_an_sos_pressed_while_a_check_is_open_is_not_told_as_a_sign_of_life(
    store: HubStore, clock: FakeClock, grandma: int
) -> None:
    readings(store, EVENING, occupancy=True)
    heartbeat(store, EVENING + timedelta(hours=1), EVENING + timedelta(hours=16))
    clock.now = EVENING + timedelta(hours=15)  # 10:00: a wellbeing check, her daughter told
    [check_case] = store.care.watch()
    check = check_case.id
    clock.advance(300)
    sos = press_sos(store, grandma, clock.now, "sos-press-0101")  # she has fallen
    changed = store.care.watch()
    assert sos in {c.id for c in changed}
    notes = family_notes(store)
    assert len(notes) == 2  # the check, then the SOS
    assert notes[1].startswith("SOS from Grandma Zhao")
    assert not any(n.startswith("a sign of life") for n in notes)
    # The grid worker going to the check reads of the SOS there, once.
    events = [e.note or "" for e in store.cases.get_case(check).events]
    assert sum(f"case {sos}" in n for n in events) == 1
    assert not any(n.startswith("a sign of life") for n in events)
    clock.advance(60)
    assert store.care.watch() == []
    assert len(family_notes(store)) == 2
    # A sign of life the sensor sees after that is told as before: she got up.
    readings(store, clock.now, occupancy=True)
    clock.advance(60)
    [told] = store.care.watch()
    assert told.id == check
    assert family_notes(store)[-1].startswith("a sign of life")


def door_readings(store: HubStore, ts: datetime, *, closed: bool) -> None:
    """Record a door contact's reading as the ingest does (device state and history)."""
    point = TelemetryPoint(device_id=DOOR, ts=ts, readings=Readings(contact=closed))
    store.fleet.record_telemetry(TelemetryBatch(edge_id="e1", points=[point]))
    with store.db.writing() as session:
        session.add(
            ReadingHistoryRow(device_id=DOOR, ts=ts, edge_id="e1", readings={"contact": closed})
        )


def test_a_check_raised_while_a_sensor_is_dead_names_it(
    store: HubStore, clock: FakeClock, grandma: int
) -> None:
    store.fleet.upsert_devices([Device(id=DOOR, kind=DeviceKind.DOOR_CONTACT, location=HOME)])
    store.care.put_care(grandma, settings(device_ids=[MOTION, DOOR]), "op.wang")
    # The motion sensor's battery died after 19:00; she stays in (the door is shut all day),
    # its contact checking in every hour.
    readings(store, EVENING, occupancy=True)
    ts = EVENING
    while ts <= EVENING + timedelta(hours=16):
        door_readings(store, ts, closed=True)
        ts += timedelta(hours=1)
    clock.now = EVENING + timedelta(hours=15)  # 10:00
    [case] = store.care.watch()
    view = store.care.get_care(grandma)
    assert (view.status, view.silent_sensors) == (CareStatus.NO_ACTIVITY, [MOTION])
    [opened] = [e.note or "" for e in store.cases.get_case(case.id).events if e.action == "opened"]
    assert MOTION in opened
    assert DOOR not in opened
    [told] = family_notes(store)
    assert MOTION in told


def test_a_motion_sensor_stuck_on_occupied_is_not_someone_moving_every_hour() -> None:
    # She moved at 19:00; the sensor's "clear" was lost, and Zigbee2MQTT re-sends its cached
    # ``occupancy: true`` with each hourly heartbeat (battery, voltage) all night and morning.
    stuck = [EVENING + timedelta(hours=h) for h in range(16)]
    newest_first = [SensorReading(MOTION, ts, {"occupancy": True}) for ts in reversed(stuck)]
    assert last_sign_of_life(newest_first) == EVENING
    # Someone moving about for an hour re-triggers it every minute: each is a sign.
    moving = [EVENING + timedelta(minutes=m) for m in range(61)]
    newest_first = [SensorReading(MOTION, ts, {"occupancy": True}) for ts in reversed(moving)]
    assert last_sign_of_life(newest_first) == EVENING + timedelta(hours=1)


def test_a_home_whose_motion_sensor_is_stuck_on_occupied_is_checked_on(
    store: HubStore, clock: FakeClock, grandma: int
) -> None:
    readings(store, EVENING, occupancy=True)  # last truly seen moving at 19:00
    ts = EVENING + timedelta(hours=1)
    while ts <= EVENING + timedelta(hours=16):
        readings(store, ts, occupancy=True)  # the stuck state, re-sent every hour
        ts += timedelta(hours=1)
    clock.now = EVENING + timedelta(hours=13)  # 08:00: a night's sleep
    assert store.care.watch() == []
    clock.now = EVENING + timedelta(hours=15)  # 10:00: six waking hours since 19:00
    [case] = store.care.watch()
    assert case.kind == "no_activity"
    assert store.care.get_care(grandma).last_activity == EVENING
    assert family_notices(store) == [case.id]


SON = "https://gateway.example/notify?to=son"


def notices_to(store: HubStore, target: str) -> list[str]:
    """The notes of every notice sent to ``target``, oldest first."""
    with store.db.reading() as session:
        payloads = session.scalars(
            select(NotificationRow.payload)
            .where(NotificationRow.target == target)
            .order_by(NotificationRow.id)
        )
        return [str(p.get("note") or "") for p in payloads]


def test_a_contact_added_while_a_check_is_open_hears_of_it_and_one_removed_no_more(
    store: HubStore, clock: FakeClock, grandma: int
) -> None:
    readings(store, EVENING, occupancy=True)
    heartbeat(store, EVENING + timedelta(hours=1), EVENING + timedelta(hours=16))
    clock.now = EVENING + timedelta(hours=15)  # 10:00: a check, her daughter told
    [case] = store.care.watch()
    # Her daughter cannot be reached (abroad); the grid worker adds her son in her place.
    clock.advance(300)
    son = Contact(name="Zhao Lei", relation="son", target=SON)
    store.care.put_care(grandma, settings(contacts=[son]), "op.wang")
    [told] = store.care.watch()
    assert told.id == case.id
    [opened] = notices_to(store, SON)
    assert opened.startswith("no sign of life at Grandma Zhao")
    clock.advance(60)
    assert store.care.watch() == []  # told once
    assert len(notices_to(store, SON)) == 1
    # She is seen at last: the son hears it, the daughter (no longer a contact) does not.
    readings(store, clock.now, occupancy=True)
    clock.advance(60)
    store.care.watch()
    assert notices_to(store, SON)[-1].startswith("a sign of life")
    assert len(notices_to(store, DAUGHTER)) == 1


def test_a_notice_still_queued_to_a_contact_removed_is_given_up_not_delivered(
    store: HubStore, clock: FakeClock, grandma: int
) -> None:
    # The daughter's webhook has not taken the check's notice yet (her gateway down) when the
    # grid worker takes her off (the family fell out): she must hear nothing more of it.
    readings(store, EVENING, occupancy=True)
    heartbeat(store, EVENING + timedelta(hours=1), EVENING + timedelta(hours=16))
    clock.now = EVENING + timedelta(hours=15)
    [case] = store.care.watch()
    assert len(notices_to(store, DAUGHTER)) == 1
    clock.advance(300)
    son = Contact(name="Zhao Lei", relation="son", target=SON)
    store.care.put_care(grandma, settings(contacts=[son]), "op.wang")
    with store.db.reading() as session:
        daughters = session.scalars(
            select(NotificationRow).where(NotificationRow.target == DAUGHTER)
        ).all()
        assert [(n.case_id, n.delivered_at, n.next_attempt_at) for n in daughters] == [
            (case.id, None, None)
        ]
        assert daughters[0].failed_at == clock.now
        assert "removed" in (daughters[0].last_error or "")
    # Nothing of hers is claimable any more; the son's opening notice is.
    store.care.watch()
    claimed = store.notices.claim_notifications(clock.now, limit=10)
    assert {n.target for n in claimed} == {SON}
