"""Finding people: OpenCV's built-in HOG people detector behind a small protocol."""

from typing import Protocol

import cv2
import numpy as np

from edge.camera.cues import Box, Frame

HOG_MIN_WEIGHT = 0.5
"""SVM score of a HOG detection worth considering."""
HOG_UPSCALE = 1.5
HOG_REGION_PAD = 48
"""Pixels around the present region that HOG also scans (a person's edges may be missing)."""


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
