"""Outside review of silences: an alarm raised during a silence and still raised when the
silence ends is reported then ("restore required"), once, on SQLite and PostgreSQL."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine, insert, select

from devices.kinds import AlertKind, AlertState, DeviceKind, Severity
from devices.messages import Alert
from hub.cases.changes import CaseChanges
from hub.cases.supervisor import Supervisor
from hub.live.events import EventBus
from hub.persistence.tables import AlertRow, SilenceRestoreRow, SilenceRow
from hub.silences.repository import silence_from_row
from hub.silences.restore import SilenceRestores, left_raised
from hub.silences.rules import SilenceScope
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import make_alert, make_device

pytestmark = pytest.mark.fake_clock

GAS = "b3-1201-gas"


@pytest.fixture
def building(store: HubStore) -> HubStore:
    store.fleet.register_device(
        make_device(
            GAS, kind=DeviceKind.GAS, edge_id="e1", location="Building 3/Floor 12/Unit 1201"
        )
    )
    store.fleet.register_device(make_device("b3-1201-smoke", edge_id="e1"))
    return store


SERVICED = [AlertKind.GAS, AlertKind.SMOKE]
"""What the services and drills here silence: a life-safety alarm is silenced only when named
(``hub.silences.rules``)."""


def _supervisor(store: HubStore, clock: FakeClock) -> Supervisor:
    return Supervisor(store, CaseChanges(EventBus()), clock=clock)


def _gas(clock: FakeClock, state: AlertState = AlertState.RAISED, after_s: float = 60) -> Alert:
    return make_alert(
        device_id=GAS,
        kind=AlertKind.GAS,
        state=state,
        severity=Severity.CRITICAL,
        ts=clock.now + timedelta(seconds=after_s),
    )


async def test_a_gas_leak_raised_during_a_service_and_still_raised_is_reported_at_its_end(
    building: HubStore, clock: FakeClock
) -> None:
    service = building.silences.create_silence(
        SilenceScope.PLACE,
        "Building 3",
        ends_at=clock.now + timedelta(minutes=30),
        reason="boiler service",
        actor="manager-li",
        kinds=SERVICED,
    )
    leak = _gas(clock)
    taken = building.intake.ingest_alerts([leak], clock.advance(60))
    assert taken.silenced == [leak.id]
    supervisor = _supervisor(building, clock)
    await supervisor.tick()
    assert building.cases.list_cases() == []  # still on test: nothing yet

    clock.advance(30 * 60)  # the service is over; the edge says nothing more: still raised
    await supervisor.tick()
    [case] = building.cases.list_cases()
    assert (case.device_ids, case.kinds) == ([GAS], [AlertKind.GAS])
    detail = building.cases.get_case(case.id)
    [reported] = detail.alerts
    assert (reported.state, reported.ts) == (AlertState.RAISED, service.ends_at)
    notes = " ".join(e.note or "" for e in detail.events)
    assert f"silence {service.id}" in notes, notes
    assert "still raised" in notes
    assert leak.id in notes
    trail = [(e.action, e.alert_id) for e in building.audit.list_audit(limit=100)]
    assert ("alert_stored", reported.id) in trail
    assert ("commented", reported.id) in trail, trail
    assert building.audit.verify_audit().intact

    # Once: the next rounds, and a second supervisor (another hub worker, or this one after a
    # restart), report nothing more.
    await supervisor.tick()
    await _supervisor(building, clock).tick()
    assert [c.id for c in building.cases.list_cases()] == [case.id]
    assert len(building.cases.list_alerts(device_id=GAS)) == 2


async def test_ended_early_the_alarms_still_raised_are_reported_and_cleared_ones_are_not(
    building: HubStore, clock: FakeClock
) -> None:
    drill = building.silences.create_silence(
        SilenceScope.EDGE,
        "e1",
        ends_at=clock.now + timedelta(hours=2),
        reason="fire drill",
        kinds=SERVICED,
    )
    leak = _gas(clock)
    smoke = make_alert(device_id="b3-1201-smoke", ts=clock.now + timedelta(seconds=61))
    smoke_gone = make_alert(
        device_id="b3-1201-smoke",
        state=AlertState.CLEARED,
        ts=clock.now + timedelta(seconds=90),
    )
    taken = building.intake.ingest_alerts([leak, smoke, smoke_gone], clock.advance(120))
    assert len(taken.silenced) == 3
    building.silences.end_silence(drill.id, actor="manager-li")
    clock.advance(1)
    await _supervisor(building, clock).tick()
    [case] = building.cases.list_cases()
    assert case.device_ids == [GAS]  # the smoke cleared during the drill: nothing to report


async def test_an_alarm_cleared_before_the_round_after_the_end_is_not_reported(
    building: HubStore, clock: FakeClock
) -> None:
    building.silences.create_silence(
        SilenceScope.DEVICE,
        GAS,
        ends_at=clock.now + timedelta(minutes=10),
        reason="swap",
        kinds=SERVICED,
    )
    leak = _gas(clock)
    building.intake.ingest_alerts([leak], clock.advance(60))
    # The hub was down at the end; the leak cleared after it, before the hub came back.
    clock.advance(20 * 60)
    gone = _gas(clock, AlertState.CLEARED, after_s=-60)
    building.intake.ingest_alerts([gone], clock.now)
    await _supervisor(building, clock).tick()
    assert building.cases.list_cases() == []


def _comments(store: HubStore, case_id: int) -> list[str]:
    return [e.note or "" for e in store.cases.get_case(case_id).events if e.action == "commented"]


async def test_a_worker_that_stored_the_report_and_stopped_has_it_finished_once(
    building: HubStore, clock: FakeClock
) -> None:
    service = building.silences.create_silence(
        SilenceScope.DEVICE,
        GAS,
        ends_at=clock.now + timedelta(minutes=10),
        reason="swap",
        kinds=SERVICED,
    )
    building.intake.ingest_alerts([_gas(clock)], clock.advance(60))
    clock.advance(10 * 60)
    # A worker made and stored the report, then its process died before marking the silence.
    with building.db.reading() as session:
        row = session.get(SilenceRow, service.id)
        assert row is not None
        [left] = left_raised(session, silence_from_row(row), "swap")
    building.intake.ingest_alerts([left.alert], clock.now)
    [case] = building.cases.list_cases()
    assert _comments(building, case.id) == []
    await _supervisor(building, clock).tick()  # the restarted worker
    await _supervisor(building, clock).tick()
    assert [c.id for c in building.cases.list_cases()] == [case.id]
    assert len(_comments(building, case.id)) == 1
    assert len(building.cases.list_alerts(device_id=GAS)) == 2
    assert building.silences.list_silences()[0].id == service.id


async def test_overlapping_silences_report_the_alarm_when_the_last_one_ends(
    building: HubStore, clock: FakeClock
) -> None:
    swap = building.silences.create_silence(
        SilenceScope.DEVICE,
        GAS,
        ends_at=clock.now + timedelta(minutes=10),
        reason="swap",
        kinds=SERVICED,
    )
    drill = building.silences.create_silence(
        SilenceScope.PLACE,
        "Building 3",
        ends_at=clock.now + timedelta(hours=1),
        reason="drill",
        kinds=SERVICED,
    )
    leak = _gas(clock)
    building.intake.ingest_alerts([leak], clock.advance(60))
    supervisor = _supervisor(building, clock)
    clock.advance(10 * 60)
    await supervisor.tick()  # the swap is over, the drill still covers the leak
    assert building.cases.list_cases() == []
    trail = [(e.action, e.detail) for e in building.audit.list_audit(limit=100)]
    assert ("alert_silenced", {"silence_id": drill.id}) in trail
    clock.advance(50 * 60)
    await supervisor.tick()
    [case] = building.cases.list_cases()
    [note] = _comments(building, case.id)
    assert f"silence {drill.id}" in note
    assert f"silence {swap.id}" not in note
    assert f"as alert {leak.id}" in note  # the leak itself, not the swap's report of it


def test_two_workers_at_the_end_report_the_alarm_once(pg_engine: Engine) -> None:
    clock = FakeClock()
    first, second = HubStore(pg_engine, clock=clock), HubStore(pg_engine, clock=clock)
    first.fleet.register_device(make_device(GAS, kind=DeviceKind.GAS, edge_id="e1"))
    first.silences.create_silence(
        SilenceScope.EDGE,
        "e1",
        ends_at=clock.now + timedelta(minutes=10),
        reason="service",
        kinds=SERVICED,
    )
    first.intake.ingest_alerts([_gas(clock)], clock.advance(60))
    clock.advance(10 * 60)
    workers = [SilenceRestores(s.db, s.intake, s.policy) for s in (first, second, first, second)]
    with ThreadPoolExecutor(len(workers)) as pool:
        results = list(pool.map(lambda w: w.restore_ended(clock.now), workers))
    assert sum(len(r.cases_opened) for r in results) == 1
    [case] = first.cases.list_cases()
    assert len(_comments(first, case.id)) == 1


async def test_a_silence_that_cannot_be_restored_holds_up_no_other(
    building: HubStore, clock: FakeClock
) -> None:
    odd = building.silences.create_silence(
        SilenceScope.DEVICE,
        "b3-1201-smoke",
        ends_at=clock.now + timedelta(minutes=5),
        reason="x",
        kinds=SERVICED,
    )
    service = building.silences.create_silence(
        SilenceScope.DEVICE,
        GAS,
        ends_at=clock.now + timedelta(minutes=10),
        reason="service",
        kinds=SERVICED,
    )
    building.intake.ingest_alerts([_gas(clock)], clock.advance(60))
    # Raised during the first: an alert stored by an older release under an edge id this one
    # refuses (no alert can be made of it), and one of a kind only a newer worker knows.
    stored = make_alert(device_id="b3-1201-smoke", ts=clock.now)
    with building.db.writing() as session:
        for alert_id, edge_id, kind in (
            ("from-an-older-worker", "e1/old", "smoke"),
            ("from-a-newer-worker", "e1", "quake"),
        ):
            session.execute(
                insert(AlertRow).values(
                    id=alert_id,
                    edge_id=edge_id,
                    device_id="b3-1201-smoke",
                    kind=kind,
                    state="raised",
                    severity="high",
                    ts=stored.ts,
                    detected_at=stored.ts,
                    received_at=clock.now,
                    reason={"rule": f"{kind}_flag"},
                )
            )
    clock.advance(10 * 60)
    supervisor = _supervisor(building, clock)
    await supervisor.tick()
    [case] = building.cases.list_cases()
    assert case.device_ids == [GAS]
    assert f"silence {service.id}" in _comments(building, case.id)[0]
    assert supervisor.counters["failed"] == 0  # the round itself went on
    with building.db.reading() as session:
        done = set(session.scalars(select(SilenceRestoreRow.silence_id)))
    assert done == {service.id}  # the other is tried again later
    assert odd.id not in done


async def test_an_alarm_raised_during_the_silence_and_delivered_after_its_end_is_reported(
    building: HubStore, clock: FakeClock
) -> None:
    """The edge was cut off during the drill: the round at its end found nothing stored; the
    leak, still raised, arrives by store and forward a quarter of an hour later."""
    drill = building.silences.create_silence(
        SilenceScope.EDGE,
        "e1",
        ends_at=clock.now + timedelta(minutes=30),
        reason="drill",
        kinds=SERVICED,
    )
    supervisor = _supervisor(building, clock)
    leak = _gas(clock, after_s=10 * 60)
    clock.advance(30 * 60)
    await supervisor.tick()  # the drill is over: nothing stored to report
    clock.advance(15 * 60)
    replay = building.intake.ingest_alerts([leak], clock.now)
    assert replay.silenced == [leak.id]  # judged by its event time, as documented
    clock.advance(1)
    await supervisor.tick()
    [case] = building.cases.list_cases()
    assert case.device_ids == [GAS]
    [note] = _comments(building, case.id)
    assert f"silence {drill.id}" in note
    # Once, here too.
    for _ in range(3):
        clock.advance(30)
        await supervisor.tick()
    assert len(building.cases.list_alerts(device_id=GAS)) == 2
    assert len(_comments(building, case.id)) == 1


async def test_ended_over_http_the_next_round_reports_the_alarm(
    client: httpx.AsyncClient, store: HubStore, clock: FakeClock
) -> None:
    device = {"id": GAS, "kind": "gas", "location": "Building 3/Unit 1", "edge_id": "e1"}
    assert (await client.post("/api/v1/devices", json=device)).status_code == 201
    body = {
        "scope": "place",
        "target": "Building 3",
        "ends_at": (clock.now + timedelta(hours=2)).isoformat(),
        "reason": "boiler service",
        "kinds": ["gas"],
    }
    created = await client.post("/api/v1/silences", json=body)
    assert created.status_code == 201, created.text
    # The leak's event time is the very moment the service is ended (the edge's clock a
    # little ahead): it was silenced while the service was on, and is reported all the same.
    store.intake.ingest_alerts([_gas(clock)], clock.advance(60))
    ended = await client.post(f"/api/v1/silences/{created.json()['id']}/end")
    assert ended.status_code == 200
    clock.advance(1)
    await _supervisor(store, clock).tick()
    [case] = (await client.get("/api/v1/cases")).json()["items"]
    assert case["device_ids"] == [GAS]
