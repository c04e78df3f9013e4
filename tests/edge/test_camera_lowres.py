"""Cheap cameras: fire and smoke on real clips sent small, slowly and heavily compressed.

Each probe is derived here from a real clip (``bench.camera_degraded``: frames chosen by their
timestamps at the camera's rate, scaled to 320×180, JPEG re-encoded, decoded again), so no
degraded footage is committed. Before the fixes these were docs/camera.md §6's "Not fixed":
fire at 10.2 s at 320 px, 9.0 s at 2 fps, never at 1 fps (measured from FURG's first
annotated flame, at its first frame); smoke at 28.4 s at 320 px, 15.5 s at 2 fps, 21.0 s at
1 fps, where 640 px at 5 fps gives 6.8 s.
"""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from bench.camera import FURG, PEOPLE
from bench.camera_degraded import Probe, first_flame_s, run_probe
from devices.camera import CameraConfig
from devices.kinds import AlertKind
from edge.camera.analytics import FrameAnalyzer
from edge.camera.cues import SampleIntervals
from edge.camera.fire import flame_scale
from edge.camera.pipeline import CameraPipeline
from edge.camera.smoke import texture_scale
from tests.edge.camera_clips import fire_static
from tests.edge.test_camera_analytics import camera, churning_smoke, scene

T0 = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)


def fire_after_flame(probe: Probe, videos: Path) -> float | None:
    """Return seconds from FURG's first annotated flame to the probe's first camera_fire."""
    fire = run_probe(probe, videos).first.get(AlertKind.CAMERA_FIRE)
    return None if fire is None else fire - first_flame_s(videos)


@pytest.mark.parametrize(
    ("probe", "within_s"),
    [
        # A 320 px analysis of the clip, no compression: as fast as at 640 px (4.2 s).
        (Probe(FURG, 5.0, 320), 5.0),
        # 2 fps, the camera's own 320×180 picture; the promise of 5 s holds uncompressed (the
        # sample at 5 s of a 29.97 fps file is stamped 5.005 s).
        (Probe(FURG, 2.0, 320), 5.01),
        # The same at JPEG quality 25: 6.0 s measured (9.0 s before); 5 s is not reached.
        (Probe(FURG, 2.0, 320, 25), 6.5),
        # 1 fps at JPEG quality 25: raised at all (never before), 6.0 s measured.
        (Probe(FURG, 1.0, 320, 25), 8.0),
    ],
    ids=lambda v: v.name if isinstance(v, Probe) else f"within {v} s",
)
def test_a_cheap_camera_s_fire_is_alerted_within_seconds(
    realvideos: Path, probe: Probe, within_s: float
) -> None:
    latency = fire_after_flame(probe, realvideos)
    assert latency is not None, "fire never raised"
    assert latency <= within_s


@pytest.mark.parametrize(
    "probe",
    [Probe(PEOPLE, 2.0, 320, 25), Probe(PEOPLE, 2.0, 320, 10), Probe(PEOPLE, 1.0, 320, 10)],
    ids=lambda p: p.name,
)
def test_a_cheap_camera_over_a_wooden_floor_raises_no_fire(realvideos: Path, probe: Probe) -> None:
    # The floor and skin are flame-coloured; at 1 fps and JPEG quality 10 its blocks flicker
    # like flames unless the flame frame averages them away as a 640 px frame's halving does.
    assert AlertKind.CAMERA_FIRE not in run_probe(probe, realvideos).first


def test_a_flame_sampled_once_a_second_is_still_a_fire() -> None:
    # The generated flame, every fifth frame one second apart: the fire window holds five
    # samples (it needed six within 3 s, which 1 sample/s never gives).
    cam = CameraConfig(device="cam-1", source="clip", detect_fps=1.0, width=320)
    pipeline = CameraPipeline(cam, FrameAnalyzer(cam))
    raised = [
        n
        for n, frame in enumerate(fire_static(n=100)[::5])
        for alert in pipeline.process(frame, T0 + timedelta(seconds=n))
        if alert.decision.kind is AlertKind.CAMERA_FIRE
    ]
    assert raised
    assert raised[0] <= 10


def test_flames_are_judged_at_320_px_at_least() -> None:
    assert flame_scale(1280) == 0.5
    assert flame_scale(640) == 0.5
    assert flame_scale(320) == 1.0
    assert flame_scale(480) == pytest.approx(2 / 3)
    assert flame_scale(160) == 1.0


@pytest.mark.parametrize(
    "probe", [Probe(PEOPLE, 2.0, 320, 10), Probe(PEOPLE, 1.0, 320, 10)], ids=lambda p: p.name
)
def test_heavy_jpeg_blocks_flickering_on_a_bare_wall_are_not_smoke(
    realvideos: Path, probe: Probe
) -> None:
    # At quality 10 the wall's flat blocks flip by a quantisation step from sample to sample:
    # grey, textureless and "moving", but they veil nothing (before: camera_smoke at 51.5 s
    # and at 6.0 s).
    assert AlertKind.CAMERA_SMOKE not in run_probe(probe, realvideos).first


@pytest.mark.parametrize(
    ("probe", "within_s"),
    [
        # FURG's thin grey smoke over the roof is there from the first frame: at 640 px and
        # 5 fps it is alerted at 6.8 s (2 s of churn, 4 s of it in place, the rule's 1 s).
        # 320 px: 28.4 s before (at 320 its texture was taken on a 160 px frame), 6.8 now.
        (Probe(FURG, 5.0, 320), 8.8),
        # 2 fps: 15.5 s and 28.0 s before (windows of 10 and 20 samples), 7.0 and 7.5 now.
        (Probe(FURG, 2.0, 640), 8.8),
        (Probe(FURG, 2.0, 320), 8.8),
        # 1 fps: 21.0 s before (the veil cue; the churn needed 29 s), 15.0 now.
        (Probe(FURG, 1.0, 640), 16.0),
        # 1 fps, the camera's own 320×180 picture at JPEG quality 25: never before, 14.0 now.
        (Probe(FURG, 1.0, 320, 25), 16.0),
    ],
    ids=lambda v: v.name if isinstance(v, Probe) else f"by {v} s",
)
def test_a_cheap_camera_s_smoke_is_alerted_within_seconds(
    realvideos: Path, probe: Probe, within_s: float
) -> None:
    smoke = run_probe(probe, realvideos).first.get(AlertKind.CAMERA_SMOKE)
    assert smoke is not None, "smoke never raised"
    assert smoke <= within_s


@pytest.mark.parametrize(
    "probe",
    [Probe(PEOPLE, 2.0, 640), Probe(PEOPLE, 2.0, 320, 25), Probe(PEOPLE, 1.0, 320, 25)],
    ids=lambda p: p.name,
)
def test_people_walking_by_a_slow_camera_are_not_smoke(realvideos: Path, probe: Probe) -> None:
    # Shorter churn windows at a slow rate must not let a grey coat or the wall's JPEG blocks
    # pass for smoke churning in place.
    first = run_probe(probe, realvideos).first
    assert AlertKind.CAMERA_SMOKE not in first
    assert AlertKind.CAMERA_FIRE not in first


def test_smoke_churning_in_place_seen_twice_a_second_is_smoke_within_seconds() -> None:
    # The churn windows are counted in time (2 s of spread, 4 s of persistence, each at least
    # five samples) and the roughness over ten samples: judged from the 12th sample at 2/s
    # (this patch's roughness is near the bound, 1.33-1.39, so a few samples later). Counted
    # in samples (10 and 20) it was judged from the 29th, 14 s.
    analyzer = FrameAnalyzer(camera(fire=False, tamper=False, detect_fps=2.0))
    base = scene()
    grain = np.random.default_rng(7)
    step = timedelta(milliseconds=500)
    churn = []
    for n in range(40):
        frame = churning_smoke(base, n).astype(np.float32) + grain.normal(0.0, 2.0, base.shape)
        findings = analyzer.analyze(np.clip(frame, 0, 255).astype(np.uint8), T0 + n * step)
        churn += [n for cue in findings.cues if cue.rule == "grey_churn_in_place"]
    assert churn
    assert churn[0] <= 18, "within 9 s"


def test_a_camera_s_sample_interval_is_the_usual_one_it_delivers() -> None:
    intervals = SampleIntervals()
    assert intervals.samples(2.0, 5) == 10, "5 samples/s assumed before any is seen"
    for n in [0, 1, 2, 4, 5, 6]:  # one sample lost: the usual interval is still 1 s
        intervals.observe(T0 + timedelta(seconds=n))
    assert intervals.usual() == 1.0
    assert intervals.samples(4.0, 5) == 5
    assert intervals.samples(10.0, 5) == 10


def test_smoke_texture_is_taken_at_320_px_at_least() -> None:
    assert texture_scale(1280) == 0.5
    assert texture_scale(640) == 0.5
    assert texture_scale(480) == pytest.approx(2 / 3)
    assert texture_scale(320) == 1.0
    assert texture_scale(160) == 1.0
