"""Care households on a real database (SQLite and PostgreSQL) in simulated time: scenario 12
(a quiet day → a wellbeing check for the grid worker and a notice to the daughter; on holiday
no alarm), a dead sensor (a fault), and an SOS that reaches the family."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select

from devices.kinds import DeviceKind
from devices.messages import TelemetryBatch, TelemetryPoint
from devices.observations import StateUpdate
from devices.payloads import Readings
from devices.registry import Device
from devices.zigbee2mqtt import decode_zigbee_state
from hub.care.rules import CareStatus
from hub.care.views import CareSettings, Consent, Contact
from hub.cases.rules import Resolution
from hub.errors import InvalidInputError
from hub.persistence.tables import NotificationRow, ReadingHistoryRow
from hub.residents.rules import issue_token, web_sos_alert
from hub.roster.rules import Grid, Responder, ResponderRole, Site
from hub.store import HubStore
from tests.hub.conftest import FakeClock

HOME = "Building 2/Floor 3/Unit 301"
MOTION = "b2-301-motion"
DAUGHTER = "https://gateway.example/notify?to=daughter"
EVENING = datetime(2026, 3, 1, 11, 0, tzinfo=UTC)  # 19:00 in Shanghai


@pytest.fixture
def clock() -> FakeClock:
    """A clock that starts the evening before."""
    return FakeClock(EVENING - timedelta(hours=1))


def readings(store: HubStore, ts: datetime, **values: bool) -> None:
    """Record a motion sensor's reading as the ingest does (device state and history)."""
    point = TelemetryPoint(device_id=MOTION, ts=ts, readings=Readings(**values))
    store.fleet.record_telemetry(TelemetryBatch(edge_id="e1", points=[point]))
    with store.db.writing() as session:
        session.add(ReadingHistoryRow(device_id=MOTION, ts=ts, edge_id="e1", readings=dict(values)))


def heartbeat(store: HubStore, start: datetime, end: datetime) -> None:
    """The sensor checks in every hour, seeing nobody."""
    ts = start
    while ts <= end:
        readings(store, ts, occupancy=False)
        ts += timedelta(hours=1)


@pytest.fixture
def grandma(store: HubStore) -> int:
    """An 84-year-old living alone in building 2, with a motion sensor and her daughter."""
    return make_grandma(store)


def make_grandma(store: HubStore) -> int:
    """Set up grandma's household, flagged for care; return its id."""
    store.roster.put_site(Site(id="lanyuan", name="Lanyuan"))
    store.roster.put_grid(Grid(id="g-b2", site_id="lanyuan", name="B2", places=["Building 2"]))
    store.roster.put_responder(
        Responder(id="grid-2", site_id="lanyuan", name="Liu Yang", role=ResponderRole.GRID_WORKER)
    )
    store.fleet.upsert_devices([Device(id=MOTION, kind=DeviceKind.MOTION, location=HOME)])
    household = store.households.create_household("Grandma Zhao", HOME, [], issue_token()[1])
    settings = CareSettings(
        consent=Consent(by="Zhao Min (daughter, guardian)", note="signed form 2026-02-28"),
        contacts=[Contact(name="Zhao Min", relation="daughter", target=DAUGHTER)],
        device_ids=[MOTION],
    )
    store.care.put_care(household.id, settings, "op.wang")
    return household.id


def family_notices(store: HubStore) -> list[int]:
    with store.db.reading() as session:
        return list(
            session.scalars(
                select(NotificationRow.case_id).where(NotificationRow.target == DAUGHTER)
            )
        )


def test_a_quiet_day_brings_a_wellbeing_check_and_a_message_to_the_daughter(
    store: HubStore, clock: FakeClock, grandma: int
) -> None:
    readings(store, EVENING, occupancy=True)  # last seen moving at 19:00
    heartbeat(store, EVENING + timedelta(hours=1), EVENING + timedelta(hours=15))
    clock.now = EVENING + timedelta(hours=13)  # 08:00 next morning: a night's sleep
    assert store.care.watch() == []
    assert store.care.get_care(grandma).status is CareStatus.FINE

    clock.now = EVENING + timedelta(hours=15)  # 10:00: 3 + 3 waking hours of nothing
    [case] = store.care.watch()
    assert (case.kind, case.category, case.priority) == ("no_activity", "wellbeing", "high")
    assert [m.responder for m in case.team] == ["grid-2"]
    assert family_notices(store) == [case.id]
    view = store.care.get_care(grandma)
    assert view.status is CareStatus.NO_ACTIVITY
    assert view.alarm_case_id == case.id
    assert view.last_activity == EVENING

    clock.advance(600)
    assert store.care.watch() == []  # one wellbeing check at a time
    assert family_notices(store) == [case.id]


def test_on_holiday_there_is_no_alarm(store: HubStore, clock: FakeClock, grandma: int) -> None:
    readings(store, EVENING, occupancy=True)
    store.care.set_away(grandma, EVENING + timedelta(days=5), "op.wang")
    heartbeat(store, EVENING + timedelta(hours=1), EVENING + timedelta(days=2))
    clock.now = EVENING + timedelta(days=2)
    assert store.care.watch() == []
    assert store.care.get_care(grandma).status is CareStatus.AWAY
    assert family_notices(store) == []


def test_a_dead_sensor_is_a_fault_not_no_activity(
    store: HubStore, clock: FakeClock, grandma: int
) -> None:
    readings(store, EVENING, occupancy=True)  # and then the battery dies
    clock.now = EVENING + timedelta(hours=13)  # silent, 4 waking hours: not yet a check
    assert store.care.watch() == []  # (past the quiet limit it is: test_care_watch_review)
    view = store.care.get_care(grandma)
    assert view.status is CareStatus.SENSORS_SILENT
    assert view.silent_sensors == [MOTION]


def test_an_sos_from_a_care_household_reaches_the_family(
    store: HubStore, clock: FakeClock, grandma: int
) -> None:
    readings(store, EVENING, occupancy=True)
    clock.now = EVENING + timedelta(minutes=5)
    household = next(h for h in store.households.list_households() if h.id == grandma)
    device = store.households.household_sos_device(household)
    alert = web_sos_alert("sos-press-0001", device.id, device.location, clock.now)
    [sos] = store.intake.ingest_alerts([alert], clock.now).cases_opened
    [told] = store.care.watch()
    assert told.id == sos.id
    assert told.priority == "critical"
    assert family_notices(store) == [sos.id]
    assert store.care.watch() == []  # told once
    assert store.care.get_care(grandma).last_activity == clock.now  # a press is a sign of life


def test_only_motion_sensors_and_door_contacts_watch_a_home(store: HubStore, grandma: int) -> None:
    store.fleet.upsert_devices([Device(id="b2-301-co", kind=DeviceKind.CO, location=HOME)])
    settings = CareSettings(consent=Consent(by="Zhao Min"), device_ids=["b2-301-co"])
    with pytest.raises(InvalidInputError, match="motion sensors and door contacts"):
        store.care.put_care(grandma, settings, None)


def zigbee(store: HubStore, device_id: str, ts: datetime, message: dict[str, object]) -> None:
    """Record a Zigbee2MQTT message of a home's sensor as the edge decodes it and the hub
    stores it (device state and history)."""
    [state] = decode_zigbee_state(message)
    assert isinstance(state, StateUpdate)
    point = TelemetryPoint(device_id=device_id, ts=ts, readings=state.readings)
    store.fleet.record_telemetry(TelemetryBatch(edge_id="e1", points=[point]))
    with store.db.writing() as session:
        session.add(
            ReadingHistoryRow(
                device_id=device_id, ts=ts, edge_id="e1", readings=state.readings.present()
            )
        )


def watch_home_with(store: HubStore, grandma: int, device: Device) -> None:
    """Watch grandma's home with ``device`` only."""
    store.fleet.upsert_devices([device])
    settings = CareSettings(consent=Consent(by="Zhao Min"), device_ids=[device.id])
    store.care.put_care(grandma, settings, None)


def test_a_door_left_open_is_not_someone_opening_it_every_hour(
    store: HubStore, clock: FakeClock, grandma: int
) -> None:
    # An Aqara door contact re-sends its state with its battery report about every 50 min
    # (Koenkk/zigbee2mqtt#827, #4225): after the door was left open at 19:00, each of those
    # says "contact: false" again, and nobody touched the door.
    door = Device(id="b2-301-door", kind=DeviceKind.DOOR_CONTACT, location=HOME)
    watch_home_with(store, grandma, door)
    report = {"battery": 100, "linkquality": 110, "voltage": 3015}
    zigbee(store, door.id, EVENING - timedelta(hours=1), {**report, "contact": True})
    zigbee(store, door.id, EVENING, {"contact": False})  # opened, and left open
    ts = EVENING + timedelta(minutes=50)
    while ts <= EVENING + timedelta(hours=15):
        zigbee(store, door.id, ts, {**report, "contact": False})
        ts += timedelta(minutes=50)

    clock.now = EVENING + timedelta(hours=15)  # 10:00: 3 + 3 waking hours since the door
    [case] = store.care.watch()
    assert case.kind == "no_activity"
    assert store.care.get_care(grandma).last_activity == EVENING


def test_someone_still_in_a_radars_view_all_morning_is_a_wellbeing_check(
    store: HubStore, clock: FakeClock, grandma: int
) -> None:
    # A Tuya mmWave radar re-sends "presence: true" with every target distance for as long
    # as anyone is in view: she walked in at 19:00 and fell; nothing moves after that.
    radar = Device(id="b2-301-radar", kind=DeviceKind.MOTION, location=HOME)
    watch_home_with(store, grandma, radar)
    zigbee(store, radar.id, EVENING - timedelta(minutes=5), {"presence": False})
    zigbee(store, radar.id, EVENING, {"presence": True, "target_distance": 2.1})
    ts = EVENING + timedelta(minutes=5)
    while ts <= EVENING + timedelta(hours=15):
        zigbee(store, radar.id, ts, {"presence": True, "target_distance": 0.4})
        ts += timedelta(minutes=5)

    clock.now = EVENING + timedelta(hours=13)  # 08:00: a night's sleep
    assert store.care.watch() == []
    clock.now = EVENING + timedelta(hours=15)
    [case] = store.care.watch()
    assert case.kind == "no_activity"
    assert store.care.get_care(grandma).last_activity == EVENING
    # She gets up and walks out of the room: a sign of life, and the count starts again.
    clock.advance(60)
    zigbee(store, radar.id, clock.now, {"presence": False})
    assert store.care.get_care(grandma).last_activity == clock.now


def test_an_sos_handled_before_the_next_round_still_reaches_the_family(
    store: HubStore, clock: FakeClock, grandma: int
) -> None:
    """The care round (once a minute) told the family only of SOS cases still open: one the
    patrol answered and closed within the minute never reached her daughter. She hears of it,
    told it was handled; one closed long ago is not told now."""
    household = next(h for h in store.households.list_households() if h.id == grandma)
    device = store.households.household_sos_device(household)
    clock.now = EVENING - timedelta(minutes=30)
    old = web_sos_alert("sos-press-0000", device.id, device.location, clock.now)
    [earlier] = store.intake.ingest_alerts([old], clock.now).cases_opened
    store.cases.acknowledge(earlier.id, actor="patrol-1")
    store.cases.resolve(
        earlier.id, "pressed by mistake", resolution=Resolution.FALSE_ALARM, actor="patrol-1"
    )
    with store.db.writing() as session:  # as before this fix: its family was never told
        session.execute(delete(NotificationRow))
    clock.now = EVENING + timedelta(hours=2)
    alert = web_sos_alert("sos-press-0001", device.id, device.location, clock.now)
    [sos] = store.intake.ingest_alerts([alert], clock.now).cases_opened
    clock.advance(40)
    store.cases.acknowledge(sos.id, actor="patrol-1")
    store.cases.resolve(
        sos.id, "helped her up; unhurt", resolution=Resolution.REAL, actor="patrol-1"
    )
    clock.advance(20)

    [told] = store.care.watch()

    assert told.id == sos.id
    assert told.status == "resolved"
    assert family_notices(store) == [sos.id]
    assert store.care.watch() == []  # told once
    with store.db.reading() as session:
        [payload] = session.scalars(
            select(NotificationRow.payload).where(NotificationRow.case_id == sos.id)
        ).all()
    assert "already handled" in json.dumps(payload)
