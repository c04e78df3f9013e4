"""The simulators' care household's day played into a real hub store (SQLite and PostgreSQL)
in simulated time: the sample community's Grandma Zhao, her motion sensor's messages decoded
as the edge decodes them (Zigbee2MQTT ``occupancy``), and the hub's no-activity check run every
hour. An ordinary day (``care_day``) is fine all day; a quiet day (``care_quiet_day``) brings
one wellbeing check once six waking hours pass with nothing."""

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from devices.adapters import decode_all
from devices.kinds import DeviceKind
from devices.messages import TelemetryBatch, TelemetryPoint
from devices.observations import StateUpdate, ZigbeeAddress
from devices.site import SiteFile
from devices.topics import CredentialTopic, DeviceTopic, parse_local_topic
from hub.care.rules import CareStatus
from hub.care.views import CareSettings, Consent, Contact
from hub.cases.views import CaseView
from hub.persistence.tables import ReadingHistoryRow
from hub.residents.rules import issue_token
from hub.roster.rules import Grid, Responder, ResponderRole, Site
from hub.store import HubStore
from simulators.scenarios import SCENARIOS
from simulators.sites import sample_site_path
from tests.hub.conftest import FakeClock

DAWN = datetime(2026, 2, 28, 22, 0, tzinfo=UTC)  # 06:00 in Shanghai: the day begins
HOME = "Building 2/Floor 3/Unit 301"


@pytest.fixture
def site() -> SiteFile:
    return SiteFile.load(sample_site_path())


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(DAWN)


@pytest.fixture
def store(engine: Engine, clock: FakeClock, site: SiteFile) -> HubStore:
    """The sample site's devices, a grid worker for building 2, and Grandma Zhao under care
    with the sample's motion sensor."""
    hub = HubStore(engine, clock=clock)
    hub.fleet.upsert_devices(site.devices)
    hub.roster.put_site(Site(id="courtyard", name="Sample Courtyard"))
    hub.roster.put_grid(Grid(id="g-b2", site_id="courtyard", name="B2", places=["Building 2"]))
    hub.roster.put_responder(
        Responder(id="grid-2", site_id="courtyard", name="Liu Yang", role=ResponderRole.GRID_WORKER)
    )
    zhao = hub.households.create_household("赵奶奶 Grandma Zhao", HOME, [], issue_token()[1])
    [motion] = [d.id for d in site.devices if d.kind is DeviceKind.MOTION]
    settings = CareSettings(
        consent=Consent(by="Zhao Min (daughter, guardian)"),
        contacts=[Contact(name="Zhao Min", relation="daughter", target="http://127.0.0.1:9/x")],
        device_ids=[motion],
    )
    hub.care.put_care(zhao.id, settings, "op.wang")
    return hub


def record(
    store: HubStore, site: SiteFile, topic: DeviceTopic, payload: bytes, ts: datetime
) -> int:
    """Decode a message as the edge does and store its readings as the hub's ingest does;
    return how many readings were stored."""
    by_zigbee = {d.zigbee_name: d.id for d in site.devices if d.zigbee_name}
    stored = 0
    for decoded in decode_all(topic, payload):
        assert isinstance(decoded.address, ZigbeeAddress)
        device_id = by_zigbee[decoded.address.friendly_name]
        for observation in decoded.observations:
            if not isinstance(observation, StateUpdate):
                continue
            point = TelemetryPoint(device_id=device_id, ts=ts, readings=observation.readings)
            store.fleet.record_telemetry(TelemetryBatch(edge_id="edge-courtyard", points=[point]))
            values = observation.readings.model_dump(exclude_none=True)
            with store.db.writing() as session:
                session.add(
                    ReadingHistoryRow(
                        device_id=device_id, ts=ts, edge_id="edge-courtyard", readings=values
                    )
                )
            stored += 1
    return stored


def play(
    store: HubStore, site: SiteFile, clock: FakeClock, scenario: str
) -> list[tuple[int, CareStatus, list[CaseView]]]:
    """Play a scenario's day into the store, running the check on every hour; return each
    hour's (local hour, status, cases raised)."""
    checks: list[tuple[int, CareStatus, list[CaseView]]] = []
    next_check = 3600.0
    stored = 0
    zhao = store.care.list_care()[0].household_id
    for step in SCENARIOS[scenario].steps(site, random.Random(12), epoch=DAWN):
        while step.at >= next_check:
            clock.now = DAWN + timedelta(seconds=next_check)
            raised = store.care.watch()
            local_hour = (6 + int(next_check // 3600)) % 24
            checks.append((local_hour, store.care.get_care(zhao).status, raised))
            next_check += 3600.0
        # Zigbee2MQTT sends no time of its own: a reading stands for the step's instant.
        at = DAWN + timedelta(seconds=step.at)
        topic = parse_local_topic(step.topic)
        assert not isinstance(topic, CredentialTopic)
        stored += record(store, site, topic, step.payload, at)
    assert stored > 0
    return checks


def test_an_ordinary_day_of_a_care_household_is_fine_all_day(
    store: HubStore, site: SiteFile, clock: FakeClock
) -> None:
    checks = play(store, site, clock, "care_day")
    assert len(checks) == 24
    assert {status for _, status, _ in checks} == {CareStatus.FINE}
    assert [raised for _, _, raised in checks if raised] == []
    view = store.care.list_care()[0]
    # Last seen moving before bed, not at dawn: the simulator's day reached the hub.
    assert view.last_activity is not None
    assert view.last_activity > DAWN + timedelta(hours=15)


def test_a_quiet_day_brings_one_wellbeing_check(
    store: HubStore, site: SiteFile, clock: FakeClock
) -> None:
    checks = play(store, site, clock, "care_quiet_day")
    raised = [(hour, cases) for hour, _, cases in checks if cases]
    # Last seen at 06:00; waking hours count from 07:00; six of them pass at 13:00.
    assert [hour for hour, _ in raised] == [13]
    [(_, [case])] = raised
    assert (case.kind, case.category) == ("no_activity", "wellbeing")
    assert [m.responder for m in case.team] == ["grid-2"]
    statuses = dict((hour, status) for hour, status, _ in checks)
    assert statuses[12] is CareStatus.FINE
    assert statuses[13] is CareStatus.NO_ACTIVITY
    assert statuses[23] is CareStatus.NO_ACTIVITY  # one check at a time, still open
