"""Benchmark: the edge alone, device reading → alert on the hub's broker, beside a bare subscriber.

One private Mosquitto (the shipped site configuration) serves as the site's broker and the
hub's; `linli edge` runs as a real process with its outbox at ``synchronous=FULL``. No hub:
a small stand-in subscribes to ``linli/edge/<id>/alert`` at QoS 1, timestamps every alert
and acknowledges the ids it received every ``--ack-every-ms`` (as the hub acknowledges a
committed batch), so the edge's window and its deletes run as in production.

Simulated gas detectors publish their own ``gas`` flag alternating on and off (every message
is an alert transition), stamped with their publish time; latency is publish →
the alert received from the hub's broker, so it holds decode, detection, the outbox's fsynced
commit, the device ack and the forward, but no hub.

Baseline, same run, same broker: the bare QoS 1 subscriber of ``bench.measuring``.
Edge CPU per alert is the edge process's user + system time (``/proc/<pid>/stat``) over the
phase divided by its alerts. ``--profile out.json`` records the burst with py-spy
(speedscope format; ``--profile out.txt`` writes raw collapsed stacks).

    python -m bench.edge_ingest [--alerts N] [--devices D] [--rate R] [--profile PATH]
"""

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.measuring import Collector, bare_subscriber, cpu_seconds, measure, publish_readings
from devices.topics import DeviceChannel, EdgeChannel, device_topic, edge_topic
from linli.brokers import MosquittoProcess, site_tuning
from tests.e2e.stack import LinliProcess
from tests.polling import wait_until

EDGE_ID = "edge-bench"
IDLE_S = 3.0
"""How long the edge's CPU is measured with no device messages, before the burst."""
GROUP_COUNTERS = ("messages_received", "outbox_groups", "alerts_created", "alerts_sent")
"""The edge's counters (from its status) printed per phase: how many messages shared a commit."""


class HubStandIn:
    """Receives the edge's alerts at QoS 1 and acknowledges them in batches, like the hub."""

    def __init__(self, port: int, collector: Collector, ack_every_s: float) -> None:
        self._collector = collector
        self._pending: list[str] = []
        self._lock = threading.Lock()
        self._ack_every_s = ack_every_s
        self._stop = threading.Event()
        self.received = 0
        self.ids: set[str] = set()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.counters: dict[str, int] = {}
        self.client.subscribe(edge_topic(EDGE_ID, EdgeChannel.ALERT), qos=1)
        self.client.subscribe(edge_topic(EDGE_ID, EdgeChannel.STATUS), qos=1)
        self.client.loop_start()
        self._acker = threading.Thread(target=self._ack_forever, daemon=True)
        self._acker.start()

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        if message.topic.endswith("/status"):
            self.counters = json.loads(message.payload).get("counters") or {}
            return
        alert = json.loads(message.payload)
        with self._lock:
            self._pending.append(alert["id"])
            self.received += 1
            fresh = alert["id"] not in self.ids
            self.ids.add(alert["id"])
        if fresh:
            self._collector.record(datetime.fromisoformat(alert["ts"]).timestamp())

    def _ack_forever(self) -> None:
        topic = edge_topic(EDGE_ID, EdgeChannel.ACK)
        while not self._stop.wait(self._ack_every_s):
            with self._lock:
                ids, self._pending = self._pending, []
            if ids:
                self.client.publish(topic, json.dumps({"ids": ids}), qos=1)

    def close(self) -> None:
        self._stop.set()
        self.client.disconnect()
        self.client.loop_stop()


def thread_cpu(pid: int) -> dict[str, float]:
    """Return CPU seconds of the event loop's thread and of every other thread together."""
    used = {"event loop": 0.0, "other threads": 0.0}
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            name = "event loop" if task.name == str(pid) else "other threads"
            used[name] += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return used


def site_file(root: Path, devices: int) -> Path:
    """Write a site file with ``devices`` gas detectors."""
    lines = [f'[site]\nname = "Bench"\nedge_id = "{EDGE_ID}"\n']
    for i in range(devices):
        lines.append(
            f'[[devices]]\nid = "gas-{i:03d}"\nkind = "gas"\nlocation = "Building {i % 3 + 1}"\n'
        )
    path = root / "site.toml"
    path.write_text("".join(lines))
    return path


def profiler(pid: int, out: Path) -> subprocess.Popen[bytes]:
    """Start py-spy on ``pid``, writing ``out`` (speedscope JSON, or raw stacks for .txt)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    fmt = "raw" if out.suffix == ".txt" else "speedscope"
    return subprocess.Popen(
        [spy, "record", "--pid", str(pid), "-o", str(out), "-f", fmt, "--rate", "250"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def main() -> None:
    """Run the bare subscriber and the edge under a burst and a paced load; print both."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=5000, help="readings in the burst")
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--rate", type=float, default=100.0, help="paced readings per second")
    parser.add_argument("--paced", type=int, default=1000, help="readings in the paced run")
    parser.add_argument("--ack-every-ms", type=float, default=10.0)
    parser.add_argument("--profile", type=Path, help="py-spy output of the edge's burst")
    args = parser.parse_args()
    if MosquittoProcess.executable() is None:
        sys.exit("mosquitto is required for the benchmark")
    with tempfile.TemporaryDirectory(prefix="linli-bench-edge-") as tmp:
        root = Path(tmp)
        broker = MosquittoProcess(root / "mq", config_extra=site_tuning())
        broker.start()
        edge = LinliProcess(
            "edge",
            [
                "edge",
                "--site", str(site_file(root, args.devices)),
                "--data-dir", str(root / "edge"),
                "--local-mqtt", f"127.0.0.1:{broker.port}",
                "--hub-mqtt", f"127.0.0.1:{broker.port}",
                "--heartbeat", "1",
            ],
            root / "edge.log",
        )  # fmt: skip
        hub: HubStandIn | None = None
        try:
            base = Collector()
            sub = bare_subscriber(broker.port, base)
            base_topics = [f"bench/baseline/{i:03d}" for i in range(args.devices)]
            base_burst = measure(
                "baseline burst: bare subscriber",
                base,
                lambda: publish_readings(
                    broker.port, base_topics, args.alerts, offset=0, rate=None
                ),
                args.alerts,
            )
            base_paced = measure(
                f"baseline paced {args.rate:.0f}/s",
                base,
                lambda: publish_readings(
                    broker.port, base_topics, args.paced, offset=0, rate=args.rate
                ),
                args.paced,
            )
            sub.disconnect()
            sub.loop_stop()

            linli = Collector()
            hub = HubStandIn(broker.port, linli, args.ack_every_ms / 1000)
            edge.start()
            assert edge.proc is not None
            topics = [
                device_topic(f"gas-{i:03d}", DeviceChannel.STATE) for i in range(args.devices)
            ]

            # Warm-up: one alarm per detector, repeated until the edge has subscribed.
            devices: int = args.devices

            def warmed() -> bool:
                if len(linli.latencies) >= devices:
                    return True
                publish_readings(broker.port, topics, devices, offset=0, rate=None)
                time.sleep(1.0)
                return len(linli.latencies) >= devices

            linli.arm(args.devices)
            wait_until(warmed, timeout=120, interval=0.5, what="the edge's first alerts")
            time.sleep(1.5)
            counted_warm = dict(hub.counters)
            cpu0 = cpu_seconds(edge.proc.pid)
            time.sleep(IDLE_S)
            idle_cpu_per_s = (cpu_seconds(edge.proc.pid) - cpu0) / IDLE_S
            # Every device is in alarm now (a repeated alarm raises nothing): clear air next.
            spy = profiler(edge.proc.pid, args.profile) if args.profile else None
            cpu0 = cpu_seconds(edge.proc.pid)
            burst = measure(
                "edge burst: device → alert at the hub broker",
                linli,
                lambda: publish_readings(
                    broker.port, topics, args.alerts, offset=args.devices, rate=None
                ),
                args.alerts,
            )
            cpu_burst = cpu_seconds(edge.proc.pid) - cpu0
            if spy is not None:
                spy.send_signal(2)
                spy.wait(timeout=60)
            time.sleep(1.5)
            counted_burst = dict(hub.counters)
            if args.profile:
                paced_out = args.profile.with_name(
                    f"{args.profile.stem}-paced{args.profile.suffix}"
                )
                spy = profiler(edge.proc.pid, paced_out)
            cpu0 = cpu_seconds(edge.proc.pid)
            threads0 = thread_cpu(edge.proc.pid)
            paced = measure(
                f"edge paced {args.rate:.0f}/s",
                linli,
                lambda: publish_readings(
                    broker.port,
                    topics,
                    args.paced,
                    offset=args.devices + args.alerts,
                    rate=args.rate,
                ),
                args.paced,
            )
            cpu_paced = cpu_seconds(edge.proc.pid) - cpu0
            threads = {
                name: used - threads0.get(name, 0.0)
                for name, used in thread_cpu(edge.proc.pid).items()
            }
            if spy is not None:
                spy.send_signal(2)
                spy.wait(timeout=60)
            time.sleep(1.5)
            counted_end = dict(hub.counters)
            duplicates = hub.received - len(hub.ids)
        finally:
            if hub is not None:
                hub.close()
            if edge.alive:
                edge.stop()
            broker.stop()
    print(
        f"\n{args.alerts} + {args.paced} alerts from {args.devices} simulated gas detectors; one"
        " Mosquitto (deploy/mosquitto.conf settings); edge outbox fsync=full; hub stand-in acks"
        f" every {args.ack_every_ms:.0f} ms"
    )
    for figures in (base_burst, burst, base_paced, paced):
        print(figures.line())
    print(
        f"{'ratio edge / baseline':40} burst throughput {burst.rate / base_burst.rate:.2f}x;"
        f" paced p50 {paced.pct(0.5) / base_paced.pct(0.5):.1f}x,"
        f" p99 {paced.pct(0.99) / base_paced.pct(0.99):.1f}x"
    )
    print(
        f"{'edge CPU per alert':40} burst {cpu_burst / args.alerts * 1000:.3f} ms;"
        f" paced {cpu_paced / args.paced * 1000:.3f} ms;"
        f" alerts re-sent (seen twice at the hub broker): {duplicates}"
    )
    print(
        f"{'edge CPU per alert by thread, paced':40} "
        + ", ".join(
            f"{name} {used / args.paced * 1000:.3f} ms"
            for name, used in sorted(threads.items(), key=lambda item: -item[1])
            if used > 0
        )
    )
    print(f"{'edge CPU while idle':40} {idle_cpu_per_s * 1000:.1f} ms a second")
    for phase, before, after in (
        ("burst", counted_warm, counted_burst),
        ("paced", counted_burst, counted_end),
    ):
        deltas = {k: after.get(k, 0) - before.get(k, 0) for k in GROUP_COUNTERS}
        print(f"{'edge counters, ' + phase:40} " + ", ".join(f"{k} {v}" for k, v in deltas.items()))


if __name__ == "__main__":
    main()
