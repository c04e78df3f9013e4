"""Camera analytics on synthetic numpy frames: each cue, and what must not be one."""

import weakref
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import cv2
import numpy as np
import pytest

from devices.camera import CameraConfig
from devices.kinds import AlertKind
from edge.camera.analytics import Box, Frame, FrameAnalyzer, FrameFindings
from simulators.clips import draw_flames

W, H = 320, 240
T0 = datetime(2026, 11, 22, 14, 0, tzinfo=UTC)
STEP = timedelta(milliseconds=200)


def scene(seed: int = 1) -> Frame:
    """Return a textured, mid-grey room: blurred noise plus a few shapes."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(60, 190, size=(H // 8, W // 8, 3), dtype=np.uint8)
    frame: Frame = cv2.resize(noise, (W, H), interpolation=cv2.INTER_CUBIC)
    cv2.rectangle(frame, (30, 40), (110, 200), (40, 60, 80), -1)
    cv2.circle(frame, (230, 90), 40, (180, 170, 160), -1)
    cv2.line(frame, (0, 210), (W, 210), (20, 20, 20), 3)
    return frame


def camera(**settings: Any) -> CameraConfig:
    """Return a camera watching everything unless told otherwise."""
    base: dict[str, Any] = {"device": "cam-1", "source": "test.avi"}
    return CameraConfig.model_validate({**base, **settings})


NOISE = np.random.default_rng(42)


def noisy(frame: Frame) -> Frame:
    """Return ``frame`` with a camera sensor's noise (σ ≈ 2 grey levels)."""
    grain = NOISE.normal(0.0, 2.0, frame.shape)
    result: Frame = np.clip(frame.astype(np.float32) + grain, 0, 255).astype(np.uint8)
    return result


SAMPLES: "weakref.WeakKeyDictionary[FrameAnalyzer, int]" = weakref.WeakKeyDictionary()
"""How many frames each analyzer has seen: its frames' time goes on across calls."""


def run(analyzer: FrameAnalyzer, frames: Iterator[Frame] | list[Frame]) -> list[FrameFindings]:
    """Feed frames 200 ms apart, each with sensor noise; return the findings of each."""
    findings = []
    for frame in frames:
        n = SAMPLES.get(analyzer, 0)
        findings.append(analyzer.analyze(noisy(frame), T0 + n * STEP))
        SAMPLES[analyzer] = n + 1
    return findings


def kinds(findings: FrameFindings) -> set[AlertKind]:
    """Return the alert kinds of a frame's cues."""
    return {c.kind for c in findings.cues}


def settle(analyzer: FrameAnalyzer, frame: Frame, n: int = 15) -> None:
    """Let the background models learn a still scene."""
    run(analyzer, [frame] * n)


ZONE_RIGHT = {
    "name": "roof",
    "polygon": [[0.5, 0.0], [1.0, 0.0], [1.0, 1.0], [0.5, 1.0]],
    "rules": ["motion"],
}


def with_block(base: Frame, x: int, y: int, colour: tuple[int, int, int] = (0, 0, 255)) -> Frame:
    """Return ``base`` with a solid 30×40 block at (x, y)."""
    frame = base.copy()
    cv2.rectangle(frame, (x, y), (x + 30, y + 40), colour, -1)
    return frame


def test_motion_in_a_zone_is_a_cue_with_the_zone_and_a_box() -> None:
    analyzer = FrameAnalyzer(camera(zones=[ZONE_RIGHT], fire=False, smoke=False))
    base = scene()
    settle(analyzer, base)
    findings = run(analyzer, [with_block(base, 200 + 6 * i, 100) for i in range(5)])
    cues = [c for f in findings for c in f.cues if c.kind is AlertKind.CAMERA_MOTION]
    assert cues, "a block moving in the zone must be motion"
    assert {c.zone for c in cues} == {"roof"}
    box = cues[-1].box
    assert box is not None
    assert box.intersection(Box(200, 100, 60, 40)) > 0
    assert all(0 < c.confidence <= 1 for c in cues)


def test_motion_outside_the_zone_or_under_a_mask_is_not_a_cue() -> None:
    mask = {"polygon": [[0.5, 0.3], [1.0, 0.3], [1.0, 0.8], [0.5, 0.8]]}
    analyzer = FrameAnalyzer(camera(zones=[ZONE_RIGHT], masks=[mask], fire=False, smoke=False))
    base = scene()
    settle(analyzer, base)
    outside = run(analyzer, [with_block(base, 20 + 6 * i, 100) for i in range(5)])
    masked = run(analyzer, [with_block(base, 200 + 6 * i, 100) for i in range(5)])
    assert not any(AlertKind.CAMERA_MOTION in kinds(f) for f in outside + masked)


@pytest.mark.parametrize("gain", [1.7, 0.45])
def test_lights_switched_are_not_tamper_fire_or_motion(gain: float) -> None:
    analyzer = FrameAnalyzer(camera(zones=[ZONE_RIGHT]))
    base = scene()
    settle(analyzer, base, 25)
    switched = np.clip(base.astype(np.float32) * gain, 0, 255).astype(np.uint8)
    findings = run(analyzer, [switched] * 25)
    assert findings[0].global_change
    assert all(not f.cues for f in findings), [f.cues for f in findings if f.cues]


def test_auto_exposure_drift_is_not_tamper_or_motion() -> None:
    analyzer = FrameAnalyzer(camera(zones=[ZONE_RIGHT]))
    base = scene().astype(np.float32)
    settle(analyzer, base.astype(np.uint8), 25)
    # 2 % brighter per sample for 3 s, then steady: an exposure loop hunting (+30 %).
    ramp = [np.clip(base * (1 + 0.02 * min(i, 15)), 0, 255).astype(np.uint8) for i in range(40)]
    findings = run(analyzer, ramp)
    assert all(not f.cues for f in findings), [f.cues for f in findings if f.cues]


def test_covered_lens_is_tamper() -> None:
    analyzer = FrameAnalyzer(camera())
    settle(analyzer, scene())
    covered = np.full((H, W, 3), 12, dtype=np.uint8)
    findings = run(analyzer, [covered] * 5)
    cues = [c for f in findings for c in f.cues if c.kind is AlertKind.CAMERA_TAMPER]
    assert cues
    assert {c.rule for c in cues} == {"lens_covered"}


def test_dark_but_textured_night_scene_is_not_covered() -> None:
    analyzer = FrameAnalyzer(camera())
    settle(analyzer, scene())
    night = (scene().astype(np.float32) * 0.3).astype(np.uint8)
    findings = run(analyzer, [night] * 10)
    assert not any(AlertKind.CAMERA_TAMPER in kinds(f) for f in findings)


def test_defocused_lens_is_tamper() -> None:
    analyzer = FrameAnalyzer(camera())
    base = scene()
    settle(analyzer, base)
    blurred = cv2.GaussianBlur(base, (0, 0), 8)
    findings = run(analyzer, [blurred] * 5)
    rules = {c.rule for f in findings for c in f.cues if c.kind is AlertKind.CAMERA_TAMPER}
    assert "defocused" in rules


def test_camera_turned_to_another_view_is_tamper_after_the_view_lost_time() -> None:
    analyzer = FrameAnalyzer(camera())
    settle(analyzer, scene(1))
    elsewhere = scene(7)[::-1, ::-1].copy()
    # Nothing of the reference matches any more; a lorry passing would take less than 4 s.
    findings = run(analyzer, [elsewhere] * 30)
    rules = {c.rule for f in findings for c in f.cues if c.kind is AlertKind.CAMERA_TAMPER}
    assert "camera_moved" in rules
    assert not any(AlertKind.CAMERA_TAMPER in kinds(f) for f in findings[:15])


def flames(base: Frame, i: int, rng: np.random.Generator) -> Frame:
    """Return ``base`` with a flickering, growing yellow-orange flame at the bottom middle."""
    frame = base.copy()
    draw_flames(frame, rng, height_px=30 + 2 * i, flicker_px=25)
    return frame


def test_flickering_flames_are_fire_within_the_window() -> None:
    analyzer = FrameAnalyzer(camera(smoke=False))
    base = scene()
    settle(analyzer, base)
    rng = np.random.default_rng(3)
    findings = run(analyzer, [flames(base, i, rng) for i in range(20)])
    first = next(i for i, f in enumerate(findings) if AlertKind.CAMERA_FIRE in kinds(f))
    assert first <= 10, "fire must be seen within about two seconds of flames"
    cue = next(c for c in findings[-1].cues if c.kind is AlertKind.CAMERA_FIRE)
    assert cue.box is not None
    assert cue.box.intersection(Box(130, 120, 60, 80)) > 0
    assert 0.4 <= cue.confidence <= 1.0


def test_a_steady_orange_lamp_is_not_fire() -> None:
    analyzer = FrameAnalyzer(camera(smoke=False))
    base = scene()
    settle(analyzer, base)
    lamp = base.copy()
    cv2.circle(lamp, (160, 120), 30, (60, 200, 255), -1)
    findings = run(analyzer, [lamp] * 30)
    assert not any(AlertKind.CAMERA_FIRE in kinds(f) for f in findings)


def test_an_orange_coat_walking_by_is_not_fire() -> None:
    analyzer = FrameAnalyzer(camera(smoke=False))
    base = scene()
    settle(analyzer, base)
    walk = [with_block(base, 10 + 12 * i, 120, (40, 160, 255)) for i in range(20)]
    findings = run(analyzer, walk)
    assert not any(AlertKind.CAMERA_FIRE in kinds(f) for f in findings)


def veil(base: Frame, i: int) -> Frame:
    """Return ``base`` under a translucent grey cloud growing from the top left."""
    frame = base.astype(np.float32)
    mask = np.zeros((H, W), np.float32)
    cv2.circle(mask, (60 + 3 * i, 50), 20 + 4 * i, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), 6)[..., None] * 0.55
    smoky = frame * (1 - mask) + 200.0 * mask
    return cv2.GaussianBlur(smoky, (0, 0), 1.5).astype(np.uint8)


def test_a_spreading_translucent_grey_cloud_is_smoke() -> None:
    analyzer = FrameAnalyzer(camera(fire=False, tamper=False))
    base = cv2.GaussianBlur(scene(), (0, 0), 1.5)
    settle(analyzer, base)
    findings = run(analyzer, [veil(base, i) for i in range(30)])
    assert any(AlertKind.CAMERA_SMOKE in kinds(f) for f in findings)


def test_a_box_left_in_a_fire_exit_stays_an_obstruction_cue_after_it_stops_moving() -> None:
    exit_zone = {
        "name": "fire-exit",
        "polygon": [[0.5, 0.3], [0.9, 0.3], [0.9, 0.9], [0.5, 0.9]],
        "rules": ["obstruction"],
    }
    analyzer = FrameAnalyzer(camera(zones=[exit_zone], fire=False, smoke=False))
    base = scene()
    settle(analyzer, base, 20)
    parked = base.copy()
    cv2.rectangle(parked, (180, 100), (260, 190), (90, 120, 30), -1)
    findings = run(analyzer, [parked] * 150)  # 30 s of a box standing still
    seen = [AlertKind.CAMERA_OBSTRUCTION in kinds(f) for f in findings]
    assert all(seen[10:]), "the box must stay an obstruction while it stands there"
    cleared = run(analyzer, [base] * 10)
    assert not any(AlertKind.CAMERA_OBSTRUCTION in kinds(f) for f in cleared[3:])


def infrared_lit(frame: Frame) -> Frame:
    """Return ``frame`` as the camera's night picture under its own infrared LEDs: grey, the
    middle lit brighter and the corners darker, about as bright on average as by day."""
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float32)
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    corner = ((xs - W / 2) / (W / 2)) ** 2 + ((ys - H / 2) / (H / 2)) ** 2
    lit = np.clip(grey * (1.45 - 0.75 * corner), 0, 255).astype(np.uint8)
    result: Frame = cv2.cvtColor(lit, cv2.COLOR_GRAY2BGR)
    return result


def test_the_infrared_lights_switching_on_at_dusk_are_not_an_obstruction() -> None:
    # The frame's mean hardly changes (no light-switch jump), but the middle brightens and the
    # corners darken by far more than the presence threshold: same scene, another light.
    zone = {"name": "yard", "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]], "rules": ["obstruction"]}
    analyzer = FrameAnalyzer(camera(zones=[zone], fire=False, smoke=False))
    base = scene()
    settle(analyzer, base, 20)
    night = infrared_lit(base)
    mean_change = abs(float(night.mean()) - float(base.mean())) / float(base.mean())
    assert mean_change < 0.2, "not a light switch by the frame's mean"
    findings = run(analyzer, [night] * 50)
    assert not any(AlertKind.CAMERA_OBSTRUCTION in kinds(f) for f in findings[20:])
    # Objects still count under the new light.
    parked = infrared_lit(base)
    cv2.rectangle(parked, (180, 100), (260, 190), (90, 90, 90), -1)
    findings = run(analyzer, [parked] * 30)
    assert all(AlertKind.CAMERA_OBSTRUCTION in kinds(f) for f in findings[20:])


class FakeDetector:
    """Finds a person wherever it is told to, and counts how often it is asked."""

    def __init__(self, box: Box | None, darker_than: float = 255.0) -> None:
        self.box = box
        self.darker_than = darker_than
        self.calls = 0

    def detect(self, frame: Frame, region: Box) -> list[tuple[Box, float]]:
        """Return the configured person if the region touches them."""
        self.calls += 1
        if self.box is None or region.intersection(self.box) == 0:
            return []
        b = self.box
        if float(frame[b.y : b.y + b.h, b.x : b.x + b.w].mean()) > self.darker_than:
            return []  # nobody (dark-clothed) stands there
        return [(self.box, 1.2)]


PERSON_ZONE = {
    "name": "corridor",
    "polygon": [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]],
    "rules": ["person", "loitering"],
}


def person(base: Frame, x: int, sway: int = 0) -> Frame:
    """Return ``base`` with a dark upright figure at ``x`` (swaying by ``sway`` px)."""
    frame = base.copy()
    cv2.rectangle(frame, (x + sway, 60), (x + 40 + sway, 200), (30, 30, 50), -1)
    cv2.circle(frame, (x + 20 + sway, 45), 16, (60, 80, 120), -1)
    return frame


def test_a_person_standing_still_stays_one_track_without_re_detection() -> None:
    detector = FakeDetector(Box(150, 30, 50, 175), darker_than=90)
    analyzer = FrameAnalyzer(camera(zones=[PERSON_ZONE], fire=False, smoke=False), detector)
    base = scene()
    settle(analyzer, base)
    # Walks in, then stands reading for a minute, shifting weight now and then.
    walk = [person(base, 60 + 10 * i) for i in range(10)]
    still = [person(base, 150, sway=(i // 5) % 2) for i in range(300)]
    findings = run(analyzer, walk + still)
    seen = [AlertKind.CAMERA_PERSON in kinds(f) for f in findings]
    first = seen.index(True)
    assert all(seen[first:]), "a person standing still must stay present"
    assert {c.zone for f in findings for c in f.cues} == {"corridor"}
    assert detector.calls < 40, "HOG must not run on every frame of a confirmed track"
    gone = run(analyzer, [base] * 10)
    # The spot they left still moves for a moment (the motion model catches up): 1 s.
    assert not any(AlertKind.CAMERA_PERSON in kinds(f) for f in gone[5:])


def test_an_empty_scene_never_asks_the_detector() -> None:
    detector = FakeDetector(None)
    analyzer = FrameAnalyzer(camera(zones=[PERSON_ZONE]), detector)
    run(analyzer, [scene()] * 30)
    assert detector.calls == 0


def test_a_detection_on_nothing_present_starts_no_track() -> None:
    # HOG's classic false positive: a coat rack in the background, present from the start.
    detector = FakeDetector(Box(30, 40, 80, 160))
    analyzer = FrameAnalyzer(camera(zones=[PERSON_ZONE], fire=False, smoke=False), detector)
    base = scene()
    settle(analyzer, base)
    walker = [with_block(base, 200, 20 + 5 * i, (200, 200, 200)) for i in range(10)]
    findings = run(analyzer, walker)
    assert not any(AlertKind.CAMERA_PERSON in kinds(f) for f in findings)


def churning_smoke(base: Frame, i: int) -> Frame:
    """Return ``base`` with a light grey smoke patch whose brightness churns in place.

    The churn evolves (each sample keeps a third of the last one's pattern): smoke's
    brightness is continuous in time, where glints on water are new in every sample.
    """
    field = np.zeros((6, 10))
    for n in range(i + 1):
        fresh = np.random.default_rng(1000 + n).normal(0.0, 12.0, (6, 10))
        field = 0.3 * field + float(np.sqrt(1 - 0.09)) * fresh
    frame = base.astype(np.float32)
    churn = cv2.resize(field, (100, 60), interpolation=cv2.INTER_CUBIC)
    patch = 215.0 + churn
    frame[20:80, 110:210] = patch[:, :, None]
    result: Frame = np.clip(frame, 0, 255).astype(np.uint8)
    return result


def test_light_smoke_churning_in_place_against_a_bright_sky_is_smoke() -> None:
    analyzer = FrameAnalyzer(camera(fire=False, tamper=False))
    base = scene()
    settle(analyzer, churning_smoke(base, 0), 5)  # the smoke is there from the first frame
    findings = run(analyzer, [churning_smoke(base, i) for i in range(1, 40)])
    cues = [c for f in findings for c in f.cues if c.kind is AlertKind.CAMERA_SMOKE]
    assert any(c.rule == "grey_churn_in_place" for c in cues)
    box = next(c.box for c in cues if c.rule == "grey_churn_in_place")
    assert box is not None
    assert Box(110, 20, 100, 60).intersection(box) > 0.5 * box.area()


def test_a_still_bright_patch_or_a_grey_block_walking_by_is_not_churning_smoke() -> None:
    still = FrameAnalyzer(camera(fire=False, tamper=False))
    base = scene()
    bright = base.copy()
    bright[20:80, 110:210] = 215
    findings = run(still, [bright] * 40)
    # A large, uniform, light grey block crossing slowly churns long enough in place; its
    # churn is one step in and one out, not smoke's flicker.
    walker = FrameAnalyzer(camera(fire=False, tamper=False))
    settle(walker, base)
    walking = []
    for i in range(40):
        frame = base.copy()
        x = 10 + i * 7
        cv2.rectangle(frame, (x, 60), (x + 40, 200), (200, 200, 200), -1)
        walking.append(frame)
    findings += run(walker, walking)
    assert not any(c.rule == "grey_churn_in_place" for f in findings for c in f.cues)
