"""Firing a deadline and a person's action on the same case lock the case first, then its
deadlines: on PostgreSQL they wait for each other instead of deadlocking."""

import threading
import time

from sqlalchemy import Engine, select, text

from devices.kinds import AlertKind, DeviceKind, Severity
from hub.cases.actions import PersonAction
from hub.cases.rules import CaseAction, CaseEventAction
from hub.persistence.tables import CaseRow
from hub.roster.rules import Grid, Responder, ResponderRole, Site
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import make_alert, make_device

SOS = make_device("b3-1201-sos", kind=DeviceKind.SOS_BUTTON, edge_id="edge-b3")


def waiting_on_a_lock(engine: Engine) -> bool:
    with engine.connect() as connection:
        waiting = connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
    return bool(waiting)


def test_a_decline_at_the_deadline_does_not_deadlock(pg_engine: Engine, clock: FakeClock) -> None:
    store = HubStore(pg_engine, clock=clock)
    store.roster.put_site(Site(id="lanyuan", name="Lanyuan", edge_ids=["edge-b3"]))
    store.roster.put_grid(Grid(id="g-b3", site_id="lanyuan", name="B3", places=["Building 3"]))
    for rid, role in (
        ("wang", ResponderRole.GRID_WORKER),
        ("li", ResponderRole.SECURITY),
        ("zhou", ResponderRole.GRID_WORKER),
    ):
        store.roster.put_responder(Responder(id=rid, site_id="lanyuan", name=rid, role=role))
    store.fleet.register_device(SOS)
    sos = make_alert(device_id=SOS.id, kind=AlertKind.SOS, severity=Severity.CRITICAL, ts=clock.now)
    [case] = store.intake.ingest_alerts([sos], clock.now).cases_opened
    store.cases.act(case.id, CaseAction.ACKNOWLEDGE, actor="op")
    store.cases.act(case.id, CaseAction.ACCEPT, actor="li")
    clock.advance(60)
    assert store.deadlines.fire_due_timers(clock.now) == []  # the acknowledgement deadline, met
    clock.advance(60)  # wang's acceptance deadline is due now
    outcome: dict[str, object] = {}

    def supervise() -> None:
        try:
            outcome["supervisor"] = HubStore(pg_engine, clock=clock).deadlines.fire_due_timers(
                clock.now
            )
        except Exception as exc:  # noqa: BLE001 - the test reports what it was
            outcome["supervisor"] = exc

    supervisor = threading.Thread(target=supervise)
    # Wang declines just as the deadline fires: his transaction has locked the case (as
    # act_in does first) when the supervisor starts; then it retires his deadline.
    with store.db.writing() as session:
        session.execute(select(CaseRow.id).where(CaseRow.id == case.id).with_for_update())
        supervisor.start()
        deadline = time.monotonic() + 5
        while not waiting_on_a_lock(pg_engine) and time.monotonic() < deadline:
            time.sleep(0.02)
        store.cases.act_in(session, case.id, PersonAction(CaseAction.DECLINE, "wang"), clock.now)
    supervisor.join(10)

    assert not isinstance(outcome["supervisor"], Exception), outcome["supervisor"]
    events = [e.action for e in store.cases.get_case(case.id).events]
    assert events.count(CaseEventAction.DECLINED) == 1  # wang's own; his deadline then did nothing
