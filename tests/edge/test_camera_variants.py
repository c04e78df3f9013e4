"""Real clips as other cameras send them: another frame format, a hung stream, exposure hunting.

An outside review derived these from shared/realdata's clips (frames chosen by their
timestamps at 5 samples/s, as the edge does, then transformed here with numpy/OpenCV, so no
footage is committed). Before the fixes: a grey (infrared), BGRA or 16-bit frame crashed the
analytics (the worker reopened the source forever and nothing was reported); a stream stuck on
one frame was never reported (frames kept coming); the empty room with its exposure hunting
raised a false ``camera_smoke`` at 11.4 s (a blown-out wall, scaled back, followed the
exposure and churned like smoke).
"""

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from bench.camera import EMPTY, FURG, PEOPLE, START, camera_for, fire_truth
from devices.kinds import AlertKind, AlertState
from edge.camera.analytics import Frame, FrameAnalyzer
from edge.camera.capture import FrameSampler, analysis_frame
from edge.camera.pipeline import CameraAlert, CameraPipeline

Transform = Callable[[Frame, float], Frame]
"""A camera's picture from the clip's frame at ``t`` seconds."""


def sampled(path: Path, seconds: float, fps: float = 5.0) -> Iterator[tuple[float, Frame]]:
    """Yield (t, frame) as the edge samples the clip, looping it until ``seconds``."""
    sampler = FrameSampler(fps)
    offset = 0.0
    while offset < seconds:
        capture = cv2.VideoCapture(str(path))
        assert capture.isOpened(), path
        rate = capture.get(cv2.CAP_PROP_FPS) or 10.0
        index = -1
        try:
            while True:
                ok, frame = capture.read()
                if not ok:
                    break
                index += 1
                t = offset + index / rate
                if t >= seconds:
                    return
                if sampler.take(START + timedelta(seconds=t)):
                    yield t, frame
        finally:
            capture.release()
        offset += (index + 1) / rate


def replay(
    path: Path, seconds: float, transform: Transform, **settings: object
) -> list[tuple[float, CameraAlert]]:
    """Return the (t, alert) of the clip transformed, through the pipeline the worker runs."""
    camera = camera_for(path.name, person_whole_frame=False, **settings)
    pipeline = CameraPipeline(camera, FrameAnalyzer(camera))
    alerts: list[tuple[float, CameraAlert]] = []
    for t, frame in sampled(path, seconds):
        picture = analysis_frame(transform(frame, t), camera.width)
        alerts.extend((t, a) for a in pipeline.process(picture, START + timedelta(seconds=t)))
    return alerts


def raised(alerts: list[tuple[float, CameraAlert]], kind: AlertKind) -> list[tuple[float, str]]:
    """Return (t, rule) of every raise of ``kind``."""
    return [
        (t, a.decision.reason.rule)
        for t, a in alerts
        if a.decision.kind is kind and a.decision.state is AlertState.RAISED
    ]


def hunting(frame: Frame, t: float) -> Frame:
    """Return the frame as an auto-exposure hunting ±40 % over 6 s leaves it."""
    gain = 1.0 + 0.4 * np.sin(2 * np.pi * t / 6.0)
    hunted: Frame = np.clip(frame.astype(np.float32) * gain, 0, 255).astype(np.uint8)
    return hunted


def first_flame_s(videos: Path) -> float:
    """Return the time of FURG's first annotated flame (29.97 frames/s)."""
    truth = fire_truth(videos / "furg_house6.xml")
    return min(n for n, boxes in truth.items() if boxes) / 29.97


@pytest.mark.parametrize(
    ("convert", "coloured"),
    [
        pytest.param(lambda f, _t: cv2.cvtColor(f, cv2.COLOR_BGR2GRAY), False, id="grey"),
        pytest.param(lambda f, _t: cv2.cvtColor(f, cv2.COLOR_BGR2BGRA), True, id="bgra"),
        pytest.param(lambda f, _t: f.astype(np.uint16) * 257, True, id="16-bit"),
        pytest.param(lambda f, _t: f.astype(np.float32) / 255, True, id="float"),
    ],
)
def test_frames_of_another_format_are_analysed_not_crashed(
    realvideos: Path, convert: Transform, coloured: bool
) -> None:
    """FURG sent in another frame format still raises its fire (none for grey: no colour)."""
    alerts = replay(realvideos / FURG, 12.0, convert)
    fires = raised(alerts, AlertKind.CAMERA_FIRE)
    assert raised(alerts, AlertKind.CAMERA_TAMPER) == []
    if not coloured:
        # A grey picture has no flame colour: the fire is not seen (docs/camera.md §6).
        assert fires == []
        return
    assert fires
    assert fires[0][0] - first_flame_s(realvideos) <= 5.0


def test_frames_that_are_no_picture_are_a_tamper_alert_not_a_crash(realvideos: Path) -> None:
    garbage: list[Frame] = [
        np.zeros((0, 0, 3), np.uint8),
        np.zeros((480, 640, 2), np.uint8),
        np.zeros((480, 640, 3), np.int64),
        np.zeros((4, 4, 3), np.uint8),
    ]

    def broken(frame: Frame, t: float) -> Frame:
        return frame if t < 2.0 else garbage[int(t * 5) % len(garbage)]

    alerts = replay(realvideos / EMPTY, 8.0, broken)
    tamper = raised(alerts, AlertKind.CAMERA_TAMPER)
    assert [rule for _, rule in tamper] == ["unreadable_frames"]
    assert 2.0 + 3.0 <= tamper[0][0] <= 2.0 + 3.5  # tamper's raise delay: 3 s


def test_a_stream_stuck_on_one_frame_is_a_tamper_alert(realvideos: Path) -> None:
    stuck: dict[str, Frame] = {}

    def freeze(frame: Frame, t: float) -> Frame:
        if t < 2.0:
            stuck["frame"] = frame
        return stuck["frame"]

    alerts = replay(realvideos / FURG, 20.0, freeze, no_frames_s=10.0)
    tamper = raised(alerts, AlertKind.CAMERA_TAMPER)
    assert [rule for _, rule in tamper] == ["frozen"]
    # Frozen from 2 s: the picture unchanged for no_frames_s, then tamper's 3 s raise delay.
    assert 2.0 + 10.0 + 3.0 - 0.5 <= tamper[0][0] <= 2.0 + 10.0 + 3.0 + 0.5


@pytest.mark.parametrize("clip", [FURG, EMPTY, PEOPLE])
def test_real_pictures_are_never_frozen(realvideos: Path, clip: str) -> None:
    """Their quietest stretches (repeated frames, an empty room) still change within 2 s."""
    alerts = replay(realvideos / clip, 15.0, lambda f, _t: f, no_frames_s=2.0)
    assert "frozen" not in [rule for _, rule in raised(alerts, AlertKind.CAMERA_TAMPER)]


def test_exposure_hunting_in_the_empty_room_is_not_smoke(realvideos: Path) -> None:
    alerts = replay(realvideos / EMPTY, 20.0, hunting)
    assert [(t, a.decision.kind) for t, a in alerts] == []


def test_exposure_hunting_leaves_the_fire_and_the_smoke(realvideos: Path) -> None:
    alerts = replay(realvideos / FURG, 20.0, hunting)
    fires = raised(alerts, AlertKind.CAMERA_FIRE)
    assert fires
    assert fires[0][0] - first_flame_s(realvideos) <= 5.0
    smoke = raised(alerts, AlertKind.CAMERA_SMOKE)
    assert smoke
    assert smoke[0][0] <= 15.0
