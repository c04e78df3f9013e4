"""Flames, told apart from lamps, neon signs, car lights, sunsets and reflections.

Flame-coloured blobs (bright, red ≥ green > blue, Cr well above Cb, with the near-white core
beside them) are followed from sample to sample in *scene* coordinates (the camera's own
motion removed, see ``edge.camera.egomotion``), so a handheld or panning camera still sees a
fire in place. Over a window of about three seconds, a blob's history must show every hard cue:

- ``persistent``: present in most samples: a blinking neon sign or an indicator is off in
  many of them;
- ``in_place``: its centre stays put (within its own size): headlights and brake lights of
  moving cars travel;
- ``flickering``: its area varies (coefficient of variation), as flames' do, where a lamp, a
  lit sign or a sunset's is steady;
- ``pixels_flicker``: pixels that stay flame-coloured change brightness from one sample to
  the next (a tenth of them at least): a wooden floor's colour mask breathes with compression
  noise and people walking over it, but its pixels keep their brightness;
- ``boundary_changes``: its outline changes from one sample to the next (1 − IoU of
  consecutive masks);
- ``never_repeats``: its shape never comes back exactly: a neon sign's blink or chase is
  periodic and repeats its few shapes, flames never do. (At 5 samples/s the 1–15 Hz flame
  flicker is aliased; what survives sampling is irregularity, which this measures.)

Soft cues raise the confidence and are reported: ``irregular`` outline
(perimeter² / 4π·area), ``hot_core`` (near-white core, brighter inside than at the rim) and
``growing`` area.
"""

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

import cv2
import numpy as np

from devices.kinds import AlertKind
from edge.camera.cues import BoolMask, Box, Cue, Frame, Gray, resize_mask
from edge.camera.egomotion import SceneOffset

FIRE_SCALE = 0.5
"""Flames are judged at half the analysis width: a quarter of the cost, blobs stay blobs."""
FIRE_WINDOW_S = 3.0
FIRE_MIN_SPAN_S = 1.6
"""History a blob needs before it is judged (with the rule's 1 s: fire within ~3 s)."""
FIRE_MIN_SAMPLES = 6
MIN_PRESENCE = 0.8
FIRE_MAX_GAP_S = 0.8
"""A blob gone longer than this and back is a new one (so stray speckle before a fire does
not count against the fire's persistence; a blinking sign is back sooner and counts)."""
MIN_AREA_CV = 0.04
FLICKER_LEVELS = 12
"""Grey levels by which a flame's pixel changes between samples (noise: 2-4)."""
MIN_CHANGED = 0.1
"""Median share of a blob's pixels that changed since the previous sample."""
"""Flames' area varies by tens of percent; a lamp's by sensor noise (~1 %)."""
MIN_BOUNDARY_CHANGE = 0.1
REPEAT_IOU = 0.9
"""A sample whose outline matches an earlier one this closely repeats it: a lit neon shape
comes back exactly, flames never do."""
MAX_REPEAT_SHARE = 0.5
MIN_IRREGULARITY = 1.3
MIN_CORE_GRADIENT = 8.0
MIN_GROWTH = 1.1
MAX_TRACKS = 8
LEVEL_RATE = 0.02
"""Per-sample rate at which the flame brightness level follows the scene (~10 s at 5 fps)."""
MIN_AREA_SHARE = 0.0004
"""Smallest blob worth following, as a share of the (half-size) frame."""


def flame_colour(frame: Frame, level: float | None = None) -> BoolMask:
    """Return the pixels whose colour could be flame (R ≥ G > B, Cr well above Cb, and
    brighter than ``level``, by default the frame's mean luma)."""
    b = frame[:, :, 0].astype(np.int16)
    g = frame[:, :, 1].astype(np.int16)
    r = frame[:, :, 2].astype(np.int16)
    ycrcb = cv2.cvtColor(frame, cv2.COLOR_BGR2YCrCb)
    y = ycrcb[:, :, 0].astype(np.int16)
    cr = ycrcb[:, :, 1].astype(np.int16)
    cb = ycrcb[:, :, 2].astype(np.int16)
    mask: BoolMask = (
        (r > 190)
        & (r >= g)
        & (g > b)
        & (r - b > 70)
        & (cr - cb > 30)
        & (y > (float(y.mean()) if level is None else level))
    )
    return mask


@dataclass(frozen=True, slots=True)
class _Blob:
    ts: datetime
    origin: tuple[int, int]
    """Scene coordinates of the mask's top-left pixel."""
    mask: BoolMask
    area: int
    centre: tuple[float, float]
    box: Box
    """In the analysed frame's pixels (full size)."""
    irregularity: float
    gradient: float
    changed: float
    """Share of the blob's pixels whose brightness changed since the last sample."""


@dataclass(slots=True)
class _Track:
    samples: deque[tuple[datetime, _Blob | None]] = field(default_factory=deque)
    ious: deque[float] = field(default_factory=deque)
    repeats: deque[bool] = field(default_factory=deque)

    def last(self) -> _Blob | None:
        return next((b for _, b in reversed(self.samples) if b is not None), None)


@dataclass(frozen=True, slots=True)
class FlameVerdict:
    """Every cue of one followed blob over its window."""

    persistent: bool
    in_place: bool
    flickering: bool
    pixels_flicker: bool
    boundary_changes: bool
    never_repeats: bool
    irregular: bool
    hot_core: bool
    growing: bool
    values: dict[str, float]

    def fire(self) -> bool:
        """Return whether every hard cue holds."""
        return (
            self.persistent
            and self.in_place
            and self.flickering
            and self.pixels_flicker
            and self.boundary_changes
            and self.never_repeats
        )

    def cues(self) -> dict[str, bool]:
        """Return each cue by name."""
        return {
            "persistent": self.persistent,
            "in_place": self.in_place,
            "flickering": self.flickering,
            "pixels_flicker": self.pixels_flicker,
            "boundary_changes": self.boundary_changes,
            "never_repeats": self.never_repeats,
            "irregular": self.irregular,
            "hot_core": self.hot_core,
            "growing": self.growing,
        }


class FlameWatch:
    """Follows one camera's flame-coloured blobs and judges them; feed every sample."""

    def __init__(self, valid: BoolMask) -> None:
        height, width = valid.shape
        self._size = (max(1, round(width * FIRE_SCALE)), max(1, round(height * FIRE_SCALE)))
        self._valid = resize_mask(valid, *self._size)
        self._tracks: list[_Track] = []
        self._min_area = max(8, round(MIN_AREA_SHARE * self._size[0] * self._size[1]))
        self._previous: tuple[Gray, BoolMask, SceneOffset] | None = None
        self._level: float | None = None

    def forget(self) -> None:
        """Drop every followed blob (a light switch: the next samples are judged afresh)."""
        self._tracks.clear()

    def judge(
        self, frame: Frame, offset: SceneOffset, ts: datetime, measures: dict[str, float]
    ) -> Cue | None:
        """Return the fire cue of one sample, if any blob's history shows flames."""
        small = cv2.resize(frame, self._size, interpolation=cv2.INTER_AREA)
        blobs = self._blobs(small, offset, ts)
        self._follow(blobs, ts)
        best: tuple[FlameVerdict, _Blob] | None = None
        for track in self._tracks:
            verdict = _judge(track)
            last = track.last()
            if verdict is None or last is None:
                continue
            if best is None or _rank(verdict) > _rank(best[0]):
                best = (verdict, last)
        measures["flame_blobs"] = float(len(blobs))
        if best is None:
            return None
        verdict, blob = best
        measures.update({f"fire.{name}": float(ok) for name, ok in verdict.cues().items()})
        measures.update({f"fire_{name}": value for name, value in verdict.values.items()})
        if not verdict.fire():
            return None
        confidence = 0.6 + 0.1 * (verdict.irregular + verdict.hot_core + verdict.growing)
        confidence += 0.1 * min(1.0, verdict.values["area_cv"] / 0.2)
        return Cue(
            AlertKind.CAMERA_FIRE,
            None,
            round(min(1.0, confidence), 3),
            "flame_flicker_in_place",
            blob.box,
            verdict.values,
        )

    def _blobs(self, small: Frame, offset: SceneOffset, ts: datetime) -> list[_Blob]:
        # The brightness a flame must exceed follows the scene's mean slowly: someone dark
        # walking in must not make a wooden floor's colour mask breathe (and look like flicker).
        mean = float(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).mean())
        self._level = (
            mean if self._level is None else self._level + LEVEL_RATE * (mean - self._level)
        )
        colour = flame_colour(small, self._level) & self._valid
        # Speckle (noise around the colour thresholds on a textured wall) is not a blob.
        colour = cv2.medianBlur(colour.astype(np.uint8), 3).astype(bool)
        if int(colour.sum()) < 4:
            self._previous = None
            return []
        grown = cv2.dilate(colour.astype(np.uint8), np.ones((5, 5), np.uint8))
        white = cv2.inRange(small, (201, 201, 201), (255, 255, 255)) > 0
        hot = colour | (white & grown.astype(bool))
        count, labels, stats, _ = cv2.connectedComponentsWithStats(grown | hot.astype(np.uint8))
        min_area = self._min_area
        order = sorted(range(1, count), key=lambda i: -int(stats[i, cv2.CC_STAT_AREA]))
        gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        ox, oy = offset.dx * FIRE_SCALE, offset.dy * FIRE_SCALE
        changed = self._changed(gray, hot, offset)
        blobs: list[_Blob] = []
        for label in order[:MAX_TRACKS]:
            x, y, w, h, _ = (int(v) for v in stats[label])
            mask = (labels[y : y + h, x : x + w] == label) & hot[y : y + h, x : x + w]
            area = int(mask.sum())
            if area < min_area:
                continue
            ys, xs = np.nonzero(mask)
            inner = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
            patch = gray[y : y + h, x : x + w].astype(np.float32)
            rim = mask & ~inner
            gradient = (
                float(patch[inner].mean() - patch[rim].mean()) if inner.any() and rim.any() else 0
            )
            contours, _ = cv2.findContours(
                mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE
            )
            perimeter = sum(cv2.arcLength(c, True) for c in contours)
            blobs.append(
                _Blob(
                    ts,
                    (round(x - ox), round(y - oy)),
                    mask,
                    area,
                    (float(xs.mean()) + x - ox, float(ys.mean()) + y - oy),
                    Box(x, y, w, h).scaled(1 / FIRE_SCALE),
                    perimeter * perimeter / (4 * np.pi * area),
                    gradient,
                    0.0 if changed is None else float(changed[y : y + h, x : x + w][mask].mean()),
                )
            )
        return blobs

    def _changed(self, gray: Gray, hot: BoolMask, offset: SceneOffset) -> BoolMask | None:
        """Return the pixels hot in this sample and the last one whose brightness changed
        (camera motion removed). A flame's pixels flicker while staying flame; a wooden floor
        or a lamp stays the same, and where someone walks over the floor, the pixels that
        change were not floor-coloured in one of the two samples."""
        previous, self._previous = self._previous, (gray, hot, offset)
        if previous is None:
            return None
        before, was_hot, then = previous
        dx, dy = (offset.dx - then.dx) * FIRE_SCALE, (offset.dy - then.dy) * FIRE_SCALE
        if abs(dx) > 0.25 or abs(dy) > 0.25:
            shift = np.array([[1, 0, dx], [0, 1, dy]], np.float32)
            size = (gray.shape[1], gray.shape[0])
            before = cv2.warpAffine(before, shift, size, borderMode=cv2.BORDER_REPLICATE)
            was_hot = cv2.warpAffine(was_hot.astype(np.uint8), shift, size).astype(bool)
        changed: BoolMask = (cv2.absdiff(gray, before) > FLICKER_LEVELS) & was_hot & hot
        return changed

    def _follow(self, blobs: list[_Blob], ts: datetime) -> None:
        free = list(self._tracks)
        for blob in blobs:
            match = _nearest(free, blob)
            if match is None:
                # A new blob must be twice the smallest followed size: specks of noise at the
                # colour thresholds start no track (they would dilute a fire's persistence).
                if len(self._tracks) >= 2 * MAX_TRACKS or blob.area < 2 * self._min_area:
                    continue
                match = _Track()
                self._tracks.append(match)
            else:
                free.remove(match)
            previous = match.last()
            if previous is not None and (ts - previous.ts).total_seconds() > FIRE_MAX_GAP_S:
                # Back after a long absence: a new blob in the same place, judged afresh.
                match.samples.clear()
                match.ious.clear()
                match.repeats.clear()
                previous = None
            if previous is not None:
                match.ious.append(_iou(previous, blob))
            others = [b for _, b in match.samples if b is not None]
            match.repeats.append(any(_iou(b, blob) >= REPEAT_IOU for b in others))
            match.samples.append((ts, blob))
        for track in free:
            track.samples.append((ts, None))
        for track in self._tracks:
            while track.samples and (ts - track.samples[0][0]).total_seconds() > FIRE_WINDOW_S:
                track.samples.popleft()
            keep = max(0, sum(b is not None for _, b in track.samples) - 1)
            while len(track.ious) > keep:
                track.ious.popleft()
            while len(track.repeats) > keep + 1:
                track.repeats.popleft()
        self._tracks = [t for t in self._tracks if t.last() is not None]


def _nearest(tracks: list[_Track], blob: _Blob) -> _Track | None:
    """Return the track whose last blob overlaps ``blob`` or lies nearest, within reach."""
    reach = max(8.0, 0.75 * float(np.sqrt(blob.area)) + 4.0)
    best: tuple[float, _Track] | None = None
    for track in tracks:
        last = track.last()
        if last is None:
            continue
        distance = float(np.hypot(last.centre[0] - blob.centre[0], last.centre[1] - blob.centre[1]))
        if _overlap(last, blob):
            distance = min(distance, reach)
        if distance <= reach and (best is None or distance < best[0]):
            best = (distance, track)
    return best[1] if best else None


def _overlap(a: _Blob, b: _Blob) -> bool:
    (ax, ay), (bx, by) = a.origin, b.origin
    ah, aw = (int(v) for v in a.mask.shape)
    bh, bw = (int(v) for v in b.mask.shape)
    return ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah


def _iou(a: _Blob, b: _Blob) -> float:
    """Return the intersection over union of two blobs' outlines in scene coordinates."""
    (ax, ay), (bx, by) = a.origin, b.origin
    x0, y0 = min(ax, bx), min(ay, by)
    x1 = max(ax + a.mask.shape[1], bx + b.mask.shape[1])
    y1 = max(ay + a.mask.shape[0], by + b.mask.shape[0])
    canvas_a = np.zeros((y1 - y0, x1 - x0), bool)
    canvas_b = np.zeros_like(canvas_a)
    canvas_a[ay - y0 : ay - y0 + a.mask.shape[0], ax - x0 : ax - x0 + a.mask.shape[1]] = a.mask
    canvas_b[by - y0 : by - y0 + b.mask.shape[0], bx - x0 : bx - x0 + b.mask.shape[1]] = b.mask
    union = int((canvas_a | canvas_b).sum())
    return int((canvas_a & canvas_b).sum()) / union if union else 0.0


def _judge(track: _Track) -> FlameVerdict | None:
    present = [b for _, b in track.samples if b is not None]
    span = (track.samples[-1][0] - track.samples[0][0]).total_seconds()
    if span < FIRE_MIN_SPAN_S or len(track.samples) < FIRE_MIN_SAMPLES or len(present) < 3:
        return None
    presence = len(present) / len(track.samples)
    areas = np.array([b.area for b in present], np.float64)
    area_cv = float(areas.std() / max(1.0, areas.mean()))
    centres = np.array([b.centre for b in present])
    drift = float(np.hypot(*(centres - np.median(centres, axis=0)).T).max())
    boundary = float(1.0 - np.median(track.ious)) if track.ious else 0.0
    repeat = float(np.mean(track.repeats)) if track.repeats else 0.0
    half = len(areas) // 2
    growth = float(np.median(areas[half:]) / max(1.0, float(np.median(areas[:half]))))
    irregularity = float(np.median([b.irregularity for b in present]))
    gradient = float(np.median([b.gradient for b in present]))
    changed = float(np.median([b.changed for b in present[1:]]))
    values = {
        "presence": round(presence, 3),
        "area_cv": round(area_cv, 3),
        "drift_px": round(drift / FIRE_SCALE, 1),
        "boundary_change": round(boundary, 3),
        "repeat_share": round(repeat, 3),
        "growth": round(growth, 3),
        "irregularity": round(irregularity, 3),
        "core_gradient": round(gradient, 1),
        "changed": round(changed, 3),
        "flame_px": float(present[-1].area / FIRE_SCALE**2),
    }
    return FlameVerdict(
        persistent=presence >= MIN_PRESENCE,
        in_place=drift <= max(6.0, 0.75 * float(np.sqrt(np.median(areas)))),
        flickering=area_cv >= MIN_AREA_CV,
        pixels_flicker=changed >= MIN_CHANGED,
        boundary_changes=boundary >= MIN_BOUNDARY_CHANGE,
        never_repeats=repeat <= MAX_REPEAT_SHARE,
        irregular=irregularity >= MIN_IRREGULARITY,
        hot_core=gradient >= MIN_CORE_GRADIENT,
        growing=growth >= MIN_GROWTH,
        values=values,
    )


def _rank(verdict: FlameVerdict) -> tuple[bool, int, float]:
    return verdict.fire(), sum(verdict.cues().values()), verdict.values["flame_px"]
