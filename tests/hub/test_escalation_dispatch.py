"""A case opened while nobody was on call is dispatched at its next deadline once someone is
(a shift started), and still escalates: one chain, once a minute, on SQLite and PostgreSQL."""

from datetime import time, timedelta

import pytest
from sqlalchemy import Engine

from devices.kinds import AlertKind, DeviceKind, Severity
from hub.cases.rules import CaseAction, CaseEventAction
from hub.cases.views import CaseView
from hub.roster.rules import Grid, Responder, ResponderRole, Shift, Site
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import make_alert, make_device

SOS = make_device("b3-1201-sos", kind=DeviceKind.SOS_BUTTON, edge_id="edge-b3")
EVERY_DAY = list(range(7))


def test_an_sos_opened_before_the_shift_is_dispatched_when_it_starts(
    engine: Engine, clock: FakeClock
) -> None:
    # The clock reads 10:00:01 Asia/Shanghai; the day shift starts at 10:05.
    shift = Shift(days=EVERY_DAY, start=time(10, 5), end=time(22, 0))
    store, case = sos_with_two_on_call(engine, clock, shift)
    t0 = clock.now
    assert case.team == []

    for minute in range(1, 7):
        clock.now = t0 + timedelta(minutes=minute)
        store.deadlines.fire_due_timers(clock.now)

    after = store.cases.get_case(case.id)
    dispatched = [e for e in after.events if e.action is CaseEventAction.DISPATCHED]
    assert [e.ts for e in dispatched] == [t0 + timedelta(minutes=5)]  # the first deadline on shift
    assert sorted(m.responder for m in after.team) == ["li", "wang"]
    escalated = [e.ts for e in after.events if e.action is CaseEventAction.ESCALATED]
    # Not taken on in time: street, district, then the district again, backing off.
    assert escalated == [t0 + timedelta(minutes=m) for m in (1, 2, 3, 5)]


def sos_with_two_on_call(
    engine: Engine, clock: FakeClock, shift: Shift | None = None
) -> tuple[HubStore, CaseView]:
    """Return a store with wang (grid worker) and li (patrol) on call at all times (or on
    ``shift``), and the SOS case a press opened now, dispatched to those on call."""
    store = HubStore(engine, clock=clock)
    store.roster.put_site(Site(id="lanyuan", name="Lanyuan", edge_ids=["edge-b3"]))
    store.roster.put_grid(Grid(id="g-b3", site_id="lanyuan", name="B3", places=["Building 3"]))
    shifts = [] if shift is None else [shift]
    for rid, role in (("wang", ResponderRole.GRID_WORKER), ("li", ResponderRole.SECURITY)):
        store.roster.put_responder(
            Responder(id=rid, site_id="lanyuan", name=rid, role=role, shifts=shifts)
        )
    store.fleet.register_device(SOS)
    sos = make_alert(device_id=SOS.id, kind=AlertKind.SOS, severity=Severity.CRITICAL, ts=clock.now)
    [case] = store.intake.ingest_alerts([sos], clock.now).cases_opened
    return store, case


def test_a_case_whose_team_stays_silent_runs_one_escalation_chain(
    engine: Engine, clock: FakeClock
) -> None:
    """Both dispatched responders let their acceptance deadline pass: the case has nobody and
    escalates from that deadline; its pending acknowledgement deadline is replaced, not doubled."""
    store, case = sos_with_two_on_call(engine, clock)
    t0 = clock.now
    assert sorted(m.responder for m in case.team) == ["li", "wang"]

    for step in range(1, 31):  # ten minutes, a round every 20 s
        clock.now = t0 + timedelta(seconds=20 * step)
        store.deadlines.fire_due_timers(clock.now)

    events = store.cases.get_case(case.id).events
    escalated = [e.ts for e in events if e.action is CaseEventAction.ESCALATED]
    # Street, district (when the last member fell silent: the pending acknowledgement deadline
    # of that same minute is replaced, not fired too), then the district again, backing off.
    assert escalated == [t0 + timedelta(seconds=s) for s in (60, 120, 180, 300, 540)]


@pytest.mark.parametrize("actor", ["wang", "op-zhang"])
def test_the_silent_are_asked_again_and_a_decline_in_person_stands(
    engine: Engine, clock: FakeClock, actor: str
) -> None:
    """A responder who lets the acceptance deadline pass (a phone in a pocket) is offered the
    case again when the next deadline finds nobody on it; one who declined it is not, whether
    they declined it themselves or rang the control room and an operator declined it for them
    (op-zhang: before, counted as silent and offered the case again and again)."""
    store, case = sos_with_two_on_call(engine, clock)
    t0 = clock.now
    clock.now = t0 + timedelta(seconds=10)
    declined = store.cases.act(case.id, CaseAction.DECLINE, actor=actor, note="wang is off sick")
    assert [m.responder for m in declined.team] == ["li"]

    for step in range(1, 31):  # ten minutes, a round every 20 s
        clock.now = t0 + timedelta(seconds=20 * step)
        store.deadlines.fire_due_timers(clock.now)

    events = store.cases.get_case(case.id).events
    offered = [e.note for e in events if e.action is CaseEventAction.DISPATCHED]
    assert len(offered) >= 3, offered  # at opening, then again at later deadlines
    assert all("li (security" in (note or "") for note in offered)
    assert not any("wang" in (note or "") for note in offered[1:])
    escalated = [e.ts for e in events if e.action is CaseEventAction.ESCALATED]
    assert escalated == [t0 + timedelta(seconds=s) for s in (60, 120, 180, 300, 540)]
