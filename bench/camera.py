"""Camera analytics on real footage and their cost: ``python -m bench.camera eval|fps``.

``eval CLIP... [--config FILE] [--frames-out DIR]`` replays any video files through the
pipeline the edge runs and prints, per clip, every alert raised and cleared with its frame time,
and the analytics' frames per second; ``--frames-out`` writes every sample with a cue, drawn
(boxes, rules), to a folder. ``--config`` is a TOML file of camera settings (the keys of a
``[[cameras]]`` entry of the site file; ``device`` and ``source`` may be left out).

``eval`` without clips prints the evaluation table of docs/camera.md: the generated clips of
``tests/edge/camera_clips.py`` (expected and raised alerts, first raise, fps, the fire cues'
precision), then the real clips below.

Without clips, ``eval`` also replays the clips in shared/realdata/videos through the same
pipeline the edge runs
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
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2

from bench.measuring import cpu_seconds
from devices.camera import CameraConfig
from devices.kinds import AlertKind, AlertState
from edge.camera.analytics import Box, Frame, FrameAnalyzer, FrameFindings, people_detector
from edge.camera.capture import FrameSampler, resize_to_width
from edge.camera.pipeline import CameraAlert, CameraPipeline
from linli.brokers import MosquittoProcess
from linli.progress import counted
from tests.edge.camera_clips import CLIPS, Clip

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
        boxes = [b.scaled(result.scale) for b in truth.get(index, [])]
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
            cpu_before, wall_before = cpu_seconds(edge.pid), time.monotonic()
            time.sleep(seconds)
            cpu = cpu_seconds(edge.pid) - cpu_before
            wall = time.monotonic() - wall_before
            rss, peak, threads = _memory_mib(edge.pid)
        finally:
            edge.send_signal(signal.SIGINT)
            edge.wait(timeout=30)
            broker.stop()
    return AgentCost(100.0 * cpu / wall, threads, rss, peak)


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


class RecordingAnalyzer:
    """The frame analyzer, keeping the findings of the last frame for the report."""

    def __init__(self, inner: FrameAnalyzer) -> None:
        self.inner = inner
        self.last = FrameFindings(())

    def analyze(self, frame: Frame, ts: datetime) -> FrameFindings:
        """Analyse a frame and remember what it showed."""
        self.last = self.inner.analyze(frame, ts)
        return self.last

    def rebaseline(self) -> None:
        """Pass an operator's re-baseline on."""
        self.inner.rebaseline()


@dataclass(slots=True)
class ClipReport:
    """What one clip raised and cleared, and how fast it was analysed."""

    name: str
    events: list[tuple[float, str, str, str]] = field(default_factory=list)
    """(seconds from the clip's start, alert kind, raised|cleared, rule)."""
    samples: int = 0
    seconds: float = 0.0
    fire_votes: dict[str, int] = field(default_factory=dict)
    """Per fire cue: samples in which the most fire-like blob passed it."""
    fire_samples: int = 0
    """Samples with a flame-coloured blob followed long enough to be judged."""

    def raised(self) -> dict[AlertKind, float]:
        """Return each raised kind with its first raise (seconds from the start)."""
        first: dict[AlertKind, float] = {}
        for t, kind, state, _ in self.events:
            if state == AlertState.RAISED:
                first.setdefault(AlertKind(kind), t)
        return first

    @property
    def fps(self) -> float:
        """Return the analysed frames per second."""
        return self.samples / self.seconds if self.seconds else 0.0


def run_clip(
    name: str,
    frames: Iterable[tuple[datetime, Frame]],
    camera: CameraConfig,
    frames_out: Path | None = None,
) -> ClipReport:
    """Replay frames through analytics and rules; return every transition and the cues."""
    cv2.setNumThreads(1)
    recorder = RecordingAnalyzer(FrameAnalyzer(camera, people_detector()))
    pipeline = CameraPipeline(camera, recorder)
    report = ClipReport(name)
    start: datetime | None = None
    for ts, frame in frames:
        start = start or ts
        began = time.perf_counter()
        alerts = pipeline.process(frame, ts)
        report.seconds += time.perf_counter() - began
        report.samples += 1
        t = (ts - start).total_seconds()
        for alert in alerts:
            d = alert.decision
            report.events.append((t, d.kind, d.state, d.reason.rule))
        findings = recorder.last
        votes = {k[5:]: v for k, v in findings.measures.items() if k.startswith("fire.")}
        if votes:
            report.fire_samples += 1
            for cue, passed in votes.items():
                report.fire_votes[cue] = report.fire_votes.get(cue, 0) + int(passed)
        if frames_out is not None and (findings.cues or alerts):
            _write_annotated(frames_out, name, report.samples, t, frame, findings)
    return report


def _write_annotated(
    folder: Path, name: str, index: int, t: float, frame: Frame, findings: FrameFindings
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    out = frame.copy()
    for n, cue in enumerate(findings.cues):
        colour = (
            (0, 0, 255)
            if cue.kind in (AlertKind.CAMERA_FIRE, AlertKind.CAMERA_SMOKE)
            else ((0, 255, 255))
        )
        if cue.box is not None:
            b = cue.box
            cv2.rectangle(out, (b.x, b.y), (b.x + b.w, b.y + b.h), colour, 2)
        label = f"{cue.kind} {cue.rule} {cue.confidence:.2f}"
        y = 18 + 18 * n
        cv2.putText(out, label, (6, y), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(out, label, (6, y), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)
    cv2.imwrite(str(folder / f"{Path(name).stem}_{index:05d}_{t:07.2f}s.jpg"), out)


def file_frames(path: Path, camera: CameraConfig) -> Iterator[tuple[datetime, Frame]]:
    """Yield a video file's samples as the edge takes them (by timestamp, resized)."""
    for sample in sampled_frames(path, camera.detect_fps, camera.width):
        yield sample.ts, sample.frame


def generated_frames(clip: Clip) -> Iterator[tuple[datetime, Frame]]:
    """Yield a generated clip's frames, 200 ms apart."""
    for n, frame in enumerate(clip.make()):
        yield START + timedelta(milliseconds=200 * n), frame


def load_camera(config: Path | None, source: str) -> CameraConfig:
    """Return the camera settings of ``config`` (TOML) for a clip; every alert watched."""
    settings: dict[str, object] = {"device": "eval-cam", "person_whole_frame": True}
    if config is not None:
        data = tomllib.loads(config.read_text())
        settings.update(data.get("camera", data))
    settings["source"] = source
    return CameraConfig.model_validate(settings)


def print_report(report: ClipReport) -> None:
    """Print one clip's alerts and speed."""
    print(f"{report.name}: {report.samples} samples, analytics {report.fps:.0f} fps")
    for t, kind, state, rule in report.events:
        print(f"  {t:7.2f} s  {kind:<20} {state:<8} {rule}")
    if not report.events:
        print("  no alerts")
    if report.fire_samples:
        votes = ", ".join(f"{cue} {n}" for cue, n in report.fire_votes.items())
        print(f"  fire cues passed, of {report.fire_samples} samples with a judged blob: {votes}")


WATCHED = (AlertKind.CAMERA_FIRE, AlertKind.CAMERA_SMOKE, AlertKind.CAMERA_TAMPER)


def evaluate_generated(frames_out: Path | None = None) -> list[tuple[Clip, ClipReport]]:
    """Replay every generated clip (fire, smoke and tamper watched, no people)."""
    results = []
    with counted("generated clips", len(CLIPS)) as progress:
        for clip in CLIPS:
            camera = CameraConfig(device="eval-cam", source=f"{clip.name}.gen", width=320)
            results.append((clip, run_clip(clip.name, generated_frames(clip), camera, frames_out)))
            progress.update(progress.task_ids[0], completed=len(results))
    return results


def print_table(results: list[tuple[Clip, ClipReport]]) -> None:
    """Print the evaluation table (markdown) and the fire cues' precision."""
    print("| clip | what | expected | raised (first, s) | ok | fps |")
    print("|---|---|---|---|---|---|")
    for clip, report in results:
        raised = report.raised()
        got = {k for k in raised if k in WATCHED}
        ok = "yes" if got == set(clip.expected) else "**no**"
        shown = ", ".join(f"{k} ({raised[k]:.1f})" for k in sorted(got)) or "-"
        expected = ", ".join(sorted(clip.expected)) or "-"
        print(f"| {clip.name} | {clip.note} | {expected} | {shown} | {ok} | {report.fps:.0f} |")
    cues: dict[str, list[int]] = {}
    for clip, report in results:
        positive = AlertKind.CAMERA_FIRE in clip.expected
        for cue, votes in report.fire_votes.items():
            tally = cues.setdefault(cue, [0, 0])
            tally[0 if positive else 1] += votes
    print()
    print("| fire cue | samples passed on fire clips | on non-fire clips | precision |")
    print("|---|---|---|---|")
    for cue, (true, false) in cues.items():
        precision = f"{true / (true + false):.2f}" if true + false else "-"
        print(f"| {cue} | {true} | {false} | {precision} |")


def main(argv: list[str] | None = None) -> int:
    """Run the evaluation or the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("what", choices=["eval", "fps", "agent"])
    parser.add_argument("clips", nargs="*", type=Path, help="video files to evaluate")
    parser.add_argument("--config", type=Path, help="camera settings (TOML)")
    parser.add_argument("--frames-out", type=Path, help="folder for annotated frames")
    args = parser.parse_args(argv)
    if args.what == "eval" and args.clips:
        reports = []
        with counted("clips", len(args.clips)) as progress:
            for path in args.clips:
                camera = load_camera(args.config, str(path))
                frames = file_frames(path, camera)
                reports.append(run_clip(path.name, frames, camera, args.frames_out))
                progress.update(progress.task_ids[0], completed=len(reports))
        for report in reports:
            print_report(report)
        return 0
    if args.what == "eval":
        print_table(evaluate_generated(args.frames_out))
        print()
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
