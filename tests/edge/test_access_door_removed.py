"""A door taken out of access control while its alarm stands (review gap).

A door removed at the hub (its ``DoorConfig`` gone from the edge's allow-list) while its
``door_forced``, ``door_held_open`` or ``access_denied_burst`` was raised kept that alert raised
for ever: nothing steps a door the allow-list no longer has, so the hub's case stayed open, and
the same door id added back later started from the stored "raised" state. Now the update that
takes the door away clears each of its raised alerts through the outbox (rule
``door_removed``), counts and logs it, and forgets the door's state but not its counters.
"""

from pathlib import Path

from devices.access import AccessItem, AccessListUpdate, DoorConfig, door_key
from devices.kinds import AlertKind, AlertState, DeviceKind
from devices.observations import StateUpdate
from devices.payloads import Readings
from devices.registry import Device
from edge.access.decision import Direction
from edge.access.door import (
    REMOVED_RULE,
    BurstPhase,
    ContactChanged,
    DoorEvent,
    DoorPhase,
    DoorState,
    Granted,
    Tick,
    removed,
)
from edge.access.store import UpdateOutcome
from simulators.doors import enrolment
from tests.edge.test_access_door import DOOR, run, t
from tests.edge.test_access_review import CARDS, EDGE, GATE, KEY, Edge

LOBBY = DoorConfig(id="lobby", reader_id="lobby-reader", contact_id="lobby-contact")
OPEN = (StateUpdate(Readings(contact=False)),)  # contact false: open


def door_item(door_id: str, version: int, body: DoorConfig | None) -> AccessListUpdate:
    item = AccessItem(key=door_key(door_id), version=version, body=body)
    return AccessListUpdate(
        edge_id=EDGE, from_version=version - 1, to_version=version, items=[item]
    )


def contact(door: DoorConfig) -> Device:
    assert door.contact_id is not None
    return Device(id=door.contact_id, kind=DeviceKind.DOOR_CONTACT, location=door.id)


async def forced_and_burst(edge: Edge) -> None:
    """Force both doors open and raise a denial burst at the gate."""
    for door in (GATE, LOBBY):
        await edge.control.on_observations(contact(door), OPEN, edge.now)
    for _ in range(GATE.burst_count):
        await edge.present("FFFF")  # unknown: denied
    await edge.run_for(10, step_s=0.5)
    raised = sorted((a.device_id, a.kind, a.state) for a in edge.alerts)
    assert raised == [
        ("gate-contact", AlertKind.DOOR_FORCED, AlertState.RAISED),
        ("gate-reader", AlertKind.ACCESS_DENIED_BURST, AlertState.RAISED),
        ("lobby-contact", AlertKind.DOOR_FORCED, AlertState.RAISED),
    ]


async def test_removing_a_door_clears_its_raised_alarms_and_leaves_other_doors_alone(
    tmp_path: Path,
) -> None:
    edge = Edge(tmp_path, enrolment(EDGE, KEY, CARDS, [GATE, LOBBY]))
    await forced_and_burst(edge)
    before, depth = len(edge.alerts), edge.outbox.depth()

    outcome = await edge.control.hub.apply(door_item("gate", 2, None))

    assert outcome is UpdateOutcome.APPLIED
    cleared = edge.alerts[before:]
    assert sorted((a.device_id, a.kind, a.state) for a in cleared) == [
        ("gate-contact", AlertKind.DOOR_FORCED, AlertState.CLEARED),
        ("gate-reader", AlertKind.ACCESS_DENIED_BURST, AlertState.CLEARED),
    ]
    assert {a.reason.rule for a in cleared if a.reason} == {"door_removed"}
    assert all(a.severity is not None for a in cleared)
    assert edge.outbox.depth() == depth + 2  # stored to go to the hub like any other
    assert edge.counts["access.alarms_cleared_door_removed"] == 2
    # Once: more time and another update clear nothing more; the lobby stays forced.
    await edge.run_for(60, step_s=0.5)
    await edge.control.hub.apply(door_item("lobby", 3, LOBBY.model_copy(update={"name": "L"})))
    assert len(edge.alerts) == before + 2
    assert edge.counts["access.alarms_cleared_door_removed"] == 2
    assert edge.control.doors["lobby"].phase is DoorPhase.FORCED


async def test_a_removed_door_added_back_starts_closed_and_quiet_with_new_alert_ids(
    tmp_path: Path,
) -> None:
    edge = Edge(tmp_path, enrolment(EDGE, KEY, CARDS, [GATE, LOBBY]))
    await forced_and_burst(edge)
    await edge.control.hub.apply(door_item("gate", 2, None))
    await edge.control.hub.apply(door_item("gate", 3, GATE))
    old_ids = {alert.id for alert in edge.alerts}
    # After a reboot too: the stored state is the forgotten one.
    edge = edge.reboot(tmp_path, edge.now)
    state = edge.control.doors["gate"]
    assert state.phase is DoorPhase.CLOSED
    assert state.burst is BurstPhase.QUIET
    assert state.episode == 4  # raised 2, cleared 2: the next alert takes a new id
    await edge.control.on_observations(contact(GATE), OPEN, edge.now)
    await edge.run_for(10, step_s=0.5)
    assert [(a.kind, a.state) for a in edge.alerts] == [(AlertKind.DOOR_FORCED, AlertState.RAISED)]
    assert edge.alerts[0].id not in old_ids


def test_a_held_open_door_removed_is_cleared_and_a_quiet_one_has_nothing_to_forget() -> None:
    opened: list[DoorEvent] = [Granted(t(0), 5, Direction.ENTRY), ContactChanged(t(1), True)]
    state, _ = run([*opened, Tick(t(1 + DOOR.held_open_s))])
    assert state.phase is DoorPhase.HELD_OPEN
    result = removed(state, t(200), DOOR.id)
    ((kind, cleared, rule, values),) = [(a.kind, a.state, a.rule, a.values) for a in result.alerts]
    assert (kind, cleared, rule) == (AlertKind.DOOR_HELD_OPEN, AlertState.CLEARED, REMOVED_RULE)
    assert values == {"door": DOOR.id, "open_s": 199.0}
    assert result.state == DoorState(episode=state.episode + 1, logged=state.logged)
    # Closed and quiet: nothing to clear, nothing changes (so nothing is stored).
    closed, _ = run([Granted(t(0), 5, Direction.ENTRY), Tick(t(30))])
    assert removed(closed, t(40), DOOR.id).alerts == ()
