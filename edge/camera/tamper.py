"""Is the camera still looking where it was set up: lens covered, defocused, moved?

- **Covered**: almost no contrast left (a hand, tape, paint).
- **Defocused**: sharpness relative to contrast collapses against the reference's. Sensor
  noise is measured on what changed between two samples where nothing moved, and taken out of
  both: a night picture's grain (high gain, infrared) would pass for detail, and the next
  morning's clean picture would then look blurred against it. A picture whose fine detail is
  mostly noise is not judged for focus at all, and never becomes the reference.
- **Frozen**: the picture has not changed at all for the camera's ``no_frames_s``: a camera
  (or a recorder in between) that hangs and repeats its last frame delivers frames, so it is
  never silent, yet it shows nothing; a fire in front of it would go unseen. Real pictures
  change: sensor noise and compression redraw some pixels from one sample to the next, and
  real clips repeat a frame for a fraction of a second at most.
- **Moved**: judged on the *static background* with ORB features, never on whole-frame
  similarity. The reference (a keyframe) keeps only features on pixels the motion model calls
  static, taken once the scene has been calm, so people or cars in view are not part of it.
  Each sample's features are matched to the keyframe's:

  * a moved camera shifts *all* static features the same way: a similarity transform fitted
    with RANSAC explains many matches and displaces the frame by more than a few pixels;
  * a passing truck or a crowd only hides some features; the rest still match where they were
    (``still`` matches), and no consistent shift appears;
  * a camera turned to a new view matches nothing at all; so does a view blocked entirely, so
    that only counts after ``VIEW_LOST_S``, and only if the motion model saw the picture
    change (otherwise the keyframe went stale on a bare scene and is retaken).

  Frames are min-max stretched before ORB and ORB compares intensities by order, so a light
  switched or an exposure loop hunting moves no feature. After a move the new view becomes the
  reference once it has been stable for the camera's ``moved_rebaseline_s``; an operator may
  re-baseline at once (``rebaseline()``) after re-aiming a camera on purpose.
"""

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from devices.kinds import AlertKind
from edge.camera.cues import BoolMask, Cue, Gray, resize_mask

PROBE_WIDTH = 320
"""Tamper measures run at this width: enough ORB features, a few milliseconds."""
ORB_FEATURES = 300
COVERED_MAX_STD = 6.0
"""Grey-level standard deviation below which the lens is covered (a hand, tape, paint)."""
DEFOCUS_RATIO = 0.25
"""Sharpness below this fraction of the reference's is defocused (or sprayed)."""
MATCH_MAX_DISTANCE = 64
"""Hamming distance of two ORB descriptors (of 256 bits) still worth matching."""
STILL_PX = 3.0
"""A matched feature within this many probe pixels of where it was has not moved."""
MOVED_PX = 8.0
"""The fitted transform must displace the frame's corners by more (2.5 % of the width)."""
MIN_SHIFT_INLIERS = 12
"""Matches that must agree on one shift before the camera counts as moved."""
MIN_STILL = 8
LOST_STILL_RATIO = 0.08
"""Fewer still matches than this share of the keyframe's features (or ``MIN_STILL``): lost."""
VIEW_LOST_S = 4.0
"""A view matching nothing for this long is a new view (a truck passing takes less)."""
VIEW_CHANGE_MOTION_SHARE = 0.3
"""A new view lights up the motion model over much of the frame; a view that matches nothing
while hardly anything moved means the keyframe went stale, and it is retaken."""
CALM_MOTION_SHARE = 0.02
"""Moving share of the frame under which the scene is calm enough to take a keyframe."""
CALM_S = 1.0
CALM_MAX_WAIT_S = 15.0
"""A scene never calm (a busy plaza) gets its keyframe anyway after this, from static pixels."""
REFRESH_S = 60.0
"""While all is well the keyframe is retaken this often (day, night, seasons, parked cars)."""
STABLE_MIN_STILL_RATIO = 0.5
"""Share of a candidate view's features still in place for it to count as stable."""
NOISE_MAX_SHARE = 0.5
"""A picture whose fine detail (Laplacian energy) is more than this share sensor noise (a dark
night at high gain) is too noisy to judge its focus."""
NOISE_CREDIT = 0.75
"""Share of the measured noise energy taken out before a picture may be judged blurred: the
median-based measure errs by ~10 %, and too much taken out would make a grainy night blurred."""
NOISE_MIN_STATIC = 0.2
"""Share of the frame that must be still for the noise to be measured on it."""
FROZEN_LEVELS = 1
"""A probe pixel must change by more than this many grey levels to count as changed."""
FROZEN_MAX_CHANGED = 1e-4
"""Share of probe pixels changed under which a sample repeats the last one (7 of 76,800 at
320×240). The real clips' quietest samples change 0.06 % (the Intel empty room) between their
exact repeats; a frozen stream changes none, a JPEG re-encoding of it none either."""
MAD_TO_SIGMA = 1.4826
"""Median absolute deviation to standard deviation, for Gaussian noise."""

Points = npt.NDArray[np.float32]
Descriptors = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class _Keyframe:
    points: Points
    descriptors: Descriptors
    sharpness: float | None
    """None: no picture clean enough to judge focus against has been seen yet."""
    taken: datetime


@dataclass(frozen=True, slots=True)
class MatchFigures:
    """How a sample's features sit against a keyframe's."""

    features: int
    matches: int
    still: int
    shift_inliers: int
    shift_px: float

    def moved(self) -> bool:
        """Return whether the static features agree on one large shift."""
        return (
            self.shift_px > MOVED_PX
            and self.shift_inliers >= MIN_SHIFT_INLIERS
            and self.shift_inliers > 2 * self.still
        )

    def lost(self) -> bool:
        """Return whether hardly any feature is still where it was."""
        return self.still < max(MIN_STILL, LOST_STILL_RATIO * self.features)


@dataclass(frozen=True, slots=True)
class SensorNoise:
    """What sensor noise adds to a probe frame's variance and to its Laplacian's variance."""

    variance: float
    laplacian_variance: float


def sensor_noise(gray: Gray, previous: Gray, static: BoolMask) -> SensorNoise | None:
    """Return the noise of ``gray``, from its change since ``previous`` where nothing moved.

    Between two samples of a still scene only the noise changes, and their difference carries
    it twice. Medians, so that what little motion the motion model missed does not count.
    None when too little of the frame is still to tell.
    """
    if previous.shape != gray.shape or float(static.mean()) < NOISE_MIN_STATIC:
        return None
    change = gray.astype(np.float32) - previous.astype(np.float32)
    lap = cv2.Laplacian(change, cv2.CV_32F)
    sigma = MAD_TO_SIGMA * float(np.median(np.abs(change[static])))
    lap_sigma = MAD_TO_SIGMA * float(np.median(np.abs(lap[static])))
    return SensorNoise(sigma * sigma / 2, lap_sigma * lap_sigma / 2)


@dataclass(frozen=True, slots=True)
class Focus:
    """How sharp a probe frame is: Laplacian variance relative to the contrast."""

    sharpness: float
    """At most this sharp: only part of the measured noise is taken out (the measure has
    its error), so noise can make a picture look sharper, never blurred."""
    reference: float | None
    """The sharpness with the noise taken out, when the noise is known and a small part of the
    detail: only then may the picture be what later ones are judged against."""


def focus(gray: Gray, noise: SensorNoise | None = None) -> Focus:
    """Return how sharp ``gray`` is: blur lowers it, gain and sensor noise do not."""
    lap = float(cv2.Laplacian(gray, cv2.CV_32F).var())
    contrast = float(gray.astype(np.float32).var())
    if noise is None:
        return Focus(lap / (contrast + 1.0), None)
    signal = max(0.0, contrast - noise.variance) + 1.0
    upper = max(0.0, lap - NOISE_CREDIT * noise.laplacian_variance) / signal
    if noise.laplacian_variance > NOISE_MAX_SHARE * lap:
        return Focus(upper, None)
    return Focus(upper, (lap - noise.laplacian_variance) / signal)


class TamperWatch:
    """The tamper measures of one camera; feed it every sample in time order."""

    def __init__(self, rebaseline_s: float, frozen_s: float = 30.0) -> None:
        self.rebaseline_s = rebaseline_s
        self.frozen_s = frozen_s
        self._unchanged_since: datetime | None = None
        self._orb = cv2.ORB.create(nfeatures=ORB_FEATURES, fastThreshold=12)
        self._matcher = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True)
        self._keyframe: _Keyframe | None = None
        self._candidate: _Keyframe | None = None
        self._calm_since: datetime | None = None
        self._first_seen: datetime | None = None
        self._lost_since: datetime | None = None
        self._force = False
        self._skip = False
        self._lost_motion = 0.0
        self._height = PROBE_WIDTH * 3 // 4
        self._previous: Gray | None = None

    def rebaseline(self) -> None:
        """Take the next sample as the reference view (an operator re-aimed the camera)."""
        self._force = True

    def judge(
        self, gray: Gray, motion: BoolMask, ts: datetime, lighting: bool, measures: dict[str, float]
    ) -> Cue | None:
        """Return the tamper cue of one sample, if any, and update the reference."""
        height = max(8, round(gray.shape[0] * PROBE_WIDTH / gray.shape[1]))
        small = cv2.resize(gray, (PROBE_WIDTH, height), interpolation=cv2.INTER_AREA)
        self._height = height
        moving = resize_mask(motion, PROBE_WIDTH, height)
        std = float(small.std())
        previous, self._previous = self._previous, small
        noise = None if previous is None else sensor_noise(small, previous, ~moving)
        seen = focus(small, noise)
        sharp = seen.reference
        measures.update(std=std, sharpness=seen.sharpness)
        if self._first_seen is None:
            self._first_seen = ts
        moving_share = float(moving.mean())
        calm = moving_share < CALM_MOTION_SHARE and not lighting
        if not calm:
            self._calm_since = None
        elif self._calm_since is None:
            self._calm_since = ts
        if std < COVERED_MAX_STD:
            return Cue(
                AlertKind.CAMERA_TAMPER,
                None,
                round(min(1.0, 1.2 - std / COVERED_MAX_STD / 2), 3),
                "lens_covered",
                values={"std": round(std, 2)},
            )
        frozen = self._frozen(small, previous, ts, measures)
        if frozen is not None:
            return frozen
        low, high, _, _ = cv2.minMaxLoc(small)
        stretched = cv2.convertScaleAbs(
            small, alpha=255.0 / max(1.0, high - low), beta=-low * 255.0 / max(1.0, high - low)
        )
        if self._force:
            self._force = False
            self._lost_since = None
            self._keyframe = self._take(stretched, ~moving, sharp, ts)
            return None
        keyframe = self._keyframe
        if keyframe is None:
            if self._ready(ts):
                self._keyframe = self._take(stretched, ~moving, sharp, ts)
            return None
        reference = keyframe.sharpness
        if reference is None and sharp is not None and calm:
            # Taken while the noise was unknown or large: the first clean, calm sample is it.
            self._keyframe = keyframe = replace(keyframe, sharpness=sharp)
        elif reference is not None and seen.sharpness < DEFOCUS_RATIO * reference:
            return Cue(
                AlertKind.CAMERA_TAMPER,
                None,
                round(min(1.0, 1.0 - seen.sharpness / reference), 3),
                "defocused",
                values={"sharpness": round(seen.sharpness, 4), "reference": round(reference, 4)},
            )
        # While all is well, matching every other sample is enough: a move must last seconds
        # before it is an alert. Once anything looks off, every sample is matched.
        self._skip = not self._skip and self._lost_since is None and self._candidate is None
        if self._skip:
            return None
        points, descriptors = self._features(stretched, None)
        figures = self._match(keyframe, points, descriptors)
        measures.update(
            still_matches=float(figures.still),
            shift_px=figures.shift_px,
            shift_inliers=float(figures.shift_inliers),
        )
        moved = figures.moved()
        lost = not moved and figures.lost()
        if lost and self._lost_since is None:
            self._lost_since = ts
            self._lost_motion = 0.0
        if not lost:
            self._lost_since = None
        self._lost_motion = max(self._lost_motion, moving_share)
        lost_s = 0.0 if self._lost_since is None else (ts - self._lost_since).total_seconds()
        if lost_s >= VIEW_LOST_S and self._lost_motion < VIEW_CHANGE_MOTION_SHARE:
            # Nothing matches, yet the picture never changed much: the keyframe went stale
            # (few, weak features on a bare scene; light drifting), not the camera. Retake it.
            self._lost_since = None
            if calm:
                self._keyframe = self._take(stretched, ~moving, sharp, ts)
            return None
        if moved or lost_s >= VIEW_LOST_S:
            if self._new_view_stable(stretched, points, descriptors, sharp, ts):
                return None
            return Cue(
                AlertKind.CAMERA_TAMPER,
                None,
                round(min(1.0, 0.6 + 0.4 * (1.0 - figures.still / max(1, figures.matches))), 3),
                "camera_moved",
                values={
                    "shift_px": round(figures.shift_px, 1),
                    "still_matches": float(figures.still),
                    "shift_inliers": float(figures.shift_inliers),
                },
            )
        if lost:
            return None
        self._candidate = None
        if calm and (ts - keyframe.taken).total_seconds() >= REFRESH_S and self._ready(ts):
            self._keyframe = self._take(stretched, ~moving, sharp, ts)
        return None

    def _frozen(
        self, small: Gray, previous: Gray | None, ts: datetime, measures: dict[str, float]
    ) -> Cue | None:
        """Return the ``frozen`` cue once the picture has not changed for ``frozen_s``."""
        if previous is None or previous.shape != small.shape:
            self._unchanged_since = None
            return None
        changed = float((cv2.absdiff(small, previous) > FROZEN_LEVELS).mean())
        measures["changed_share"] = changed
        if changed >= FROZEN_MAX_CHANGED:
            self._unchanged_since = None
            return None
        if self._unchanged_since is None:
            self._unchanged_since = ts
        frozen_s = (ts - self._unchanged_since).total_seconds()
        if frozen_s < self.frozen_s:
            return None
        return Cue(
            AlertKind.CAMERA_TAMPER, None, 1.0, "frozen", values={"frozen_s": round(frozen_s)}
        )

    def _ready(self, ts: datetime) -> bool:
        if self._calm_since is not None and (ts - self._calm_since).total_seconds() >= CALM_S:
            return True
        assert self._first_seen is not None
        return (ts - self._first_seen).total_seconds() >= CALM_MAX_WAIT_S

    def _new_view_stable(
        self,
        stretched: Gray,
        points: Points,
        descriptors: Descriptors,
        sharp: float | None,
        ts: datetime,
    ) -> bool:
        """Return True (and re-baseline) once the moved camera's new view has held still."""
        candidate = self._candidate
        if candidate is not None:
            figures = self._match(candidate, points, descriptors)
            if figures.still >= STABLE_MIN_STILL_RATIO * figures.features:
                if (ts - candidate.taken).total_seconds() >= self.rebaseline_s:
                    self._keyframe = candidate
                    self._candidate = None
                    self._lost_since = None
                    return True
                return False
        self._candidate = _Keyframe(points, descriptors, self._reference(sharp), ts)
        return False

    def _take(
        self, stretched: Gray, static: BoolMask, sharp: float | None, ts: datetime
    ) -> _Keyframe:
        mask = static.astype(np.uint8) * 255 if static.mean() > 0.2 else None
        points, descriptors = self._features(stretched, mask)
        return _Keyframe(points, descriptors, self._reference(sharp), ts)

    def _reference(self, sharp: float | None) -> float | None:
        """Return the focus reference of a new keyframe: a picture too noisy to judge (the
        night) keeps the last clean one's."""
        if sharp is not None or self._keyframe is None:
            return sharp
        return self._keyframe.sharpness

    def _features(self, image: Gray, mask: Any) -> tuple[Points, Descriptors]:
        keypoints, descriptors = self._orb.detectAndCompute(image, mask)
        if descriptors is None or not keypoints:
            return np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8)
        points = np.array([k.pt for k in keypoints], np.float32)
        return points, np.asarray(descriptors, np.uint8)

    def _match(self, keyframe: _Keyframe, points: Points, descriptors: Descriptors) -> MatchFigures:
        features = len(keyframe.points)
        if features == 0 or len(points) == 0:
            return MatchFigures(features, 0, 0, 0, 0.0)
        matches = [
            m
            for m in self._matcher.match(keyframe.descriptors, descriptors)
            if m.distance <= MATCH_MAX_DISTANCE
        ]
        if not matches:
            return MatchFigures(features, 0, 0, 0, 0.0)
        before = keyframe.points[[m.queryIdx for m in matches]]
        after = points[[m.trainIdx for m in matches]]
        still = int((np.hypot(*(after - before).T) < STILL_PX).sum())
        shift_inliers, shift_px = 0, 0.0
        if len(matches) >= MIN_SHIFT_INLIERS:
            transform, inliers = cv2.estimateAffinePartial2D(
                before, after, method=cv2.RANSAC, ransacReprojThreshold=STILL_PX
            )
            if transform is not None and inliers is not None:
                shift_inliers = int(inliers.sum())
                w, h = PROBE_WIDTH, self._height
                corners = np.array([[0, 0], [w, 0], [0, h], [w, h]], np.float32)
                moved = corners @ transform[:, :2].T + transform[:, 2]
                shift_px = float(np.hypot(*(moved - corners).T).max())
        return MatchFigures(features, len(matches), still, shift_inliers, shift_px)
