"""One camera, frame by frame: analytics, then the rules of every watched (kind, zone).

``CameraPipeline.process(frame, ts)`` returns the alert decisions the frame causes, each
with what its evidence snapshot needs. ``no_frames(now, last_frame)`` is the same for the
absence of frames. A frame that is no picture (empty, ragged, of a type no camera sends) is
counted and judged like a missing one (``camera_tamper``, rule ``unreadable_frames``); grey,
BGRA, 16-bit or float pictures are converted first. No clock, no I/O: the worker thread
feeds it.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from devices.camera import CameraConfig, ZoneRule
from devices.kinds import AlertKind, AlertState
from devices.messages import AlertReason
from edge.camera.analytics import Box, Cue, Frame, FrameFindings
from edge.camera.cues import bgr8
from edge.camera.rules import SEVERITIES, RuleState, Transition, params_for, step
from edge.detection import AlertDecision

PROFILE = "camera"
"""``AlertReason.profile`` of every camera alert."""

RuleKey = tuple[AlertKind, str | None]


class Analyzer(Protocol):
    """What a pipeline needs of its analytics (``FrameAnalyzer``)."""

    def analyze(self, frame: Frame, ts: datetime) -> FrameFindings:
        """Return the cues active in a frame taken at ``ts``."""
        ...


@runtime_checkable
class Rebaselining(Protocol):
    """An analyzer that can take the current view as its reference (``FrameAnalyzer``)."""

    def rebaseline(self) -> None:
        """Take the coming frames as the camera's reference view."""
        ...


@dataclass(frozen=True, slots=True)
class CameraAlert:
    """An alert decision of one camera, with the frame and detection for its evidence."""

    decision: AlertDecision
    zone: str | None
    box: Box | None
    frame: Frame | None
    """The frame that raised it (None for clears and for 'no frames')."""


def watched_rules(camera: CameraConfig) -> list[RuleKey]:
    """Return the (alert kind, zone) pairs a camera's configuration watches."""
    keys: list[RuleKey] = []
    if camera.tamper:
        keys.append((AlertKind.CAMERA_TAMPER, None))
    if camera.fire:
        keys.append((AlertKind.CAMERA_FIRE, None))
    if camera.smoke:
        keys.append((AlertKind.CAMERA_SMOKE, None))
    if camera.person_whole_frame:
        keys.append((AlertKind.CAMERA_PERSON, None))
    by_rule = {
        ZoneRule.MOTION: AlertKind.CAMERA_MOTION,
        ZoneRule.PERSON: AlertKind.CAMERA_PERSON,
        ZoneRule.LOITERING: AlertKind.CAMERA_LOITERING,
        ZoneRule.OBSTRUCTION: AlertKind.CAMERA_OBSTRUCTION,
    }
    for zone in camera.zones:
        keys.extend((by_rule[rule], zone.name) for rule in zone.rules)
    return keys


class CameraPipeline:
    """Analytics and alert rules of one camera; feed it frames in time order."""

    def __init__(self, camera: CameraConfig, analyzer: Analyzer) -> None:
        self.camera = camera
        self.analyzer = analyzer
        self.rules: dict[RuleKey, RuleState] = dict.fromkeys(watched_rules(camera), RuleState())
        self._schedules = {z.name: z.schedule for z in camera.zones}
        self._last_cue: dict[RuleKey, Cue] = {}
        self.unreadable_frames = 0
        """Frames that were no picture (counted, never analysed)."""

    def process(self, frame: Frame, ts: datetime) -> list[CameraAlert]:
        """Analyse one frame taken at ``ts``; return the alerts it raises or clears."""
        picture = bgr8(frame)
        if picture is None:
            return self._unreadable(ts)
        frame = picture
        findings = self.analyzer.analyze(frame, ts)
        seen: dict[RuleKey, Cue] = {}
        for cue in findings.cues:
            key = (cue.kind, cue.zone)
            if key in self.rules and self._in_schedule(cue.zone, ts):
                best = seen.get(key)
                if best is None or cue.confidence > best.confidence:
                    seen[key] = cue
        return self._apply(seen, ts, frame)

    def rebaseline(self) -> bool:
        """Take the coming frames as the reference view (an operator re-aimed the camera on
        purpose); an open ``camera_tamper`` then clears by the usual rule. Return whether the
        analytics support it."""
        if not isinstance(self.analyzer, Rebaselining):
            return False
        self.analyzer.rebaseline()
        return True

    def no_frames(self, now: datetime, last_frame: datetime | None) -> list[CameraAlert]:
        """Judge the silence of a camera whose last frame came at ``last_frame`` (None: never)."""
        key = (AlertKind.CAMERA_TAMPER, None)
        if key not in self.rules or last_frame is None:
            return []
        silent_s = (now - last_frame).total_seconds()
        if silent_s < self.camera.no_frames_s:
            return []
        cue = Cue(
            AlertKind.CAMERA_TAMPER, None, 1.0, "no_frames", values={"silent_s": round(silent_s)}
        )
        # Only the tamper rule hears about the silence; every other rule keeps its state.
        return self._apply({key: cue}, now, None, only=key)

    def _unreadable(self, ts: datetime) -> list[CameraAlert]:
        """Judge a frame that is no picture: a camera sending garbage is failing, not quiet."""
        self.unreadable_frames += 1
        key = (AlertKind.CAMERA_TAMPER, None)
        if key not in self.rules:
            return []
        cue = Cue(
            AlertKind.CAMERA_TAMPER,
            None,
            1.0,
            "unreadable_frames",
            values={"unreadable_frames": float(self.unreadable_frames)},
        )
        return self._apply({key: cue}, ts, None, only=key)

    def _in_schedule(self, zone: str | None, ts: datetime) -> bool:
        schedule = self._schedules.get(zone) if zone is not None else None
        return schedule is None or schedule.active(ts)

    def _apply(
        self,
        seen: dict[RuleKey, Cue],
        ts: datetime,
        frame: Frame | None,
        *,
        only: RuleKey | None = None,
    ) -> list[CameraAlert]:
        alerts: list[CameraAlert] = []
        for key, state in self.rules.items():
            if only is not None and key != only:
                continue
            cue = seen.get(key)
            if cue is not None:
                self._last_cue[key] = cue
            new_state, transition = step(
                state,
                cue is not None,
                cue.confidence if cue is not None else 0.0,
                ts,
                params_for(key[0], self.camera),
            )
            self.rules[key] = new_state
            if transition is None:
                continue
            last = self._last_cue.get(key)
            alerts.append(self._alert(key, transition, ts, last, state, frame))
        return alerts

    def _alert(
        self,
        key: RuleKey,
        transition: Transition,
        ts: datetime,
        cue: Cue | None,
        before: RuleState,
        frame: Frame | None,
    ) -> CameraAlert:
        kind, zone = key
        raised = transition is Transition.RAISE
        rule = cue.rule if cue is not None else "cue"
        values: dict[str, float | bool | str] = {
            "zone": zone or "whole_frame",
            "confidence": round(cue.confidence if (raised and cue) else before.peak, 3),
            "frame_time": ts.isoformat(),
        }
        if cue is not None and raised:
            values.update(cue.values)
        decision = AlertDecision(
            kind=kind,
            state=AlertState.RAISED if raised else AlertState.CLEARED,
            severity=SEVERITIES[kind],
            event_time=ts,
            reason=AlertReason(
                rule=rule if raised else f"{rule}_gone", values=values, profile=PROFILE
            ),
        )
        return CameraAlert(
            decision, zone, cue.box if (cue and raised) else None, frame if raised else None
        )
