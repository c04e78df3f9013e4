"""Supervision: the pure deadline rules, then scenario 7 and friends in simulated time on
SQLite and PostgreSQL, with the timers in the database."""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from devices.kinds import AlertKind, DeviceKind, Severity
from hub.cases.changes import CaseChanges
from hub.cases.correlation import CaseCategory
from hub.cases.rules import CaseAction, CaseEventAction, CaseStatus, Resolution
from hub.cases.supervision import (
    DEFAULT_POLICY,
    Escalate,
    Reassign,
    Satisfied,
    SupervisedCase,
    TimerKind,
    accept_timer,
    acknowledge_timer,
    on_timer,
)
from hub.cases.supervisor import Supervisor
from hub.live.events import CaseChanged, EventBus
from hub.roster.rules import Grid, Responder, ResponderRole, Site
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import T0, make_alert, make_device

NOW = T0 + timedelta(minutes=1)


def case(**changes: object) -> SupervisedCase:
    facts = {
        "status": CaseStatus.OPEN,
        "category": CaseCategory.LIFE_SAFETY,
        "acknowledged": False,
        "waiting": frozenset(),
        "escalation_level": 0,
    } | changes
    return SupervisedCase(**facts)  # type: ignore[arg-type]


def test_life_safety_must_be_acknowledged_within_60_seconds() -> None:
    timer = acknowledge_timer(CaseCategory.LIFE_SAFETY, T0, DEFAULT_POLICY)
    assert (timer.kind, timer.due_at) == (TimerKind.ACKNOWLEDGE, T0 + timedelta(seconds=60))
    maintenance = acknowledge_timer(CaseCategory.MAINTENANCE, T0, DEFAULT_POLICY)
    assert maintenance.due_at == T0 + timedelta(hours=24)


@pytest.mark.parametrize(
    ("facts", "outcome"),
    [
        (
            case(),
            Escalate(1, False, acknowledge_timer(CaseCategory.LIFE_SAFETY, NOW, DEFAULT_POLICY)),
        ),
        (
            case(escalation_level=1),
            Escalate(2, False, acknowledge_timer(CaseCategory.LIFE_SAFETY, NOW, DEFAULT_POLICY)),
        ),
        (
            case(escalation_level=2),
            Escalate(2, True, acknowledge_timer(CaseCategory.LIFE_SAFETY, NOW, DEFAULT_POLICY)),
        ),
        (case(acknowledged=True), Satisfied()),
        (case(status=CaseStatus.RESOLVED), Satisfied()),
        (case(status=CaseStatus.CLOSED), Satisfied()),
        # Dispatched by the hub but nobody took it on: still overdue.
        (
            case(status=CaseStatus.DISPATCHED, waiting=frozenset({"wang"})),
            Escalate(1, False, acknowledge_timer(CaseCategory.LIFE_SAFETY, NOW, DEFAULT_POLICY)),
        ),
    ],
)
def test_an_overdue_acknowledgement_escalates_level_by_level(
    facts: SupervisedCase, outcome: object
) -> None:
    timer = acknowledge_timer(facts.category, T0, DEFAULT_POLICY)
    assert on_timer(facts, timer, NOW, DEFAULT_POLICY) == outcome


def test_an_unanswered_dispatch_is_reassigned_unless_it_moved_on() -> None:
    timer = accept_timer(CaseCategory.LIFE_SAFETY, "wang", T0, DEFAULT_POLICY)
    assert timer.due_at == T0 + timedelta(minutes=2)
    waiting = case(status=CaseStatus.DISPATCHED, waiting=frozenset({"wang"}), acknowledged=True)
    assert on_timer(waiting, timer, NOW, DEFAULT_POLICY) == Reassign(silent="wang")
    # Someone else of the team accepted, Wang still has not answered: his duty moves on.
    others = case(status=CaseStatus.ACCEPTED, waiting=frozenset({"wang"}), acknowledged=True)
    assert on_timer(others, timer, NOW, DEFAULT_POLICY) == Reassign(silent="wang")
    accepted = case(status=CaseStatus.ACCEPTED, acknowledged=True)
    assert on_timer(accepted, timer, NOW, DEFAULT_POLICY) == Satisfied()
    handed = case(status=CaseStatus.DISPATCHED, waiting=frozenset({"li"}), acknowledged=True)
    assert on_timer(handed, timer, NOW, DEFAULT_POLICY) == Satisfied()
    resolved = case(status=CaseStatus.RESOLVED, waiting=frozenset({"wang"}), acknowledged=True)
    assert on_timer(resolved, timer, NOW, DEFAULT_POLICY) == Satisfied()


# --- the repository, in simulated time --------------------------------------------------

SOS = make_device("b3-1201-sos", kind=DeviceKind.SOS_BUTTON, edge_id="edge-b3")


def press(store: HubStore, clock: FakeClock) -> int:
    sos = make_alert(device_id=SOS.id, kind=AlertKind.SOS, severity=Severity.CRITICAL, ts=clock.now)
    [opened] = store.intake.ingest_alerts([sos], clock.now).cases_opened
    return opened.id


def staff(store: HubStore, *responders: tuple[str, ResponderRole]) -> None:
    """Put Lanyuan, its grid over building 3, these responders and the SOS button in the store."""
    store.roster.put_site(Site(id="lanyuan", name="Lanyuan", edge_ids=["edge-b3"]))
    store.roster.put_grid(Grid(id="g-b3", site_id="lanyuan", name="B3", places=["Building 3"]))
    for rid, role in responders:
        store.roster.put_responder(Responder(id=rid, site_id="lanyuan", name=rid, role=role))
    store.fleet.register_device(SOS)


def escalations(store: HubStore, case_id: int) -> list[str | None]:
    events = store.cases.get_case(case_id).events
    return [e.note for e in events if e.action is CaseEventAction.ESCALATED]


def test_scenario_7_an_sos_nobody_acknowledges_escalates_on_time(
    store: HubStore, clock: FakeClock
) -> None:
    store.fleet.register_device(SOS)
    case_id = press(store, clock)
    opened_at = clock.now

    clock.now = opened_at + timedelta(seconds=59.999)
    assert store.deadlines.fire_due_timers(clock.now) == []
    clock.now = opened_at + timedelta(seconds=60)
    [escalated] = store.deadlines.fire_due_timers(clock.now)
    assert (escalated.id, escalated.escalation_level) == (case_id, 1)
    assert escalations(store, case_id) == ["not taken on in time: escalated to the street level"]
    assert store.deadlines.fire_due_timers(clock.now) == []  # fired once

    clock.now = opened_at + timedelta(seconds=120)
    assert store.deadlines.fire_due_timers(clock.now)[0].escalation_level == 2
    clock.now = opened_at + timedelta(seconds=180)
    assert store.deadlines.fire_due_timers(clock.now)[0].escalation_level == 2
    assert escalations(store, case_id)[1:] == [
        "not taken on in time: escalated to the district level",
        "still not taken on: notified the district level again",
    ]

    # Someone finally acknowledges: the next deadline finds it taken on and does nothing.
    store.cases.act(case_id, CaseAction.ACKNOWLEDGE, actor="district-duty")
    clock.now = opened_at + timedelta(seconds=240)
    assert store.deadlines.fire_due_timers(clock.now) == []
    assert len(escalations(store, case_id)) == 3
    assert store.audit.verify_audit().intact


def test_an_acknowledged_sos_never_escalates(store: HubStore, clock: FakeClock) -> None:
    store.fleet.register_device(SOS)
    case_id = press(store, clock)
    clock.advance(30)
    store.cases.act(case_id, CaseAction.ACKNOWLEDGE, actor="operator")
    assert store.deadlines.fire_due_timers(clock.advance(3600)) == []
    assert store.cases.get_case(case_id).escalation_level == 0


def test_a_responder_who_does_not_answer_is_replaced(store: HubStore, clock: FakeClock) -> None:
    staff(
        store,
        ("wang", ResponderRole.GRID_WORKER),
        ("li", ResponderRole.SECURITY),
        ("zhou", ResponderRole.SECURITY),
    )
    case_id = press(store, clock)
    assert [m.responder for m in store.cases.get_case(case_id).team] == ["wang", "li"]
    store.cases.act(case_id, CaseAction.ACKNOWLEDGE, actor="operator")

    # Wang answers in time, Li does not: only the patrol duty moves on, to Zhou.
    assert store.deadlines.fire_due_timers(clock.advance(60)) == []
    store.cases.act(case_id, CaseAction.ACCEPT, actor="wang")
    [reassigned] = store.deadlines.fire_due_timers(clock.advance(60))
    assert (reassigned.status, [(m.responder, m.accepted) for m in reassigned.team]) == (
        CaseStatus.ACCEPTED,
        [("wang", True), ("zhou", False)],
    )
    # Zhou does not answer either: nobody is left for the patrol, Wang carries on, no escalation.
    [after] = store.deadlines.fire_due_timers(clock.advance(120))
    assert (after.status, after.assignee, after.escalation_level) == (
        CaseStatus.ACCEPTED,
        "wang",
        0,
    )
    notes = [
        e.note for e in store.cases.get_case(case_id).events if e.action is CaseEventAction.DECLINED
    ]
    assert notes == ["li did not accept in time", "zhou did not accept in time"]


def test_a_case_nobody_answers_escalates(store: HubStore, clock: FakeClock) -> None:
    staff(store, ("wang", ResponderRole.GRID_WORKER), ("li", ResponderRole.SECURITY))
    case_id = press(store, clock)
    store.cases.act(case_id, CaseAction.ACKNOWLEDGE, actor="operator")
    [escalated] = store.deadlines.fire_due_timers(clock.advance(120))
    assert (escalated.status, escalated.assignee, escalated.team, escalated.escalation_level) == (
        CaseStatus.OPEN,
        None,
        [],
        1,
    )


def test_timers_survive_a_restart_and_a_resolved_case_stays_quiet(
    engine: Engine, clock: FakeClock
) -> None:
    before = HubStore(engine, clock=clock)
    before.fleet.register_device(SOS)
    first = press(before, clock)
    quiet = make_device("b5-sos", kind=DeviceKind.SOS_BUTTON, location="Building 5/Unit 1")
    before.fleet.register_device(quiet)
    sos = make_alert(device_id=quiet.id, kind=AlertKind.SOS, severity=Severity.CRITICAL)
    [resolved] = before.intake.ingest_alerts([sos], clock.now).cases_opened
    before.cases.act(resolved.id, CaseAction.RESOLVE, note="test press", resolution=Resolution.TEST)

    after = HubStore(engine, clock=clock)  # a new process on the same database
    changed = after.deadlines.fire_due_timers(clock.advance(61))
    assert [c.id for c in changed] == [first]


def test_parallel_workers_fire_each_deadline_once(engine: Engine, clock: FakeClock) -> None:
    store = HubStore(engine, clock=clock)
    store.fleet.register_device(SOS)
    case_ids = []
    for n in range(4):
        device = make_device(f"sos-{n}", kind=DeviceKind.SOS_BUTTON, location=f"Building {n}/U")
        store.fleet.register_device(device)
        alert = make_alert(device_id=device.id, kind=AlertKind.SOS, severity=Severity.CRITICAL)
        case_ids.append(store.intake.ingest_alerts([alert], clock.now).cases_opened[0].id)
    due = clock.now + timedelta(seconds=60)
    workers = 6
    barrier = threading.Barrier(workers)

    def work() -> int:
        worker = HubStore(engine, clock=clock)
        barrier.wait()
        return len(worker.deadlines.fire_due_timers(due))

    with ThreadPoolExecutor(max_workers=workers) as pool:
        fired = sum(f.result() for f in [pool.submit(work) for _ in range(workers)])
    assert fired == len(case_ids)
    assert [store.cases.get_case(c).escalation_level for c in case_ids] == [1] * len(case_ids)
    assert store.audit.verify_audit().intact


async def test_the_supervisor_publishes_what_changed(store: HubStore, clock: FakeClock) -> None:
    store.fleet.register_device(SOS)
    case_id = press(store, clock)
    bus = EventBus()
    supervisor = Supervisor(store, CaseChanges(bus), clock=clock, interval=0.01)
    with bus.subscribe() as subscription:
        assert await supervisor.tick() == 0
        clock.advance(60)
        task = asyncio.create_task(supervisor.run())
        try:
            async with asyncio.timeout(5):
                event = await subscription.get()
        finally:
            task.cancel()
    assert isinstance(event, CaseChanged)
    assert (event.case.id, event.case.escalation_level) == (case_id, 1)
    assert supervisor.counters["cases_changed"] == 1


def test_a_member_named_again_gets_a_fresh_deadline(store: HubStore, clock: FakeClock) -> None:
    staff(store, ("wang", ResponderRole.GRID_WORKER), ("li", ResponderRole.SECURITY))
    case_id = press(store, clock)  # both asked to accept within 2 min
    store.cases.act(case_id, CaseAction.ACKNOWLEDGE, actor="operator")
    clock.advance(60)
    store.cases.act(case_id, CaseAction.DECLINE, actor="wang")
    clock.advance(30)
    store.cases.act(case_id, CaseAction.DISPATCH, assignee="wang", actor="operator")
    # Two minutes after the first dispatch: Li is overdue, Wang's first deadline is retired.
    [changed] = store.deadlines.fire_due_timers(clock.advance(30))
    assert [(m.responder, m.accepted) for m in changed.team] == [("wang", False)]
    assert changed.status is CaseStatus.DISPATCHED
    # His own deadline, two minutes after he was named again.
    assert store.deadlines.fire_due_timers(clock.advance(89)) == []
    [overdue] = store.deadlines.fire_due_timers(clock.advance(1))
    assert (overdue.team, overdue.status) == ([], CaseStatus.OPEN)
