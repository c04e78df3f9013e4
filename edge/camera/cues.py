"""What the camera analytics report, and the image helpers every cue shares.

``Cue`` and ``FrameFindings`` are the analytics' output; ``Box`` is a rectangle in the
analysed frame's pixels. The helpers (masks, boxes, centroids) are used by several cues
(tamper, fire, smoke, people, zones), so they live here rather than in one cue's module.
"""

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from devices.kinds import AlertKind

Frame = npt.NDArray[Any]
"""A BGR frame, height × width × 3, 8 bits per channel."""
Gray = npt.NDArray[Any]
"""A single-channel 8-bit image."""
FloatImage = npt.NDArray[np.float32]
BoolMask = npt.NDArray[np.bool_]

DEFAULT_INTERVAL_S = 0.2
"""Sample interval assumed before two samples have been seen (5 samples/s)."""


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

    @property
    def slices(self) -> tuple[slice, slice]:
        """Return the (rows, columns) that cut this box out of an image."""
        return slice(self.y, self.y + self.h), slice(self.x, self.x + self.w)

    def scaled(self, factor: float) -> "Box":
        """Return the box in a frame ``factor`` times as wide."""
        return Box(*(round(v * factor) for v in (self.x, self.y, self.w, self.h)))


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


def polygon_mask(polygon: list[tuple[float, float]], width: int, height: int) -> BoolMask:
    """Return the pixels of a polygon given in fractions of the frame."""
    points = np.array(
        [[round(x * (width - 1)), round(y * (height - 1))] for x, y in polygon], dtype=np.int32
    )
    canvas = np.zeros((height, width), dtype=np.uint8)
    cv2.fillPoly(canvas, [points], 255)
    return canvas > 0


@dataclass(frozen=True, slots=True)
class Blob:
    """One 8-connected blob of a mask: its box, its area and (on demand) its pixels."""

    box: Box
    area: int
    labels: npt.NDArray[Any]
    label: int

    @property
    def pixels(self) -> BoolMask:
        """Return the blob's pixels, in the whole mask's frame."""
        pixels: BoolMask = self.labels == self.label
        return pixels


def largest_blob(mask: BoolMask) -> Blob | None:
    """Return the largest 8-connected blob of ``mask``, or None when it is empty."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8), connectivity=8
    )
    if count <= 1:
        return None
    best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, w, h, area = (int(v) for v in stats[best])
    return Blob(Box(x, y, w, h), area, labels, best)


def largest_box(mask: BoolMask) -> Box | None:
    """Return the box of the largest 8-connected blob of ``mask``."""
    blob = largest_blob(mask)
    return None if blob is None else blob.box


def union_box(mask: BoolMask) -> Box | None:
    """Return the box around every set pixel of ``mask``."""
    points = cv2.findNonZero(mask.astype(np.uint8))
    if points is None:
        return None
    x, y, w, h = cv2.boundingRect(points)
    return Box(int(x), int(y), int(w), int(h))


def crop(mask: BoolMask, box: Box) -> BoolMask:
    """Return the part of ``mask`` inside ``box``."""
    return mask[box.slices]


def coverage(mask: BoolMask, box: Box) -> float:
    """Return the fraction of ``box`` that ``mask`` covers."""
    region = crop(mask, box)
    return float(region.mean()) if region.size else 0.0


def blob_touching(mask: BoolMask, box: Box) -> Box | None:
    """Return the box of the blob of ``mask`` that covers most of ``box``."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8), connectivity=8
    )
    region = labels[box.slices]
    ids, counts = np.unique(region[region > 0], return_counts=True)
    if ids.size == 0 or count <= 1:
        return None
    best = int(ids[int(np.argmax(counts))])
    x, y, w, h, _area = (int(v) for v in stats[best])
    return Box(x, y, w, h)


def resize_mask(mask: BoolMask, width: int, height: int) -> BoolMask:
    """Return ``mask`` at another size (nearest neighbour)."""
    resized = cv2.resize(mask.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST)
    result: BoolMask = resized.astype(bool)
    return result


class SampleIntervals:
    """The usual time between one camera's samples: the median of the last few observed.

    A cue's windows are counted in time, and a cheap camera may deliver fewer frames than
    ``detect_fps`` asks, so the rate is observed rather than configured.
    """

    def __init__(self, keep: int = 9) -> None:
        self._intervals: deque[float] = deque(maxlen=keep)
        self._last: datetime | None = None

    def observe(self, ts: datetime) -> None:
        """Note a sample taken at ``ts`` (samples in time order; a repeated time is ignored)."""
        if self._last is not None and ts > self._last:
            self._intervals.append((ts - self._last).total_seconds())
        self._last = ts

    def usual(self) -> float:
        """Return the usual interval in seconds (``DEFAULT_INTERVAL_S`` until one is seen)."""
        return float(np.median(self._intervals)) if self._intervals else DEFAULT_INTERVAL_S

    def samples(self, span_s: float, floor: int) -> int:
        """Return how many samples cover ``span_s`` at the usual interval, at least ``floor``."""
        return max(floor, round(span_s / self.usual()))


MIN_FRAME_PX = 16
"""A frame narrower or lower than this holds nothing to analyse (a broken decoder's stub)."""


def bgr8(frame: object) -> Frame | None:
    """Return ``frame`` as an 8-bit BGR picture, or None when it cannot be one.

    Cameras do not all send what OpenCV's decoder usually gives: an infrared or thermal
    camera may send one grey channel, a USB camera BGRA, a raw or HDR source 16 bits, a
    broken decoder an empty or ragged array. The analytics take 8-bit BGR only; what can be
    read as a picture is converted (16 bits keep their high byte, floats in 0..1 are scaled),
    anything else is None, for the pipeline to report as unreadable.
    """
    if not isinstance(frame, np.ndarray) or frame.ndim not in (2, 3):
        return None
    if frame.shape[0] < MIN_FRAME_PX or frame.shape[1] < MIN_FRAME_PX:
        return None
    channels = 1 if frame.ndim == 2 else frame.shape[2]
    if channels not in (1, 3, 4):
        return None
    if frame.dtype == np.uint8:
        pixels = frame
    elif frame.dtype == np.uint16:
        pixels = (frame >> 8).astype(np.uint8)
    elif np.issubdtype(frame.dtype, np.floating):
        values = np.nan_to_num(frame.astype(np.float32), nan=0.0, posinf=255.0, neginf=0.0)
        if float(values.max(initial=0.0)) <= 1.0:
            values = values * 255.0
        pixels = np.clip(values, 0, 255).astype(np.uint8)
    else:
        return None
    if channels == 1:
        result: Frame = cv2.cvtColor(pixels.reshape(pixels.shape[:2]), cv2.COLOR_GRAY2BGR)
        return result
    if channels == 4:
        result = cv2.cvtColor(pixels, cv2.COLOR_BGRA2BGR)
        return result
    return np.ascontiguousarray(pixels)
