"""An active case taken on (acknowledged) with nobody on its team keeps looking for someone on
call: the night guard whose shift starts after the day team fell silent is sent to it.

Before, the acknowledgement deadline its escalation set found the case acknowledged and did
nothing but try to dispatch once: after that one try no deadline was left, so an SOS the street
took on at 3 a.m. with nobody on call sat with nobody going when the next shift started
(outside review of dispatch and escalation: "nobody on call at a level")."""

from dataclasses import replace
from datetime import time, timedelta

from sqlalchemy import Engine

from hub.cases.correlation import CaseCategory
from hub.cases.rules import CaseAction, CaseEventAction, CaseStatus
from hub.cases.supervision import (
    DEFAULT_POLICY,
    Satisfied,
    SupervisedCase,
    Timer,
    TimerKind,
    Watch,
    on_timer,
)
from hub.roster.rules import Responder, ResponderRole, Shift
from tests.hub.conftest import FakeClock
from tests.hub.factories import T0
from tests.hub.test_escalation_dispatch import EVERY_DAY, sos_with_two_on_call


def test_an_acknowledged_sos_nobody_is_on_goes_to_whoever_comes_on_call(
    engine: Engine, clock: FakeClock
) -> None:
    # The clock reads 10:00:01 Asia/Shanghai: wang and li are on until 10:01:30, zhao (the
    # night guard) from 10:10.
    day = Shift(days=EVERY_DAY, start=time(0, 0), end=time(10, 1, 30))
    store, case = sos_with_two_on_call(engine, clock, day)
    night = Shift(days=EVERY_DAY, start=time(10, 10), end=time(23, 0))
    zhao = Responder(
        id="zhao", site_id="lanyuan", name="zhao", role=ResponderRole.SECURITY, shifts=[night]
    )
    store.roster.put_responder(zhao)
    t0 = clock.now
    clock.advance(20)
    store.cases.act(case.id, CaseAction.ACKNOWLEDGE, actor="op.li")

    for step in range(1, 34):  # eleven minutes, a round every 20 s
        clock.now = t0 + timedelta(seconds=20 * step)
        store.deadlines.fire_due_timers(clock.now)

    after = store.cases.get_case(case.id)
    assert [m.responder for m in after.team] == ["zhao"]
    dispatched = [e.ts for e in after.events if e.action is CaseEventAction.DISPATCHED]
    # Looked at again each acknowledgement deadline (60 s): the first look after the night
    # shift started (10:10:00) sends zhao.
    assert dispatched[-1] == t0 + timedelta(minutes=10)
    # Taken on already: the looks page nobody (the escalation at 120 s said it all).
    escalated = [e.ts for e in after.events if e.action is CaseEventAction.ESCALATED]
    assert escalated == [t0 + timedelta(seconds=120)]

    store.cases.act(case.id, CaseAction.ACCEPT, actor="zhao", for_self=True)
    clock.now = t0 + timedelta(hours=1)
    store.deadlines.fire_due_timers(clock.now)
    clock.now += timedelta(hours=1)
    assert store.deadlines.fire_due_timers(clock.now) == []  # on it: nothing left to look at


def test_an_acknowledged_case_someone_is_on_has_no_deadline_left_to_look(
    engine: Engine, clock: FakeClock
) -> None:
    """A case taken on with someone on its team is not looked at again: nothing to find."""
    store, case = sos_with_two_on_call(engine, clock)
    t0 = clock.now
    clock.advance(20)
    store.cases.act(case.id, CaseAction.ACKNOWLEDGE, actor="op.li")
    store.cases.act(case.id, CaseAction.ACCEPT, actor="li", for_self=True)
    store.cases.act(case.id, CaseAction.ACCEPT, actor="wang", for_self=True)

    for step in range(1, 31):
        clock.now = t0 + timedelta(seconds=20 * step)
        store.deadlines.fire_due_timers(clock.now)

    after = store.cases.get_case(case.id)
    assert sorted(m.responder for m in after.team) == ["li", "wang"]
    assert [e for e in after.events if e.action is CaseEventAction.ESCALATED] == []
    clock.now = t0 + timedelta(hours=1)
    assert store.deadlines.fire_due_timers(clock.now) == []


def test_a_case_taken_on_with_nobody_going_is_watched_not_escalated() -> None:
    """The decision alone: look again one deadline later, page nobody; staffed, nothing."""
    nobody = SupervisedCase(
        status=CaseStatus.OPEN,
        category=CaseCategory.LIFE_SAFETY,
        acknowledged=True,
        waiting=frozenset(),
        escalation_level=1,
        staffed=False,
    )
    fired = Timer(TimerKind.ACKNOWLEDGE, T0, set_at=T0 - timedelta(minutes=1))
    assert on_timer(nobody, fired, T0, DEFAULT_POLICY) == Watch(
        Timer(TimerKind.ACKNOWLEDGE, T0 + timedelta(seconds=60))
    )
    staffed = replace(nobody, staffed=True)
    assert on_timer(staffed, fired, T0, DEFAULT_POLICY) == Satisfied()
    resolved = replace(nobody, status=CaseStatus.RESOLVED)
    assert on_timer(resolved, fired, T0, DEFAULT_POLICY) == Satisfied()
