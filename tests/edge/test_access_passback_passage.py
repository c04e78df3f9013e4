"""Anti-passback counts the passage, not the grant (review gap).

A door with anti-passback counted a person inside at the grant. Someone let in who did not walk
through (they turned back, the door stuck, a neighbour opened it for them from inside and the
card was presented anyway) was inside for the edge, and refused as ``anti_passback`` at that
door until they badged out through a door they never came in by: a resident locked out of
their own building. Where the door has a contact, a grant now counts the person in (or out)
only once the door opens during the grant; a grant that ends unused counts nothing. A door
without a contact, or one already open, counts the grant as before.
"""

import json
from pathlib import Path

from devices.kinds import DeviceKind
from devices.observations import StateUpdate
from devices.payloads import Readings
from devices.registry import Device
from edge.access.decision import Direction, Verdict
from edge.access.door import ContactChanged, DoorPhase, DoorState, Granted, Tick
from simulators.doors import enrolment
from tests.edge.test_access_door import DOOR, run, t
from tests.edge.test_access_review import CARDS, EDGE, GATE, KEY, Edge

PASSBACK = DOOR.model_copy(update={"anti_passback": True, "exit_reader_id": "gate-exit"})
NO_CONTACT = PASSBACK.model_copy(update={"contact_id": None})
IN, OUT = Direction.ENTRY, Direction.EXIT


def test_a_grant_nobody_walks_through_counts_nobody_in() -> None:
    state, _ = run([Granted(t(0), 5, IN), Tick(t(PASSBACK.unlock_s))], door=PASSBACK)
    assert state.phase is DoorPhase.CLOSED
    assert (state.inside, state.passing) == (frozenset(), ())


def test_the_door_opening_during_the_grant_counts_the_person_in_then_out() -> None:
    state, _ = run([Granted(t(0), 5, IN)], door=PASSBACK)
    assert state.inside == frozenset()  # not yet: nobody has passed
    state, _ = run(
        [ContactChanged(t(1), open=True), ContactChanged(t(3), open=False)], state, PASSBACK
    )
    assert (state.inside, state.passing) == (frozenset({5}), ())
    state, _ = run(
        [
            Granted(t(60), 5, OUT),
            ContactChanged(t(61), open=True),
            ContactChanged(t(63), open=False),
        ],
        state,
        PASSBACK,
    )
    assert state.inside == frozenset()


def test_two_people_let_in_on_one_opening_are_both_inside() -> None:
    state, _ = run(
        [Granted(t(0), 5, IN), Granted(t(1), 6, IN), ContactChanged(t(2), open=True)],
        door=PASSBACK,
    )
    assert state.inside == frozenset({5, 6})


def test_a_door_opened_only_after_the_grant_ended_counts_nobody() -> None:
    # The grant ran out; the opening is a forced one, not this person's passage.
    state, _ = run(
        [Granted(t(0), 5, IN), ContactChanged(t(PASSBACK.unlock_s + 1), open=True)], door=PASSBACK
    )
    assert state.phase is DoorPhase.OPENING
    assert (state.inside, state.passing) == (frozenset(), ())


def test_a_grant_while_the_door_is_open_or_without_a_contact_counts_at_once() -> None:
    opened, _ = run([Granted(t(0), 5, IN), ContactChanged(t(1), open=True)], door=PASSBACK)
    state, _ = run([Granted(t(2), 6, IN)], opened, PASSBACK)
    assert state.inside == frozenset({5, 6})
    state, _ = run([Granted(t(0), 5, IN)], door=NO_CONTACT)
    assert state.inside == frozenset({5})


def test_a_stored_state_from_before_loads_with_nobody_passing() -> None:
    old = '{"phase": "closed", "inside": [5], "steps": 3}'
    state = DoorState.model_validate_json(old)
    assert (state.inside, state.passing) == (frozenset({5}), ())
    again = DoorState.model_validate_json(DoorState(passing=((6, IN),)).model_dump_json())
    assert again.passing == ((6, IN),)


async def test_a_resident_let_in_who_turned_back_is_let_in_again_after_a_restart(
    tmp_path: Path,
) -> None:
    """Through the edge's access control and its SQLite stores."""
    door = GATE.model_copy(update={"anti_passback": True, "exit_reader_id": "gate-exit"})
    edge = Edge(tmp_path, enrolment(EDGE, KEY, CARDS, [door]))
    assert await edge.present(CARDS[0]) is Verdict.GRANTED
    await edge.run_for(60)  # nobody opened the door; the grant ran out
    edge = edge.reboot(tmp_path, edge.now)
    assert await edge.present(CARDS[0]) is Verdict.GRANTED  # anti_passback before
    # This time they walk through: the second entry is refused until they leave.
    assert door.contact_id is not None
    contact = Device(id=door.contact_id, kind=DeviceKind.DOOR_CONTACT, location=door.id)
    opened = (StateUpdate(Readings(contact=False)),)  # contact false: open
    await edge.control.on_observations(contact, opened, edge.now)
    await edge.run_for(60)
    assert await edge.present(CARDS[0]) is Verdict.ANTI_PASSBACK
    raw = json.dumps({"card": CARDS[0]}).encode()
    left = await edge.control.on_frame("gate-exit", "linli/dev/gate-exit/credential", raw)
    assert left is not None
    assert left.verdict is Verdict.GRANTED
