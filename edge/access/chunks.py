"""Reassembling an allow-list update that the hub sent in chunks (pure: no I/O, no clock).

The hub splits a large update (a snapshot of 10,000 credentials is ~2.8 MB, the broker takes
packets of at most 1 MiB) into ``parts`` chunks (``devices.access.split_update``). The edge
collects the chunks of one update, and only when it holds all of them hands the joined update
to the store, which applies it in one transaction: a lost chunk can delay an update, never
half-apply it.

States: ``idle`` (nothing collected) and ``collecting`` (some chunks of one update held).
Events: ``PartArrived`` (a chunk, at a monotonic time) and ``Wait`` (the timer). Commands:
``Apply`` (a whole update, joined) and ``AskAgain`` (send a sync request: the hub answers with
the update again, from its first chunk). A chunk that arrives after a missing one (a gap) asks
at once; a collection with no new chunk for ``timeout_s`` (the last chunk lost) asks then, and
again after every further ``timeout_s``. Chunks already held are kept across a re-request (the
hub sends the same chunks for the same versions), so a re-send fills the holes. A chunk of
another update replaces the collection: the hub has moved on.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from devices.access import AccessListUpdate, join_parts


class AssemblyPhase(StrEnum):
    """Whether chunks of an update are being collected."""

    IDLE = "idle"
    COLLECTING = "collecting"


@dataclass(frozen=True, slots=True)
class Assembly:
    """The chunks held of one update, and when the last new one came."""

    phase: AssemblyPhase = AssemblyPhase.IDLE
    parts: Mapping[int, AccessListUpdate] = field(default_factory=dict)
    progress_at: float = 0.0
    """Monotonic time of the last new chunk, or of the last re-request."""
    asked_at: float | None = None
    """Monotonic time of the last re-request for this collection."""


@dataclass(frozen=True, slots=True)
class PartArrived:
    """A chunk (or a whole, single-part update) arrived from the hub; ``held``: the version
    the edge holds."""

    update: AccessListUpdate
    at: float
    held: int


@dataclass(frozen=True, slots=True)
class Wait:
    """The timer: time passed with no chunk; ``held``: the version the edge holds."""

    now: float
    held: int


ChunkEvent = PartArrived | Wait


@dataclass(frozen=True, slots=True)
class Apply:
    """Apply this whole update (every chunk arrived)."""

    update: AccessListUpdate


@dataclass(frozen=True, slots=True)
class AskAgain:
    """Ask the hub for the update again: a chunk is missing (``gap``) or late (``timeout``)."""

    reason: str
    missing: int
    """Chunks of the update not held yet."""


ChunkCommand = Apply | AskAgain

IDLE = Assembly()


def assemble(
    state: Assembly, event: ChunkEvent, *, timeout_s: float
) -> tuple[Assembly, list[ChunkCommand]]:
    """Return the assembly after ``event`` and what the edge must do about it."""
    match event:
        case PartArrived(update=update) if update.parts == 1:
            # A whole update (the store judges it); a collection under way stays.
            return state, [Apply(update)]
        case PartArrived(update=update, held=held) if is_stale(update, held):
            # The tail of a re-send, or an update overtaken: collecting it would wait forever.
            return state, []
        case PartArrived(update=update, at=at):
            return _collect(state, update, at, timeout_s)
        case Wait(now=now, held=held):
            if state.phase is AssemblyPhase.IDLE:
                return state, []
            if is_stale(next(iter(state.parts.values())), held):
                return IDLE, []
            if now - state.progress_at < timeout_s:
                return state, []
            missing = _missing(state)
            late = Assembly(AssemblyPhase.COLLECTING, state.parts, progress_at=now, asked_at=now)
            return late, [AskAgain("timeout", missing)]
    raise AssertionError(f"unhandled chunk event {event!r}")  # pragma: no cover


def is_stale(update: AccessListUpdate, held: int) -> bool:
    """Return whether an update brings nothing to an edge holding version ``held``.

    The same rule as the store's: a delta ending at or below the version held; a snapshot of
    the version held; or a snapshot of a lower version that does not answer the version held
    (``from_version``). A lower snapshot is applied only as the hub's answer to an edge
    holding a version it never issued (its database was restored), which names that version:
    any other is an old answer delivered late or again (a re-send, a second hub worker), and
    applying it would bring back what was revoked since.
    """
    if update.full:
        if held == 0 or update.to_version > held:
            return False
        return update.to_version == held or update.from_version != held
    return update.to_version <= held


def _collect(
    state: Assembly, update: AccessListUpdate, at: float, timeout_s: float
) -> tuple[Assembly, list[ChunkCommand]]:
    same = state.phase is AssemblyPhase.COLLECTING and (
        next(iter(state.parts.values())).chunk_set == update.chunk_set
    )
    if same and update.part in state.parts:
        return state, []  # a duplicate (QoS 1 redelivery, or a re-send of a chunk held)
    parts = {**state.parts, update.part: update} if same else {update.part: update}
    asked_at = state.asked_at if same else None
    if len(parts) == update.parts:
        return IDLE, [Apply(join_parts(list(parts.values())))]
    collecting = Assembly(AssemblyPhase.COLLECTING, parts, progress_at=at, asked_at=asked_at)
    gap = any(index not in parts for index in range(update.part))
    recently_asked = asked_at is not None and at - asked_at < timeout_s
    if not gap or recently_asked:
        return collecting, []
    asked = Assembly(AssemblyPhase.COLLECTING, parts, progress_at=at, asked_at=at)
    return asked, [AskAgain("gap", _missing(asked))]


def _missing(state: Assembly) -> int:
    if not state.parts:
        return 0
    total = next(iter(state.parts.values())).parts
    return total - len(state.parts)
