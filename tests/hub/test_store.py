"""The repository on SQLite and PostgreSQL: idempotent ingest, one case per problem, actions."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import StatementError

from devices.kinds import AlertKind, AlertState, DeviceKind, Severity
from devices.messages import Alert, TelemetryBatch, TelemetryPoint
from devices.payloads import Readings
from hub.cases.correlation import CaseCategory
from hub.cases.rules import CaseEventAction, CaseStatus, Resolution
from hub.errors import IllegalTransitionError, InvalidInputError, NotFoundError
from hub.persistence.tables import CaseRow
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import T0, make_alert, make_device, make_status

SMOKE = "b3-1201-smoke"


@pytest.fixture
def smoke(store: HubStore) -> str:
    """Register the smoke detector of unit 1201 on edge e1."""
    store.fleet.register_device(make_device(SMOKE))
    return SMOKE


def test_registering_a_device_creates_then_updates_it(store: HubStore) -> None:
    first = store.fleet.register_device(make_device("d1", edge_id="e1"))
    assert first.created
    assert first.changed
    assert first.edges_affected == {"e1"}
    assert first.device.created_at.tzinfo is not None

    again = store.fleet.register_device(make_device("d1", edge_id="e1"))
    assert not again.created
    assert not again.changed
    assert again.edges_affected == frozenset()

    moved = store.fleet.register_device(make_device("d1", edge_id="e2", location="Gate/North"))
    assert not moved.created
    assert moved.changed
    assert moved.edges_affected == {"e1", "e2"}
    assert moved.device.location == "Gate/North"

    assert [d.id for d in store.fleet.list_devices()] == ["d1"]
    assert store.fleet.device_registry("e2").devices == [
        make_device("d1", edge_id="e2", location="Gate/North")
    ]
    assert store.fleet.device_registry("e1").devices == []
    assert store.fleet.edges_with_devices() == ["e2"]


def test_an_alert_opens_a_case(store: HubStore, smoke: str, clock: FakeClock) -> None:
    alert = make_alert(device_id=smoke, severity=Severity.CRITICAL)
    result = store.intake.ingest_alerts([alert], clock.now)

    assert [a.id for a in result.new] == [alert.id]
    assert result.duplicates == []
    assert result.rejected == []
    assert len(result.cases_opened) == 1
    assert result.cases_updated == []
    case = result.cases_opened[0]
    assert case.status is CaseStatus.OPEN
    assert case.kind is AlertKind.SMOKE
    assert case.priority is Severity.CRITICAL
    assert case.alert_count == 1
    assert case.device_ids == [smoke]
    assert case.location == "Building 3/Floor 12/Unit 1201"
    assert case.opened_at == clock.now
    assert case.last_alert_at == alert.ts

    stored = result.new[0]
    assert stored.case_id == case.id
    assert stored.location == "Building 3/Floor 12/Unit 1201"  # the device's, none was sent
    assert stored.received_at == clock.now
    assert result.ack_ids_by_edge() == {"e1": [alert.id]}

    detail = store.cases.get_case(case.id)
    assert [a.id for a in detail.alerts] == [alert.id]
    assert [(e.action, e.alert_id) for e in detail.events] == [(CaseEventAction.OPENED, alert.id)]


def test_the_same_alert_three_times_is_one_alert_and_one_case(
    store: HubStore, smoke: str, clock: FakeClock
) -> None:
    alert = make_alert(device_id=smoke)
    results = [store.intake.ingest_alerts([alert], clock.advance(1)) for _ in range(3)]

    assert [len(r.new) for r in results] == [1, 0, 0]
    assert [len(r.duplicates) for r in results] == [0, 1, 1]
    assert [len(r.cases_opened) + len(r.cases_updated) for r in results] == [1, 0, 0]
    # A duplicate was committed before: it is acknowledged again, every time.
    assert all(r.ack_ids_by_edge() == {"e1": [alert.id]} for r in results)
    assert len(store.cases.list_alerts()) == 1
    [case] = store.cases.list_cases()
    assert case.alert_count == 1


def test_the_same_alert_three_times_in_one_batch(
    store: HubStore, smoke: str, clock: FakeClock
) -> None:
    alert = make_alert(device_id=smoke)
    result = store.intake.ingest_alerts([alert, alert, alert], clock.now)

    assert [a.id for a in result.new] == [alert.id]
    assert [d.id for d in result.duplicates] == [alert.id, alert.id]
    assert result.ack_ids_by_edge() == {"e1": [alert.id]}
    [case] = store.cases.list_cases()
    assert case.alert_count == 1
    assert store.db.count_rows()["alerts"] == 1


def test_a_thousand_alerts_of_one_problem_are_one_case(
    store: HubStore, smoke: str, clock: FakeClock
) -> None:
    alerts = [make_alert(device_id=smoke, ts=T0 + timedelta(seconds=i)) for i in range(1000)]
    # Each batch received after its alerts were raised (an alert counts no later than 5 min
    # after its receipt: hub.cases.correlation.correlation_time).
    clock.now = T0 + timedelta(seconds=400)
    first = store.intake.ingest_alerts(alerts[:400], clock.now)
    clock.now = T0 + timedelta(seconds=1000)
    second = store.intake.ingest_alerts(alerts[400:], clock.now)

    assert len(first.cases_opened) == 1
    assert first.cases_updated == []
    assert second.cases_opened == []
    assert len(second.cases_updated) == 1
    [case] = store.cases.list_cases()
    assert case.alert_count == 1000
    assert case.last_alert_at == T0 + timedelta(seconds=999)
    assert case.updated_at == clock.now
    assert store.db.count_rows()["alerts"] == 1000
    assert len(store.cases.list_alerts(case_id=case.id, limit=1000)) == 1000
    events = store.cases.get_case(case.id).events
    assert [e.action for e in events].count(CaseEventAction.ALERT_ATTACHED) == 999


def test_one_building_is_one_fire_and_a_fault_its_own_case(
    store: HubStore, clock: FakeClock
) -> None:
    store.fleet.register_device(make_device("smoke-a"))
    store.fleet.register_device(make_device("smoke-b", location="Building 3/Floor 2/Unit 201"))
    result = store.intake.ingest_alerts(
        [
            make_alert(device_id="smoke-a"),
            make_alert(device_id="smoke-b"),
            make_alert(device_id="smoke-a", kind=AlertKind.BATTERY_LOW, severity=Severity.LOW),
            make_alert(device_id="smoke-a"),
        ],
        clock.now,
    )
    assert len(result.cases_opened) == 2
    by_category = {c.category: c for c in store.cases.list_cases()}
    fire, maintenance = by_category[CaseCategory.LIFE_SAFETY], by_category[CaseCategory.MAINTENANCE]
    assert (fire.rule, fire.place, fire.alert_count) == ("fire", "Building 3", 3)
    assert [(m.device_id, m.kind, m.alert_count) for m in fire.members] == [
        ("smoke-a", AlertKind.SMOKE, 2),
        ("smoke-b", AlertKind.SMOKE, 1),
    ]
    assert fire.device_ids == ["smoke-a", "smoke-b"]
    assert (maintenance.kinds, maintenance.device_ids) == ([AlertKind.BATTERY_LOW], ["smoke-a"])


def test_a_more_severe_alert_raises_the_priority(
    store: HubStore, smoke: str, clock: FakeClock
) -> None:
    store.intake.ingest_alerts([make_alert(device_id=smoke, severity=Severity.MEDIUM)], clock.now)
    result = store.intake.ingest_alerts(
        [make_alert(device_id=smoke, severity=Severity.CRITICAL)], clock.advance(5)
    )
    [case] = result.cases_updated
    assert case.priority is Severity.CRITICAL
    actions = [e.action for e in store.cases.get_case(case.id).events]
    assert actions == [
        CaseEventAction.OPENED,
        CaseEventAction.ALERT_ATTACHED,
        CaseEventAction.PRIORITY_RAISED,
    ]


def test_a_clearance_joins_the_open_case_or_stands_alone(
    store: HubStore, smoke: str, clock: FakeClock
) -> None:
    lonely = make_alert(device_id=smoke, state=AlertState.CLEARED)
    result = store.intake.ingest_alerts([lonely], clock.now)
    assert result.cases_opened == []
    assert result.cases_updated == []
    assert result.new[0].case_id is None
    assert store.cases.list_cases() == []

    raised = make_alert(device_id=smoke, ts=T0 + timedelta(minutes=1))
    cleared = make_alert(device_id=smoke, state=AlertState.CLEARED, ts=T0 + timedelta(minutes=2))
    result = store.intake.ingest_alerts([raised, cleared], clock.advance(60))
    [case] = result.cases_opened
    assert case.alert_count == 2
    assert {a.case_id for a in result.new} == {case.id}
    assert result.ack_ids_by_edge() == {"e1": [raised.id, cleared.id]}


def test_after_resolving_the_next_alert_opens_a_new_case(
    store: HubStore, smoke: str, clock: FakeClock
) -> None:
    [first] = store.intake.ingest_alerts([make_alert(device_id=smoke)], clock.now).cases_opened
    store.cases.resolve(first.id, "false alarm: cooking", resolution=Resolution.FALSE_ALARM)
    # Past the reopen window (30 minutes by default): a new problem, a new case.
    later = clock.advance(1801)
    [second] = store.intake.ingest_alerts(
        [make_alert(device_id=smoke, ts=later)], later
    ).cases_opened
    assert second.id != first.id
    assert {c.id: c.status for c in store.cases.list_cases()} == {
        first.id: CaseStatus.RESOLVED,
        second.id: CaseStatus.OPEN,
    }


def test_acknowledge_then_resolve(store: HubStore, smoke: str, clock: FakeClock) -> None:
    [case] = store.intake.ingest_alerts([make_alert(device_id=smoke)], clock.now).cases_opened

    acked = store.cases.acknowledge(case.id, "on my way", actor="grid-worker-7")
    assert acked.status is CaseStatus.ACKNOWLEDGED
    # Acknowledged is still unresolved: the next alert joins the same case.
    result = store.intake.ingest_alerts([make_alert(device_id=smoke)], clock.advance(10))
    assert [c.id for c in result.cases_updated] == [case.id]

    resolved = store.cases.resolve(case.id, "  kitchen fire put out  ", resolution=Resolution.REAL)
    assert resolved.status is CaseStatus.RESOLVED
    assert resolved.updated_at == clock.now

    events = store.cases.get_case(case.id).events
    assert [(e.action, e.note, e.actor) for e in events] == [
        (CaseEventAction.OPENED, None, None),
        (CaseEventAction.ACKNOWLEDGED, "on my way", "grid-worker-7"),
        (CaseEventAction.ALERT_ATTACHED, None, None),
        (CaseEventAction.RESOLVED, "  kitchen fire put out  ", None),
    ]


def test_refused_actions_change_nothing(store: HubStore, smoke: str, clock: FakeClock) -> None:
    [case] = store.intake.ingest_alerts([make_alert(device_id=smoke)], clock.now).cases_opened
    store.cases.acknowledge(case.id)
    before = store.db.count_rows()
    detail = store.cases.get_case(case.id)

    with pytest.raises(IllegalTransitionError):
        store.cases.acknowledge(case.id)
    with pytest.raises(InvalidInputError):
        store.cases.resolve(case.id, "   ", resolution=Resolution.REAL)
    with pytest.raises(NotFoundError):
        store.cases.acknowledge(case.id + 1000)
    with pytest.raises(NotFoundError):
        store.cases.get_case(case.id + 1000)
    store.cases.resolve(case.id, "done", resolution=Resolution.REAL)
    with pytest.raises(IllegalTransitionError):
        store.cases.resolve(case.id, "again", resolution=Resolution.REAL)
    with pytest.raises(IllegalTransitionError):
        store.cases.acknowledge(case.id)

    assert store.db.count_rows() == {
        **before,
        "case_events": before["case_events"] + 1,
        "audit_log": before["audit_log"] + 1,
    }
    assert store.cases.get_case(case.id).events[:-1] == detail.events


def test_an_unknown_device_is_rejected_and_nothing_stored(
    store: HubStore, smoke: str, clock: FakeClock
) -> None:
    before = store.db.count_rows()
    stranger = make_alert(device_id="not-registered")
    result = store.intake.ingest_alerts([stranger], clock.now)

    assert result.new == []
    assert result.duplicates == []
    assert [(r.alert.id, r.reason) for r in result.rejected] == [(stranger.id, "unknown_device")]
    # Judged and counted: acknowledged, so the edge does not re-send it forever.
    assert result.ack_ids_by_edge() == {"e1": [stranger.id]}
    assert store.db.count_rows() == before


def test_a_mixed_batch_stores_only_the_known_devices(
    store: HubStore, smoke: str, clock: FakeClock
) -> None:
    known = make_alert(device_id=smoke)
    stranger = make_alert(device_id="not-registered")
    result = store.intake.ingest_alerts([stranger, known], clock.now)
    assert [a.id for a in result.new] == [known.id]
    assert [r.alert.id for r in result.rejected] == [stranger.id]
    assert [a.id for a in store.cases.list_alerts()] == [known.id]


def test_a_batch_that_fails_changes_nothing(store: HubStore, smoke: str, clock: FakeClock) -> None:
    store.intake.ingest_alerts([make_alert(device_id=smoke)], clock.now)
    before = store.db.count_rows()
    cases_before = store.cases.list_cases()
    good = make_alert(device_id=smoke)
    # A naive timestamp cannot come off the wire (Alert refuses it); built around validation
    # it makes the database layer fail half-way through the batch.
    bad = Alert.model_construct(**{**dict(make_alert(device_id=smoke)), "ts": datetime(2025, 1, 1)})
    with pytest.raises(StatementError):
        store.intake.ingest_alerts([good, bad], clock.advance(1))
    assert store.db.count_rows() == before
    assert store.cases.list_cases() == cases_before


def test_timestamps_come_back_aware_in_utc(store: HubStore, smoke: str, clock: FakeClock) -> None:
    beijing = timezone(timedelta(hours=8))
    ts = datetime(2025, 3, 1, 10, 0, tzinfo=beijing)
    store.intake.ingest_alerts([make_alert(device_id=smoke, ts=ts)], clock.now)
    [alert] = store.cases.list_alerts()
    assert alert.ts == ts
    assert alert.ts.tzinfo == UTC
    assert alert.ts.hour == 2
    [case] = store.cases.list_cases()
    assert case.last_alert_at.tzinfo == UTC


def test_listing_filters_and_orders(store: HubStore, clock: FakeClock) -> None:
    store.fleet.register_device(make_device("smoke-a"))
    store.fleet.register_device(make_device("gas-b", kind=DeviceKind.GAS))
    alerts = [
        make_alert(device_id="smoke-a", ts=T0),
        make_alert(device_id="gas-b", kind=AlertKind.GAS, ts=T0 + timedelta(seconds=1)),
        make_alert(device_id="smoke-a", ts=T0 + timedelta(seconds=2)),
    ]
    store.intake.ingest_alerts(alerts, clock.now)
    assert [a.id for a in store.cases.list_alerts()] == [alerts[2].id, alerts[1].id, alerts[0].id]
    assert [a.id for a in store.cases.list_alerts(limit=1)] == [alerts[2].id]
    assert [a.id for a in store.cases.list_alerts(device_id="gas-b")] == [alerts[1].id]
    assert [a.id for a in store.cases.list_alerts(kind=AlertKind.SMOKE)] == [
        alerts[2].id,
        alerts[0].id,
    ]

    gas_case = next(c for c in store.cases.list_cases() if c.kind is AlertKind.GAS)
    assert [a.id for a in store.cases.list_alerts(case_id=gas_case.id)] == [alerts[1].id]
    store.cases.acknowledge(gas_case.id)
    assert [c.id for c in store.cases.list_cases(status=CaseStatus.ACKNOWLEDGED)] == [gas_case.id]
    assert len(store.cases.list_cases(status=CaseStatus.OPEN)) == 1
    assert store.cases.list_cases(status=CaseStatus.RESOLVED) == []


def test_edge_status_records_the_edge_and_its_inventory(store: HubStore, clock: FakeClock) -> None:
    inventory = [make_device("d1", edge_id=None), make_device("d2", edge_id=None)]
    changed = store.fleet.record_edge_status(
        make_status("e7", devices=inventory, outbox_depth=4), clock.now
    ).edges_changed
    assert changed == {"e7"}
    assert {d.id: d.edge_id for d in store.fleet.list_devices()} == {"d1": "e7", "d2": "e7"}
    [edge] = store.fleet.list_edges()
    assert (edge.id, edge.state, edge.outbox_depth, edge.counters) == (
        "e7",
        "online",
        4,
        {"alerts_sent": 3},
    )
    assert edge.last_seen == clock.now

    again = store.fleet.record_edge_status(make_status("e7", devices=inventory), clock.advance(30))
    assert again.edges_changed == frozenset()
    [edge] = store.fleet.list_edges()
    assert edge.outbox_depth == 0
    assert edge.last_seen == clock.now

    # The last will carries no inventory: it takes no device away.
    offline = make_status("e7").model_copy(update={"state": "offline"})
    assert store.fleet.record_edge_status(offline, clock.advance(1)).edges_changed == frozenset()
    assert len(store.fleet.list_devices(edge_id="e7")) == 2
    assert store.fleet.list_edges()[0].state == "offline"


def test_telemetry_updates_last_seen_and_readings(store: HubStore, clock: FakeClock) -> None:
    store.fleet.register_device(make_device("co-1", kind=DeviceKind.CO))
    points = [
        TelemetryPoint(device_id="co-1", ts=T0, readings=Readings(co_ppm=12.0, battery_pct=90.0)),
        TelemetryPoint(
            device_id="co-1", ts=T0 + timedelta(seconds=60), readings=Readings(co_ppm=70.0)
        ),
        TelemetryPoint(device_id="unknown", ts=T0, readings=Readings(co_ppm=1.0)),
    ]
    assert store.fleet.record_telemetry(TelemetryBatch(edge_id="e1", points=points)) == 2
    [device] = store.fleet.list_devices()
    assert device.last_seen == T0 + timedelta(seconds=60)
    assert device.last_readings == {"co_ppm": 70.0, "battery_pct": 90.0}

    late = TelemetryPoint(device_id="co-1", ts=T0, readings=Readings(co_ppm=5.0))
    assert store.fleet.record_telemetry(TelemetryBatch(edge_id="e1", points=[late])) == 0
    assert store.fleet.list_devices()[0].last_readings == {"co_ppm": 70.0, "battery_pct": 90.0}


def test_racing_workers_open_one_case(engine: Engine, smoke: str) -> None:
    """Workers on their own connections ingest different alerts of one problem at once."""
    workers = 8
    for round_ in range(5):
        device_id = f"race-{round_}"
        HubStore(engine).fleet.register_device(
            make_device(device_id, location=f"Building {round_ + 10}/Floor 1/Unit 101")
        )
        barrier = threading.Barrier(workers)

        def work(barrier: threading.Barrier = barrier, device_id: str = device_id) -> None:
            # Each worker has its own repository and connection, like a separate hub process.
            store = HubStore(engine)
            alert = make_alert(device_id=device_id)
            barrier.wait()
            store.intake.ingest_alerts([alert], datetime.now(UTC))

        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(work) for _ in range(workers)]
            for future in futures:
                future.result()  # re-raises what a worker raised
        with engine.connect() as conn:
            rows = conn.execute(select(CaseRow.alert_count).where(CaseRow.device_id == device_id))
            assert [row.alert_count for row in rows] == [workers]


def test_text_postgresql_would_refuse_is_stored_cleaned(
    store: HubStore, smoke: str, clock: FakeClock
) -> None:
    store.fleet.register_device(make_device("nul", location="Building\x00 3", zigbee_name="z\x00"))
    long_place = "/".join(["Building 3"] * 40)
    alerts = [
        make_alert(device_id=smoke, location="Unit\x00 1201"),
        make_alert(device_id=smoke, location=long_place),
    ]
    result = store.intake.ingest_alerts(alerts, clock.now)
    assert [a.location for a in result.new] == ["Unit 1201", long_place[:256]]
    [case] = result.cases_opened
    store.cases.acknowledge(case.id, "seen\x00", actor="op\x00")
    assert store.cases.get_case(case.id).events[-1].note == "seen"
    device = next(d for d in store.fleet.list_devices() if d.id == "nul")
    assert (device.location, device.zigbee_name) == ("Building 3", "z")
