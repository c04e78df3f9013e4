"""Anti-passback at a door without an exit reader (review defect).

Anti-passback refuses a second entry until the person has left through the door's exit
reader. A door with anti-passback on and no exit reader had no way to record a leaving: each
person was let in once, then refused as ``anti_passback`` at that door for ever (the set of
people inside is part of the door's stored state, so a restart did not help either), and the
hub accepted the configuration without a word. Now the edge applies anti-passback only at a
door that has an exit reader, and the hub refuses the configuration (``tests/hub/
test_access_passback.py``).
"""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from devices.access import AccessRule, AllowEntry, CredentialKind, DoorConfig
from edge.access.decision import Direction, Verdict, decide
from edge.access.door import DoorState, Granted, step
from simulators.doors import enrolment
from tests.edge.test_access_review import CARDS, EDGE, KEY, Edge

NOW = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)
NO_EXIT = DoorConfig(id="gate", reader_id="gate-reader", anti_passback=True)
WITH_EXIT = NO_EXIT.model_copy(update={"exit_reader_id": "gate-exit"})
CARD = AllowEntry(
    credential_id=11,
    person_id=5,
    kind=CredentialKind.CARD,
    hash="0" * 64,
    rules=(AccessRule(doors=frozenset({"gate"})),),
)


def test_a_door_without_an_exit_reader_lets_a_resident_in_again() -> None:
    state = step(DoorState(), Granted(NOW, 5, Direction.ENTRY), NO_EXIT).state
    assert state.inside == frozenset()  # {5} before: nobody could ever take them out
    later = NOW + timedelta(days=1)
    again = decide(CARD, NO_EXIT, Direction.ENTRY, later, None, state.inside)
    assert again.verdict is Verdict.GRANTED
    # A list stored before (people inside already) locks nobody out either.
    stored = decide(CARD, NO_EXIT, Direction.ENTRY, later, None, frozenset({5}))
    assert stored.verdict is Verdict.GRANTED  # anti_passback before


def test_people_recorded_inside_are_forgotten_where_anti_passback_does_not_apply() -> None:
    # An exit reader added later must not lock out whoever entered while it had none.
    stale = DoorState(inside=frozenset({5, 6}))
    state = step(stale, Granted(NOW, 7, Direction.ENTRY), NO_EXIT).state
    assert state.inside == frozenset()
    assert decide(CARD, WITH_EXIT, Direction.ENTRY, NOW, None, state.inside).granted


def test_with_an_exit_reader_anti_passback_is_unchanged() -> None:
    state = step(DoorState(), Granted(NOW, 5, Direction.ENTRY), WITH_EXIT).state
    assert state.inside == frozenset({5})
    assert decide(CARD, WITH_EXIT, Direction.ENTRY, NOW, None, state.inside).verdict is (
        Verdict.ANTI_PASSBACK
    )
    assert decide(CARD, WITH_EXIT, Direction.EXIT, NOW, None, state.inside).granted
    state = step(state, Granted(NOW, 5, Direction.EXIT), WITH_EXIT).state
    assert decide(CARD, WITH_EXIT, Direction.ENTRY, NOW, None, state.inside).granted


async def test_the_edge_opens_the_door_for_the_same_card_twice_across_a_restart(
    tmp_path: Path,
) -> None:
    """Through the edge's access control and its SQLite store."""
    edge = Edge(tmp_path, enrolment(EDGE, KEY, CARDS, [NO_EXIT]))
    assert await edge.present(CARDS[0]) is Verdict.GRANTED
    await edge.run_for(60)
    assert await edge.present(CARDS[0]) is Verdict.GRANTED  # anti_passback before
    rebooted = edge.reboot(tmp_path, edge.now)
    assert await rebooted.present(CARDS[0]) is Verdict.GRANTED
