"""The door monitor: one explicit state machine per door, a pure function of (state, event).

Phases (``DoorPhase``)::

    closed ──grant──▶ unlocked ──contact open (grant running)──▶ open ──prewarn_s──▶ prewarned
      │                  │ grant ends: relock                     │                    │ held_open_s
      │                  ▼                                        │ closes             ▼
      │                closed                                     ▼                 held_open
      └──contact open, no grant──▶ opening ──forced_debounce_s──▶ forced     (alarm; clears
                                     │ closes (bounce) / a grant            when the door closes)
                                     ▼ arrives within the debounce: open

A grant covers one passage: closing the door relocks it. Where anti-passback applies and the
door has a contact, a grant counts the person in (or out) only once the door opens during it
(``passing``): a grant nobody walks through counts nothing. The time-driven moves happen in
``step`` at every event's instant and on ``Tick``, so timers are plain timestamps in the state;
the state is persisted, and an agent that restarts after the deadline raises at its first tick.

Denials feed a separate two-phase machine (``BurstPhase``): ``burst_count`` denials within
``burst_window_s`` raise ``access_denied_burst``; a quiet ``burst_window_s`` clears it.

Every alert (raise or clear) takes the next ``episode`` number, so the caller can give it an id
derived from the door and the episode: deciding the same step again after a crash yields the
same alert id, which the outbox stores once.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict

from devices.access import AccessEventKind, DoorConfig, ReaderAction
from devices.kinds import AlertKind, AlertState, Severity
from edge.access.decision import Direction, passback_applies


class DoorPhase(StrEnum):
    """Where a door is in its cycle."""

    CLOSED = "closed"
    UNLOCKED = "unlocked"
    OPENING = "opening"
    OPEN = "open"
    PREWARNED = "prewarned"
    HELD_OPEN = "held_open"
    FORCED = "forced"


OPEN_PHASES = frozenset(
    {DoorPhase.OPENING, DoorPhase.OPEN, DoorPhase.PREWARNED, DoorPhase.HELD_OPEN, DoorPhase.FORCED}
)


class BurstPhase(StrEnum):
    """Whether a burst of denials is being reported at the door's reader."""

    QUIET = "quiet"
    RAISED = "raised"


class DoorState(BaseModel):
    """Everything the monitor remembers about one door (persisted as JSON)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    phase: DoorPhase = DoorPhase.CLOSED
    opened_at: AwareDatetime | None = None
    """When the door opened; set in the open phases."""
    grant_until: AwareDatetime | None = None
    """When the running grant ends; set in ``unlocked``."""
    episode: int = 0
    """Alerts this door has raised or cleared so far (numbers the next alert's id)."""
    logged: int = 0
    """Door events this door has logged so far (numbers the next record's id)."""
    burst: BurstPhase = BurstPhase.QUIET
    denials: tuple[AwareDatetime, ...] = ()
    """Quiet: the denials within the burst window (fewer than ``burst_count``); raised: the
    last denial only (all a raised burst needs, to clear after a quiet window)."""
    inside: frozenset[int] = frozenset()
    """People who entered and have not left (kept only where anti-passback applies:
    ``edge.access.decision.passback_applies``)."""
    passing: tuple[tuple[int, Direction], ...] = ()
    """Granted while the door was shut (anti-passback applying, the door with a contact):
    who goes in or out once the door opens during the grant. Dropped when the grant ends
    unused: someone let in who never walked through is not inside, and is not refused at
    the door the next time."""
    steps: int = 0
    """Steps committed for this door (set by the shell, not by ``step``): of two stored copies
    of the state, the one with more steps is the newer."""


@dataclass(frozen=True, slots=True)
class Granted:
    """A credential was granted at one of the door's readers."""

    at: datetime
    person_id: int
    direction: Direction


@dataclass(frozen=True, slots=True)
class Denied:
    """A credential was denied at one of the door's readers."""

    at: datetime


@dataclass(frozen=True, slots=True)
class ContactChanged:
    """The door contact reported open or closed."""

    at: datetime
    open: bool


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed."""

    at: datetime


DoorEvent = Granted | Denied | ContactChanged | Tick


@dataclass(frozen=True, slots=True)
class DoorAlert:
    """An alert to raise or clear; ``on_reader`` says which device it is about."""

    kind: AlertKind
    state: AlertState
    severity: Severity
    episode: int
    at: datetime
    on_reader: bool = False
    values: dict[str, float | bool | str] = field(default_factory=dict)
    rule: str | None = None
    """The rule that decided it, if not the alert kind itself."""


@dataclass(frozen=True, slots=True)
class DoorNote:
    """A door event for the access log."""

    kind: AccessEventKind
    at: datetime
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class DoorStep:
    """What one event did: the new state, and what the caller must carry out."""

    state: DoorState
    alerts: tuple[DoorAlert, ...] = ()
    notes: tuple[DoorNote, ...] = ()
    commands: tuple[ReaderAction, ...] = ()


SEVERITIES: dict[AlertKind, Severity] = {
    AlertKind.DOOR_FORCED: Severity.HIGH,
    AlertKind.DOOR_HELD_OPEN: Severity.MEDIUM,
    AlertKind.ACCESS_DENIED_BURST: Severity.MEDIUM,
}
"""The severity of each alert the door monitor raises; its clear carries the same one."""


class _Out:
    """Collects a step's outputs and hands out episode numbers."""

    def __init__(self, episode: int, door_id: str) -> None:
        self.episode = episode
        self.door_id = door_id
        self.alerts: list[DoorAlert] = []
        self.notes: list[DoorNote] = []
        self.commands: list[ReaderAction] = []

    def alert(
        self,
        kind: AlertKind,
        state: AlertState,
        at: datetime,
        rule: str | None = None,
        **extra: float | bool | str,
    ) -> None:
        """Raise or clear ``kind`` at this door, with its severity and the next episode."""
        self.episode += 1
        on_reader = kind is AlertKind.ACCESS_DENIED_BURST
        values: dict[str, float | bool | str] = {"door": self.door_id, **extra}
        self.alerts.append(
            DoorAlert(kind, state, SEVERITIES[kind], self.episode, at, on_reader, values, rule)
        )

    def note(self, kind: AccessEventKind, at: datetime, reason: str | None = None) -> None:
        self.notes.append(DoorNote(kind, at, reason))


def step(state: DoorState, event: DoorEvent, door: DoorConfig) -> DoorStep:
    """Apply one event to a door, then every timer due at the event's instant."""
    out = _Out(state.episode, door.id)
    state = _clock_stepped_back(state, event.at, door)
    state = _apply(state, event, door, out)
    state = _expire(state, event.at, door, out)
    if out.alerts or out.notes:
        state = state.model_copy(
            update={"episode": out.episode, "logged": state.logged + len(out.notes)}
        )
    return DoorStep(state, tuple(out.alerts), tuple(out.notes), tuple(out.commands))


REMOVED_RULE = "door_removed"
"""The rule of the clears sent when a door leaves access control (``removed``)."""


def removed(state: DoorState, at: datetime, door_id: str) -> DoorStep:
    """The door left access control (the hub's allow-list no longer has it): clear every
    alarm it holds raised and forget the rest of its state.

    Nothing will step the door any more (no reader, no contact, no timer is fed to it), so an
    alarm left raised would stay raised for ever, at the hub too. The counters stay: a door
    added back under the same id starts closed and quiet, but its alerts and log records
    must not take the ids of the old ones (the outbox and the hub would drop them as
    duplicates).
    """
    out = _Out(state.episode, door_id)
    _clear_open_alarm(state, at, out, REMOVED_RULE)
    if state.burst is BurstPhase.RAISED:
        out.alert(AlertKind.ACCESS_DENIED_BURST, AlertState.CLEARED, at, REMOVED_RULE)
    quiet = DoorState(episode=out.episode, logged=state.logged, steps=state.steps)
    return DoorStep(quiet, tuple(out.alerts))


CONTACT_GONE_RULE = "contact_removed"
"""The rule of the clears sent when a door's contact is taken away or replaced
(``contact_gone``)."""


def contact_gone(state: DoorState, at: datetime, door_id: str) -> DoorStep:
    """The door stays, but the contact that watched it was taken away or replaced: clear its
    ``door_forced`` or ``door_held_open`` (no report of that contact will ever close it) and
    take the door as shut; denials, who is inside and the counters stay.

    An open door left open would also raise ``door_held_open`` on its timers, about a contact
    no longer there. A new contact's first report says how the door stands.
    """
    out = _Out(state.episode, door_id)
    _clear_open_alarm(state, at, out, CONTACT_GONE_RULE)
    if state.phase not in OPEN_PHASES:
        return DoorStep(state)
    shut = state.model_copy(
        update={
            "phase": DoorPhase.CLOSED,
            "opened_at": None,
            "grant_until": None,
            "passing": (),
            "episode": out.episode,
        }
    )
    return DoorStep(shut, tuple(out.alerts))


def _clear_open_alarm(state: DoorState, at: datetime, out: _Out, rule: str) -> None:
    """Clear the door's ``door_forced`` or ``door_held_open``, if raised, by ``rule``."""
    match state.phase:
        case DoorPhase.FORCED:
            out.alert(AlertKind.DOOR_FORCED, AlertState.CLEARED, at, rule)
        case DoorPhase.HELD_OPEN:
            open_s = max(_seconds(state, at), 0.0)
            out.alert(AlertKind.DOOR_HELD_OPEN, AlertState.CLEARED, at, rule, open_s=open_s)
        case _:
            pass


def _clock_stepped_back(state: DoorState, at: datetime, door: DoorConfig) -> DoorState:
    """Take the state's timestamps that lie after ``at`` back to ``at``.

    Events come in the order of the edge's clock, so a timestamp ahead of one means the clock
    stepped back (NTP correcting a clock that ran ahead). Measured from it, every timer would
    wait out the whole step: a door forced or propped open while the clock ran an hour ahead
    raised nothing for an hour, and a raised burst stayed raised as long. Taken back to
    ``at``, the timer restarts: the alarm comes at most one timer late (the time before the
    step is not counted), never a step late. A grant's end is at most ``unlock_s`` away.
    A clock that steps forward needs nothing: its timers run out early, an alarm too soon
    (as after a restart), never one missed.
    """
    changes: dict[str, object] = {}
    if state.opened_at is not None and state.opened_at > at:
        changes["opened_at"] = at
    latest_end = at + timedelta(seconds=door.unlock_s)
    if state.grant_until is not None and state.grant_until > latest_end:
        changes["grant_until"] = latest_end
    if state.denials and state.denials[-1] > at:  # denials are in clock order
        changes["denials"] = tuple(min(d, at) for d in state.denials)
    return state.model_copy(update=changes) if changes else state


def _apply(state: DoorState, event: DoorEvent, door: DoorConfig, out: _Out) -> DoorState:
    match event:
        case Granted(at=at, person_id=person, direction=direction):
            if passback_applies(door):
                passage = (person, direction)
                if door.contact_id is None or state.phase in OPEN_PHASES:
                    # No contact to see the passage, or the door is open already: the grant
                    # is the passage.
                    state = _passed(state, (passage,))
                else:
                    others = tuple(p for p in state.passing if p[0] != person)
                    state = state.model_copy(update={"passing": (*others, passage)})
            elif state.inside or state.passing:
                # Recorded while it applied: an exit reader added later must not lock out
                # whoever entered meanwhile, unseen.
                state = state.model_copy(update={"inside": frozenset(), "passing": ()})
            match state.phase:
                case DoorPhase.CLOSED | DoorPhase.UNLOCKED:
                    until = at + timedelta(seconds=door.unlock_s)
                    return state.model_copy(
                        update={"phase": DoorPhase.UNLOCKED, "grant_until": until}
                    )
                case DoorPhase.OPENING:
                    # The contact beat the decision by a few hundred milliseconds.
                    return state.model_copy(update={"phase": DoorPhase.OPEN})
                case _:
                    return state
        case Denied(at=at):
            if state.burst is BurstPhase.RAISED:
                # Raised, only the last denial matters (a quiet window after it clears the
                # burst, which empties the window): keeping every denial of a long attack
                # would copy a growing tuple at every step and store it at every commit.
                return state.model_copy(update={"denials": (at,)})
            window = timedelta(seconds=door.burst_window_s)
            # Quiet: fewer than burst_count denials in the window, or this one raises.
            denials = (*(d for d in state.denials if at - d < window), at)
            if len(denials) < door.burst_count:
                return state.model_copy(update={"denials": denials})
            out.alert(
                AlertKind.ACCESS_DENIED_BURST,
                AlertState.RAISED,
                at,
                denials=len(denials),
                window_s=door.burst_window_s,
            )
            out.note(AccessEventKind.DENIED_BURST, at, f"{len(denials)} denials")
            return state.model_copy(update={"denials": (at,), "burst": BurstPhase.RAISED})
        case ContactChanged(at=at, open=True):
            match state.phase:
                case DoorPhase.CLOSED:
                    out.note(AccessEventKind.DOOR_OPENED, at, "no_grant")
                    return _opened(state, DoorPhase.OPENING, at)
                case DoorPhase.UNLOCKED:
                    assert state.grant_until is not None
                    if at < state.grant_until:
                        out.note(AccessEventKind.DOOR_OPENED, at, "granted")
                        return _opened(_passed(state, state.passing), DoorPhase.OPEN, at)
                    out.note(AccessEventKind.DOOR_OPENED, at, "no_grant")
                    return _opened(state, DoorPhase.OPENING, at)
                case _:
                    return state  # already open: a repeated report
        case ContactChanged(at=at, open=False):
            match state.phase:
                case DoorPhase.CLOSED | DoorPhase.UNLOCKED:
                    return state
                case DoorPhase.FORCED:
                    out.alert(AlertKind.DOOR_FORCED, AlertState.CLEARED, at)
                case DoorPhase.HELD_OPEN:
                    open_s = _seconds(state, at)
                    out.alert(AlertKind.DOOR_HELD_OPEN, AlertState.CLEARED, at, open_s=open_s)
                case DoorPhase.OPENING | DoorPhase.OPEN | DoorPhase.PREWARNED:
                    pass
            out.note(AccessEventKind.DOOR_CLOSED, at)
            return state.model_copy(
                update={"phase": DoorPhase.CLOSED, "opened_at": None, "grant_until": None}
            )
        case Tick():
            return state
    raise AssertionError(f"unhandled door event {event!r}")  # pragma: no cover


def _opened(state: DoorState, phase: DoorPhase, at: datetime) -> DoorState:
    update = {"phase": phase, "opened_at": at, "grant_until": None, "passing": ()}
    return state.model_copy(update=update)


def _passed(state: DoorState, passages: tuple[tuple[int, Direction], ...]) -> DoorState:
    """Count each person in or out, as they passed; nobody is left passing."""
    inside = set(state.inside)
    for person, direction in passages:
        if direction is Direction.ENTRY:
            inside.add(person)
        else:
            inside.discard(person)
    return state.model_copy(update={"inside": frozenset(inside), "passing": ()})


def _seconds(state: DoorState, at: datetime) -> float:
    assert state.opened_at is not None
    return round((at - state.opened_at).total_seconds(), 3)


def _expire(state: DoorState, at: datetime, door: DoorConfig, out: _Out) -> DoorState:
    """Make every move whose deadline has passed at ``at`` (several, after a long pause)."""
    while True:
        moved = _expire_once(state, at, door, out)
        if moved is None:
            break
        state = moved
    if state.burst is BurstPhase.RAISED and (
        not state.denials or at - state.denials[-1] >= timedelta(seconds=door.burst_window_s)
    ):
        out.alert(AlertKind.ACCESS_DENIED_BURST, AlertState.CLEARED, at)
        state = state.model_copy(update={"burst": BurstPhase.QUIET, "denials": ()})
    return state


def _expire_once(state: DoorState, at: datetime, door: DoorConfig, out: _Out) -> DoorState | None:
    match state.phase:
        case DoorPhase.UNLOCKED:
            assert state.grant_until is not None
            if at >= state.grant_until:
                # Nobody walked through: the grant counts nobody in or out.
                update = {"phase": DoorPhase.CLOSED, "grant_until": None, "passing": ()}
                return state.model_copy(update=update)
        case DoorPhase.OPENING:
            if _seconds(state, at) >= door.forced_debounce_s:
                out.alert(AlertKind.DOOR_FORCED, AlertState.RAISED, at, open_s=_seconds(state, at))
                out.note(AccessEventKind.DOOR_FORCED, at)
                return state.model_copy(update={"phase": DoorPhase.FORCED})
        case DoorPhase.OPEN:
            if _seconds(state, at) >= door.prewarn_s:
                out.commands.append(ReaderAction.WARN)
                out.note(AccessEventKind.HELD_OPEN_WARNING, at, f"open {door.prewarn_s:g} s")
                return state.model_copy(update={"phase": DoorPhase.PREWARNED})
        case DoorPhase.PREWARNED:
            if _seconds(state, at) >= door.held_open_s:
                out.alert(
                    AlertKind.DOOR_HELD_OPEN,
                    AlertState.RAISED,
                    at,
                    open_s=_seconds(state, at),
                    limit_s=door.held_open_s,
                )
                out.note(AccessEventKind.DOOR_HELD_OPEN, at)
                return state.model_copy(update={"phase": DoorPhase.HELD_OPEN})
        case DoorPhase.CLOSED | DoorPhase.HELD_OPEN | DoorPhase.FORCED:
            pass
    return None
