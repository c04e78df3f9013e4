"""What the benchmarks measure with: simulated gas readings published on a broker, their
arrivals timed (at a bare subscriber, or on the hub's live stream), CPU time per process and
py-spy profiles.

Shared by ``bench.alerts_to_cases`` and ``bench.edge_ingest``.
"""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from linli.progress import counted
from simulators.load_tally import percentile
from tests.e2e.stack import Stack, publisher


@dataclass
class Figures:
    """What one measurement saw."""

    name: str
    count: int
    seconds: float
    latencies_ms: list[float]
    stages_ms: list[tuple[float, float, float]] = field(default_factory=list)
    """Per alert, where its time went: device → edge detection, → hub receipt, → on the stream."""

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    def pct(self, q: float) -> float:
        return percentile(self.latencies_ms, q)

    def line(self) -> str:
        return (
            f"{self.name:40} {self.count:6d} msgs {self.rate:7.0f} /s   "
            f"p50 {self.pct(0.5):7.1f} ms   p99 {self.pct(0.99):7.1f} ms"
        )

    def stages_line(self, q: float) -> str:
        """The ``q`` percentile of each stage of the alerts' time (empty for the bare
        subscriber): not a split of the whole's percentile, each stage's own."""
        if not self.stages_ms:
            return ""
        names = ("device → edge detected", "→ hub received", "→ committed, on the stream")
        values = [percentile([stage[i] for stage in self.stages_ms], q) for i in range(3)]
        parts = ", ".join(f"{name} {ms:.1f}" for name, ms in zip(names, values, strict=True))
        return f"{f'  where the time goes (p{round(q * 100)} ms)':40} {parts}"


class Collector:
    """Latencies of arriving messages, until ``expected`` have arrived."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.stages: list[tuple[float, float, float]] = []
        self.last = 0.0
        self.expected = 0
        self.failed: str | None = None
        self.done = threading.Event()

    def arm(self, expected: int) -> None:
        self.latencies, self.stages, self.last = [], [], 0.0
        self.expected, self.failed = expected, None
        self.done.clear()

    def fail(self, why: str) -> None:
        """Give up the measurement: some messages can no longer be timed."""
        self.failed = why
        self.done.set()

    def record(self, sent_s: float, stamps: tuple[float, float] | None = None) -> None:
        """Time an arrival sent at ``sent_s``; ``stamps``, the alert's detection and receipt
        times (the edge's ``detected_at``, the hub's ``received_at``), split it in stages."""
        now = time.time()
        self.latencies.append((now - sent_s) * 1000)
        if stamps is not None:
            detected, received = stamps
            self.stages.append(
                ((detected - sent_s) * 1000, (received - detected) * 1000, (now - received) * 1000)
            )
        self.last = now
        if len(self.latencies) >= self.expected:
            self.done.set()


def publish_readings(
    port: int, topics: list[str], count: int, *, offset: int, rate: float | None
) -> float:
    """Publish ``count`` gas detector messages round-robin over ``topics``; return the start
    time.

    Message ``offset + i`` of a device has the detector's own ``gas`` flag on when even, off
    when odd, so every message is an alert transition. (Until 2026-12-06 these were measured
    levels over the alarm level and clean air; a measured level now clears only after 5 min of
    clean readings, docs/detection.md, while the detector's flag clears at once. The edge's
    work per message is the same.)
    """
    with publisher(port) as client:
        start = time.time()
        infos = []
        for i in range(count):
            if rate is not None:
                time.sleep(max(0.0, start + i / rate - time.time()))
            n = offset + i
            alarm = (n // len(topics)) % 2 == 0
            # Epoch milliseconds to the microsecond: whole milliseconds would add half a
            # millisecond on average to every latency measured, the baseline's too.
            payload = json.dumps({"gas": alarm, "ts": round(time.time() * 1000, 3)})
            infos.append(client.publish(topics[n % len(topics)], payload, qos=1))
        for info in infos:
            info.wait_for_publish(timeout=120)
    return start


def measure(
    name: str,
    collector: Collector,
    publish: Callable[[], float],
    count: int,
) -> Figures:
    collector.arm(count)
    with counted(name, count) as progress:
        published = threading.Thread(target=lambda: starts.append(publish()), daemon=True)
        starts: list[float] = []
        published.start()
        deadline = time.monotonic() + 600
        while not collector.done.wait(timeout=0.2):
            progress.update(progress.task_ids[0], completed=len(collector.latencies))
            if time.monotonic() > deadline:
                raise SystemExit(f"{name}: only {len(collector.latencies)} of {count} arrived")
        if collector.failed is not None:
            raise SystemExit(f"{name}: {collector.failed}")
        published.join()
    start = starts[0]
    return Figures(
        name, count, collector.last - start, list(collector.latencies), list(collector.stages)
    )


def bare_subscriber(port: int, collector: Collector) -> mqtt.Client:
    """The baseline: a plain QoS 1 subscriber that only timestamps what arrives."""

    def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        collector.record(json.loads(message.payload)["ts"] / 1000)

    sub = mqtt.Client(CallbackAPIVersion.VERSION2)
    sub.on_message = on_message
    sub.connect("127.0.0.1", port)
    sub.subscribe("bench/baseline/#", qos=1)
    sub.loop_start()
    time.sleep(0.5)
    return sub


def follow_stream(stack: Stack, collector: Collector, streaming: threading.Event) -> None:
    """Record every alert the hub's live stream shows (it shows only committed alerts)."""
    url = f"http://127.0.0.1:{stack.http_port}/api/v1/stream"
    headers = {"authorization": f"Bearer {stack.token}"}
    with httpx.stream("GET", url, headers=headers, timeout=None) as response:
        response.raise_for_status()  # a refused stream would leave the benchmark waiting
        streaming.set()
        for line in response.iter_lines():
            if line.startswith("data:"):
                event = json.loads(line[5:])
                if event.get("type") == "dropped":
                    collector.fail(f"the live stream dropped {event.get('count')} events")
                if event.get("type") == "alert":
                    alert = event["alert"]
                    collector.record(
                        datetime.fromisoformat(alert["ts"]).timestamp(),
                        (
                            datetime.fromisoformat(alert["detected_at"]).timestamp(),
                            datetime.fromisoformat(alert["received_at"]).timestamp(),
                        ),
                    )


def cpu_seconds(pid: int) -> float:
    """Return the user + system CPU time a process has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


@dataclass
class CpuUse:
    """CPU per alert of each part of the stack over one measurement, in ms."""

    edge_ms: float
    hub_ms: float
    broker_ms: float = 0.0
    """The Mosquitto the devices, the edge and the hub share."""
    database_ms: float = 0.0
    """PostgreSQL's processes (0 on SQLite, which runs inside the hub)."""
    load_ms: float = 0.0
    """This process: the simulated devices' publisher and the live stream's follower."""
    wall_ms: float = 0.0
    """Wall time per alert, to set the sum against: on two cores the stack can use at most
    twice this."""

    @property
    def total_ms(self) -> float:
        """All of it: what the machine's cores were busy with per alert."""
        return self.edge_ms + self.hub_ms + self.broker_ms + self.database_ms + self.load_ms

    def line(self) -> str:
        """The figures as one line of the benchmark's output."""
        cores = self.total_ms / self.wall_ms if self.wall_ms else 0.0
        return (
            f"{'CPU per alert in the burst':40} edge {self.edge_ms:.3f} ms,"
            f" hub {self.hub_ms:.3f} ms, broker {self.broker_ms:.3f} ms,"
            f" database {self.database_ms:.3f} ms, load {self.load_ms:.3f} ms;"
            f" {self.total_ms:.3f} ms in all = {cores:.2f} of {os.cpu_count()} cores busy"
        )


def database_server_seconds() -> float:
    """Return the CPU time PostgreSQL's processes on this machine have used so far.

    Every ``postgres`` process counts (the bench's backends and the server's own writers): on
    the machine the benchmark runs on nothing else uses the database meanwhile.
    """
    used = 0.0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (proc / "stat").read_text()
            if stat[stat.index("(") + 1 : stat.rindex(")")].startswith("postgres"):
                used += cpu_seconds(int(proc.name))
    return used


class CpuMeter:
    """Reads the CPU time of the edge, the hub, the broker, the database server and this
    process before and after a measurement."""

    def __init__(self, stack: Stack, *, database: bool) -> None:
        assert stack.edge.proc is not None
        assert stack.hub.proc is not None
        broker = stack.local_broker.pid
        assert broker is not None
        self._pids = (stack.edge.proc.pid, stack.hub.proc.pid, broker, os.getpid())
        self._database = database
        self._start: tuple[float, ...] = ()
        self._began = 0.0

    def _now(self) -> tuple[float, ...]:
        database = database_server_seconds() if self._database else 0.0
        return (*(cpu_seconds(pid) for pid in self._pids), database)

    def begin(self) -> None:
        self._start = self._now()
        self._began = time.perf_counter()

    def end(self, alerts: int) -> CpuUse:
        wall = time.perf_counter() - self._began
        edge, hub, broker, load, database = (
            (now - start) * 1000 / alerts
            for now, start in zip(self._now(), self._start, strict=True)
        )
        return CpuUse(
            edge_ms=edge,
            hub_ms=hub,
            broker_ms=broker,
            database_ms=database,
            load_ms=load,
            wall_ms=wall * 1000 / alerts,
        )


@contextmanager
def profiled(pid: int, out: Path | None, name: str) -> Iterator[None]:
    """Record ``pid`` with py-spy into ``out/<name>.folded`` while the block runs, when
    ``out`` is given."""
    if out is None:
        yield
        return
    out.mkdir(parents=True, exist_ok=True)
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    # One sampler at a modest rate: on two shared cores a faster one starves the hub it watches.
    args = [spy, "record", "--pid", str(pid), "--rate", "50", "--nonblocking", "--format", "raw"]
    with subprocess.Popen([*args, "-o", str(out / f"{name}.folded")]) as sampler:
        try:
            yield
        finally:
            sampler.send_signal(signal.SIGINT)
            sampler.wait(timeout=60)
