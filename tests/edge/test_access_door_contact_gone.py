"""A door kept while its contact is taken away or replaced (review gap).

A door whose ``door_forced`` or ``door_held_open`` was raised, and whose contact the hub then
unregistered (the ``contact_id`` removed, or replaced by another contact, the door kept), kept
that alert raised for ever: nothing would report that contact closed again. An open door
without an alarm yet went on to raise ``door_held_open`` on its timers, about a contact no
longer there. Now the update that changes the contact clears the old contact's alarm (rule
``contact_removed``, through the outbox), counts and logs it once, and takes the door as
shut; its denial burst, who is inside and its counters stay.
"""

from pathlib import Path

from devices.kinds import AlertKind, AlertState
from devices.observations import StateUpdate
from devices.payloads import Readings
from edge.access.decision import Direction
from edge.access.door import (
    CONTACT_GONE_RULE,
    BurstPhase,
    ContactChanged,
    DoorPhase,
    Granted,
    Tick,
    contact_gone,
)
from simulators.doors import enrolment
from tests.edge.test_access_door import DOOR, run, t
from tests.edge.test_access_door_removed import LOBBY, OPEN, contact, door_item, forced_and_burst
from tests.edge.test_access_review import CARDS, EDGE, GATE, KEY, Edge


async def test_unregistering_a_forced_doors_contact_clears_its_alarm_once(tmp_path: Path) -> None:
    edge = Edge(tmp_path, enrolment(EDGE, KEY, CARDS, [GATE, LOBBY]))
    await forced_and_burst(edge)
    before, depth = len(edge.alerts), edge.outbox.depth()

    await edge.control.hub.apply(door_item("gate", 2, GATE.model_copy(update={"contact_id": None})))

    cleared = edge.alerts[before:]
    assert [(a.device_id, a.kind, a.state) for a in cleared] == [
        ("gate-contact", AlertKind.DOOR_FORCED, AlertState.CLEARED)
    ]
    assert cleared[0].reason is not None
    assert cleared[0].reason.rule == CONTACT_GONE_RULE
    assert edge.outbox.depth() == depth + 1
    assert edge.counts["access.alarms_cleared_contact_removed"] == 1
    state = edge.control.doors["gate"]
    assert state.phase is DoorPhase.CLOSED
    assert state.burst is BurstPhase.RAISED  # the reader's burst is the reader's: it stays
    # Once, and for good: time passes, nothing more; after a reboot the door is still shut.
    await edge.run_for(120, step_s=0.5)
    edge = edge.reboot(tmp_path, edge.now)
    await edge.run_for(60, step_s=0.5)
    assert [a for a in edge.alerts if a.kind is not AlertKind.ACCESS_DENIED_BURST] == []
    assert edge.control.doors["gate"].phase is DoorPhase.CLOSED


async def test_a_replaced_contact_clears_the_old_ones_alarm_and_the_new_one_is_watched(
    tmp_path: Path,
) -> None:
    edge = Edge(tmp_path, enrolment(EDGE, KEY, CARDS, [GATE]))
    await edge.control.on_observations(contact(GATE), OPEN, edge.now)
    await edge.run_for(10, step_s=0.5)
    before = len(edge.alerts)
    new = GATE.model_copy(update={"contact_id": "gate-contact-2"})
    await edge.control.hub.apply(door_item("gate", 2, new))
    assert [(a.device_id, a.kind, a.state) for a in edge.alerts[before:]] == [
        ("gate-contact", AlertKind.DOOR_FORCED, AlertState.CLEARED)
    ]
    # The new contact reports the door open, with no grant: forced, on the new device.
    await edge.control.on_observations(contact(new), OPEN, edge.now)
    await edge.run_for(10, step_s=0.5)
    assert [(a.device_id, a.kind, a.state) for a in edge.alerts[before + 1 :]] == [
        ("gate-contact-2", AlertKind.DOOR_FORCED, AlertState.RAISED)
    ]
    # The old contact's reports no longer move the door.
    shut = (StateUpdate(Readings(contact=True)),)
    await edge.control.on_observations(contact(GATE), shut, edge.now)
    assert edge.control.doors["gate"].phase is DoorPhase.FORCED


async def test_a_change_that_keeps_the_contact_leaves_a_forced_door_forced(tmp_path: Path) -> None:
    edge = Edge(tmp_path, enrolment(EDGE, KEY, CARDS, [GATE]))
    await edge.control.on_observations(contact(GATE), OPEN, edge.now)
    await edge.run_for(10, step_s=0.5)
    before = len(edge.alerts)
    await edge.control.hub.apply(door_item("gate", 2, GATE.model_copy(update={"name": "Gate"})))
    assert len(edge.alerts) == before
    assert edge.control.doors["gate"].phase is DoorPhase.FORCED


def test_an_open_door_losing_its_contact_is_shut_before_its_timers_raise_anything() -> None:
    state, _ = run([Granted(t(0), 5, Direction.ENTRY), ContactChanged(t(1), True)])
    assert state.phase is DoorPhase.OPEN
    result = contact_gone(state, t(2), DOOR.id)
    assert result.alerts == ()
    assert result.state.phase is DoorPhase.CLOSED
    later, steps = run([Tick(t(2 + DOOR.held_open_s * 2))], result.state)
    assert [a for s in steps for a in s.alerts] == []
    assert later.phase is DoorPhase.CLOSED
    # Held open: cleared with its time open, its episode counted.
    held, _ = run([Tick(t(1 + DOOR.held_open_s))], state)
    assert held.phase is DoorPhase.HELD_OPEN
    ((alert,),) = [contact_gone(held, t(200), DOOR.id).alerts]
    assert (alert.kind, alert.state, alert.rule) == (
        AlertKind.DOOR_HELD_OPEN,
        AlertState.CLEARED,
        CONTACT_GONE_RULE,
    )
    assert alert.values["open_s"] == 199.0
