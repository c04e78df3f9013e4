"""What one camera's frames show: cues for motion, people, static objects, fire, smoke, tamper.

``FrameAnalyzer.analyze(frame, ts)`` takes one BGR frame (already resized to the analysis
width) and returns the cues active in it. It keeps the little history each cue needs, and
nothing else: no clock, no I/O. Whether a cue becomes an alert (how long it must last, when
it clears, cooldown) is ``edge.camera.rules``' business.

The measures, and why:

- **Whole-frame illumination changes** (lights switched on, auto-exposure) move every pixel at
  once. A jump of the frame's mean brightness, or foreground over most of the frame, marks the
  frame ``global_change``: the motion model re-learns at once and no motion, fire or smoke cue is
  taken from it. The static-presence model compares gain-compensated frames, and the tamper
  measures are scale-free (normalised correlation, sharpness relative to contrast), so a
  brighter or darker scene is not a tamper.
- **Motion** is MOG2 background subtraction (moving things) inside a zone.
- **Presence** is the difference to a reference image that is only updated where nothing is
  present: someone standing still, or a box left in a fire exit, stays present (MOG2 would
  absorb them within a minute). It keeps a person's track alive while HOG misses them, and a
  static blob in an obstruction zone is the obstruction cue.
- **People**: OpenCV's HOG people detector (built in, no download), run only when there is
  presence to look at; two detections on present pixels start a track, which then follows the
  present blob until it is gone.
- **Fire** (``edge.camera.fire``): flame-coloured blobs followed in scene coordinates, judged
  on persistence in place, flicker, boundary change, non-repetition (neon repeats), outline
  and core.
- **Smoke** (``edge.camera.smoke``): grey veils that spread, or grey churn in place that is
  diffuse or rising (texture churn, such as shimmering water, is not smoke).
- **Tamper** (``edge.camera.tamper``): lens covered, defocused, camera moved (ORB features of
  the static background, RANSAC over their shifts).

A tamper signal never switches fire or smoke detection off: both are judged on every sample,
and the fire cue follows flames through the camera's own motion (``edge.camera.egomotion``).
Only the cues that need a still picture (zones, people, smoke) wait while the picture moves.
"""

from collections import deque
from dataclasses import dataclass
from datetime import datetime

import cv2
import numpy as np

from devices.camera import CameraConfig, ZoneRule
from devices.kinds import AlertKind
from edge.camera.cues import (
    BoolMask,
    Box,
    Cue,
    FloatImage,
    Frame,
    FrameFindings,
    Gray,
    blob_touching,
    coverage,
    largest_box,
    polygon_mask,
    union_box,
)
from edge.camera.egomotion import CameraMotion
from edge.camera.fire import FlameWatch
from edge.camera.people import PeopleDetector, people_detector
from edge.camera.smoke import SmokeWatch
from edge.camera.tamper import TamperWatch

__all__ = [
    "Box",
    "Cue",
    "Frame",
    "FrameAnalyzer",
    "FrameFindings",
    "PeopleDetector",
    "people_detector",
    "polygon_mask",
    "watches_people",
]

GLOBAL_CHANGE_RATIO = 0.2
"""A change of mean brightness by more than this fraction between samples is a light switch."""
MAX_GAIN = 2.0
"""Normalisation never scales a frame by more than this (or less than its inverse)."""
TARGET_MEAN_RATE = 0.002
"""Per-sample rate at which the normalisation target follows the scene (~100 s at 5 fps):
slower than the motion model learns, so the normalisation itself never looks like motion."""
GLOBAL_FOREGROUND_FRACTION = 0.5
"""Foreground over more than this fraction of the frame is a global change, not an object."""
RELIT_MIN_CORRELATION = 0.85
"""Correlation of the frame's fine structure with the reference's above which foreground over
most of the frame is the same scene under another light (the infrared LEDs switching on at
dusk: measured 0.89-0.99), not an object covering it (a lorry, people close by: under 0.8)."""
RELIT_PROBE_WIDTH = 160
PRESENCE_THRESHOLD = 28
"""Grey levels between the gain-compensated frame and the reference that count as present."""
REFERENCE_RATE = 0.05
"""Per-sample update rate of the reference where nothing is present (~4 s at 5 fps)."""
REFERENCE_ABSORB_RATE = 0.0005
"""Update rate where something is present: a departed object's ghost fades over ~7 min."""
TRACK_CONFIRMATIONS = 2
"""HOG detections (on present pixels, within ``TRACK_CONFIRM_S``) that start a person track."""
TRACK_CONFIRM_S = 4.0
TRACK_MIN_MOTION_SHARE = 0.01
TRACK_STILL_S = 3.0
"""A track with no motion at all in its box (and no HOG hit) for this long was a ghost."""
HOG_SURE_WEIGHT = 1.0
"""A HOG detection this strong starts a track on its own."""
TRACK_MIN_PRESENCE = 0.12
"""Fraction of a person's box that must be present to keep the track alive without HOG."""
PICTURE_MOVING_PX = 1.5
"""A picture that moved more than this since the last sample (handheld, panning) has no
background to judge motion, people or smoke against."""


_PEOPLE_RULES = frozenset({ZoneRule.PERSON, ZoneRule.LOITERING})


def watches_people(camera: CameraConfig) -> bool:
    """Return whether a camera's configuration needs the people detector."""
    return camera.person_whole_frame or any(_PEOPLE_RULES & set(z.rules) for z in camera.zones)


@dataclass(slots=True)
class _PersonTrack:
    box: Box
    confirmations: deque[datetime]
    last_alive: datetime
    confirmed: bool = False
    confidence: float = 0.0


class FrameAnalyzer:
    """The analytics of one camera; feed it its sampled frames in time order."""

    def __init__(self, camera: CameraConfig, detector: PeopleDetector | None = None) -> None:
        self.camera = camera
        self._detector = detector
        self._size: tuple[int, int] | None = None
        self._valid: BoolMask | None = None
        self._zones: dict[str, BoolMask] = {}
        self._mog = cv2.createBackgroundSubtractorMOG2(
            history=max(50, round(camera.detect_fps * 30)), varThreshold=25, detectShadows=False
        )
        self._reference: FloatImage | None = None
        self._difference: FloatImage | None = None
        self._prev_mean: float | None = None
        self._target_mean: float | None = None
        self._track: _PersonTrack | None = None
        self._flames: FlameWatch | None = None
        self._smoke: SmokeWatch | None = None
        self._tamper = TamperWatch(camera.moved_rebaseline_s, camera.no_frames_s)
        self._camera_motion = CameraMotion()
        self._person_zones = [z for z in camera.zones if _PEOPLE_RULES & set(z.rules)]
        self._watch_people = watches_people(camera)

    def analyze(self, frame: Frame, ts: datetime) -> FrameFindings:
        """Return the cues active in ``frame`` (taken at ``ts``) and update the history."""
        height, width = frame.shape[:2]
        if self._size != (width, height):
            self._reset(width, height)
        assert self._valid is not None
        gray_raw = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        mean = float(gray_raw.mean())
        measures: dict[str, float] = {"mean": mean}
        global_change = self._prev_mean is not None and abs(mean - self._prev_mean) > (
            GLOBAL_CHANGE_RATIO * max(self._prev_mean, 20.0)
        )
        # Photometric normalisation: every frame is scaled to the scene's slowly moving mean
        # brightness, so an exposure loop hunting, or a cloud, moves no pixel by itself.
        if self._target_mean is None or global_change:
            self._target_mean = mean
        gain = min(MAX_GAIN, max(1 / MAX_GAIN, self._target_mean / max(mean, 1.0)))
        self._target_mean += TARGET_MEAN_RATE * (mean - self._target_mean)
        raw = frame
        if abs(gain - 1.0) > 0.01:
            frame = cv2.convertScaleAbs(frame, alpha=gain)
        measures["gain"] = gain
        gray = cv2.GaussianBlur(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), (5, 5), 0)
        lighting = global_change
        offset = self._camera_motion.update(gray)
        picture_moving = offset.step > PICTURE_MOVING_PX * width / 640
        measures["picture_step_px"] = offset.step
        motion = self._mog.apply(frame, learningRate=1.0 if global_change else -1.0) > 0
        motion = cv2.morphologyEx(
            motion.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)
        ).astype(bool)
        motion &= self._valid
        motion_share = float(motion.sum()) / max(1, int(self._valid.sum()))
        measures["motion_share"] = motion_share
        # A light that changes the picture unevenly (infrared LEDs: bright middle, dark corners)
        # may leave the mean where it was; the foreground is then everywhere, yet the scene is
        # the same. The presence reference follows it as it follows a light switch.
        relit = (
            not global_change
            and not picture_moving
            and motion_share > GLOBAL_FOREGROUND_FRACTION
            and self._same_scene(gray)
        )
        measures["relit"] = float(relit)
        presence = self._presence(gray, global_change or relit)
        # Foreground over most of the frame is the exposure, the light or the camera moving,
        # not an object: zones and smoke wait; presence (gain-compensated) and people go on.
        global_change = global_change or motion_share > GLOBAL_FOREGROUND_FRACTION
        cues: list[Cue] = []
        tamper = None
        if self.camera.tamper:
            tamper = self._tamper.judge(gray_raw, motion, ts, lighting, measures)
        if tamper is not None:
            cues.append(tamper)
        if tamper is None and not picture_moving and self._watch_people:
            # Motion helps find a walker, unless it is everywhere (exposure, a light).
            seen = presence if motion_share > GLOBAL_FOREGROUND_FRACTION else presence | motion
            cues.extend(self._people(frame, seen, motion, ts))
        if not global_change and tamper is None and not picture_moving:
            cues.extend(self._zone_cues(motion, presence))
        # Life safety first: fire is judged on every sample, whatever the tamper state, the
        # light or the camera's motion (its blobs are followed in scene coordinates).
        if self._flames is not None:
            fire = self._flames.judge(frame, offset, ts, measures)
            if fire is not None:
                cues.append(fire)
        if self._smoke is not None:
            if global_change or picture_moving:
                # A light switch or a moving picture churns every pixel: judge the next
                # samples on their own.
                self._smoke.forget()
            else:
                smoke = self._smoke.judge(
                    frame, gray, motion, self._difference, ts, measures, raw=raw, gain=gain
                )
                if smoke is not None:
                    cues.append(smoke)
        self._prev_mean = mean
        return FrameFindings(tuple(cues), global_change, measures)

    def rebaseline(self) -> None:
        """Take the coming frames as the camera's reference view (an operator re-aimed it)."""
        self._tamper.rebaseline()
        self._reference = None
        self._track = None

    def zone_mask(self, name: str) -> BoolMask | None:
        """Return a zone's pixels at the current frame size."""
        return self._zones.get(name)

    # --- set-up --------------------------------------------------------------------------

    def _reset(self, width: int, height: int) -> None:
        self._size = (width, height)
        valid = np.ones((height, width), dtype=bool)
        for mask in self.camera.masks:
            valid &= ~polygon_mask(mask.polygon, width, height)
        self._valid = valid
        self._zones = {
            z.name: polygon_mask(z.polygon, width, height) & valid for z in self.camera.zones
        }
        self._reference = None
        self._prev_mean = None
        self._track = None
        self._flames = FlameWatch(valid) if self.camera.fire else None
        self._smoke = SmokeWatch(valid) if self.camera.smoke else None
        self._camera_motion.reset()

    # --- presence (difference to a selectively updated reference) --------------------------

    def _same_scene(self, gray: Gray) -> bool:
        """Return whether ``gray`` shows the reference's scene, whatever the light: the fine
        structure (the frame less its blur, which holds the light) correlates with it."""
        if self._reference is None:
            return False
        height = max(8, round(gray.shape[0] * RELIT_PROBE_WIDTH / gray.shape[1]))
        size = (RELIT_PROBE_WIDTH, height)
        current = cv2.resize(gray, size, interpolation=cv2.INTER_AREA).astype(np.float32)
        reference = cv2.resize(self._reference, size, interpolation=cv2.INTER_AREA)
        a = current - cv2.GaussianBlur(current, (0, 0), 4)
        b = reference - cv2.GaussianBlur(reference, (0, 0), 4)
        norm = float(np.sqrt(float((a * a).sum()) * float((b * b).sum())))
        return norm > 0 and float((a * b).sum()) / norm >= RELIT_MIN_CORRELATION

    def _presence(self, gray: Gray, global_change: bool) -> BoolMask:
        # ``gray`` is photometrically normalised already: a gain estimated here from the
        # frame's mean would include the very object to be found (and feed back into the
        # reference, which then drifts away from everything else).
        assert self._valid is not None
        current = gray.astype(np.float32)
        if self._reference is None:
            self._reference = current.copy()
            return np.zeros_like(self._valid)
        reference = self._reference
        compensated = current
        diff = np.abs(compensated - reference)
        self._difference = diff
        present = diff > PRESENCE_THRESHOLD
        present = cv2.morphologyEx(
            present.astype(np.uint8), cv2.MORPH_OPEN, np.ones((5, 5), np.uint8)
        ).astype(bool)
        if global_change:
            # The reference follows a light switch (or the exposure) at once, except where a
            # tracked person stands: they must stay present. Nothing is judged this frame.
            keep = np.zeros_like(self._valid)
            if self._track is not None:
                box = self._track.box
                keep[box.slices] = True
            self._reference = np.where(keep, reference, current).astype(np.float32)
            kept: BoolMask = keep & present & self._valid
            return kept
        # Learn fast only where nothing at all differs: learning the fringes of an object
        # (thin parts the opening removed, pixels just under the threshold) would leave its
        # ghost behind when it goes.
        busy = cv2.dilate(
            (diff > PRESENCE_THRESHOLD / 2).astype(np.uint8), np.ones((7, 7), np.uint8)
        ).astype(bool)
        rate = np.where(busy, REFERENCE_ABSORB_RATE, REFERENCE_RATE).astype(np.float32)
        self._reference = reference + rate * (compensated - reference)
        result: BoolMask = present & self._valid
        return result

    # --- zones: motion and obstruction -------------------------------------------------------

    def _zone_cues(self, motion: BoolMask, presence: BoolMask) -> list[Cue]:
        cues: list[Cue] = []
        for zone in self.camera.zones:
            mask = self._zones[zone.name]
            area = max(1, int(mask.sum()))
            if ZoneRule.MOTION in zone.rules:
                moving = int((motion & mask).sum())
                share = moving / area
                if moving >= 40 and share >= 0.005:
                    cues.append(
                        Cue(
                            AlertKind.CAMERA_MOTION,
                            zone.name,
                            min(1.0, share / 0.05),
                            "zone_motion",
                            largest_box(motion & mask),
                            {"moving_share": round(share, 4)},
                        )
                    )
            if ZoneRule.OBSTRUCTION in zone.rules:
                static = presence & ~motion & mask
                share = int(static.sum()) / area
                if share >= 0.08:
                    cues.append(
                        Cue(
                            AlertKind.CAMERA_OBSTRUCTION,
                            zone.name,
                            min(1.0, share / 0.3),
                            "static_object_in_zone",
                            largest_box(static),
                            {"static_share": round(share, 4)},
                        )
                    )
        return cues

    # --- people ---------------------------------------------------------------------------------

    def _detect_people(self, frame: Frame, presence: BoolMask) -> list[tuple[Box, float]]:
        if self._detector is None:
            return []
        region = union_box(presence)
        if region is None:
            return []
        return self._detector.detect(frame, region)

    def _recheck(self, frame: Frame, box: Box) -> list[tuple[Box, float]]:
        if self._detector is None:
            return []
        return self._detector.detect(frame, box)

    def _people(
        self, frame: Frame, presence: BoolMask, motion: BoolMask, ts: datetime
    ) -> list[Cue]:
        present_px = int(presence.sum())
        track = self._track
        detections: list[tuple[Box, float]] = []
        if present_px >= 200 and (track is None or not track.confirmed):
            # HOG only where there is something to see: an empty scene costs nothing.
            detections = [
                (box, weight)
                for box, weight in self._detect_people(frame, presence)
                if coverage(presence, box) >= TRACK_MIN_PRESENCE
            ]
        if detections:
            box, weight = max(detections, key=lambda d: d[1])
            if track is None:
                track = _PersonTrack(box, deque(), last_alive=ts)
            track.box = box
            track.last_alive = ts
            track.confirmations.append(ts)
            while track.confirmations and (
                (ts - track.confirmations[0]).total_seconds() > TRACK_CONFIRM_S
            ):
                track.confirmations.popleft()
            if len(track.confirmations) >= TRACK_CONFIRMATIONS or weight >= HOG_SURE_WEIGHT:
                track.confirmed = True
            track.confidence = min(1.0, 0.5 + weight / 4)
        elif track is not None:
            share = coverage(presence, track.box)
            if coverage(motion, track.box) >= TRACK_MIN_MOTION_SHARE:
                track.last_alive = ts
            # Someone standing still moves a little now and then; a ghost in the reference
            # never does. A track still for too long must be seen again by the detector.
            if share >= TRACK_MIN_PRESENCE and (
                (ts - track.last_alive).total_seconds() > TRACK_STILL_S
            ):
                again = [
                    (box, weight)
                    for box, weight in self._recheck(frame, track.box)
                    if box.intersection(track.box) > 0
                ]
                if again:
                    track.box = max(again, key=lambda d: d[1])[0]
                    track.last_alive = ts
                else:
                    share = 0.0
            if share < TRACK_MIN_PRESENCE:
                track = None
            else:
                # Follow the present blob the person is part of while HOG misses them.
                follow = blob_touching(presence, track.box)
                if follow is not None:
                    track.box = follow
        self._track = track
        if track is None or not track.confirmed:
            return []
        return self._person_cues(track)

    def _person_cues(self, track: _PersonTrack) -> list[Cue]:
        cues: list[Cue] = []
        values = {"box_w": float(track.box.w), "box_h": float(track.box.h)}
        if self.camera.person_whole_frame:
            cues.append(
                Cue(AlertKind.CAMERA_PERSON, None, track.confidence, "person", track.box, values)
            )
        cx, cy = track.box.center
        for zone in self._person_zones:
            mask = self._zones[zone.name]
            fy = min(mask.shape[0] - 1, round(track.box.y + track.box.h * 0.9))
            inside = bool(mask[fy, min(mask.shape[1] - 1, round(cx))]) or bool(
                mask[min(mask.shape[0] - 1, round(cy)), min(mask.shape[1] - 1, round(cx))]
            )
            if not inside:
                continue
            if ZoneRule.PERSON in zone.rules:
                cues.append(
                    Cue(
                        AlertKind.CAMERA_PERSON,
                        zone.name,
                        track.confidence,
                        "person_in_zone",
                        track.box,
                        values,
                    )
                )
            if ZoneRule.LOITERING in zone.rules:
                cues.append(
                    Cue(
                        AlertKind.CAMERA_LOITERING,
                        zone.name,
                        track.confidence,
                        "person_stays_in_zone",
                        track.box,
                        values,
                    )
                )
        return cues
