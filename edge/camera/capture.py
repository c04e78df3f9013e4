"""Frames from a camera source through ``cv2.VideoCapture``, sampled by their own timestamps.

Sources: ``rtsp://``/``http(s)://`` URLs (FFmpeg backend, with open and read timeouts so a
dead stream fails instead of hanging), video files, and ``usb:<index>`` devices.

Timestamps: a live source's frame is stamped with the wall clock when it is read; a file's
with the moment the file was opened plus the frame's position in it, so a file replays as
fast as it can be decoded and every decision still sees the video's own timing. When a file
is opened again (looping, or after a failure), its timestamps continue after the last frame
of the previous pass, never going back.
"""

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import cv2

from devices.camera import CameraConfig
from edge.camera.analytics import Frame
from edge.camera.cues import bgr8

logger = logging.getLogger(__name__)

OPEN_TIMEOUT_MS = 10_000
READ_TIMEOUT_MS = 5_000


class CaptureError(Exception):
    """The source could not be opened or stopped delivering frames."""


@dataclass(slots=True)
class FrameSampler:
    """Chooses frames at ``fps`` by their timestamps: at most one per 1/fps interval."""

    fps: float
    last: datetime | None = None

    def take(self, ts: datetime) -> bool:
        """Return whether the frame at ``ts`` is analysed, and remember it if so."""
        interval = timedelta(seconds=1.0 / self.fps)
        # A millisecond of slack: 30 fps timestamps do not divide 200 ms exactly.
        if self.last is not None and ts - self.last < interval - timedelta(milliseconds=1):
            return False
        self.last = ts
        return True


def is_live(source: str) -> bool:
    """Return whether a source is a stream or device (stamped by the wall clock)."""
    return source.startswith(("rtsp://", "rtsps://", "http://", "https://", "usb:"))


def open_source(camera: CameraConfig) -> cv2.VideoCapture:
    """Open a camera's source, or raise ``CaptureError``."""
    index = camera.usb_index()
    if index is not None:
        capture = cv2.VideoCapture(index)
    elif is_live(camera.source):
        capture = cv2.VideoCapture(
            camera.source,
            cv2.CAP_FFMPEG,
            [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
                OPEN_TIMEOUT_MS,
                cv2.CAP_PROP_READ_TIMEOUT_MSEC,
                READ_TIMEOUT_MS,
            ],
        )
    else:
        if not Path(camera.source).is_file():
            raise CaptureError(f"camera {camera.device}: no such file {camera.source!r}")
        capture = cv2.VideoCapture(camera.source)
    if not capture.isOpened():
        capture.release()
        raise CaptureError(f"camera {camera.device}: cannot open {camera.source!r}")
    return capture


def resize_to_width(frame: Frame, width: int) -> Frame:
    """Return ``frame`` scaled to ``width`` pixels wide, keeping its aspect ratio."""
    height, current = frame.shape[:2]
    if current == width:
        return frame
    new_height = max(1, round(height * width / current))
    resized: Frame = cv2.resize(frame, (width, new_height), interpolation=cv2.INTER_AREA)
    return resized


def analysis_frame(frame: Frame, width: int) -> Frame:
    """Return ``frame`` as the analytics take it: 8-bit BGR, ``width`` pixels wide. A frame
    that is no picture is returned as it is, for the pipeline to count and report."""
    picture = bgr8(frame)
    return frame if picture is None else resize_to_width(picture, width)


def frames(
    capture: cv2.VideoCapture,
    camera: CameraConfig,
    clock: Callable[[], datetime],
    not_before: datetime | None = None,
    *,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[tuple[Frame, datetime]]:
    """Yield (frame, timestamp) until the source ends or fails.

    A file is read as fast as it decodes unless the camera is ``pace``d, when ``sleep`` holds
    each frame back to the file's own frame rate (``monotonic``/``sleep`` are injectable, so
    tests check the pacing without waiting for it).
    """
    live = is_live(camera.source)
    opened = clock()
    if not_before is not None and opened <= not_before:
        opened = not_before + timedelta(milliseconds=1)
    started = monotonic()
    while True:
        ok, frame = capture.read()
        if not ok or frame is None:
            return
        if live:
            ts = clock()
        else:
            position_s = float(capture.get(cv2.CAP_PROP_POS_MSEC)) / 1000
            ts = opened + timedelta(seconds=position_s)
            if camera.pace:
                sleep(max(0.0, started + position_s - monotonic()))
        yield frame, ts
