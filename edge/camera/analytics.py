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
- **Fire**: flame-coloured pixels (red ≥ green > blue, bright, Cr well above Cb) that also
  flicker (change between samples), over a window of about two seconds: most samples must have
  them, and their area must vary (flames flicker; a lamp does not).
- **Smoke**: moving, low-saturation, low-texture (blurred) pixels persisting for seconds and
  growing; or (``grey_churn_in_place``) unsaturated, bright pixels whose brightness keeps
  churning a little (temporal std 4-25 grey levels over 2 s), and roughly (it flickers from
  sample to sample rather than stepping once), at the same place in most samples of 4 s, over
  a blob of at least 2 % of the frame. Light smoke drifting against a bright sky is too faint
  and too slow for the motion model, but it never stops churning in place, where a
  passer-by's churn steps and travels with them and a static scene does not churn at all.
- **Tamper**: lens covered (almost no contrast left), defocused (sharpness relative to contrast
  collapses), camera moved (the gradient image no longer matches the reference).
"""

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from devices.camera import CameraConfig, ZoneRule
from devices.kinds import AlertKind

Frame = npt.NDArray[Any]
"""A BGR frame, height × width × 3, 8 bits per channel."""
Gray = npt.NDArray[Any]
"""A single-channel 8-bit image."""
FloatImage = npt.NDArray[np.float32]
BoolMask = npt.NDArray[np.bool_]

GLOBAL_CHANGE_RATIO = 0.2
"""A change of mean brightness by more than this fraction between samples is a light switch."""
MAX_GAIN = 2.0
"""Normalisation never scales a frame by more than this (or less than its inverse)."""
TARGET_MEAN_RATE = 0.002
"""Per-sample rate at which the normalisation target follows the scene (~100 s at 5 fps):
slower than the motion model learns, so the normalisation itself never looks like motion."""
GLOBAL_FOREGROUND_FRACTION = 0.5
"""Foreground over more than this fraction of the frame is a global change, not an object."""
PRESENCE_THRESHOLD = 28
"""Grey levels between the gain-compensated frame and the reference that count as present."""
REFERENCE_RATE = 0.05
"""Per-sample update rate of the reference where nothing is present (~4 s at 5 fps)."""
REFERENCE_ABSORB_RATE = 0.0005
"""Update rate where something is present: a departed object's ghost fades over ~7 min."""
HOG_MIN_WEIGHT = 0.5
HOG_UPSCALE = 1.5
HOG_REGION_PAD = 48
"""Pixels around the present region that HOG also scans (a person's edges may be missing)."""
"""SVM score of a HOG detection worth considering."""
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
FIRE_WINDOW_S = 2.0
FIRE_MIN_SHARE = 0.6
"""Share of the window's samples that must show flickering flame-coloured pixels."""
FIRE_MIN_VARIATION = 0.1
"""Share of the flame-coloured pixels that flicker (change between samples); a lamp has ~0."""
FIRE_MAX_DRIFT_PX = 20.0
"""How far the flame-coloured area's centre may travel within the window (it flickers in place)."""
SMOKE_WINDOW_S = 4.0
SMOKE_MIN_SHARE = 0.75
SMOKE_MAX_DIFFERENCE = 40.0
SMOKE_MIN_GROWTH = 1.15
"""Median veiled area in the window's second half over its first half."""
"""Grey levels a smoke-veiled pixel differs from the reference at most (smoke is translucent)."""
SMOKE_CHURN_SCALE = 0.25
"""The churn measure runs on a quarter-size frame: cheap, and compression noise averages out."""
SMOKE_CHURN_SAMPLES = 10
"""Samples (2 s at 5 fps) over which each pixel's brightness churn (temporal std) is taken."""
SMOKE_CHURN_HISTORY = 20
"""Samples (4 s at 5 fps) over which churn must persist at the same pixel."""
SMOKE_CHURN_MIN_STD = 4.0
SMOKE_CHURN_MAX_STD = 25.0
"""Smoke churns faintly: more than compression noise, less than a walker's edges."""
SMOKE_CHURN_PERSISTENCE = 0.7
"""Share of the history's samples in which a pixel churned."""
SMOKE_CHURN_MIN_SHARE = 0.02
"""Persistently churning blob as a share of the analysed frame (FURG smoke 2-4.5 %; the people
clip at most 1.1 %, and 0.2 % once the roughness is required too)."""
SMOKE_CHURN_MIN_ROUGHNESS = 1.1
"""Median roughness (RMS sample-to-sample change over temporal std) of a churning blob."""
COVERED_MAX_STD = 6.0
"""Grey-level standard deviation below which the lens is covered (a hand, tape, paint)."""
DEFOCUS_RATIO = 0.25
"""Sharpness below this fraction of the reference's is defocused (or sprayed)."""
MOVED_MAX_CORRELATION = 0.35
"""Correlation of the gradient image with the reference below which the camera was moved."""
TAMPER_PROBE_WIDTH = 96


@dataclass(frozen=True, slots=True)
class Box:
    """A rectangle in the analysed frame's pixels."""

    x: int
    y: int
    w: int
    h: int

    @property
    def center(self) -> tuple[float, float]:
        """Return the centre point."""
        return self.x + self.w / 2, self.y + self.h / 2

    def area(self) -> int:
        """Return the area in pixels."""
        return self.w * self.h

    def intersection(self, other: "Box") -> int:
        """Return the area shared with ``other``."""
        w = min(self.x + self.w, other.x + other.w) - max(self.x, other.x)
        h = min(self.y + self.h, other.y + other.h) - max(self.y, other.y)
        return max(0, w) * max(0, h)


@dataclass(frozen=True, slots=True)
class Cue:
    """One thing a frame shows, for one alert kind and zone (None: the whole frame)."""

    kind: AlertKind
    zone: str | None
    confidence: float
    rule: str
    box: Box | None = None
    values: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FrameFindings:
    """The cues active in one frame, and the measures behind them."""

    cues: tuple[Cue, ...]
    global_change: bool = False
    measures: dict[str, float] = field(default_factory=dict)


_PEOPLE_RULES = frozenset({ZoneRule.PERSON, ZoneRule.LOITERING})


def watches_people(camera: CameraConfig) -> bool:
    """Return whether a camera's configuration needs the people detector."""
    return camera.person_whole_frame or any(_PEOPLE_RULES & set(z.rules) for z in camera.zones)


def polygon_mask(polygon: list[tuple[float, float]], width: int, height: int) -> BoolMask:
    """Return the pixels of a polygon given in fractions of the frame."""
    points = np.array(
        [[round(x * (width - 1)), round(y * (height - 1))] for x, y in polygon], dtype=np.int32
    )
    canvas = np.zeros((height, width), dtype=np.uint8)
    cv2.fillPoly(canvas, [points], 255)
    return canvas > 0


def sharpness(gray: Gray) -> float:
    """Return the Laplacian variance relative to the contrast: blur lowers it, gain does not."""
    lap = cv2.Laplacian(gray, cv2.CV_32F)
    contrast = float(gray.astype(np.float32).var())
    return float(lap.var()) / (contrast + 1.0)


def flame_colour(frame: Frame) -> BoolMask:
    """Return the pixels whose colour could be flame (bright, R ≥ G > B, Cr well above Cb)."""
    b = frame[:, :, 0].astype(np.int16)
    g = frame[:, :, 1].astype(np.int16)
    r = frame[:, :, 2].astype(np.int16)
    ycrcb = cv2.cvtColor(frame, cv2.COLOR_BGR2YCrCb)
    y = ycrcb[:, :, 0].astype(np.int16)
    cr = ycrcb[:, :, 1].astype(np.int16)
    cb = ycrcb[:, :, 2].astype(np.int16)
    mask: BoolMask = (
        (r > 190) & (r >= g) & (g > b) & (r - b > 70) & (cr - cb > 30) & (y > float(y.mean()))
    )
    return mask


def grey_texture_free(frame: Frame, gray: Gray) -> BoolMask:
    """Return the pixels that look like smoke: unsaturated, mid-bright and without texture."""
    hsv = cv2.cvtColor(frame, cv2.COLOR_BGR2HSV)
    sat = hsv[:, :, 1]
    val = hsv[:, :, 2]
    f = gray.astype(np.float32)
    mean = cv2.blur(f, (7, 7))
    local_var = cv2.blur(f * f, (7, 7)) - mean * mean
    mask: BoolMask = (sat < 45) & (val > 90) & (val < 235) & (local_var < 60.0)
    return mask


def _normalised_gradient(gray: Gray) -> FloatImage:
    height = max(8, round(gray.shape[0] * TAMPER_PROBE_WIDTH / gray.shape[1]))
    small = cv2.resize(gray, (TAMPER_PROBE_WIDTH, height), interpolation=cv2.INTER_AREA)
    small_f = small.astype(np.float32)
    gx = cv2.Sobel(small_f, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(small_f, cv2.CV_32F, 0, 1)
    mag = cv2.magnitude(gx, gy)
    mag = np.asarray(mag, np.float32) - float(mag.mean())
    std = float(mag.std())
    result: FloatImage = (mag / std if std > 1e-6 else mag).astype(np.float32)
    return result


def _largest_box(mask: BoolMask) -> Box | None:
    count, _labels, stats, _ = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8), connectivity=8
    )
    if count <= 1:
        return None
    best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, w, h, _area = (int(v) for v in stats[best])
    return Box(x, y, w, h)


def _union_box(mask: BoolMask) -> Box | None:
    points = cv2.findNonZero(mask.astype(np.uint8))
    if points is None:
        return None
    x, y, w, h = cv2.boundingRect(points)
    return Box(int(x), int(y), int(w), int(h))


@dataclass(slots=True)
class _PersonTrack:
    box: Box
    confirmations: deque[datetime]
    last_alive: datetime
    confirmed: bool = False
    confidence: float = 0.0


@dataclass(frozen=True, slots=True)
class _Window:
    ts: datetime
    active: bool
    area: float
    flicker: float = 0.0
    centre: tuple[float, float] | None = None


class FrameAnalyzer:
    """The analytics of one camera; feed it its sampled frames in time order."""

    def __init__(self, camera: CameraConfig, detector: "PeopleDetector | None" = None) -> None:
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
        self._prev_gray: Gray | None = None
        self._prev_mean: float | None = None
        self._target_mean: float | None = None
        self._track: _PersonTrack | None = None
        self._fire: deque[_Window] = deque()
        self._smoke: deque[_Window] = deque()
        self._churn_values: deque[FloatImage] = deque(maxlen=SMOKE_CHURN_SAMPLES)
        self._churn_masks: deque[BoolMask] = deque(maxlen=SMOKE_CHURN_HISTORY)
        self._tamper_grad: FloatImage | None = None
        self._tamper_sharpness: float | None = None
        self._tamper_std: float | None = None
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
        if abs(gain - 1.0) > 0.01:
            frame = cv2.convertScaleAbs(frame, alpha=gain)
        measures["gain"] = gain
        gray = cv2.GaussianBlur(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), (5, 5), 0)
        motion = self._mog.apply(frame, learningRate=1.0 if global_change else -1.0) > 0
        motion = cv2.morphologyEx(
            motion.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)
        ).astype(bool)
        motion &= self._valid
        motion_share = float(motion.sum()) / max(1, int(self._valid.sum()))
        measures["motion_share"] = motion_share
        presence = self._presence(gray, global_change)
        # Foreground over most of the frame is the exposure or the light, not an object: the
        # brightness-only cues wait; presence (gain-compensated) and people go on.
        global_change = global_change or motion_share > GLOBAL_FOREGROUND_FRACTION
        cues: list[Cue] = []
        tamper = self._tamper(gray_raw, ts, global_change, measures) if self.camera.tamper else None
        if tamper is not None:
            cues.append(tamper)
        if tamper is None and self._watch_people:
            # Motion helps find a walker, unless it is everywhere (exposure, a light).
            seen = presence if motion_share > GLOBAL_FOREGROUND_FRACTION else presence | motion
            cues.extend(self._people(frame, seen, motion, ts))
        if not global_change and tamper is None:
            cues.extend(self._zone_cues(motion, presence))
            if self.camera.fire:
                fire = self._flames(frame, gray, motion, ts, measures)
                if fire is not None:
                    cues.append(fire)
            if self.camera.smoke:
                smoke = self._smoke_cue(frame, gray, motion, ts, measures)
                if smoke is not None:
                    cues.append(smoke)
        else:
            # A light switch is not a flame or a walker; forget the short histories so the
            # next frames are judged on their own.
            self._fire.clear()
            self._smoke.clear()
            self._churn_values.clear()
            self._churn_masks.clear()
        self._prev_gray = gray
        self._prev_mean = mean
        return FrameFindings(tuple(cues), global_change, measures)

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
        self._prev_gray = None
        self._prev_mean = None
        self._track = None
        self._tamper_grad = None

    # --- presence (difference to a selectively updated reference) --------------------------

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
                keep[box.y : box.y + box.h, box.x : box.x + box.w] = True
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
                            _largest_box(motion & mask),
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
                            _largest_box(static),
                            {"static_share": round(share, 4)},
                        )
                    )
        return cues

    # --- people ---------------------------------------------------------------------------------

    def _detect_people(self, frame: Frame, presence: BoolMask) -> list[tuple[Box, float]]:
        if self._detector is None:
            return []
        region = _union_box(presence)
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
                if _share(presence, box) >= TRACK_MIN_PRESENCE
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
            share = _share(presence, track.box)
            if _share(motion, track.box) >= TRACK_MIN_MOTION_SHARE:
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
                follow = _blob_touching(presence, track.box)
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

    # --- fire and smoke ---------------------------------------------------------------------

    def _flames(
        self,
        frame: Frame,
        gray: Gray,
        motion: BoolMask,
        ts: datetime,
        measures: dict[str, float],
    ) -> Cue | None:
        assert self._valid is not None
        colour = flame_colour(frame) & self._valid
        flicker = motion
        if self._prev_gray is not None:
            flicker = motion | (cv2.absdiff(gray, self._prev_gray) > 12)
        flames = colour & flicker
        min_px = max(20, round(colour.size * 0.0004))
        area = float(colour.sum())
        active = int(flames.sum()) >= min_px
        measures["flame_px"] = float(flames.sum())
        centre = _centroid(colour)
        _push(self._fire, _Window(ts, active, area, float(flames.sum()), centre), FIRE_WINDOW_S)
        if not active or len(self._fire) < 3:
            return None
        share = sum(w.active for w in self._fire) / len(self._fire)
        # Flames flicker in place; an orange coat or a car's indicator travels.
        centres = [w.centre for w in self._fire if w.centre is not None]
        drift = _spread(centres)
        measures["flame_drift"] = drift
        if drift > max(FIRE_MAX_DRIFT_PX, np.sqrt(area)):
            return None
        # Flicker: the share of flame-coloured pixels that changed since the last sample.
        # Flames keep changing a good part of themselves; a lamp or a red coat at rest, none.
        variation = sum(w.flicker for w in self._fire) / max(1.0, sum(w.area for w in self._fire))
        measures["flame_share"] = share
        measures["flame_variation"] = variation
        if share < FIRE_MIN_SHARE or variation < FIRE_MIN_VARIATION:
            return None
        confidence = min(1.0, 0.4 + 0.4 * share + min(0.2, variation))
        return Cue(
            AlertKind.CAMERA_FIRE,
            None,
            round(confidence, 3),
            "flame_colour_flicker",
            _union_box(flames),
            {
                "flame_share": round(share, 3),
                "area_variation": round(variation, 3),
                "flame_px": float(flames.sum()),
            },
        )

    def _smoke_cue(
        self,
        frame: Frame,
        gray: Gray,
        motion: BoolMask,
        ts: datetime,
        measures: dict[str, float],
    ) -> Cue | None:
        candidates = grey_texture_free(frame, gray) & motion
        if self._difference is not None:
            # Smoke is thin: it veils the background (a small difference), where a grey coat
            # hides it (a large one).
            candidates &= self._difference < SMOKE_MAX_DIFFERENCE
        churn = self._churn_cue(frame, measures)
        min_px = max(60, round(candidates.size * 0.002))
        count = int(candidates.sum())
        active = count >= min_px
        measures["smoke_px"] = float(count)
        _push(self._smoke, _Window(ts, active, float(count)), SMOKE_WINDOW_S)
        span = (self._smoke[-1].ts - self._smoke[0].ts).total_seconds()
        if not active or span < SMOKE_WINDOW_S * 0.75:
            return churn
        share = sum(w.active for w in self._smoke) / len(self._smoke)
        areas = [w.area for w in self._smoke]
        half = len(areas) // 2
        growth = float(np.median(areas[half:])) / max(1.0, float(np.median(areas[:half])))
        measures["smoke_growth"] = growth
        # Smoke spreads: the veiled area grows over the window, where a passer-by's does not.
        if share < SMOKE_MIN_SHARE or growth < SMOKE_MIN_GROWTH:
            return churn
        return Cue(
            AlertKind.CAMERA_SMOKE,
            None,
            round(min(1.0, 0.3 + 0.6 * share), 3),
            "grey_textureless_motion",
            _largest_box(candidates),
            {"smoke_share": round(share, 3), "smoke_px": float(count)},
        )

    def _churn_cue(self, frame: Frame, measures: dict[str, float]) -> Cue | None:
        assert self._valid is not None
        small = cv2.resize(
            frame, None, fx=SMOKE_CHURN_SCALE, fy=SMOKE_CHURN_SCALE, interpolation=cv2.INTER_AREA
        )
        hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
        valid = cv2.resize(
            self._valid.astype(np.uint8),
            (small.shape[1], small.shape[0]),
            interpolation=cv2.INTER_NEAREST,
        ).astype(bool)
        self._churn_values.append(hsv[:, :, 2].astype(np.float32))
        if len(self._churn_values) < SMOKE_CHURN_SAMPLES:
            return None
        values = np.stack(self._churn_values)
        spread = np.std(values, axis=0)
        # Roughness: how much of the spread is sample-to-sample change. Smoke flickers (≈1.2
        # on FURG); someone passing makes a step or two (the people clip's blobs: 0.5-1.0).
        step = np.sqrt(np.mean(np.diff(values, axis=0) ** 2, axis=0))
        rough = step / np.maximum(spread, 1e-3)
        churning = (
            (hsv[:, :, 1] < 40)
            & (hsv[:, :, 2] > 120)
            & (spread > SMOKE_CHURN_MIN_STD)
            & (spread < SMOKE_CHURN_MAX_STD)
            & valid
        )
        self._churn_masks.append(churning)
        if len(self._churn_masks) < SMOKE_CHURN_HISTORY:
            return None
        persistent = np.mean(np.stack(self._churn_masks), axis=0) >= SMOKE_CHURN_PERSISTENCE
        persistent = cv2.morphologyEx(
            persistent.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)
        ).astype(bool)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(
            persistent.astype(np.uint8), connectivity=8
        )
        if count <= 1:
            return None
        best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        x, y, w, h, area = (int(v) for v in stats[best])
        share = area / max(1, int(valid.sum()))
        roughness = float(np.median(rough[labels == best]))
        measures.update(churn_share=share, churn_roughness=roughness)
        if share < SMOKE_CHURN_MIN_SHARE or roughness < SMOKE_CHURN_MIN_ROUGHNESS:
            return None
        scale = 1 / SMOKE_CHURN_SCALE
        return Cue(
            AlertKind.CAMERA_SMOKE,
            None,
            round(min(1.0, 0.3 + 10 * share), 3),
            "grey_churn_in_place",
            Box(*(round(v * scale) for v in (x, y, w, h))),
            {"churn_share": round(share, 4), "churn_roughness": round(roughness, 3)},
        )

    # --- tamper ---------------------------------------------------------------------------------

    def _tamper(
        self,
        gray: Gray,
        ts: datetime,
        global_change: bool,
        measures: dict[str, float],
    ) -> Cue | None:
        std = float(gray.std())
        sharp = sharpness(gray)
        grad = _normalised_gradient(gray)
        measures.update(std=std, sharpness=sharp)
        if self._tamper_grad is None or self._tamper_sharpness is None:
            if std >= COVERED_MAX_STD * 2:
                self._tamper_grad, self._tamper_sharpness, self._tamper_std = grad, sharp, std
            return None
        correlation = float((grad * self._tamper_grad).mean())
        measures["correlation"] = correlation
        cue: Cue | None = None
        if std < COVERED_MAX_STD:
            cue = Cue(
                AlertKind.CAMERA_TAMPER,
                None,
                round(min(1.0, 1.2 - std / COVERED_MAX_STD / 2), 3),
                "lens_covered",
                values={"std": round(std, 2)},
            )
        elif sharp < DEFOCUS_RATIO * self._tamper_sharpness:
            cue = Cue(
                AlertKind.CAMERA_TAMPER,
                None,
                round(min(1.0, 1.0 - sharp / self._tamper_sharpness), 3),
                "defocused",
                values={
                    "sharpness": round(sharp, 4),
                    "reference": round(self._tamper_sharpness, 4),
                },
            )
        elif correlation < MOVED_MAX_CORRELATION:
            cue = Cue(
                AlertKind.CAMERA_TAMPER,
                None,
                round(min(1.0, 1.0 - correlation), 3),
                "camera_moved",
                values={"correlation": round(correlation, 3)},
            )
        if cue is None:
            # The reference drifts with the scene (day, night, seasons) only while all is well.
            rate = 0.02
            self._tamper_grad = (1 - rate) * self._tamper_grad + rate * grad
            self._tamper_sharpness = (1 - rate) * self._tamper_sharpness + rate * sharp
        return cue


def _crop(mask: BoolMask, box: Box) -> BoolMask:
    return mask[box.y : box.y + box.h, box.x : box.x + box.w]


def _share(mask: BoolMask, box: Box) -> float:
    region = _crop(mask, box)
    return float(region.mean()) if region.size else 0.0


def _blob_touching(mask: BoolMask, box: Box) -> Box | None:
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8), connectivity=8
    )
    region = labels[box.y : box.y + box.h, box.x : box.x + box.w]
    ids, counts = np.unique(region[region > 0], return_counts=True)
    if ids.size == 0 or count <= 1:
        return None
    best = int(ids[int(np.argmax(counts))])
    x, y, w, h, _area = (int(v) for v in stats[best])
    return Box(x, y, w, h)


def _centroid(mask: BoolMask) -> tuple[float, float] | None:
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return None
    return float(xs.mean()), float(ys.mean())


def _spread(points: list[tuple[float, float]]) -> float:
    """Return the largest distance of a point from the first: how far something travelled."""
    if len(points) < 2:
        return 0.0
    x0, y0 = points[0]
    return max(float(np.hypot(x - x0, y - y0)) for x, y in points[1:])


def _push(window: deque[_Window], item: _Window, span_s: float) -> None:
    window.append(item)
    while window and (item.ts - window[0].ts).total_seconds() > span_s:
        window.popleft()


class PeopleDetector(Protocol):
    """Finds people in a frame: (box, score) pairs, scores comparable to HOG's SVM margin."""

    def detect(self, frame: Frame, region: Box) -> list[tuple[Box, float]]:
        """Return the people found inside ``region`` of ``frame``, in frame pixels."""
        ...


class HogPeopleDetector:
    """OpenCV's built-in HOG + linear SVM people detector (no model file, nothing downloaded).

    It scans only the region where something is present (padded), upscaled by
    ``HOG_UPSCALE``: the detector's window is 64×128, and people seen from a high corner
    camera at 640 px are often smaller than that.
    """

    def __init__(self) -> None:
        self._hog = cv2.HOGDescriptor()
        weights = np.asarray(cv2.HOGDescriptor.getDefaultPeopleDetector(), np.float32)
        self._hog.setSVMDetector(weights)

    def detect(self, frame: Frame, region: Box) -> list[tuple[Box, float]]:
        """Return the people found inside ``region`` of ``frame``, in frame pixels."""
        height, width = frame.shape[:2]
        pad = HOG_REGION_PAD
        x0, y0 = max(0, region.x - pad), max(0, region.y - pad)
        x1 = min(width, region.x + region.w + pad)
        y1 = min(height, region.y + region.h + pad)
        crop = frame[y0:y1, x0:x1]
        if crop.shape[0] * HOG_UPSCALE < 128 or crop.shape[1] * HOG_UPSCALE < 64:
            return []
        big = cv2.resize(crop, None, fx=HOG_UPSCALE, fy=HOG_UPSCALE, interpolation=cv2.INTER_LINEAR)
        rects, scores = self._hog.detectMultiScale(big, winStride=(8, 8), padding=(8, 8), scale=1.1)
        found: list[tuple[Box, float]] = []
        for (x, y, w, h), score in zip(rects, np.ravel(scores), strict=True):
            if float(score) >= HOG_MIN_WEIGHT:
                bx, by, bw, bh = (round(int(v) / HOG_UPSCALE) for v in (x, y, w, h))
                found.append((Box(bx + x0, by + y0, bw, bh), float(score)))
        return found


def people_detector() -> HogPeopleDetector:
    """Return the built-in people detector."""
    return HogPeopleDetector()
