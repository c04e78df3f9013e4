"""Alert semantics for camera cues: raise, clear, dedup and cooldown, as one state machine.

Every watched (alert kind, zone) of a camera has a ``RuleState``. ``step`` takes whether the
cue is seen in this frame and returns the new state and, at most, one transition:

- ``idle`` → ``pending`` when the cue appears;
- ``pending`` → ``raised`` (emit RAISE) once the cue has lasted ``raise_after_s`` and the
  cooldown since the last clear is over; back to ``idle`` if it is gone ``clear_after_s``;
- ``raised`` stays raised while the cue is seen (a person standing still, a parked car: one
  alert, not one per frame); → ``idle`` (emit CLEAR) once it has been gone ``clear_after_s``.

Time is the frame's timestamp: no clock here.
"""

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from devices.camera import CameraConfig
from devices.kinds import AlertKind, Severity


class Phase(StrEnum):
    """Where one rule is."""

    IDLE = "idle"
    PENDING = "pending"
    RAISED = "raised"


class Transition(StrEnum):
    """What a step asks the caller to emit."""

    RAISE = "raise"
    CLEAR = "clear"


@dataclass(frozen=True, slots=True)
class RuleParams:
    """How long a cue must last to raise, be gone to clear, and the pause after a clear."""

    raise_after_s: float
    clear_after_s: float
    cooldown_s: float


@dataclass(frozen=True, slots=True)
class RuleState:
    """One rule's state; ``peak`` is the highest confidence seen since it went pending."""

    phase: Phase = Phase.IDLE
    since: datetime | None = None
    last_seen: datetime | None = None
    cleared_at: datetime | None = None
    peak: float = 0.0


def _gone_for(state: RuleState, now: datetime) -> float:
    return 0.0 if state.last_seen is None else (now - state.last_seen).total_seconds()


def _cooling(state: RuleState, now: datetime, params: RuleParams) -> bool:
    if state.cleared_at is None:
        return False
    return (now - state.cleared_at).total_seconds() < params.cooldown_s


def step(
    state: RuleState, seen: bool, confidence: float, now: datetime, params: RuleParams
) -> tuple[RuleState, Transition | None]:
    """Return the rule's new state after one frame at ``now``, and what to emit."""
    match state.phase:
        case Phase.IDLE:
            if not seen:
                return state, None
            pending = replace(state, phase=Phase.PENDING, since=now, last_seen=now, peak=confidence)
            return _maybe_raise(pending, now, params)
        case Phase.PENDING:
            if not seen:
                if _gone_for(state, now) >= params.clear_after_s:
                    return replace(state, phase=Phase.IDLE, since=None, peak=0.0), None
                return state, None
            seen_state = replace(state, last_seen=now, peak=max(state.peak, confidence))
            return _maybe_raise(seen_state, now, params)
        case Phase.RAISED:
            if seen:
                return replace(state, last_seen=now, peak=max(state.peak, confidence)), None
            if _gone_for(state, now) >= params.clear_after_s:
                return RuleState(phase=Phase.IDLE, cleared_at=now), Transition.CLEAR
            return state, None
    raise AssertionError(f"unhandled phase {state.phase!r}")  # pragma: no cover


def _maybe_raise(
    state: RuleState, now: datetime, params: RuleParams
) -> tuple[RuleState, Transition | None]:
    assert state.since is not None
    lasted = (now - state.since).total_seconds()
    if lasted >= params.raise_after_s and not _cooling(state, now, params):
        return replace(state, phase=Phase.RAISED), Transition.RAISE
    return state, None


SEVERITIES: dict[AlertKind, Severity] = {
    AlertKind.CAMERA_FIRE: Severity.HIGH,
    AlertKind.CAMERA_SMOKE: Severity.HIGH,
    AlertKind.CAMERA_TAMPER: Severity.MEDIUM,
    AlertKind.CAMERA_OBSTRUCTION: Severity.MEDIUM,
    AlertKind.CAMERA_LOITERING: Severity.MEDIUM,
    AlertKind.CAMERA_PERSON: Severity.LOW,
    AlertKind.CAMERA_MOTION: Severity.LOW,
}
"""A camera's fire or smoke is a cue, not a detector's alarm: high, not critical."""


def params_for(kind: AlertKind, camera: CameraConfig) -> RuleParams:
    """Return the rule timing of an alert kind on a camera."""
    clear, cooldown = camera.clear_after_s, camera.cooldown_s
    match kind:
        case AlertKind.CAMERA_FIRE | AlertKind.CAMERA_SMOKE:
            # The analytics already judge a window of samples; one more second of agreement
            # filters a single odd window. Life safety: no cooldown.
            return RuleParams(1.0, clear, 0.0)
        case AlertKind.CAMERA_TAMPER:
            return RuleParams(3.0, clear, cooldown)
        case AlertKind.CAMERA_LOITERING:
            return RuleParams(camera.loiter_s, clear, cooldown)
        case AlertKind.CAMERA_OBSTRUCTION:
            return RuleParams(camera.obstruction_s, clear, cooldown)
        case _:
            return RuleParams(0.0, clear, cooldown)
