"""Several hub workers on one real PostgreSQL: each worker is a ``HubStore`` on its own engine
(its own connection pool), as each ``linli hub`` process has.

* A device's alarm/clear/alarm handled by two workers in every order leaves its case as
  event-time order does; a clearance and its alarm handled at the same instant by two workers
  end on one case; concurrent first alarms of one incident open one case.
* A passed deadline fires once across three workers (one escalation, one notice), and three
  workers claiming notices at once each get different ones.
* Three workers' care watches at once: one wellbeing check for a quiet home, the family told
  of it once, and of a care household's SOS once.
"""

import itertools
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial
from typing import TypeVar

import pytest
from sqlalchemy import func, select

from devices.kinds import AlertState, Severity
from devices.messages import Alert
from hub.cases.notify import Channel
from hub.cases.rules import CaseEventAction
from hub.persistence.engine import create_hub_engine, migrate
from hub.persistence.tables import AlertRow, CaseRow, NotificationRow
from hub.residents.rules import web_sos_alert
from hub.store import HubStore
from tests.hub import test_care_watch as care
from tests.hub.conftest import FakeClock
from tests.hub.factories import T0, make_alert, make_device

T = TypeVar("T")
WORKERS = 3


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def workers(postgres_url: str, clock: FakeClock) -> Iterator[list[HubStore]]:
    """Three hub workers' stores on one fresh PostgreSQL database, one engine each; case
    events go to one webhook (so that each becomes one queued notice); the default
    supervision: a life-safety case must be acknowledged within 60 s."""
    engines = [create_hub_engine(postgres_url) for _ in range(WORKERS)]
    migrate(engines[0])
    try:
        yield [
            HubStore(
                engine,
                clock=clock,
                notify=[(Channel.WEBHOOK, "http://gateway.invalid/hook")],
            )
            for engine in engines
        ]
    finally:
        for engine in engines:
            engine.dispose()


def at_once(calls: list[Callable[[], T]]) -> list[T]:
    """Run the calls on threads released together by a barrier; return their results."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def case_of_device(store: HubStore, device_id: str) -> tuple[object, ...]:
    """Return what must not depend on arrival order: the device's cases and their alerts."""
    with store.db.reading() as session:
        cases = session.scalars(select(CaseRow).where(CaseRow.device_id == device_id)).all()
        stray = session.scalars(
            select(AlertRow.id).where(AlertRow.device_id == device_id, AlertRow.case_id.is_(None))
        ).all()
        on_case = {
            case.id: sorted(
                session.scalars(select(AlertRow.id).where(AlertRow.case_id == case.id)).all()
            )
            for case in cases
        }
    return (
        [(c.priority, c.alert_count, c.last_alert_at, c.status) for c in cases],
        sorted(on_case.values()),
        sorted(stray),
    )


def sequence(device_id: str) -> list[Alert]:
    """Alarm, clear, alarm of one smoke detector, the second alarm more severe."""
    return [
        make_alert(id=f"{device_id}-a1", device_id=device_id, severity=Severity.HIGH, ts=T0),
        make_alert(
            id=f"{device_id}-c2",
            device_id=device_id,
            state=AlertState.CLEARED,
            ts=T0 + timedelta(seconds=5),
        ),
        make_alert(
            id=f"{device_id}-a3",
            device_id=device_id,
            severity=Severity.CRITICAL,
            ts=T0 + timedelta(seconds=9),
        ),
    ]


def normalised(found: tuple[object, ...], device_id: str) -> str:
    return repr(found).replace(device_id, "DEVICE")


def test_alarm_clear_alarm_in_every_order_over_two_workers(
    workers: list[HubStore], clock: FakeClock
) -> None:
    first, second = workers[0], workers[1]
    orders = list(itertools.permutations(range(3)))
    devices = [f"smoke-{n}" for n in range(len(orders) + 1)]
    for device_id in devices:
        first.fleet.register_device(make_device(device_id, location=f"{device_id}/Floor 1/Unit 1"))
    baseline_device = devices[-1]
    for alert in sequence(baseline_device):  # in order, one worker
        first.intake.ingest_alerts([alert], clock.advance(1))
    baseline = normalised(case_of_device(first, baseline_device), baseline_device)
    assert "critical" in baseline
    assert f"{baseline_device}-c2" in repr(case_of_device(first, baseline_device)[1])

    for device_id, order in zip(devices, orders, strict=False):
        alerts = sequence(device_id)
        for turn, index in enumerate(order):  # dealt round-robin, as a shared subscription does
            workers[turn % 2].intake.ingest_alerts([alerts[index]], clock.advance(1))
        found = normalised(case_of_device(second, device_id), device_id)
        assert found == baseline, order


def test_a_clearance_and_its_alarm_at_the_same_instant_end_on_one_case(
    workers: list[HubStore], clock: FakeClock
) -> None:
    first, second = workers[0], workers[1]
    rounds = 20
    for n in range(rounds):
        first.fleet.register_device(make_device(f"race-{n}", location=f"race{n}/Floor 1/Unit 1"))
    for n in range(rounds):
        alarm, clearance, _ = sequence(f"race-{n}")
        at_once(
            [
                partial(first.intake.ingest_alerts, [alarm], clock.now),
                partial(second.intake.ingest_alerts, [clearance], clock.now),
            ]
        )
    for n in range(rounds):
        _, on_case, stray = case_of_device(first, f"race-{n}")
        assert stray == [], n
        assert on_case == [[f"race-{n}-a1", f"race-{n}-c2"]], n


def test_concurrent_first_alarms_of_one_incident_open_one_case(
    workers: list[HubStore], clock: FakeClock
) -> None:
    rounds = 10
    for n in range(rounds):
        place = f"first{n}/Floor 1/Unit 1"
        workers[0].fleet.register_device(make_device(f"first-{n}", location=place))
    for n in range(rounds):
        alarms = [
            make_alert(id=f"first-{n}-w{w}", device_id=f"first-{n}", ts=T0 + timedelta(seconds=w))
            for w in range(WORKERS)
        ]
        results = at_once(
            [
                partial(store.intake.ingest_alerts, [alert], clock.now)
                for store, alert in zip(workers, alarms, strict=True)
            ]
        )
        assert sum(len(r.cases_opened) for r in results) == 1
    with workers[0].db.reading() as session:
        per_device = Counter(session.scalars(select(CaseRow.device_id)).all())
        counts = session.scalars(select(CaseRow.alert_count)).all()
    assert per_device == {f"first-{n}": 1 for n in range(rounds)}
    assert counts == [WORKERS] * rounds


def test_a_passed_deadline_fires_once_across_three_workers(
    workers: list[HubStore], clock: FakeClock
) -> None:
    store = workers[0]
    store.fleet.register_device(make_device("b3-1201-smoke"))
    [case] = store.intake.ingest_alerts([make_alert()], clock.now).cases_opened
    early = at_once([partial(s.deadlines.fire_due_timers, clock.now) for s in workers])
    assert early == [[], [], []]
    clock.advance(61)  # the life-safety acknowledgement deadline (60 s) has passed
    fired = at_once([partial(s.deadlines.fire_due_timers, clock.now) for s in workers])
    assert sorted(len(changed) for changed in fired) == [0, 0, 1]
    events = [e.action for e in store.cases.get_case(case.id).events]
    assert events.count(CaseEventAction.ESCALATED) == 1
    with store.db.reading() as session:
        notices = Counter(
            session.execute(
                select(NotificationRow.case_id, func.count()).group_by(NotificationRow.case_id)
            ).all()
        )
    # One notice per case event on the one webhook: opened, escalated.
    assert notices == {(case.id, 2): 1}

    claimed = at_once([partial(s.notices.claim_notifications, clock.now) for s in workers])
    ids = [notice.id for batch in claimed for notice in batch]
    assert sorted(ids) == sorted(set(ids))
    assert len(ids) == 2


def test_a_quiet_care_household_gets_one_wellbeing_check_across_three_workers(
    workers: list[HubStore], clock: FakeClock
) -> None:
    # Every worker runs the care watch (hub.care.watch) on the same households.
    store = workers[0]
    clock.now = care.EVENING - timedelta(hours=1)
    grandma = care.make_grandma(store)
    care.readings(store, care.EVENING, occupancy=True)  # last seen moving at 19:00
    care.heartbeat(store, care.EVENING + timedelta(hours=1), care.EVENING + timedelta(hours=15))
    clock.now = care.EVENING + timedelta(hours=15)  # 10:00 next morning, quiet since
    changed = at_once([s.care.watch for s in workers])
    assert sorted(len(c) for c in changed) == [0, 0, 1]
    [case] = [c for batch in changed for c in batch]
    assert case.kind == "no_activity"
    assert care.family_notices(store) == [case.id]
    assert store.care.get_care(grandma).alarm_case_id == case.id


def test_an_sos_from_a_care_household_reaches_the_family_once_across_three_workers(
    workers: list[HubStore], clock: FakeClock
) -> None:
    store = workers[0]
    clock.now = care.EVENING
    grandma = care.make_grandma(store)
    household = next(h for h in store.households.list_households() if h.id == grandma)
    device = store.households.household_sos_device(household)
    alert = web_sos_alert("sos-press-0001", device.id, device.location, clock.now)
    [sos] = store.intake.ingest_alerts([alert], clock.now).cases_opened
    told = at_once([s.care.watch for s in workers])
    assert sorted(len(t) for t in told) == [0, 0, 1]
    assert care.family_notices(store) == [sos.id]
