"""Correlated incidents in the repository, on SQLite and PostgreSQL: one case from many signals,
reopening, faults apart, race-free under parallel writers, nuisance rates."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, Engine, event, func, select, text, update

from devices.kinds import AlertKind, DeviceKind, Severity
from devices.messages import Alert
from hub.cases.correlation import CaseCategory
from hub.cases.results import IngestResult
from hub.cases.rules import CaseAction, CaseEventAction, CaseStatus, Resolution
from hub.errors import IllegalTransitionError
from hub.persistence.engine import create_hub_engine
from hub.persistence.tables import CaseRow
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import T0, alert_id, make_alert, make_device

HEAT = make_device("b3-1201-heat", kind=DeviceKind.HEAT)
SMOKE = make_device("b3-1201-smoke", kind=DeviceKind.SMOKE)
CAMERA = make_device(
    "b3-f12-corridor-cam", kind=DeviceKind.CAMERA, location="Building 3/Floor 12/Corridor"
)
SOS = make_device(
    "b3-1202-sos", kind=DeviceKind.SOS_BUTTON, location="Building 3/Floor 12/Unit 1202"
)
FAR_SOS = make_device(
    "b7-101-sos", kind=DeviceKind.SOS_BUTTON, location="Building 7/Floor 1/Unit 101"
)
DEVICES = [HEAT, SMOKE, CAMERA, SOS, FAR_SOS]


@pytest.fixture
def site(store: HubStore) -> HubStore:
    """Register building 3's devices and a button in building 7."""
    for device in DEVICES:
        store.fleet.register_device(device)
    return store


def registered(engine: Engine) -> HubStore:
    """Return a repository on ``engine`` with building 3's devices and building 7's button."""
    store = HubStore(engine)
    for device in DEVICES:
        store.fleet.register_device(device)
    return store


def scenario_1(start: datetime = T0) -> list[Alert]:
    """PRODUCT.md scenario 1: heat rises, the smoke detector trips, the camera sees fire, a
    neighbour presses SOS — within two minutes in building 3."""
    at = [start + timedelta(seconds=s) for s in (0, 40, 70, 110)]
    return [
        make_alert(device_id=HEAT.id, kind=AlertKind.HEAT, severity=Severity.HIGH, ts=at[0]),
        make_alert(device_id=SMOKE.id, kind=AlertKind.SMOKE, severity=Severity.HIGH, ts=at[1]),
        make_alert(
            device_id=CAMERA.id, kind=AlertKind.CAMERA_FIRE, severity=Severity.HIGH, ts=at[2]
        ),
        make_alert(device_id=SOS.id, kind=AlertKind.SOS, severity=Severity.CRITICAL, ts=at[3]),
    ]


def assert_one_fire_case(store: HubStore) -> None:
    [case] = store.cases.list_cases()
    assert (case.category, case.rule, case.place) == (
        CaseCategory.LIFE_SAFETY,
        "fire",
        "Building 3",
    )
    assert case.priority is Severity.CRITICAL
    assert case.kinds == [AlertKind.HEAT, AlertKind.SMOKE, AlertKind.CAMERA_FIRE, AlertKind.SOS]
    assert case.device_ids == [HEAT.id, SMOKE.id, CAMERA.id, SOS.id]
    assert case.alert_count == 4
    detail = store.cases.get_case(case.id)
    assert {a.kind for a in detail.alerts} == set(case.kinds)


def test_scenario_1_in_one_batch_is_one_fire_case(site: HubStore, clock: FakeClock) -> None:
    result = site.intake.ingest_alerts(scenario_1(), clock.now)
    assert len(result.cases_opened) == 1
    assert_one_fire_case(site)
    # The pressed button hears of the case it joined; the detectors are not buttons.
    [joined] = result.cases_joined_by(frozenset({AlertKind.SOS}))
    assert joined.id == result.cases_opened[0].id


def test_scenario_1_alert_by_alert_is_one_fire_case(site: HubStore, clock: FakeClock) -> None:
    for alert in scenario_1():
        result = site.intake.ingest_alerts([alert], clock.advance(30))
    assert_one_fire_case(site)
    events = site.cases.get_case(site.cases.list_cases()[0].id).events
    assert [e.action for e in events] == [
        CaseEventAction.OPENED,
        CaseEventAction.ALERT_ATTACHED,
        CaseEventAction.ALERT_ATTACHED,
        CaseEventAction.ALERT_ATTACHED,
        CaseEventAction.PRIORITY_RAISED,
    ]
    # The SOS joined an existing case: it is still news for the button.
    assert [c.id for c in result.cases_joined_by(frozenset({AlertKind.SOS}))] == [
        site.cases.list_cases()[0].id
    ]


def test_devices_registered_with_other_spellings_of_the_building_are_one_fire(
    store: HubStore, clock: FakeClock
) -> None:
    """The camera typed in lower case, the button with a Chinese input method's full-width
    digit and space: the same building 3, one fire case, shown as its first spelling."""
    spelt = {
        CAMERA.id: "building 3/floor 12/corridor",
        SOS.id: "BUILDING\u3000３/Floor 12/Unit 1202",
    }
    for device in DEVICES:
        store.fleet.register_device(
            device.model_copy(update={"location": spelt.get(device.id, device.location)})
        )
    for alert in scenario_1():
        store.intake.ingest_alerts([alert], clock.advance(30))
    assert_one_fire_case(store)


def test_an_sos_elsewhere_or_long_after_is_its_own_case(site: HubStore, clock: FakeClock) -> None:
    heat, *_ = scenario_1()
    site.intake.ingest_alerts([heat], clock.now)
    far = make_alert(device_id=FAR_SOS.id, kind=AlertKind.SOS, severity=Severity.CRITICAL)
    late = make_alert(
        device_id=SOS.id, kind=AlertKind.SOS, severity=Severity.CRITICAL, ts=T0 + timedelta(hours=1)
    )
    site.intake.ingest_alerts([far, late], clock.advance(3600))
    cases = {tuple(c.kinds): c for c in site.cases.list_cases()}
    assert set(cases) == {(AlertKind.HEAT,), (AlertKind.SOS,)}
    assert sorted(c.device_ids[0] for c in site.cases.list_cases() if c.rule == "sos") == [
        SOS.id,
        FAR_SOS.id,
    ]


def test_a_fault_never_joins_the_fire(site: HubStore, clock: FakeClock) -> None:
    site.intake.ingest_alerts(scenario_1(), clock.now)
    battery = make_alert(device_id=SMOKE.id, kind=AlertKind.BATTERY_LOW, severity=Severity.LOW)
    offline = make_alert(
        device_id=SMOKE.id, kind=AlertKind.DEVICE_OFFLINE, severity=Severity.MEDIUM
    )
    [maintenance] = site.intake.ingest_alerts([battery, offline], clock.advance(5)).cases_opened
    assert maintenance.category is CaseCategory.MAINTENANCE
    assert maintenance.kinds == [AlertKind.BATTERY_LOW, AlertKind.DEVICE_OFFLINE]
    assert len(site.cases.list_cases()) == 2


def test_a_problem_back_soon_after_resolution_reopens_its_case(
    site: HubStore, clock: FakeClock
) -> None:
    [case] = site.intake.ingest_alerts(scenario_1()[:2], clock.now).cases_opened
    site.cases.act(case.id, CaseAction.RESOLVE, note="burnt toast", resolution=Resolution.NUISANCE)
    again = make_alert(device_id=SMOKE.id, ts=T0 + timedelta(minutes=10))
    result = site.intake.ingest_alerts([again], clock.advance(600))
    assert result.cases_opened == []
    [reopened] = result.cases_updated
    assert (reopened.id, reopened.status, reopened.resolution) == (case.id, CaseStatus.OPEN, None)
    assert reopened.alert_count == 3
    assert site.cases.get_case(case.id).events[-1].action is CaseEventAction.REOPENED

    # Closed is for good: the next recurrence is a new case.
    site.cases.act(case.id, CaseAction.RESOLVE, note="toast again", resolution=Resolution.NUISANCE)
    site.cases.act(case.id, CaseAction.CLOSE)
    [new] = site.intake.ingest_alerts(
        [make_alert(device_id=SMOKE.id)], clock.advance(60)
    ).cases_opened
    assert new.id != case.id


def test_an_operator_cannot_reopen_over_a_newer_case(site: HubStore, clock: FakeClock) -> None:
    [old] = site.intake.ingest_alerts([make_alert(device_id=SMOKE.id)], clock.now).cases_opened
    site.cases.act(old.id, CaseAction.RESOLVE, note="x", resolution=Resolution.REAL)
    clock.advance(3600)  # past the reopen window: the next alert is a new case
    later = make_alert(device_id=SMOKE.id, ts=clock.now)
    [new] = site.intake.ingest_alerts([later], clock.now).cases_opened
    with pytest.raises(IllegalTransitionError, match="another case is active"):
        site.cases.act(old.id, CaseAction.REOPEN, actor="op")
    assert site.cases.get_case(old.id).status is CaseStatus.RESOLVED
    site.cases.act(new.id, CaseAction.RESOLVE, note="y", resolution=Resolution.REAL)
    assert site.cases.act(old.id, CaseAction.REOPEN, actor="op").status is CaseStatus.OPEN


def test_the_nuisance_rate_shows_on_the_device(site: HubStore, clock: FakeClock) -> None:
    codes = [Resolution.NUISANCE, Resolution.FALSE_ALARM, Resolution.REAL, Resolution.TEST]
    for code in codes:
        now = clock.advance(7200)
        [case] = site.intake.ingest_alerts(
            [make_alert(device_id=SMOKE.id, ts=now)], now
        ).cases_opened
        site.cases.act(case.id, CaseAction.RESOLVE, note="judged", resolution=code)
    device = site.fleet.get_device(SMOKE.id)
    assert device.case_resolutions == {code: 1 for code in codes}
    assert device.nuisance_rate == pytest.approx(2 / 3)
    listed = {d.id: d for d in site.fleet.list_devices()}
    assert listed[SMOKE.id].nuisance_rate == pytest.approx(2 / 3)
    assert listed[HEAT.id].nuisance_rate is None


def test_parallel_writers_open_one_incident_per_key(engine: Engine) -> None:
    """Workers on their own connections ingest different devices' alerts of one fire, and
    copies of the same alerts, at once: one case, every alert once."""
    setup = HubStore(engine)
    for device in DEVICES:
        setup.fleet.register_device(device)
    workers = 8
    for round_ in range(3):
        fire = scenario_1(T0 + timedelta(hours=round_))
        barrier = threading.Barrier(workers)

        def work(n: int, fire: list[Alert] = fire, barrier: threading.Barrier = barrier) -> None:
            store = HubStore(engine)
            mine = [fire[n % 4], fire[(n + 1) % 4]]  # every alert goes to two workers
            barrier.wait()
            store.intake.ingest_alerts(mine, datetime.now(UTC))

        with ThreadPoolExecutor(max_workers=workers) as pool:
            for future in [pool.submit(work, n) for n in range(workers)]:
                future.result()
        with engine.connect() as conn:
            active = conn.execute(
                select(CaseRow.alert_count).where(CaseRow.open_key.is_not(None))
            ).all()
        assert [row.alert_count for row in active] == [4]
        [case] = [c for c in setup.cases.list_cases() if c.status is CaseStatus.OPEN]
        assert len(case.kinds) == 4
        setup.cases.act(case.id, CaseAction.RESOLVE, note="out", resolution=Resolution.REAL)
        setup.cases.act(case.id, CaseAction.CLOSE)
    assert setup.audit.verify_audit().intact


def test_parallel_recurrences_reopen_one_case(engine: Engine) -> None:
    setup = HubStore(engine)
    setup.fleet.register_device(SMOKE)
    [case] = setup.intake.ingest_alerts(
        [make_alert(device_id=SMOKE.id)], datetime.now(UTC)
    ).cases_opened
    setup.cases.act(case.id, CaseAction.RESOLVE, note="out", resolution=Resolution.REAL)
    workers = 8
    barrier = threading.Barrier(workers)

    def work() -> None:
        store = HubStore(engine)
        alert = make_alert(id=alert_id(), device_id=SMOKE.id)
        barrier.wait()
        store.intake.ingest_alerts([alert], datetime.now(UTC))

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(work) for _ in range(workers)]:
            future.result()
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(CaseRow)) == 1
    assert setup.cases.get_case(case.id).alert_count == 1 + workers
    assert setup.cases.get_case(case.id).status is CaseStatus.OPEN


def test_an_sos_meant_for_a_fire_resolved_meanwhile_opens_its_own_case(pg_engine: Engine) -> None:
    """The press is routed to the fire while the fire case is active, and the case is
    resolved before the press's transaction can lock it: the press opens its own SOS case
    (it is not lost, and it does not reopen or re-key the fire)."""
    engine = pg_engine
    store = HubStore(engine)
    for device in DEVICES:
        store.fleet.register_device(device)
    heat, *_, sos = scenario_1()
    [fire] = store.intake.ingest_alerts([heat], datetime.now(UTC)).cases_opened
    with engine.connect() as resolver:
        # An operator's resolve, holding the fire case's row lock until it commits.
        resolver.execute(
            update(CaseRow)
            .where(CaseRow.id == fire.id)
            .values(open_key=None, status="resolved", resolution="real", resolved_at=T0)
        )
        pressing = ThreadPoolExecutor(max_workers=1)
        pressed = pressing.submit(store.intake.ingest_alerts, [sos], datetime.now(UTC))
        wait_until_blocked_on_a_lock(engine, other_than=resolver)
        resolver.commit()
        result = pressed.result(timeout=60)
        pressing.shutdown()
    [own] = result.cases_opened
    assert (own.rule, own.kinds, own.status) == ("sos", [AlertKind.SOS], CaseStatus.OPEN)
    after = store.cases.get_case(fire.id)
    assert (after.status, after.alert_count, after.kinds) == (
        CaseStatus.RESOLVED,
        1,
        [AlertKind.HEAT],
    )
    assert [a.id for a in store.cases.get_case(own.id).alerts] == [sos.id]


def wait_until_blocked_on_a_lock(engine: Engine, *, other_than: Connection) -> None:
    """Wait until some session other than ``other_than`` waits for a row lock."""
    mine = other_than.execute(text("SELECT pg_backend_pid()")).scalar_one()
    deadline = time.monotonic() + 30
    with engine.connect() as watcher:
        while time.monotonic() < deadline:
            waiting = watcher.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database() AND pid <> :mine"
                ),
                {"mine": mine},
            ).scalar_one()
            watcher.commit()
            if waiting:
                return
            time.sleep(0.01)
    raise AssertionError("the ingest never waited for the fire case's lock")


def test_an_sos_waits_for_a_fire_case_another_worker_is_opening(
    pg_engine: Engine, migrated_postgres_url: str
) -> None:
    """Two workers: one opens building 3's fire case and has not committed yet when the other
    takes a press next to it. The press waits for that commit (the incident's lock) and joins
    the fire case; reading "no fire here" it would open an SOS case of its own."""
    store = registered(pg_engine)
    heat, *_, sos = scenario_1()
    opening, pressed = second_waits_for_first(store, migrated_postgres_url, [heat], [sos])
    [fire_case] = opening.cases_opened
    assert pressed.cases_opened == []
    assert [c.id for c in pressed.cases_updated] == [fire_case.id]
    case = store.cases.get_case(fire_case.id)
    assert (case.rule, case.kinds, case.alert_count) == ("fire", [AlertKind.HEAT, AlertKind.SOS], 2)
    assert [c.id for c in store.cases.list_cases()] == [fire_case.id]


def second_waits_for_first(
    store: HubStore, postgres_url: str, first: list[Alert], second: list[Alert]
) -> tuple[IngestResult, IngestResult]:
    """Two hub workers on one PostgreSQL database: a worker of its own stores ``first`` and
    holds its commit back while ``store`` takes ``second``; once the second waits for a lock
    (or is done), the first commits. Return both results, first's first."""
    worker = create_hub_engine(postgres_url)
    inserted, release = threading.Event(), threading.Event()

    def hold_the_commit(conn: Connection) -> None:
        inserted.set()  # the first take is written; its transaction is about to commit
        assert release.wait(60)

    try:
        event.listen(worker, "commit", hold_the_commit, once=True)
        with ThreadPoolExecutor(max_workers=2) as pool:
            held = pool.submit(HubStore(worker).intake.ingest_alerts, first, datetime.now(UTC))
            assert inserted.wait(60)
            waiting = pool.submit(store.intake.ingest_alerts, second, datetime.now(UTC))
            deadline = time.monotonic() + 30
            while not waiting.done() and not waiting_for_a_lock(store.db.engine):
                assert time.monotonic() < deadline, "the second take neither waited nor finished"
                time.sleep(0.01)
            release.set()
            return held.result(timeout=60), waiting.result(timeout=60)
    finally:
        release.set()
        worker.dispose()


def waiting_for_a_lock(engine: Engine) -> bool:
    """Return whether some session of this database waits for a lock (a row or an advisory)."""
    with engine.connect() as watcher:
        waiting = watcher.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()"
            )
        ).scalar_one()
    return bool(waiting)


def test_an_sos_pressed_before_the_fire_joins_the_fire_case(
    site: HubStore, clock: FakeClock
) -> None:
    heat, smoke, camera, sos = scenario_1()
    site.intake.ingest_alerts([sos], clock.now)  # handled first: after an outage it goes first
    site.intake.ingest_alerts([heat, smoke, camera], clock.now)
    active = [c for c in site.cases.list_cases() if c.status is CaseStatus.OPEN]
    assert [(c.rule, sorted(c.kinds)) for c in active] == [
        ("fire", sorted([AlertKind.HEAT, AlertKind.SMOKE, AlertKind.CAMERA_FIRE, AlertKind.SOS]))
    ]
