"""A door's timers across an edge clock that steps back (review defect).

The door monitor's timers are timestamps on the edge's clock (so that a door held open across
an agent restart alarms at its first tick). When that clock stepped back (NTP correcting a
clock that ran ahead: a bad answer, a fake-hwclock saved ahead), every timestamp the state
held lay in the future, and every timer waited out the whole step: a door forced, or propped
open, while the clock was an hour ahead raised nothing for an hour (a year ahead: for a year),
and a raised denial burst stayed raised as long. Now a timestamp ahead of the event's instant
is taken back to it: the timer restarts, so an alarm comes at most one timer late, never a
step late.
"""

from datetime import datetime, timedelta
from pathlib import Path

from devices.access import AccessEventKind
from devices.kinds import AlertKind, AlertState, DeviceKind
from devices.observations import StateUpdate
from devices.payloads import Readings
from devices.registry import Device
from edge.access.decision import Direction
from edge.access.door import (
    BurstPhase,
    ContactChanged,
    Denied,
    DoorEvent,
    DoorPhase,
    DoorState,
    Granted,
    Tick,
)
from simulators.doors import enrolment
from tests.edge.test_access_door import DOOR, alerts, notes, run, t
from tests.edge.test_access_review import CARDS, EDGE, GATE, KEY, NOW, Edge

BACK = timedelta(hours=1)
"""How far NTP sets the clock back: it ran an hour ahead."""


def ticks(start: datetime, seconds: float, every_s: float = 0.5) -> list[DoorEvent]:
    """The door timer's ticks from ``start`` for ``seconds``."""
    return [Tick(start + timedelta(seconds=i * every_s)) for i in range(int(seconds / every_s) + 1)]


def test_a_door_forced_just_before_the_clock_steps_back_still_alarms() -> None:
    state, _ = run([ContactChanged(t(0), open=True), Tick(t(0.5))])
    assert state.phase is DoorPhase.OPENING
    # NTP steps the clock back an hour; the door stays open for ten minutes of real time.
    state, steps = run(ticks(t(1) - BACK, 600), state)
    assert alerts(steps) == [(AlertKind.DOOR_FORCED, AlertState.RAISED)]  # none before
    assert state.phase is DoorPhase.FORCED
    (raised,) = [a for s in steps for a in s.alerts]
    assert raised.at <= t(1) - BACK + timedelta(seconds=DOOR.forced_debounce_s)


def test_a_door_propped_open_across_a_clock_step_back_is_held_open_in_time() -> None:
    opened: list[DoorEvent] = [Granted(t(0), 5, Direction.ENTRY), ContactChanged(t(1), True)]
    state, _ = run([*opened, Tick(t(10))])
    state, steps = run(ticks(t(10.5) - BACK, 600), state)
    assert alerts(steps) == [(AlertKind.DOOR_HELD_OPEN, AlertState.RAISED)]  # none before
    assert notes(steps) == [AccessEventKind.HELD_OPEN_WARNING, AccessEventKind.DOOR_HELD_OPEN]
    (raised,) = [a for s in steps for a in s.alerts]
    # At most one held-open time late (the time open before the step is not counted).
    assert raised.at <= t(10.5) - BACK + timedelta(seconds=DOOR.held_open_s)
    # Closing it clears the alarm as ever.
    state, close = run([ContactChanged(t(700) - BACK, False)], state)
    assert alerts(close) == [(AlertKind.DOOR_HELD_OPEN, AlertState.CLEARED)]


def test_a_grant_made_before_the_step_ends_after_its_own_length() -> None:
    # Unlocked for ever (an hour): a door opened at any time later would pass as granted.
    state, _ = run([Granted(t(0), 5, Direction.ENTRY)])
    state, steps = run(
        [Tick(t(1) - BACK), ContactChanged(t(60) - BACK, True), Tick(t(62) - BACK)], state
    )
    assert alerts(steps) == [(AlertKind.DOOR_FORCED, AlertState.RAISED)]


def test_a_burst_raised_before_the_clock_steps_back_clears_after_a_quiet_window() -> None:
    state, _ = run([Denied(t(i)) for i in range(8)])
    assert state.burst is BurstPhase.RAISED
    state, quiet = run(ticks(t(10) - BACK, 120, every_s=5), state)
    assert alerts(quiet) == [(AlertKind.ACCESS_DENIED_BURST, AlertState.CLEARED)]  # an hour
    assert state.burst is BurstPhase.QUIET


def test_a_steady_clock_changes_nothing() -> None:
    # The usual case: events in order, nothing to take back; a restored state is untouched.
    state, _ = run([Granted(t(0), 5, Direction.ENTRY), ContactChanged(t(1), True)])
    again, steps = run([Tick(t(1))], state)
    assert again == state
    assert steps[0].alerts == ()
    assert steps[0].notes == ()
    assert DoorState() == run([Tick(t(5))])[0]


async def test_the_edge_raises_door_forced_after_ntp_sets_its_clock_back(tmp_path: Path) -> None:
    """Through the edge's access control, its SQLite store and alert outbox."""
    edge = Edge(tmp_path, enrolment(EDGE, KEY, CARDS, [GATE]))
    contact = Device(id="gate-contact", kind=DeviceKind.DOOR_CONTACT, location="Main Gate")
    opened = (StateUpdate(Readings(contact=False)),)  # contact false: open
    await edge.control.on_observations(contact, opened, edge.now)
    edge.now -= BACK
    await edge.run_for(60, step_s=0.5)
    assert [(a.kind, a.state) for a in edge.alerts] == [
        (AlertKind.DOOR_FORCED, AlertState.RAISED)  # nothing for an hour before the fix
    ]
    assert edge.alerts[0].ts <= NOW - BACK + timedelta(seconds=1.5)
    assert edge.outbox.depth() >= 1  # stored with its state, to go to the hub
