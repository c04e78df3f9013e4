"""How far the whole picture moved since the last sample: a handheld or panning camera.

Phase correlation of two small grey frames gives their translation in a fraction of a
millisecond. The fire cue uses the accumulated offset to follow a flame in *scene*
coordinates, so a shaking camera does not make a flame travel (and a moving camera does
not silence fire detection). A static camera's background dominates the correlation, so a
passing object does not shift it; a weak peak (no consistent shift) counts as no shift.
"""

from dataclasses import dataclass

import cv2
import numpy as np

from edge.camera.cues import FloatImage, Gray

PROBE_WIDTH = 160
"""Width the correlation runs at; shifts are returned in the caller's pixels."""
MIN_RESPONSE = 0.08
"""Phase-correlation peak below which the shift is not trusted (no consistent motion)."""
MIN_SHIFT_PX = 0.5
"""Shifts below this (probe pixels) are noise: a static camera stays exactly at (0, 0)."""


@dataclass(frozen=True, slots=True)
class SceneOffset:
    """Where the scene's origin lies in the current frame (frame pixels)."""

    dx: float = 0.0
    dy: float = 0.0
    step: float = 0.0
    """How far the picture moved since the previous sample (frame pixels)."""


class CameraMotion:
    """Accumulates the frame-to-frame translation of one camera's picture."""

    def __init__(self) -> None:
        self._previous: FloatImage | None = None
        self._window: FloatImage | None = None
        self.offset = SceneOffset()

    def update(self, gray: Gray) -> SceneOffset:
        """Return the scene offset after ``gray`` (a new sample of the same camera)."""
        scale = PROBE_WIDTH / gray.shape[1]
        height = max(8, round(gray.shape[0] * scale))
        small = cv2.resize(gray, (PROBE_WIDTH, height), interpolation=cv2.INTER_AREA)
        current = np.asarray(small, np.float32)
        if self._window is None or self._window.shape != current.shape:
            self._window = np.asarray(cv2.createHanningWindow(current.shape[::-1], cv2.CV_32F))
            self._previous = None
        previous, self._previous = self._previous, current
        if previous is None:
            self.offset = SceneOffset(self.offset.dx, self.offset.dy, 0.0)
            return self.offset
        (sx, sy), response = cv2.phaseCorrelate(previous, current, self._window)
        if response < MIN_RESPONSE or float(np.hypot(sx, sy)) < MIN_SHIFT_PX:
            sx = sy = 0.0
        dx, dy = sx / scale, sy / scale
        self.offset = SceneOffset(self.offset.dx + dx, self.offset.dy + dy, float(np.hypot(dx, dy)))
        return self.offset

    def reset(self) -> None:
        """Forget the history (a new frame size, a light switch)."""
        self._previous = None
        self.offset = SceneOffset()
