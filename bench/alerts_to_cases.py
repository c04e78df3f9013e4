"""Benchmark: alerts from simulated devices to committed cases, beside a bare-broker baseline.

One private Mosquitto; `linli hub` (SQLite) and `linli edge` as real processes. Simulated
water-leak sensors publish wet/dry readings (every reading is an alert transition) with their
publish time as event time; the benchmark reads the hub's live stream, where an alert appears
only after its transaction committed, and times publish → committed-and-visible.

Baseline, same run, same broker: a bare subscriber receiving the same number of QoS 1
messages from the same publisher — the cost of MQTT alone.

    python -m bench.alerts_to_cases [--alerts N] [--devices D]
"""

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
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
from tests.e2e.stack import Stack, wait_until


@dataclass
class Figures:
    """What one side of the benchmark measured."""

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
            f"{self.name:34} {self.count:6d} msgs  {self.rate:8.0f} /s   "
            f"p50 {self.pct(0.5):7.1f} ms   p99 {self.pct(0.99):7.1f} ms"
        )


def publisher(port: int) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.max_inflight_messages_set(100)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def publish_readings(port: int, topics: list[str], count: int) -> float:
    """Publish ``count`` wet/dry readings round-robin over ``topics``; return the start time."""
    client = publisher(port)
    start = time.time()
    infos = []
    for i in range(count):
        topic = topics[i % len(topics)]
        wet = (i // len(topics)) % 2 == 0
        payload = json.dumps({"water_leak": wet, "ts": int(time.time() * 1000)})
        infos.append(client.publish(topic, payload, qos=1))
    for info in infos:
        info.wait_for_publish(timeout=120)
    client.disconnect()
    client.loop_stop()
    return start


def baseline(port: int, count: int) -> Figures:
    """A bare subscriber on the same broker: publish → receive at QoS 1."""
    received: list[float] = []
    done = threading.Event()

    def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        sent = json.loads(message.payload)["ts"] / 1000
        received.append((time.time() - sent) * 1000)
        if len(received) >= count:
            done.set()

    sub = mqtt.Client(CallbackAPIVersion.VERSION2)
    sub.on_message = on_message
    sub.connect("127.0.0.1", port)
    sub.subscribe("bench/baseline/#", qos=1)
    sub.loop_start()
    time.sleep(0.5)
    start = publish_readings(port, [f"bench/baseline/{i}" for i in range(20)], count)
    done.wait(timeout=300)
    elapsed = time.time() - start
    sub.disconnect()
    sub.loop_stop()
    return Figures("baseline: bare subscriber", len(received), elapsed, received)


def linli(root: Path, count: int, device_count: int) -> Figures:
    """Devices → edge → hub → committed, observed on the hub's live stream."""
    devices = [
        Device(id=f"leak-{i:03d}", kind=DeviceKind.WATER_LEAK, location=f"Building {i % 3 + 1}")
        for i in range(device_count)
    ]
    stack = Stack(root, devices, f"sqlite:///{root / 'hub.sqlite3'}")
    stack.start()
    latencies: list[float] = []
    last_commit = [0.0]
    done = threading.Event()
    streaming = threading.Event()

    def follow() -> None:
        url = f"http://127.0.0.1:{stack.http_port}/api/v1/stream"
        with httpx.stream("GET", url, timeout=None) as response:
            streaming.set()
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue
                event = json.loads(line[5:])
                if event.get("type") != "alert":
                    continue
                now = time.time()
                sent = datetime.fromisoformat(event["alert"]["ts"]).timestamp()
                latencies.append((now - sent) * 1000)
                last_commit[0] = now
                if len(latencies) >= count:
                    done.set()
                    return

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    streaming.wait(timeout=30)
    try:
        topics = [device_topic(d.id, DeviceChannel.STATE) for d in devices]
        start = publish_readings(stack.local_broker.port, topics, count)
        done.wait(timeout=600)
        elapsed = last_commit[0] - start
        wait_until(lambda: len(stack.get("/cases")) == device_count, what="one case per device")
    finally:
        stack.close()
    return Figures("linli: device → case committed", len(latencies), elapsed, latencies)


def main() -> None:
    """Run both measurements and print them with their ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=5000)
    parser.add_argument("--devices", type=int, default=20)
    args = parser.parse_args()
    if MosquittoProcess.executable() is None:
        sys.exit("mosquitto is required for the benchmark")
    with tempfile.TemporaryDirectory(prefix="linli-bench-") as tmp:
        root = Path(tmp)
        broker = MosquittoProcess(root / "baseline-mq")
        broker.start()
        try:
            base = baseline(broker.port, args.alerts)
        finally:
            broker.stop()
        system = linli(root / "linli", args.alerts, args.devices)
    print(f"\nalerts: {args.alerts} from {args.devices} simulated devices, one Mosquitto, SQLite")
    print(base.line())
    print(system.line())
    p50, p99 = system.pct(0.5) / base.pct(0.5), system.pct(0.99) / base.pct(0.99)
    print(
        f"{'ratio linli / baseline':34} throughput {system.rate / base.rate:5.2f}x   "
        f"p50 {p50:6.1f}x   p99 {p99:6.1f}x"
    )
    print(f"(median of linli latencies {statistics.median(system.latencies_ms):.1f} ms)")


if __name__ == "__main__":
    main()
