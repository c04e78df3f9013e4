"""Camera analytics on real footage and their cost: ``python -m bench.camera eval|fps``.

``eval`` replays the clips in shared/realdata/videos through the same pipeline the edge runs
(analytics + alert rules, frames chosen by their timestamps at 5 fps, 640 px wide) and prints:

- FURG house6 (fire from its first frame, per-frame ground-truth boxes): seconds from the
  first annotated fire frame to the first ``camera_fire`` alert, and alerts whose detection
  box misses every annotated box (false alerts);
- Intel one-by-one (six visits, people standing still): ``camera_person`` alerts per visit
  and alerts outside any visit;
- the empty room: every alert is a false alert.

``fps`` measures analysed frames per second of one camera on one core
(``cv2.setNumThreads(1)``) against a baseline of bare decode + resize of the same frames.
``agent`` runs ``linli edge`` with two looping file cameras paced at their own frame rate
and reports its CPU (of one core), threads and memory, once with OpenCV's default thread pool
(``LINLI_EDGE_CAMERA_CV_THREADS=0``) and once with the agent's default of one thread.
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2

from devices.camera import CameraConfig
from devices.kinds import AlertKind, AlertState
from edge.camera.analytics import Box, Frame, FrameAnalyzer, people_detector
from edge.camera.capture import FrameSampler, resize_to_width
from edge.camera.pipeline import CameraAlert, CameraPipeline
from linli.brokers import MosquittoProcess

VIDEOS = (
    Path(os.environ.get("LINLI_REALDATA", Path(__file__).resolve().parents[2] / "shared/realdata"))
    / "videos"
)
FURG = "furg_house6.mp4"
FURG_TRUTH = "furg_house6.xml"
PEOPLE = "intel_one-by-one-person-detection.mp4"
EMPTY = "intel_one-by-one_emptyroom_f0-58.mp4"
PEOPLE_VISITS = ((61, 200), (228, 451), (502, 699), (745, 869), (921, 1200), (1235, 1363))
"""Frames with someone in the room: the complement of SOURCES.md's empty intervals."""
START = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
WIDTH = 640


def camera_for(clip: str, **overrides: object) -> CameraConfig:
    """Return the evaluation camera: whole-frame people, fire, smoke and tamper watched."""
    settings: dict[str, object] = {
        "device": "eval-cam",
        "source": str(VIDEOS / clip),
        "person_whole_frame": True,
        **overrides,
    }
    return CameraConfig.model_validate(settings)


@dataclass(frozen=True, slots=True)
class Sampled:
    """One analysed frame: its index in the file, timestamp and pixels."""

    index: int
    ts: datetime
    frame: Frame


def sampled_frames(path: Path, fps: float, width: int = WIDTH) -> Iterator[Sampled]:
    """Yield the frames the edge would analyse, stamped by their position in the file."""
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise SystemExit(f"cannot open {path}")
    sampler = FrameSampler(fps)
    index = -1
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            index += 1
            ts = START + timedelta(milliseconds=float(capture.get(cv2.CAP_PROP_POS_MSEC)))
            if sampler.take(ts):
                yield Sampled(index, ts, resize_to_width(frame, width))
    finally:
        capture.release()


@dataclass(slots=True)
class Replay:
    """Alerts of one clip, with the frame index and source scale each was raised at."""

    alerts: list[tuple[int, CameraAlert]] = field(default_factory=list)
    samples: int = 0
    seconds: float = 0.0
    scale: float = 1.0

    def raised(self, kind: AlertKind) -> list[tuple[int, CameraAlert]]:
        """Return the raised alerts of one kind."""
        return [
            (i, a)
            for i, a in self.alerts
            if a.decision.kind is kind and a.decision.state is AlertState.RAISED
        ]


def replay(camera: CameraConfig) -> Replay:
    """Run a clip through the camera pipeline; return its alerts."""
    pipeline = CameraPipeline(camera, FrameAnalyzer(camera, people_detector()))
    result = Replay()
    source_width = cv2.VideoCapture(camera.source).get(cv2.CAP_PROP_FRAME_WIDTH)
    result.scale = WIDTH / source_width if source_width else 1.0
    started = time.perf_counter()
    for sample in sampled_frames(Path(camera.source), camera.detect_fps):
        result.samples += 1
        result.alerts.extend((sample.index, a) for a in pipeline.process(sample.frame, sample.ts))
    result.seconds = time.perf_counter() - started
    return result


def fire_truth(path: Path) -> dict[int, list[Box]]:
    """Return the FURG ground-truth fire boxes by frame number (OpenCV FileStorage XML)."""
    storage = cv2.FileStorage(str(path), cv2.FILE_STORAGE_READ)
    frames = storage.getNode("frames")
    truth: dict[int, list[Box]] = {}
    for i in range(frames.size()):
        node = frames.at(i)
        number = int(node.getNode("frameNumber").real())
        boxes = []
        annotations = node.getNode("annotations")
        for j in range(annotations.size()):
            item = annotations.at(j)
            if item.isString():
                values = [int(v) for v in item.string().split()]
            else:
                values = [int(item.at(k).real()) for k in range(item.size())]
            x, y, w, h = values
            boxes.append(Box(x, y, w, h))
        truth[number] = boxes
    storage.release()
    return truth


@dataclass(frozen=True, slots=True)
class FireFigures:
    """The FURG figures."""

    first_fire_frame: int
    latency_s: float | None
    raised: int
    false_alerts: int
    other_alerts: dict[str, int]
    smoke_s: float | None = None
    """Seconds from the clip's start (smoke is visible from its first frame) to camera_smoke."""


def evaluate_fire(video_fps: float = 29.97) -> FireFigures:
    """Replay the FURG clip and compare its camera_fire alerts with the annotation."""
    truth = fire_truth(VIDEOS / FURG_TRUTH)
    first = min(n for n, boxes in truth.items() if boxes)
    result = replay(camera_for(FURG))
    fires = result.raised(AlertKind.CAMERA_FIRE)
    first_ts = START + timedelta(seconds=first / video_fps)
    latency = (fires[0][1].decision.event_time - first_ts).total_seconds() if fires else None
    false = 0
    for index, alert in fires:
        boxes = [_scaled(b, result.scale) for b in truth.get(index, [])]
        if alert.box is None or not any(alert.box.intersection(b) > 0 for b in boxes):
            false += 1
    others: dict[str, int] = {}
    for _, alert in result.alerts:
        if alert.decision.kind is not AlertKind.CAMERA_FIRE and (
            alert.decision.state is AlertState.RAISED
        ):
            others[alert.decision.kind] = others.get(alert.decision.kind, 0) + 1
    smokes = result.raised(AlertKind.CAMERA_SMOKE)
    smoke_s = (smokes[0][1].decision.event_time - START).total_seconds() if smokes else None
    return FireFigures(first, latency, len(fires), false, others, smoke_s)


def _scaled(box: Box, scale: float) -> Box:
    return Box(*(round(v * scale) for v in (box.x, box.y, box.w, box.h)))


@dataclass(frozen=True, slots=True)
class PeopleFigures:
    """The one-by-one figures."""

    per_visit: list[int]
    outside_visits: int
    other_alerts: dict[str, int]


def evaluate_people() -> PeopleFigures:
    """Replay the one-by-one clip; count person alerts per visit and outside visits.

    The visits are 2.7-5 s apart, so the rules clear after 2.5 s and have no cooldown here; with
    the defaults (10 s, 120 s) back-to-back visitors are one alert by design.
    """
    result = replay(camera_for(PEOPLE, clear_after_s=2.5, cooldown_s=0.0))
    per_visit = [0] * len(PEOPLE_VISITS)
    outside = 0
    for index, _alert in result.raised(AlertKind.CAMERA_PERSON):
        for n, (first, last) in enumerate(PEOPLE_VISITS):
            if first <= index <= last:
                per_visit[n] += 1
                break
        else:
            outside += 1
    others: dict[str, int] = {}
    for _, alert in result.alerts:
        kind = alert.decision.kind
        if kind is not AlertKind.CAMERA_PERSON and alert.decision.state is AlertState.RAISED:
            others[kind] = others.get(kind, 0) + 1
    return PeopleFigures(per_visit, outside, others)


def evaluate_empty() -> int:
    """Replay the empty room; return how many alerts it raised (all false)."""
    result = replay(camera_for(EMPTY))
    return sum(1 for _, a in result.alerts if a.decision.state is AlertState.RAISED)


@dataclass(frozen=True, slots=True)
class Speed:
    """Frames per second on one core, for the same 640×480 frames in the same run."""

    decode: float
    """Baseline: bare decode + resize."""
    analyse: float
    """Analytics alone (motion, presence, people, fire, smoke, tamper, rules)."""

    def cameras_per_core(self, stream_fps: float = 25.0, detect_fps: float = 5.0) -> float:
        """Return how many cameras one core serves: every frame decoded, ``detect_fps`` analysed."""
        return 1.0 / (stream_fps / self.decode + detect_fps / self.analyse)


def measure_fps(clip: str, seconds: float = 15.0) -> Speed:
    """Measure decode and analytics speed of one clip on one core (``cv2.setNumThreads(1)``)."""
    cv2.setNumThreads(1)
    frames = [s.frame for s in _decoded(VIDEOS / clip, 200)]
    started = time.perf_counter()
    decoded = sum(1 for _ in _decoded(VIDEOS / clip, 200))
    decode = decoded / (time.perf_counter() - started)
    camera = camera_for(clip)
    pipeline = CameraPipeline(camera, FrameAnalyzer(camera, people_detector()))
    started = time.perf_counter()
    analysed = 0
    ts = START
    while time.perf_counter() - started < seconds:
        ts += timedelta(milliseconds=200)
        pipeline.process(frames[analysed % len(frames)], ts)
        analysed += 1
    return Speed(decode, analysed / (time.perf_counter() - started))


@dataclass(frozen=True, slots=True)
class AgentCost:
    """What ``linli edge`` with two cameras costs."""

    cpu_percent: float
    """Of one core, over the measurement."""
    threads: int
    rss_mib: float
    peak_mib: float


def measure_agent(seconds: float = 30.0, cv_threads: int = 1) -> AgentCost:
    """Run ``linli edge`` with two looping, paced file cameras; return its CPU and memory."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        broker = MosquittoProcess(root / "mq")
        broker.start()
        site = root / "site.toml"
        site.write_text(
            '[site]\nname = "Bench"\nedge_id = "bench-edge"\n'
            + "".join(
                f'[[devices]]\nid = "cam-{n}"\nkind = "camera"\nlocation = "Bench/{n}"\n'
                for n in (1, 2)
            )
            + "".join(
                f'[[cameras]]\ndevice = "cam-{n}"\nsource = "{VIDEOS / clip}"\n'
                "loop = true\npace = true\nperson_whole_frame = true\n"
                for n, clip in ((1, PEOPLE), (2, FURG))
            )
        )
        address = f"127.0.0.1:{broker.port}"
        edge = subprocess.Popen(
            [sys.executable, "-m", "linli", "edge", "--site", str(site), "--data-dir",
             str(root / "edge"), "--local-mqtt", address, "--hub-mqtt", address],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "LINLI_EDGE_CAMERA_CV_THREADS": str(cv_threads)},
        )  # fmt: skip
        try:
            time.sleep(10)  # start-up, imports, the models' first frames
            ticks = os.sysconf("SC_CLK_TCK")
            cpu_before, wall_before = _cpu_seconds(edge.pid, ticks), time.monotonic()
            time.sleep(seconds)
            cpu = _cpu_seconds(edge.pid, ticks) - cpu_before
            wall = time.monotonic() - wall_before
            rss, peak, threads = _memory_mib(edge.pid)
        finally:
            edge.send_signal(signal.SIGINT)
            edge.wait(timeout=30)
            broker.stop()
    return AgentCost(100.0 * cpu / wall, threads, rss, peak)


def _cpu_seconds(pid: int, ticks: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def _memory_mib(pid: int) -> tuple[float, float, int]:
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    rss = int(status["VmRSS"].split()[0]) / 1024
    return rss, int(status["VmHWM"].split()[0]) / 1024, int(status["Threads"])


def _decoded(path: Path, limit: int) -> Iterator[Sampled]:
    capture = cv2.VideoCapture(str(path))
    index = 0
    while index < limit:
        ok, frame = capture.read()
        if not ok:
            break
        yield Sampled(index, START, cv2.resize(frame, (640, 480)))
        index += 1
    capture.release()


def main(argv: list[str] | None = None) -> int:
    """Run the evaluation or the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("what", choices=["eval", "fps", "agent"])
    args = parser.parse_args(argv)
    if not VIDEOS.is_dir():
        print(f"no videos at {VIDEOS} (set LINLI_REALDATA)", file=sys.stderr)
        return 2
    if args.what == "eval":
        fire = evaluate_fire()
        print(
            f"FURG house6: first annotated fire frame {fire.first_fire_frame}; camera_fire "
            f"after {fire.latency_s} s; {fire.raised} raised, {fire.false_alerts} false "
            f"(box misses the annotation); other alerts {fire.other_alerts}; camera_smoke "
            f"after {fire.smoke_s} s (smoke visible from the first frame, not annotated)"
        )
        people = evaluate_people()
        print(
            f"one-by-one: person alerts per visit {people.per_visit} (want 1 each); "
            f"outside visits {people.outside_visits}; other alerts {people.other_alerts}"
        )
        print(f"empty room: {evaluate_empty()} alerts (want 0)")
        return 0
    if args.what == "agent":
        print(
            f"linli edge with two paced 5 fps cameras ({PEOPLE} at 768x432 10 fps, {FURG} at "
            f"426x240 30 fps, {os.cpu_count()} cores), 30 s each:"
        )
        for label, threads in (("OpenCV default pool", 0), ("cv_threads=1", 1)):
            cost = measure_agent(cv_threads=threads)
            print(
                f"  {label}: CPU {cost.cpu_percent:.0f} % of one core, {cost.threads} threads, "
                f"RSS {cost.rss_mib:.0f} MiB (peak {cost.peak_mib:.0f} MiB)"
            )
        return 0
    for clip in (PEOPLE, FURG):
        speed = measure_fps(clip)
        print(
            f"{clip} at 640x480, one core: baseline decode+resize {speed.decode:.0f} fps; "
            f"analytics {speed.analyse:.1f} fps; cameras per core (25 fps stream, 5 fps "
            f"analysed) {speed.cameras_per_core():.1f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
