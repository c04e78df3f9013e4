"""Reassembling a chunked allow-list update: pure, in plain values and simulated time."""

from collections.abc import Sequence

from devices.access import (
    AccessItem,
    AccessListUpdate,
    AllowEntry,
    CredentialKind,
    credential_hash,
    split_update,
)
from edge.access.chunks import (
    IDLE,
    Apply,
    AskAgain,
    Assembly,
    AssemblyPhase,
    ChunkCommand,
    ChunkEvent,
    PartArrived,
    Wait,
    assemble,
)

KEY = bytes(range(32))
TIMEOUT = 5.0
HELD = 0
"""The version the edge holds while it waits for the snapshot."""


def update(credentials: int = 60, to_version: int = 9, full: bool = True) -> AccessListUpdate:
    items = [
        AccessItem(
            key=f"cred:{n}",
            version=to_version,
            body=AllowEntry(
                credential_id=n,
                person_id=n,
                kind=CredentialKind.PIN,
                hash=credential_hash(KEY, CredentialKind.PIN, f"{n:06d}"),
            ),
        )
        for n in range(credentials)
    ]
    return AccessListUpdate(
        edge_id="e1",
        from_version=0 if full else to_version - 1,
        to_version=to_version,
        full=full,
        items=items,
    )


def chunks(whole: AccessListUpdate) -> list[AccessListUpdate]:
    parts = split_update(whole, 4096)
    assert len(parts) >= 4
    return parts


def feed(
    events: Sequence[ChunkEvent], state: Assembly = IDLE
) -> tuple[Assembly, list[ChunkCommand]]:
    done: list[ChunkCommand] = []
    for event in events:
        state, commands = assemble(state, event, timeout_s=TIMEOUT)
        done.extend(commands)
    return state, done


def test_all_chunks_in_order_make_one_apply_of_the_whole_update() -> None:
    whole = update()
    state, commands = feed([PartArrived(c, float(i), HELD) for i, c in enumerate(chunks(whole))])
    assert commands == [Apply(whole)]
    assert state.phase is AssemblyPhase.IDLE


def test_a_single_part_update_applies_at_once_and_leaves_a_collection_alone() -> None:
    parts = chunks(update())
    small = update(credentials=1, to_version=10, full=False)
    state, commands = feed([PartArrived(parts[0], 0.0, HELD), PartArrived(small, 0.1, HELD)])
    assert commands == [Apply(small)]
    assert state.phase is AssemblyPhase.COLLECTING
    assert set(state.parts) == {0}


def test_a_lost_chunk_asks_again_at_the_next_one_and_a_resend_completes_it() -> None:
    whole = update()
    parts = chunks(whole)
    lost = 1
    first_pass = [PartArrived(c, 1.0 + i, HELD) for i, c in enumerate(parts) if i != lost]
    state, commands = feed(first_pass)
    # Asked once (at the chunk after the hole, with the rest not yet in), nothing applied.
    assert commands == [AskAgain("gap", len(parts) - 2)]
    assert state.phase is AssemblyPhase.COLLECTING
    assert lost not in state.parts
    # The hub sends the whole update again: duplicates are ignored, the hole is filled.
    resend = [PartArrived(c, 20.0 + i, HELD) for i, c in enumerate(parts[: lost + 1])]
    state, commands = feed(resend, state)
    assert commands == [Apply(whole)]
    assert state == IDLE
    # The rest of the re-send reaches an edge that holds the update now: ignored, for good.
    held = whole.to_version
    tail = [PartArrived(c, 30.0, held) for c in parts[lost + 1 :]]
    state, commands = feed([*tail, Wait(1e6, held)], state)
    assert (state, commands) == (IDLE, [])


def test_a_collection_overtaken_by_a_newer_version_is_dropped_at_the_next_tick() -> None:
    parts = chunks(update(to_version=9))
    state, _ = feed([PartArrived(parts[0], 0.0, 0)])
    assert state.phase is AssemblyPhase.COLLECTING
    # Meanwhile the edge came to hold version 9 another way (a re-send that arrived whole).
    assert feed([Wait(100.0, 9)], state) == (IDLE, [])
    assert feed([PartArrived(parts[1], 100.0, 9)]) == (IDLE, [])
    # A delta that ends at or below the version held is stale too.
    delta = chunks(update(to_version=12, full=False))
    assert feed([PartArrived(delta[2], 0.0, 12)]) == (IDLE, [])


def test_a_lost_last_chunk_asks_again_after_the_timeout_and_again_later() -> None:
    parts = chunks(update())
    state, commands = feed([PartArrived(c, 100.0, HELD) for c in parts[:-1]])
    assert commands == []
    state, commands = feed([Wait(100.0 + TIMEOUT - 0.1, HELD)], state)
    assert commands == []
    state, commands = feed([Wait(100.0 + TIMEOUT, HELD)], state)
    assert commands == [AskAgain("timeout", 1)]
    state, commands = feed([Wait(100.0 + TIMEOUT + 1, HELD)], state)
    assert commands == []
    state, commands = feed([Wait(100.0 + 2 * TIMEOUT, HELD)], state)
    assert commands == [AskAgain("timeout", 1)]


def test_duplicates_change_nothing_and_an_idle_assembly_never_times_out() -> None:
    parts = chunks(update())
    state, _ = feed([PartArrived(parts[0], 0.0, HELD)])
    again, commands = feed([PartArrived(parts[0], 3.0, HELD)], state)
    assert (again, commands) == (state, [])
    assert feed([Wait(1e9, HELD)]) == (IDLE, [])


def test_a_chunk_of_a_newer_update_replaces_the_collection() -> None:
    old = chunks(update(to_version=9))
    new_whole = update(to_version=12)
    new = chunks(new_whole)
    state, commands = feed([PartArrived(old[0], 0.0, HELD), PartArrived(old[1], 0.1, HELD)])
    state, commands = feed([PartArrived(c, 1.0, HELD) for c in new], state)
    assert commands == [Apply(new_whole)]
    # Nothing of the old update leaks into the new one.
    (apply,) = commands
    assert isinstance(apply, Apply)
    assert {i.version for i in apply.update.items} == {12}


def test_a_gap_asks_at_most_once_per_timeout() -> None:
    parts = chunks(update(credentials=120))
    events: list[ChunkEvent] = [PartArrived(parts[0], 0.0, HELD)]
    events += [PartArrived(c, 0.1 * i, HELD) for i, c in enumerate(parts[2:], start=2)]
    state, commands = feed(events)
    assert commands == [AskAgain("gap", len(parts) - 2)]
    assert len(state.parts) == len(parts) - 1
