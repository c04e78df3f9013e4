"""Real clips as a cheap camera sends them: low frame rate, small picture, heavy JPEG.

``python -m bench.camera_degraded`` replays shared/realdata's FURG fire clip and Intel
one-by-one clip the way docs/camera.md §6 "Everyday camera behaviour" probed them: frames chosen
by their own timestamps at the camera's rate, scaled to the camera's picture (320×180),
re-encoded as JPEG at a given quality and decoded again, then scaled to the analysis width and
fed to the pipeline the edge runs (fire, smoke and tamper watched, no people). It prints each
probe's first raise of every alert kind, in seconds; for FURG the fire is also given from the
first annotated flame, as ``bench.camera eval`` does.
"""

import argparse
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from bench.camera import FURG, FURG_TRUTH, PEOPLE, START, VIDEOS, fire_truth
from devices.camera import CameraConfig
from devices.kinds import AlertKind, AlertState
from edge.camera.analytics import Frame, FrameAnalyzer
from edge.camera.capture import FrameSampler, resize_to_width
from edge.camera.pipeline import CameraPipeline


@dataclass(frozen=True, slots=True)
class Probe:
    """How a cheap camera degrades a clip, and the width the edge analyses it at."""

    clip: str
    fps: float
    width: int = 320
    """Width of the camera's picture (the aspect ratio is kept)."""
    quality: int | None = None
    """JPEG quality of the stream (None: no re-encoding)."""
    analysis_width: int | None = None
    """The camera's ``width`` setting (None: the camera's own width)."""

    @property
    def name(self) -> str:
        """Return a short label (clip, rate, size, quality, analysis width)."""
        q = "raw" if self.quality is None else f"q{self.quality}"
        analysed = self.analysis_width or self.width
        return f"{Path(self.clip).stem} {self.fps:g} fps {self.width} px {q} @{analysed}"


def degraded_frames(probe: Probe, videos: Path = VIDEOS) -> Iterator[tuple[datetime, Frame]]:
    """Yield the frames the edge would analyse from the degraded clip, stamped by the file."""
    capture = cv2.VideoCapture(str(videos / probe.clip))
    if not capture.isOpened():
        raise FileNotFoundError(videos / probe.clip)
    sampler = FrameSampler(probe.fps)
    params = [] if probe.quality is None else [cv2.IMWRITE_JPEG_QUALITY, probe.quality]
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            ts = START + timedelta(milliseconds=float(capture.get(cv2.CAP_PROP_POS_MSEC)))
            if not sampler.take(ts):
                continue
            small = resize_to_width(frame, probe.width)
            if probe.quality is not None:
                encoded_ok, encoded = cv2.imencode(".jpg", small, params)
                assert encoded_ok
                decoded = cv2.imdecode(np.asarray(encoded), cv2.IMREAD_COLOR)
                assert decoded is not None
                small = decoded
            yield ts, resize_to_width(small, probe.analysis_width or probe.width)
    finally:
        capture.release()


@dataclass(slots=True)
class ProbeResult:
    """First raise (seconds from the clip's start) of each alert kind, and every raise."""

    probe: Probe
    first: dict[AlertKind, float] = field(default_factory=dict)
    raises: list[tuple[float, AlertKind, str]] = field(default_factory=list)
    samples: int = 0


def run_probe(probe: Probe, videos: Path = VIDEOS) -> ProbeResult:
    """Replay a degraded clip through analytics and rules (fire, smoke, tamper watched)."""
    camera = CameraConfig(
        device="probe-cam",
        source=str(videos / probe.clip),
        detect_fps=probe.fps,
        width=probe.analysis_width or probe.width,
    )
    pipeline = CameraPipeline(camera, FrameAnalyzer(camera))
    result = ProbeResult(probe)
    for ts, frame in degraded_frames(probe, videos):
        result.samples += 1
        t = (ts - START).total_seconds()
        for alert in pipeline.process(frame, ts):
            decision = alert.decision
            if decision.state is AlertState.RAISED:
                result.first.setdefault(decision.kind, t)
                result.raises.append((t, decision.kind, decision.reason.rule))
    return result


def first_flame_s(videos: Path = VIDEOS, video_fps: float = 29.97) -> float:
    """Return when FURG's first annotated flame is (seconds from the clip's start)."""
    truth = fire_truth(videos / FURG_TRUTH)
    return min(n for n, boxes in truth.items() if boxes) / video_fps


PROBES = (
    Probe(FURG, 5.0, 640),
    Probe(FURG, 5.0, 320),
    Probe(FURG, 2.0, 640),
    Probe(FURG, 2.0, 320),
    Probe(FURG, 2.0, 320, 25),
    Probe(FURG, 2.0, 320, 25, 640),
    Probe(FURG, 2.0, 320, 10),
    Probe(FURG, 1.0, 640),
    Probe(FURG, 1.0, 320, 25),
    Probe(FURG, 5.0, 320, 15),
    Probe(PEOPLE, 5.0, 640),
    Probe(PEOPLE, 2.0, 320, 25),
    Probe(PEOPLE, 2.0, 320, 10),
    Probe(PEOPLE, 1.0, 320, 25),
    Probe(PEOPLE, 1.0, 320, 10),
)
"""The probes of docs/camera.md §6, and the 640 px / 5 fps replays they are compared with."""


def main(argv: list[str] | None = None) -> int:
    """Run the probes and print their first raises."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.parse_args(argv)
    cv2.setNumThreads(1)
    flame = first_flame_s()
    for probe in PROBES:
        result = run_probe(probe)
        shown = ", ".join(f"{kind} {t:.1f}" for kind, t in sorted(result.first.items()))
        fire = result.first.get(AlertKind.CAMERA_FIRE)
        late = ""
        if probe.clip == FURG:
            late = "; no fire" if fire is None else f"; fire {fire - flame:.1f} s after the flame"
        print(f"{probe.name}: {shown or 'nothing'}{late}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
