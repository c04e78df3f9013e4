"""The SOS button: which gestures call for help, the cancel gesture, uncommanded presses.

A resident's press is forwarded at once, always: nothing here ever delays or suppresses an
SOS. What this module adds around a press:

- **Which gestures raise** (``raise_on``): press, double press, long press by default; a site
  may keep a button's single press for something else.
- **An optional cancel gesture** (``cancel_on`` within ``cancel_window_s`` of the raising
  press, e.g. a second press within 10 s): it is reported as a *cleared* ``sos`` alert that
  joins the open case as evidence. The case stays open for an operator: a panicking resident
  who presses twice must never make an SOS vanish. A press after the window is a new SOS.
- **Suspected uncommanded presses**: Zigbee SOS buttons are known to send ``emergency`` by
  themselves (Koenkk/zigbee2mqtt#31821, Tuya TS0601_sos: false ``action=emergency`` with
  nobody pressing; #31727: ``emergency`` five seconds after a ``device_announce``, i.e. after
  the device re-joined or got a new battery). Such a press is still raised, and marked with
  the rule that matched: within ``rejoin_window_s`` after the device announced itself or came
  back online, or the ``periodic_repeats``-th press at intervals equal within
  ``periodic_tolerance_s`` (a firmware timer, not a hand).

Pure: ``transition(state, event, settings)`` returns the next state and a verdict.
"""

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from itertools import pairwise

from devices.payloads import ButtonEvent

DEFAULT_RAISE_ON = frozenset({ButtonEvent.PRESS, ButtonEvent.DOUBLE_PRESS, ButtonEvent.LONG_PRESS})
"""A double press is still a resident asking for help: a lost SOS is worse than a duplicate."""

RULE_AFTER_REJOIN = "after-rejoin"
RULE_PERIODIC = "periodic"
RULE_CANCELLED = "sos-cancelled"


@dataclass(frozen=True, slots=True)
class SosSettings:
    """An SOS button's gesture rules (defaults: every press raises, no cancel gesture)."""

    raise_on: frozenset[str] = DEFAULT_RAISE_ON
    cancel_on: frozenset[str] = frozenset()
    cancel_window_s: float = 10.0
    rejoin_window_s: float = 60.0
    periodic_repeats: int = 3
    periodic_tolerance_s: float = 2.0
    periodic_min_interval_s: float = 60.0

    def __post_init__(self) -> None:
        if not self.raise_on:
            raise ValueError("raise_on must name at least one event")
        if self.periodic_repeats < 3:
            raise ValueError("periodic_repeats must be at least 3 (two equal intervals)")


class SosPhase(StrEnum):
    """Whether the last raised SOS can still be cancelled by the cancel gesture."""

    IDLE = "idle"
    CANCELLABLE = "cancellable"


@dataclass(frozen=True, slots=True)
class SosState:
    """What one button's SOS rules remember (persisted with the device's state)."""

    phase: SosPhase = SosPhase.IDLE
    raised_at: datetime | None = None
    """Event time of the press that may still be cancelled (set only while CANCELLABLE)."""
    presses: tuple[datetime, ...] = ()
    """Event times of the latest raising presses, for the periodic rule."""
    rejoined_at: datetime | None = None
    """When the device last announced itself or came back online."""

    def __post_init__(self) -> None:
        if (self.phase is SosPhase.CANCELLABLE) != (self.raised_at is not None):
            raise ValueError("raised_at is set exactly while the SOS is cancellable")


@dataclass(frozen=True, slots=True)
class ButtonPressed:
    """The button sent a gesture (``press``, ``double_press``, ``long_press``)."""

    event: str
    at: datetime


@dataclass(frozen=True, slots=True)
class DeviceRejoined:
    """The device announced itself on the network or came back online."""

    at: datetime


SosEvent = ButtonPressed | DeviceRejoined


@dataclass(frozen=True, slots=True)
class RaiseSos:
    """Raise an SOS now; ``suspected`` names the uncommanded rule that matched, if one did."""

    suspected: str | None = None
    details: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CancelSos:
    """The resident cancelled the SOS raised at ``raised_at``: record it, keep the case."""

    raised_at: datetime
    after_s: float


SosVerdict = RaiseSos | CancelSos


def transition(
    state: SosState, event: SosEvent, settings: SosSettings
) -> tuple[SosState, SosVerdict | None]:
    """Return the button's next state and what the event means (None: nothing)."""
    match event, state.phase:
        case DeviceRejoined(at), _:
            return replace(state, rejoined_at=at), None
        case ButtonPressed(gesture, at), SosPhase.CANCELLABLE if (
            gesture in settings.cancel_on and _within_window(state, at, settings)
        ):
            assert state.raised_at is not None
            after_s = (at - state.raised_at).total_seconds()
            cancelled = CancelSos(state.raised_at, after_s)
            return replace(state, phase=SosPhase.IDLE, raised_at=None), cancelled
        case ButtonPressed(gesture, at), _ if gesture in settings.raise_on:
            suspected, details = _uncommanded(state, at, settings)
            presses = (*state.presses, at)[-settings.periodic_repeats :]
            if settings.cancel_on:
                next_state = replace(
                    state, phase=SosPhase.CANCELLABLE, raised_at=at, presses=presses
                )
            else:
                next_state = replace(state, phase=SosPhase.IDLE, raised_at=None, presses=presses)
            return next_state, RaiseSos(suspected, details)
        case ButtonPressed(), _:
            return state, None
    raise AssertionError(f"unhandled SOS event {event!r}")  # pragma: no cover


def _within_window(state: SosState, at: datetime, settings: SosSettings) -> bool:
    if state.raised_at is None:
        return False
    after_s = (at - state.raised_at).total_seconds()
    return 0 <= after_s <= settings.cancel_window_s


def _uncommanded(
    state: SosState, at: datetime, settings: SosSettings
) -> tuple[str | None, dict[str, float]]:
    if state.rejoined_at is not None and settings.rejoin_window_s > 0:
        since = (at - state.rejoined_at).total_seconds()
        if 0 <= since <= settings.rejoin_window_s:
            return RULE_AFTER_REJOIN, {
                "seconds_after_rejoin": round(since, 1),
                "rejoin_window_s": settings.rejoin_window_s,
            }
    times = (*state.presses, at)[-settings.periodic_repeats :]
    if len(times) == settings.periodic_repeats:
        intervals = [(b - a).total_seconds() for a, b in pairwise(times)]
        if (
            min(intervals) >= settings.periodic_min_interval_s
            and max(intervals) - min(intervals) <= settings.periodic_tolerance_s
        ):
            return RULE_PERIODIC, {
                "period_s": round(sum(intervals) / len(intervals), 1),
                "repeats": float(settings.periodic_repeats),
            }
    return None, {}
