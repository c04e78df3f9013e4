"""Capture: sampling by frame timestamps, file replay, the worker thread, reconnect, no frames."""

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from devices.camera import CameraConfig
from devices.kinds import AlertKind, AlertState
from edge.camera.capture import CaptureError, FrameSampler, frames, open_source
from edge.camera.pipeline import CameraAlert
from edge.camera.service import CameraWorker

T0 = datetime(2026, 11, 22, 14, 0, tzinfo=UTC)


def write_video(path: Path, count: int, fps: float = 25.0, moving: bool = True) -> Path:
    """Write a 320×240 MJPG video: a textured scene, a block moving across it from frame 20."""
    rng = np.random.default_rng(5)
    noise = rng.integers(60, 190, size=(30, 40, 3), dtype=np.uint8)
    base = cv2.resize(noise, (320, 240), interpolation=cv2.INTER_CUBIC)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (320, 240))
    assert writer.isOpened()
    for i in range(count):
        frame = base.copy()
        if moving and i >= 20:
            x = 20 + (i * 4) % 260
            cv2.rectangle(frame, (x, 80), (x + 40, 160), (0, 0, 255), -1)
        writer.write(frame)
    writer.release()
    return path


class Clock:
    """A clock that moves only when told (or by ``step`` on every read)."""

    def __init__(self, start: datetime = T0, step: timedelta = timedelta(0)) -> None:
        self.now = start
        self.step = step

    def __call__(self) -> datetime:
        """Return the current time, then advance by ``step``."""
        now = self.now
        self.now += self.step
        return now


class VirtualTimer:
    """A monotonic clock that moves only when something sleeps on it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


class NoDelay:
    """A backoff that never waits, counting its attempts."""

    def __init__(self) -> None:
        self.attempts = 0

    def next_delay(self) -> float:
        """Return no delay."""
        self.attempts += 1
        return 0.01

    def reset(self) -> None:
        """Forget the attempts."""
        self.attempts = 0


def test_the_sampler_keeps_five_frames_a_second_of_a_25_fps_stream() -> None:
    sampler = FrameSampler(5.0)
    taken = [sampler.take(T0 + timedelta(milliseconds=40 * i)) for i in range(250)]
    assert sum(taken) == 50
    assert taken[:6] == [True, False, False, False, False, True]


def test_a_30_fps_file_keeps_one_frame_in_six() -> None:
    sampler = FrameSampler(5.0)
    stamps = [T0 + timedelta(seconds=i / 29.97) for i in range(300)]
    assert sum(sampler.take(ts) for ts in stamps) == 50


def test_file_frames_carry_their_own_time_and_replay_faster_than_real_time(
    tmp_path: Path,
) -> None:
    video = write_video(tmp_path / "clip.avi", 100)
    camera = CameraConfig(device="cam", source=str(video))
    capture = open_source(camera)
    timer = VirtualTimer()
    stamps = [ts for _, ts in frames(capture, camera, Clock(), monotonic=timer, sleep=timer.sleep)]
    capture.release()
    assert len(stamps) == 100
    assert stamps[0] == T0
    assert stamps[-1] - stamps[0] == timedelta(milliseconds=99 * 40)
    assert timer.slept == 0.0, "a 4 s file must not be replayed in real time"


def test_a_reopened_file_continues_after_its_last_frame(tmp_path: Path) -> None:
    video = write_video(tmp_path / "clip.avi", 10)
    camera = CameraConfig(device="cam", source=str(video))
    capture = open_source(camera)
    last = [ts for _, ts in frames(capture, camera, Clock())][-1]
    capture.release()
    capture = open_source(camera)
    first_again = next(ts for _, ts in frames(capture, camera, Clock(), not_before=last))
    capture.release()
    assert first_again > last


def test_a_missing_file_is_a_capture_error() -> None:
    with pytest.raises(CaptureError, match="no such file"):
        open_source(CameraConfig(device="cam", source="/nonexistent/clip.avi"))


def test_a_bad_usb_source_is_refused_by_the_config() -> None:
    with pytest.raises(ValueError, match="usb:<index>"):
        CameraConfig(device="cam", source="usb:zero")


def run_worker(worker: CameraWorker, stop: threading.Event, until: float = 10.0) -> None:
    """Run a worker thread until it stops by itself or ``until`` seconds pass."""
    worker.start()
    worker.join(until)
    stop.set()
    worker.join(5)
    assert not worker.is_alive()


def test_the_worker_analyses_a_file_at_the_detection_rate_and_emits_motion(
    tmp_path: Path,
) -> None:
    video = write_video(tmp_path / "clip.avi", 150)  # 6 s at 25 fps
    camera = CameraConfig.model_validate(
        {
            "device": "cam",
            "source": str(video),
            "fire": False,
            "smoke": False,
            "zones": [
                {"name": "all", "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]], "rules": ["motion"]}
            ],
        }
    )
    emitted: list[CameraAlert] = []
    stop = threading.Event()

    def emit(_camera: CameraConfig, alerts: list[CameraAlert]) -> None:
        emitted.extend(alerts)
        if alerts:
            stop.set()

    worker = CameraWorker(camera, emit, Clock(), NoDelay(), stop)
    run_worker(worker, stop)
    assert [(a.decision.kind, a.decision.state) for a in emitted] == [
        (AlertKind.CAMERA_MOTION, AlertState.RAISED)
    ]
    assert emitted[0].frame is not None
    assert emitted[0].frame.shape[1] == 640
    assert emitted[0].decision.event_time < T0 + timedelta(seconds=6)


def test_the_worker_reports_an_unreachable_stream_as_no_frames_and_keeps_trying() -> None:
    # Nothing listens on port 1: every open fails at once. The clock moves 5 s per read.
    camera = CameraConfig(device="cam", source="rtsp://127.0.0.1:1/stream", no_frames_s=30)
    emitted: list[CameraAlert] = []
    stop = threading.Event()
    backoff = NoDelay()

    def emit(_camera: CameraConfig, alerts: list[CameraAlert]) -> None:
        emitted.extend(alerts)
        stop.set()

    worker = CameraWorker(camera, emit, Clock(step=timedelta(seconds=5)), backoff, stop)
    run_worker(worker, stop, until=60)
    assert [(a.decision.kind, a.decision.reason.rule) for a in emitted] == [
        (AlertKind.CAMERA_TAMPER, "no_frames")
    ]
    assert backoff.attempts >= 3


def test_a_paced_file_is_delivered_at_its_own_frame_rate(tmp_path: Path) -> None:
    video = write_video(tmp_path / "clip.avi", 25, moving=False)  # 1 s at 25 fps
    camera = CameraConfig(device="cam", source=str(video), pace=True)
    capture = open_source(camera)
    timer = VirtualTimer()
    count = sum(1 for _ in frames(capture, camera, Clock(), monotonic=timer, sleep=timer.sleep))
    capture.release()
    assert count == 25
    # Held back to the file's 25 fps: the last frame (at 0.96 s, or 1.0 s where the decoder
    # reports the position after the frame) is released that long after the first.
    assert 0.96 <= timer.now <= 1.0
    assert timer.slept == timer.now
