"""Flames, told apart from lamps, neon signs, car lights, sunsets and reflections.

Flame-coloured blobs (bright, red ≥ green > blue, Cr well above Cb, with the near-white core
beside them) are followed from sample to sample in *scene* coordinates (the camera's own
motion removed, see ``edge.camera.egomotion``), so a handheld or panning camera still sees a
fire in place. Over a window of about three seconds, a blob's history must show every hard cue:

- ``persistent``: present in most samples: a blinking neon sign or an indicator is off in
  many of them;
- ``in_place``: it keeps covering its usual place (the median of its centres lies inside
  its outline's box, or within its own size of it): headlights and brake lights of moving
  cars travel away from it, where a flame that flares, or joins a neighbouring speck, still
  covers it;
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

Cheap cameras (320 px, 1-2 samples/s, heavy JPEG): flames are judged at half the analysis
width but never on fewer than 320 px (smoothed as the halving would), so a flame in a small
window stays a blob of its own; a blob's history is counted in time (1.6 s, and at least 5
samples: the window stretches to 4 s at 1 sample/s), and, sampled slower than 2.5/s, a small
blob seen twice in the same place starts a track without waiting to grow.
"""

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

import cv2
import numpy as np

from devices.kinds import AlertKind
from edge.camera.cues import (
    DEFAULT_INTERVAL_S,
    BoolMask,
    Box,
    Cue,
    Frame,
    Gray,
    SampleIntervals,
    resize_mask,
)
from edge.camera.egomotion import SceneOffset

FIRE_SCALE = 0.5
"""Flames are judged at half the analysis width: a quarter of the cost, blobs stay blobs."""
FIRE_MIN_WIDTH = 320
"""...but never narrower than this (nor wider than the analysed frame). A cheap camera analysed
at 320 px would otherwise show a flame in a window as a ~12 px blob at 160 px, too small and
too close to its neighbours to be followed apart from them."""
FIRE_REFERENCE_WIDTH = 320
"""The width at which the pixel floors below (``REACH_PX``, ``IN_PLACE_PX``, the smallest
blob) hold; a narrower flame frame scales them down with it."""
REACH_PX = 8.0
"""Smallest distance a followed blob may move between samples and stay the same blob."""
IN_PLACE_PX = 6.0
"""Largest drift that counts as in place, whatever the blob's size."""
FIRE_WINDOW_S = 3.0
FIRE_MIN_SPAN_S = 1.6
"""History a blob needs before it is judged (with the rule's 1 s: fire within ~3 s)."""
FIRE_MIN_SAMPLES = 5
"""Samples a blob's history needs besides its span: the window is counted in time, and this
floor only matters to a slow camera. At 5 samples/s the span decides (9 samples), at 2 the
span and this agree (5 samples, 2 s), at 1 sample/s the window is stretched to 4 s to hold
them (see ``_window_s``). With 4, one-by-one's wooden floor was a false fire at 1 sample/s."""
MIN_PRESENCE = 0.8
FIRE_MAX_GAP_S = 0.8
FIRE_MAX_GAP_SAMPLES = 2.5
"""A blob gone longer than both of these (seconds, sample intervals) and back is a new one
(so stray speckle before a fire does not count against the fire's persistence; a blinking
sign is back sooner and counts). In intervals too: at 1 sample/s one missed sample is 2 s."""
SEED_MIN_INTERVAL_S = 0.4
"""Sampling interval (seconds between samples) from which a small blob seen twice in place
starts a track without having grown. At 5 samples/s a small flame passes twice the floor
within a second or so, and specks of sensor noise seen twice in a row would start tracks
whose absences then dilute a fire's persistence; at 2 samples/s and slower, waiting for the
flame to grow costs seconds."""
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
"""Rate per 200 ms at which the flame brightness level follows the scene (~10 s)."""
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


@dataclass(slots=True, eq=False)
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
        self._scale = flame_scale(width)
        self._size = (max(1, round(width * self._scale)), max(1, round(height * self._scale)))
        self._valid = resize_mask(valid, *self._size)
        self._tracks: list[_Track] = []
        self._px = min(1.0, self._size[0] / FIRE_REFERENCE_WIDTH)
        """Pixel floors' factor: 1 at 320 px and wider, less on a narrower flame frame."""
        self._min_area = max(
            round(8 * self._px**2), round(MIN_AREA_SHARE * self._size[0] * self._size[1])
        )
        self._previous: tuple[Gray, BoolMask, SceneOffset] | None = None
        self._level: float | None = None
        self._intervals = SampleIntervals()
        self._seeds: list[_Blob] = []
        """Last sample's blobs too small to start a track on their own."""

    def forget(self) -> None:
        """Drop every followed blob (a light switch: the next samples are judged afresh)."""
        self._tracks.clear()

    def judge(
        self, frame: Frame, offset: SceneOffset, ts: datetime, measures: dict[str, float]
    ) -> Cue | None:
        """Return the fire cue of one sample, if any blob's history shows flames."""
        self._intervals.observe(ts)
        small = cv2.resize(frame, self._size, interpolation=cv2.INTER_AREA)
        if self._scale > FIRE_SCALE:
            # Averaged as by the halving of a 640 px frame: a small picture's own pixels carry
            # its JPEG blocks' noise, which colours a pink wall between two windows like flame
            # (joining their flames into one blob) and makes a wooden floor's pixels flicker.
            small = cv2.GaussianBlur(small, (3, 3), 0)
        blobs = self._blobs(small, offset, ts)
        self._follow(blobs, ts)
        best: tuple[FlameVerdict, _Blob] | None = None
        for track in self._tracks:
            verdict = _judge(track, self._scale, self._px)
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
        rate = min(1.0, LEVEL_RATE * self._interval() / DEFAULT_INTERVAL_S)
        self._level = mean if self._level is None else self._level + rate * (mean - self._level)
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
        ox, oy = offset.dx * self._scale, offset.dy * self._scale
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
                    Box(x, y, w, h).scaled(1 / self._scale),
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
        dx, dy = (offset.dx - then.dx) * self._scale, (offset.dy - then.dy) * self._scale
        if abs(dx) > 0.25 or abs(dy) > 0.25:
            shift = np.array([[1, 0, dx], [0, 1, dy]], np.float32)
            size = (gray.shape[1], gray.shape[0])
            before = cv2.warpAffine(before, shift, size, borderMode=cv2.BORDER_REPLICATE)
            was_hot = cv2.warpAffine(was_hot.astype(np.uint8), shift, size).astype(bool)
        changed: BoolMask = (cv2.absdiff(gray, before) > FLICKER_LEVELS) & was_hot & hot
        return changed

    def _interval(self) -> float:
        """Return the usual time between samples (the camera may deliver fewer than asked)."""
        return self._intervals.usual()

    def _window_s(self) -> float:
        """Return the history kept per blob: 3 s, or enough for ``FIRE_MIN_SAMPLES`` samples
        at a slow camera's rate (4 s at 1 sample/s; 1 % slack, as a 29.97 fps file's
        timestamps fall a little after each second)."""
        return max(FIRE_WINDOW_S, (FIRE_MIN_SAMPLES - 1) * self._interval() * 1.01)

    def _follow(self, blobs: list[_Blob], ts: datetime) -> None:
        free = list(self._tracks)
        window_s = self._window_s()
        max_gap_s = max(FIRE_MAX_GAP_S, FIRE_MAX_GAP_SAMPLES * self._interval())
        reach = REACH_PX * self._px
        seeds, self._seeds = self._seeds, []
        seeding = self._interval() >= SEED_MIN_INTERVAL_S
        for blob in blobs:
            match = _nearest(free, blob, reach)
            if match is None:
                if len(self._tracks) >= 2 * MAX_TRACKS:
                    continue
                # A new blob must be twice the smallest followed size: specks of noise at the
                # colour thresholds start no track (they would dilute a fire's persistence).
                # Sampled slowly, a small blob seen in the same place in the previous sample
                # too starts one: a small flame must not wait seconds until it has grown.
                seed = _nearest_blob(seeds, blob, reach) if seeding else None
                if blob.area < 2 * self._min_area and seed is None:
                    if seeding:
                        self._seeds.append(blob)
                    continue
                match = _Track()
                if seed is not None:
                    match.repeats.append(False)
                    match.samples.append((seed.ts, seed))
                self._tracks.append(match)
            else:
                free.remove(match)
            previous = match.last()
            if previous is not None and (ts - previous.ts).total_seconds() > max_gap_s:
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
            while track.samples and (ts - track.samples[0][0]).total_seconds() > window_s:
                track.samples.popleft()
            keep = max(0, sum(b is not None for _, b in track.samples) - 1)
            while len(track.ious) > keep:
                track.ious.popleft()
            while len(track.repeats) > keep + 1:
                track.repeats.popleft()
        self._tracks = [t for t in self._tracks if t.last() is not None]


def flame_scale(width: int) -> float:
    """Return the scale at which flames are judged in frames ``width`` pixels wide."""
    return min(1.0, max(FIRE_SCALE, FIRE_MIN_WIDTH / max(1, width)))


def _nearest(tracks: list[_Track], blob: _Blob, floor: float) -> _Track | None:
    """Return the track whose last blob overlaps ``blob`` or lies nearest, within reach
    (``floor`` pixels at least)."""
    reach = max(floor, 0.75 * float(np.sqrt(blob.area)) + floor / 2)
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


def _nearest_blob(blobs: list[_Blob], blob: _Blob, reach: float) -> _Blob | None:
    """Return the blob of ``blobs`` that overlaps ``blob`` or lies within ``reach`` of it."""
    near = [
        b
        for b in blobs
        if _overlap(b, blob)
        or float(np.hypot(b.centre[0] - blob.centre[0], b.centre[1] - blob.centre[1])) <= reach
    ]
    return near[0] if near else None


def _outside(blob: _Blob, x: float, y: float) -> float:
    """Return how far the point (``x``, ``y``) lies outside ``blob``'s box (0: inside)."""
    (bx, by), (h, w) = blob.origin, blob.mask.shape
    return float(np.hypot(max(0.0, bx - x, x - (bx + w - 1)), max(0.0, by - y, y - (by + h - 1))))


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


def _judge(track: _Track, scale: float, px: float) -> FlameVerdict | None:
    """Return the cues of a track's window (``scale``: flame frame over analysed frame;
    ``px``: factor of the pixel floors), or None while its history is too short."""
    present = [b for _, b in track.samples if b is not None]
    span = (track.samples[-1][0] - track.samples[0][0]).total_seconds()
    if span < FIRE_MIN_SPAN_S or len(track.samples) < FIRE_MIN_SAMPLES or len(present) < 3:
        return None
    presence = len(present) / len(track.samples)
    areas = np.array([b.area for b in present], np.float64)
    area_cv = float(areas.std() / max(1.0, areas.mean()))
    # Drift: how far the place the blob usually is lies outside its outline's box, at worst.
    # A flame that flares or merges with a neighbouring speck (JPEG blocks on a cheap camera)
    # still covers its place, where a car light that travels leaves it.
    cx, cy = np.median(np.array([b.centre for b in present]), axis=0)
    drift = max(_outside(b, float(cx), float(cy)) for b in present)
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
        "drift_px": round(drift / scale, 1),
        "boundary_change": round(boundary, 3),
        "repeat_share": round(repeat, 3),
        "growth": round(growth, 3),
        "irregularity": round(irregularity, 3),
        "core_gradient": round(gradient, 1),
        "changed": round(changed, 3),
        "flame_px": float(present[-1].area / scale**2),
    }
    return FlameVerdict(
        persistent=presence >= MIN_PRESENCE,
        in_place=drift <= max(IN_PLACE_PX * px, 0.75 * float(np.sqrt(np.median(areas)))),
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
