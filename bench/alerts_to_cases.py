"""Benchmark: alerts from simulated devices to committed cases, beside a bare-broker baseline.

One private Mosquitto with the shipped site configuration; `linli hub` (SQLite) and
`linli edge` as real processes. Simulated gas detectors publish readings alternating over
the 20 %LEL alarm level and clean air (every reading is an alert transition), stamped with
their publish time as event time; the benchmark follows the hub's live stream, where an alert
appears only after its transaction committed, and times publish → committed-and-visible.

Baseline, same run, same broker: a bare subscriber receiving the same messages from the same
publisher — the cost of MQTT alone. Two loads for each:

- burst: N readings published as fast as the client can (throughput; latency is queueing);
- paced: readings at a steady rate well below capacity (latency of one alert).

    python -m bench.alerts_to_cases [--alerts N] [--devices D] [--rate R]
"""

import argparse
import json
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from devices.kinds import DeviceKind
from devices.registry import Device
from devices.topics import DeviceChannel, device_topic
from linli.brokers import MosquittoProcess
from linli.progress import counted
from tests.e2e.stack import Stack, wait_until


@dataclass
class Figures:
    """What one measurement saw."""

    name: str
    count: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    def line(self) -> str:
        return (
            f"{self.name:40} {self.count:6d} msgs {self.rate:7.0f} /s   "
            f"p50 {self.pct(0.5):7.1f} ms   p99 {self.pct(0.99):7.1f} ms"
        )


class Collector:
    """Latencies of arriving messages, until ``expected`` have arrived."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.last = 0.0
        self.expected = 0
        self.done = threading.Event()

    def arm(self, expected: int) -> None:
        self.latencies, self.last, self.expected = [], 0.0, expected
        self.done.clear()

    def record(self, sent_s: float) -> None:
        now = time.time()
        self.latencies.append((now - sent_s) * 1000)
        self.last = now
        if len(self.latencies) >= self.expected:
            self.done.set()


def publish_readings(
    port: int, topics: list[str], count: int, *, offset: int, rate: float | None
) -> float:
    """Publish ``count`` gas readings round-robin over ``topics``; return the start time.

    Reading ``offset + i`` of a device is over the alarm level when even, clean air when odd,
    so every reading is an alert transition.
    """
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.max_inflight_messages_set(100)
    client.connect("127.0.0.1", port)
    client.loop_start()
    start = time.time()
    infos = []
    for i in range(count):
        if rate is not None:
            time.sleep(max(0.0, start + i / rate - time.time()))
        n = offset + i
        alarm = (n // len(topics)) % 2 == 0
        level = 25.0 if alarm else 0.0
        payload = json.dumps({"gas_lel_pct": level, "ts": int(time.time() * 1000)})
        infos.append(client.publish(topics[n % len(topics)], payload, qos=1))
    for info in infos:
        info.wait_for_publish(timeout=120)
    client.disconnect()
    client.loop_stop()
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
        published.join()
    start = starts[0]
    return Figures(name, count, collector.last - start, list(collector.latencies))


def measure_loads(
    side: str,
    path: str,
    collector: Collector,
    port: int,
    topics: list[str],
    args: argparse.Namespace,
    *,
    paced_offset: int,
) -> tuple[Figures, Figures]:
    """Measure a burst of ``args.alerts`` readings, then ``args.paced`` at ``args.rate`` a second.

    The paced readings are numbered from ``paced_offset``, after any already sent on ``topics``.
    """
    burst = measure(
        f"{side} burst: {path}",
        collector,
        lambda: publish_readings(port, topics, args.alerts, offset=0, rate=None),
        args.alerts,
    )
    paced = measure(
        f"{side} paced {args.rate:.0f}/s",
        collector,
        lambda: publish_readings(port, topics, args.paced, offset=paced_offset, rate=args.rate),
        args.paced,
    )
    return burst, paced


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
                if event.get("type") == "alert":
                    collector.record(datetime.fromisoformat(event["alert"]["ts"]).timestamp())


def main() -> None:
    """Run baseline and Linli under both loads and print figures with their ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=5000, help="readings in the burst")
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--rate", type=float, default=100.0, help="paced readings per second")
    parser.add_argument("--paced", type=int, default=1000, help="readings in the paced run")
    args = parser.parse_args()
    if MosquittoProcess.executable() is None:
        sys.exit("mosquitto is required for the benchmark")
    devices = [
        Device(id=f"gas-{i:03d}", kind=DeviceKind.GAS, location=f"Building {i % 3 + 1}/Boiler")
        for i in range(args.devices)
    ]
    with tempfile.TemporaryDirectory(prefix="linli-bench-") as tmp:
        root = Path(tmp)
        stack = Stack(root, devices, f"sqlite:///{root / 'hub.sqlite3'}")
        stack.start()
        try:
            port = stack.local_broker.port
            base_topics = [f"bench/baseline/{d.id}" for d in devices]
            base = Collector()
            sub = bare_subscriber(port, base)
            base_burst, base_paced = measure_loads(
                "baseline", "bare subscriber", base, port, base_topics, args, paced_offset=0
            )
            sub.disconnect()
            sub.loop_stop()

            linli = Collector()
            streaming = threading.Event()
            threading.Thread(
                target=follow_stream, args=(stack, linli, streaming), daemon=True
            ).start()
            streaming.wait(timeout=30)
            topics = [device_topic(d.id, DeviceChannel.STATE) for d in devices]
            sys_burst, sys_paced = measure_loads(
                "linli",
                "device → case committed",
                linli,
                port,
                topics,
                args,
                paced_offset=args.alerts,
            )
            # Gas alarms correlate per room (hub.cases.correlation): one case per boiler room.
            rooms = len({d.location for d in devices})
            wait_until(lambda: len(stack.get("/cases")) == rooms, what="one case per boiler room")
        finally:
            stack.close()
    print(
        f"\n{args.alerts} + {args.paced} alerts from {args.devices} simulated gas detectors;"
        " one Mosquitto (deploy/mosquitto.conf settings); hub on SQLite; edge outbox fsync=full"
    )
    for figures in (base_burst, sys_burst, base_paced, sys_paced):
        print(figures.line())
    print(
        f"{'ratio linli / baseline':40} burst throughput {sys_burst.rate / base_burst.rate:.2f}x;"
        f" paced p50 {sys_paced.pct(0.5) / base_paced.pct(0.5):.1f}x,"
        f" p99 {sys_paced.pct(0.99) / base_paced.pct(0.99):.1f}x"
    )


if __name__ == "__main__":
    main()
