"""Smoke: grey, low-saturation regions that veil the scene or churn in place, and rise.

Two cues, each a window of samples:

- ``grey_textureless_motion``: moving, unsaturated, texture-free pixels that differ only a
  little from the background reference (smoke is translucent: it veils, where a grey coat
  hides) but visibly (a heavily compressed stream's flat blocks flip by less), persisting
  for seconds and growing.
- ``grey_churn_in_place``: unsaturated pixels, light *or dark* grey, whose brightness keeps
  churning a little (temporal std 4-30 grey levels over 2 s) and roughly (it flickers from
  sample to sample rather than stepping once), at the same place in most samples of 4 s, over
  a blob of at least 2 % of the frame. Light smoke drifting against a bright sky is too faint
  and too slow for the motion model, but it never stops churning in place.

Texture churn is not smoke: shimmering water, leaves or rain churn too, but their glints are
new in every sample (uncorrelated from one 200 ms sample to the next: roughness ≈ √2, where
smoke evolves continuously), and they keep fine texture. A churning blob counts only if its
roughness is smoke's, and it is diffuse (low spatial contrast, as smoke veils what is behind
it) or its content moves upward (phase correlation of the blob between samples).

Auto-exposure: the analytics scale every frame back to the scene's brightness, but a pixel
the camera clipped (blown out at full brightness) carries no brightness of its own: scaled
back, it follows the exposure, and a white wall in a room whose exposure hunts churns like
smoke. While the scaling itself hunts (its spread over the churn window ≥ 3 %), pixels
clipped in any sample of the spread are not judged for churn (at a steady exposure they are:
FURG's smoke over a bright sky touches the clip at times).

Cheap cameras: the churn windows are counted in time at the rate the camera really delivers
(each with a floor of samples), the roughness over a fixed number of samples (its value
depends on it), and the texture on a frame of 320 px at least, so that 320 px at 2 samples/s
judges FURG's smoke as 640 px at 5 samples/s does (docs/camera.md §6).
"""

import itertools
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import cv2
import numpy as np

from devices.kinds import AlertKind
from edge.camera.cues import (
    BoolMask,
    Box,
    Cue,
    FloatImage,
    Frame,
    Gray,
    SampleIntervals,
    largest_blob,
    largest_box,
    resize_mask,
)

T = TypeVar("T")

SMOKE_WINDOW_S = 4.0
SMOKE_MIN_SHARE = 0.75
SMOKE_MAX_DIFFERENCE = 60.0
"""Grey levels a smoke-veiled pixel differs from the reference at most (smoke is translucent;
dark smoke over a mid-grey scene differs by ~40-50)."""
SMOKE_MIN_DIFFERENCE = 12.0
"""Grey levels a veiled pixel differs from the reference at least. Smoke veils visibly (FURG,
generated plumes: median 28-38); a heavily compressed stream's flat JPEG blocks flip by a
quantisation step (one-by-one at quality 10: median 7-10) and move the motion model."""
SMOKE_MIN_GROWTH = 1.15
"""Median veiled area in the window's second half over its first half."""
SMOKE_CHURN_SCALE = 0.25
"""The churn measure runs on a quarter-size frame: cheap, and compression noise averages out."""
SMOKE_CHURN_SPREAD_S = 2.0
"""Time over which each pixel's brightness churn (temporal std) is taken (10 samples at 5/s)."""
SMOKE_CHURN_HISTORY_S = 4.0
"""Time over which churn must persist at the same pixel (20 samples at 5/s)."""
SMOKE_CHURN_MIN_SAMPLES = 5
"""Samples each churn window holds at least, whatever its time: a spread of fewer is noise,
and a persistence share of fewer is coarse. Only a slow camera needs it (2 samples/s: 5
samples of spread, 8 of history; 1 sample/s: 5 of each)."""
SMOKE_ROUGHNESS_SAMPLES = 10
"""Samples the roughness is taken over, whatever the rate (2 s at 5/s, 5 s at 2/s). It
compares sample-to-sample change with the spread over its window, so it depends on the
window's length: the spread estimator's bias (white noise over N samples: √(2N/(N−1))) and
smoke's slow drift, which a longer window holds more of. Over 5 samples at 2/s FURG's smoke
measured 1.34-1.63, water's level; over 10 (5 s) mostly 1.21-1.35, as at 5/s."""
CLIPPED_VALUE = 250
"""Brightest channel at or above which the camera clipped a pixel (before normalisation)."""
CLIPPED_MIN_EXPOSURE_CHURN = 8.0
"""Spread (grey levels, of 255) of the normalisation's scaling over the churn spread from which
clipped pixels are not judged: the exposure hunting (std ≥ 3 %), where the scene's own
brightening does not touch them (FURG's fire moves the scaling by ≤ 1.8 %: 4.5 levels; a
hunting exposure of ±40 % by ~75). Below it, FURG's smoke touching the clip at 1 sample/s
would lose a second (roughness passes one sample later)."""
SMOKE_CHURN_MIN_STD = 4.0
SMOKE_CHURN_MAX_STD = 30.0
"""Smoke churns faintly: more than compression noise, less than a walker's edges."""
SMOKE_CHURN_MIN_VALUE = 40
"""Darkest grey that may be smoke (a black plume against the sky is still above this)."""
SMOKE_CHURN_MAX_SATURATION = 40
SMOKE_CHURN_PERSISTENCE = 0.7
"""Share of the history's samples in which a pixel churned."""
SMOKE_CHURN_MIN_SHARE = 0.02
"""Persistently churning blob as a share of the analysed frame (FURG smoke 2-4.5 %; the people
clip at most 1.1 %, and 0.2 % once the roughness is required too)."""
SMOKE_CHURN_MIN_ROUGHNESS = 1.1
SMOKE_CHURN_MAX_ROUGHNESS = 1.36
"""Median roughness (RMS sample-to-sample change over temporal std) of a churning blob.
Someone passing steps once or twice (0.5-1.0); smoke evolves continuously (FURG 1.07-1.35);
glints on water are new every 200 ms, uncorrelated noise, whose roughness is √2 ≈ 1.41."""
SMOKE_MAX_TEXTURE = 8.0
"""Median spatial contrast (3×3 std, see ``texture_scale``) of a diffuse blob; water ripples
are rougher."""
SMOKE_TEXTURE_MIN_WIDTH = 320
"""Narrowest frame a blob's texture is taken on (a 640 px frame's half)."""
SMOKE_MIN_RISE_PX_PER_S = 1.25
"""Median upward speed (quarter-size pixels per second: 0.25 per sample at 5/s) of a rising
blob's content."""


def grey_texture_free(frame: Frame, gray: Gray) -> BoolMask:
    """Return the pixels that look like smoke: unsaturated, dark to light grey, no texture."""
    hsv = cv2.cvtColor(frame, cv2.COLOR_BGR2HSV)
    sat = hsv[:, :, 1]
    val = hsv[:, :, 2]
    f = gray.astype(np.float32)
    mean = cv2.blur(f, (7, 7))
    local_var = cv2.blur(f * f, (7, 7)) - mean * mean
    mask: BoolMask = (sat < 45) & (val > 30) & (val < 235) & (local_var < 60.0)
    return mask


@dataclass(frozen=True, slots=True)
class _Sample:
    ts: datetime
    active: bool
    area: float


class SmokeWatch:
    """The smoke cues of one camera; feed every sample in time order."""

    def __init__(self, valid: BoolMask) -> None:
        self._valid = valid
        self._small_valid: BoolMask | None = None
        self._veil: deque[_Sample] = deque()
        self._values: deque[FloatImage] = deque()
        self._masks: deque[BoolMask] = deque()
        self._clipped: deque[BoolMask] = deque()
        self._gains: deque[float] = deque()
        self._intervals = SampleIntervals()

    def forget(self) -> None:
        """Drop the short histories (a light switch: the next samples are judged afresh)."""
        self._veil.clear()
        self._values.clear()
        self._masks.clear()
        self._clipped.clear()
        self._gains.clear()

    def judge(
        self,
        frame: Frame,
        gray: Gray,
        motion: BoolMask,
        difference: FloatImage | None,
        ts: datetime,
        measures: dict[str, float],
        raw: Frame | None = None,
        gain: float = 1.0,
    ) -> Cue | None:
        """Return the smoke cue of one sample, if any (``raw``: the frame as the camera sent
        it, before normalisation by ``gain``, where its clipped pixels are found)."""
        self._intervals.observe(ts)
        candidates = grey_texture_free(frame, gray) & motion
        if difference is not None:
            # Smoke is thin: it veils the background (a small difference), where a grey coat
            # hides it (a large one); but it does veil it (not a compression block's flicker).
            candidates &= (difference >= SMOKE_MIN_DIFFERENCE) & (difference < SMOKE_MAX_DIFFERENCE)
        churn = self._churn(frame, frame if raw is None else raw, gain, measures)
        min_px = max(60, round(candidates.size * 0.002))
        count = int(candidates.sum())
        active = count >= min_px
        measures["smoke_px"] = float(count)
        self._veil.append(_Sample(ts, active, float(count)))
        while (ts - self._veil[0].ts).total_seconds() > SMOKE_WINDOW_S:
            self._veil.popleft()
        span = (self._veil[-1].ts - self._veil[0].ts).total_seconds()
        if not active or span < SMOKE_WINDOW_S * 0.75:
            return churn
        share = sum(w.active for w in self._veil) / len(self._veil)
        areas = [w.area for w in self._veil]
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
            largest_box(candidates),
            {"smoke_share": round(share, 3), "smoke_px": float(count)},
        )

    def _churn(
        self, frame: Frame, raw: Frame, gain: float, measures: dict[str, float]
    ) -> Cue | None:
        small = cv2.resize(
            frame, None, fx=SMOKE_CHURN_SCALE, fy=SMOKE_CHURN_SCALE, interpolation=cv2.INTER_AREA
        )
        raw_small = cv2.resize(raw, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_AREA)
        hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
        if self._small_valid is None or self._small_valid.shape != hsv.shape[:2]:
            self._small_valid = resize_mask(self._valid, small.shape[1], small.shape[0])
        valid = self._small_valid
        value = hsv[:, :, 2].astype(np.float32)
        spread_samples = self._intervals.samples(SMOKE_CHURN_SPREAD_S, SMOKE_CHURN_MIN_SAMPLES)
        history_samples = self._intervals.samples(SMOKE_CHURN_HISTORY_S, SMOKE_CHURN_MIN_SAMPLES)
        _append(self._values, value, max(spread_samples, SMOKE_ROUGHNESS_SAMPLES))
        _append(self._clipped, raw_small.max(axis=2) >= CLIPPED_VALUE, spread_samples)
        _append(self._gains, gain, spread_samples)
        if len(self._values) < spread_samples:
            return None
        spread = np.std(np.stack(list(self._values)[-spread_samples:]), axis=0)
        # A clipped pixel scaled back churns by the scaling's own spread (of 255 levels).
        exposure_churn = 255.0 * float(np.std(self._gains))
        measures["churn_exposure"] = exposure_churn
        clipped = (
            np.any(np.stack(self._clipped), axis=0)
            if exposure_churn >= CLIPPED_MIN_EXPOSURE_CHURN
            else np.zeros(value.shape, bool)
        )
        churning = (
            ~clipped
            & (hsv[:, :, 1] < SMOKE_CHURN_MAX_SATURATION)
            & (hsv[:, :, 2] > SMOKE_CHURN_MIN_VALUE)
            & (spread > SMOKE_CHURN_MIN_STD)
            & (spread < SMOKE_CHURN_MAX_STD)
            & valid
        )
        _append(self._masks, churning, history_samples)
        if len(self._masks) < history_samples or len(self._values) < SMOKE_ROUGHNESS_SAMPLES:
            return None
        persistent = np.mean(np.stack(self._masks), axis=0) >= SMOKE_CHURN_PERSISTENCE
        persistent = cv2.morphologyEx(
            persistent.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)
        ).astype(bool)
        largest = largest_blob(persistent)
        if largest is None:
            return None
        share = largest.area / max(1, int(valid.sum()))
        measures["churn_share"] = share
        if share < SMOKE_CHURN_MIN_SHARE:
            return None
        blob = largest.pixels
        box = largest.box
        values = np.stack(list(self._values)[-SMOKE_ROUGHNESS_SAMPLES:])
        # Roughness: how much of the spread is sample-to-sample change. Smoke flickers (≈1.2
        # on FURG); someone passing makes a step or two (the people clip's blobs: 0.5-1.0).
        step = np.sqrt(np.mean(np.diff(values[:, blob], axis=0) ** 2, axis=0))
        window_spread = np.std(values[:, blob], axis=0)
        roughness = float(np.median(step / np.maximum(window_spread, 1e-3)))
        texture = _texture(frame, box.scaled(1 / SMOKE_CHURN_SCALE), blob[box.slices])
        rise = _rise(values[:, *box.slices])
        measures.update(churn_roughness=roughness, churn_texture=texture, churn_rise=rise)
        if not SMOKE_CHURN_MIN_ROUGHNESS <= roughness <= SMOKE_CHURN_MAX_ROUGHNESS:
            return None
        diffuse = texture <= SMOKE_MAX_TEXTURE
        rising = rise >= SMOKE_MIN_RISE_PX_PER_S * self._intervals.usual()
        if not (diffuse or rising):
            return None
        scale = 1 / SMOKE_CHURN_SCALE
        return Cue(
            AlertKind.CAMERA_SMOKE,
            None,
            round(min(1.0, 0.3 + 10 * share + 0.1 * (diffuse + rising)), 3),
            "grey_churn_in_place",
            box.scaled(scale),
            {
                "churn_share": round(share, 4),
                "churn_roughness": round(roughness, 3),
                "churn_texture": round(texture, 2),
                "churn_rise_px": round(rise, 2),
            },
        )


def _append(window: deque[T], item: T, keep: int) -> None:
    """Append ``item`` and drop the oldest items beyond ``keep``."""
    window.append(item)
    while len(window) > keep:
        window.popleft()


def texture_scale(width: int) -> float:
    """Return the scale at which a blob's texture is taken in frames ``width`` pixels wide.

    Half size, but never under ``SMOKE_TEXTURE_MIN_WIDTH``: a 3×3 contrast is a contrast over
    a stretch of the scene, and at 320 px halving made that stretch twice as long, taking in
    the edges smoke veils (FURG at 320: 8-11 grey levels against 4.6-5.8 at 640, so its smoke
    was not diffuse; judged unhalved at 320: 4.6-6.0).
    """
    return min(1.0, max(0.5, SMOKE_TEXTURE_MIN_WIDTH / max(1, width)))


def _texture(frame: Frame, box: Box, blob: BoolMask) -> float:
    """Return the median fine contrast (3×3 grey std, at ``texture_scale``) inside a blob.

    Taken finer than the churn image because ripples and glints on water are a few pixels
    across: the quarter-size churn image has averaged them away, smoke has none at any size.
    """
    region = frame[box.slices]
    if region.size == 0:
        return 0.0
    scale = texture_scale(frame.shape[1])
    if scale < 1.0:
        region = cv2.resize(region, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    gray = cv2.cvtColor(region, cv2.COLOR_BGR2GRAY).astype(np.float32)
    mean = cv2.blur(gray, (3, 3))
    spread = np.sqrt(np.maximum(cv2.blur(gray * gray, (3, 3)) - mean * mean, 0.0))
    inside = resize_mask(blob, gray.shape[1], gray.shape[0])
    return float(np.median(spread[inside])) if inside.any() else 0.0


def _rise(stack: FloatImage) -> float:
    """Return the median upward shift per sample of a region's content (positive: rising)."""
    if stack.shape[1] < 8 or stack.shape[2] < 8:
        return 0.0
    window = np.asarray(cv2.createHanningWindow(stack.shape[2:0:-1], cv2.CV_32F))
    shifts = []
    for before, after in itertools.pairwise(stack):
        (_sx, sy), response = cv2.phaseCorrelate(
            np.ascontiguousarray(before), np.ascontiguousarray(after), window
        )
        shifts.append(-sy if response > 0.05 else 0.0)
    return float(np.median(shifts))
