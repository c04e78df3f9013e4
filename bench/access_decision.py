"""Benchmark: door access decisions at an offline edge with 10,000 credentials.

A private Mosquitto (the shipped site configuration) and `linli edge` as a real process whose
hub is unreachable (its hub port has no broker: the edge decides alone, as the brief's
"offline" asks). The edge's access store is filled beforehand with a snapshot of N
credentials (default 10,000). A reader client publishes card frames on
``linli/dev/<reader>/credential`` and times publish → the unlock/deny command received on
``linli/dev/<reader>/set``: lookup, decision, then the command; the durable log record and door
state (one SQLite commit with ``synchronous=FULL``, shared by the frames that arrived together)
follow it and come before the frame's acknowledgement, not before the command.

Baseline, same run, same broker: an echo client that republishes each frame at once on
another topic — the same two broker hops with no work in between. Plus the pure decision
(keyed hash, lookup, ``decide``) in-process, without I/O.

    python -m bench.access_decision [--credentials N] [--frames F] [--rate R]
"""

import argparse
import asyncio
import json
import logging
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from devices.access import CredentialKind, DoorConfig
from devices.mqtt_link import MqttEndpoint
from devices.topics import DeviceChannel, credential_topic, device_topic
from edge.access.control import AccessControl
from edge.access.decision import Direction, decide
from edge.access.store import FILE_NAME, AccessStore
from edge.outbox import Outbox
from linli.brokers import MosquittoProcess, free_port, site_tuning
from simulators.doors import enrolment
from simulators.load_tally import percentile
from tests.e2e.stack import LinliProcess

BURST_TARGET = 0.5
"""Issue 17: a burst of frames answered at half the rate of a bare echo through the same broker."""
P99_TARGET = 2.0
"""Issue 17: paced p99 at most twice the echo's."""
EDGE_ID = "edge-bench"
READER = "gate-reader"
KEY = bytes(range(32))
SITE_TOML = f"""
[site]
name = "Bench"
edge_id = "{EDGE_ID}"

[[devices]]
id = "{READER}"
kind = "door_reader"
location = "Main Gate"

[[devices]]
id = "gate-door"
kind = "door_contact"
location = "Main Gate"
"""


@dataclass
class Figures:
    """Latencies of one measurement, in milliseconds."""

    name: str
    latencies_ms: list[float]
    seconds: float

    def pct(self, q: float) -> float:
        return percentile(self.latencies_ms, q)

    def line(self) -> str:
        rate = len(self.latencies_ms) / self.seconds
        return (
            f"{self.name:44} {len(self.latencies_ms):6d} frames {rate:7.0f} /s   "
            f"p50 {self.pct(0.5):7.2f} ms   p99 {self.pct(0.99):7.2f} ms   "
            f"max {max(self.latencies_ms):7.2f} ms"
        )


def card_number(i: int) -> str:
    """Return the i-th enrolled card number."""
    return f"{0x10000000 + i * 7919:08X}"


def fill_store(data_dir: Path, credentials: int) -> None:
    """Store a snapshot of ``credentials`` cards for the gate, as a hub sync would."""
    gate = DoorConfig(id="gate", reader_id=READER, contact_id="gate-door")
    cards = (card_number(i) for i in range(credentials))
    store = AccessStore.open(data_dir / FILE_NAME)
    store.apply(0, enrolment(EDGE_ID, KEY, cards, [gate], timezone="Asia/Shanghai"))
    store.close()


class RoundTrips:
    """Publishes frames and times each until its reply arrives (replies come in order)."""

    def __init__(self, port: int, send_topic: str, reply_topic: str) -> None:
        self.sent: list[float] = []
        self.latencies_ms: list[float] = []
        self.replies: list[bytes] = []
        self._done = threading.Event()
        self._expected = 0
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        _no_delay(self.client)
        self.client.subscribe(reply_topic, qos=1)
        self.client.loop_start()
        self.send_topic = send_topic
        time.sleep(0.3)

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        now = time.perf_counter()
        index = len(self.replies)
        self.replies.append(bytes(message.payload))
        if index < len(self.sent):
            self.latencies_ms.append((now - self.sent[index]) * 1000)
        if len(self.replies) >= self._expected:
            self._done.set()

    def run(self, payloads: list[bytes], rate: float | None, timeout: float = 120.0) -> float:
        """Send ``payloads`` (paced at ``rate`` per second, or at once); return the seconds."""
        self.sent, self.latencies_ms, self.replies = [], [], []
        self._expected = len(payloads)
        self._done.clear()
        start = time.perf_counter()
        for i, payload in enumerate(payloads):
            if rate is not None:
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            self.sent.append(time.perf_counter())
            self.client.publish(self.send_topic, payload, qos=1)
        if not self._done.wait(timeout):
            raise RuntimeError(f"only {len(self.replies)} of {len(payloads)} replies arrived")
        return time.perf_counter() - start

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _no_delay(client: mqtt.Client) -> None:
    """Disable Nagle on a paho client, as every Linli client does (``devices.mqtt_link``).

    Without it a client that publishes right after receiving waits for the broker's delayed
    ACK, and the baseline would measure Nagle (~30 ms here), not the broker.
    """
    sock = client.socket()
    assert isinstance(sock, socket.socket)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def echo(port: int, listen: str, reply: str) -> mqtt.Client:
    """Start the baseline: a client that republishes every message at once."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2)

    def on_message(c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        c.publish(reply, message.payload, qos=1)

    client.on_message = on_message
    client.connect("127.0.0.1", port)
    _no_delay(client)
    client.subscribe(listen, qos=1)
    client.loop_start()
    return client


def frames(count: int, credentials: int, rng: random.Random) -> list[bytes]:
    """Return card frames: nine in ten enrolled cards, one in ten unknown."""
    out = []
    for _ in range(count):
        known = rng.random() < 0.9
        card = card_number(rng.randrange(credentials)) if known else f"{rng.getrandbits(31):08X}"
        out.append(json.dumps({"card": card}).encode())
    return out


def pure_decisions(credentials: int, count: int, rng: random.Random) -> Figures:
    """Time the decision alone: keyed hash, lookup and ``decide``, with no I/O."""
    with tempfile.TemporaryDirectory() as tmp:
        fill_store(Path(tmp), credentials)
        store = AccessStore.open(Path(tmp) / FILE_NAME)
        allow = store.load()
        store.close()
    role = allow.reader(READER)
    assert role is not None
    zone = ZoneInfo("Asia/Shanghai")
    now = datetime.now(UTC)
    latencies = []
    start = time.perf_counter()
    for _ in range(count):
        card = card_number(rng.randrange(credentials))
        t0 = time.perf_counter()
        _, entry = allow.lookup(CredentialKind.CARD, card)
        decision = decide(entry, role.door, Direction.ENTRY, now, zone)
        latencies.append((time.perf_counter() - t0) * 1000)
        assert decision.granted
    return Figures("decision only (in-process, no I/O)", latencies, time.perf_counter() - start)


def stored_decisions(credentials: int, count: int, in_flight: int, rng: random.Random) -> float:
    """Time ``AccessControl.on_frame`` in-process on the real stores, ``in_flight`` at a time.

    Decision, log record and door state committed with ``synchronous=FULL``, no broker. One at
    a time is a frame that arrives alone; more in flight shows what the group commit does with
    frames the ingest takes together.
    Returns frames per second.
    """
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        fill_store(root, credentials)
        outbox = Outbox.open(root / "outbox.sqlite3")
        control = AccessControl(
            edge_id=EDGE_ID,
            store=AccessStore.open(root / FILE_NAME),
            outbox=outbox,
            hub=MqttEndpoint(host="127.0.0.1", port=free_port()),
            local=lambda: None,
            on_alerts=lambda _alerts: None,
            count=lambda _name, _n: None,
        )
        topic = credential_topic(READER)
        payloads = [
            json.dumps({"card": card_number(rng.randrange(credentials))}).encode()
            for _ in range(count)
        ]

        async def run() -> float:
            started = time.perf_counter()
            for i in range(0, count, in_flight):
                await asyncio.gather(
                    *(control.on_frame(READER, topic, raw) for raw in payloads[i : i + in_flight])
                )
            return time.perf_counter() - started

        # Without a local broker every command is logged as unsent: keep that out of the figure.
        logging.getLogger("edge.access").setLevel(logging.ERROR)
        seconds = asyncio.run(run())
        control.store.close()
        outbox.close()
    return count / seconds


def measure(name: str, trips: RoundTrips, payloads: list[bytes], rate: float | None) -> Figures:
    seconds = trips.run(payloads, rate)
    return Figures(name, list(trips.latencies_ms), seconds)


def main() -> None:
    """Run the baseline and the edge under paced and burst load; print figures and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--credentials", type=int, default=10_000)
    parser.add_argument("--frames", type=int, default=1_000)
    parser.add_argument("--rate", type=float, default=50.0, help="paced frames per second")
    args = parser.parse_args()
    if MosquittoProcess.executable() is None:
        sys.exit("mosquitto is not installed")
    rng = random.Random(4)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        broker = MosquittoProcess(root / "mq", config_extra=site_tuning())
        broker.start()
        site = root / "site.toml"
        site.write_text(SITE_TOML)
        fill_store(root / "edge", args.credentials)
        edge = LinliProcess(
            "edge",
            [
                "edge",
                "--site", str(site),
                "--data-dir", str(root / "edge"),
                "--local-mqtt", f"127.0.0.1:{broker.port}",
                "--hub-mqtt", f"127.0.0.1:{free_port()}",  # nobody there: offline
            ],
            root / "edge.log",
        )  # fmt: skip
        edge.start()
        reader = device_topic(READER, DeviceChannel.SET)
        results: list[Figures] = []
        try:
            trips = RoundTrips(broker.port, credential_topic(READER), reader)
            _wait_for_edge(trips, lambda: edge.alive)
            echo_client = echo(broker.port, "bench/echo/in", "bench/echo/out")
            baseline = RoundTrips(broker.port, "bench/echo/in", "bench/echo/out")
            paced = frames(args.frames, args.credentials, rng)
            burst = frames(args.frames, args.credentials, rng)
            results.append(measure(f"baseline echo, paced {args.rate:g}/s", baseline, paced,
                                   args.rate))  # fmt: skip
            results.append(measure(f"edge decision, paced {args.rate:g}/s", trips, paced,
                                   args.rate))  # fmt: skip
            results.append(measure("baseline echo, burst", baseline, burst, None))
            results.append(measure("edge decision, burst", trips, burst, None))
            baseline.close()
            trips.close()
            echo_client.disconnect()
            echo_client.loop_stop()
        finally:
            edge.stop()
            broker.stop()
    results.append(pure_decisions(args.credentials, 20_000, rng))
    stored = {n: stored_decisions(args.credentials, 2_000, n, rng) for n in (1, 32)}
    print(f"\nAccess decisions at an offline edge, {args.credentials:,} credentials "
          f"({args.frames} frames per load; 90 % enrolled cards)")  # fmt: skip
    for figures in results:
        print(figures.line())
    base_paced, edge_paced, base_burst, edge_burst, _ = results
    print(
        f"\npaced: edge/baseline p50 {edge_paced.pct(0.5) / base_paced.pct(0.5):.1f}x, "
        f"p99 {edge_paced.pct(0.99) / base_paced.pct(0.99):.1f}x; "
        f"edge p99 {edge_paced.pct(0.99):.1f} ms against the 200 ms OSDP reply window "
        f"({200 / edge_paced.pct(0.99):.0f}x headroom)"
    )
    print(
        f"burst: edge {len(edge_burst.latencies_ms) / edge_burst.seconds:.0f} decisions/s, "
        f"baseline {len(base_burst.latencies_ms) / base_burst.seconds:.0f} echoes/s "
        f"({(len(edge_burst.latencies_ms) / edge_burst.seconds) / (len(base_burst.latencies_ms) / base_burst.seconds):.2f}x)"  # noqa: E501
    )
    print(f"mean edge paced latency {statistics.fmean(edge_paced.latencies_ms):.2f} ms")
    print(
        "in-process, decision + durable commit (no broker): "
        + ", ".join(f"{rate:.0f}/s with {n} in flight" for n, rate in stored.items())
    )
    burst_ratio = (len(edge_burst.latencies_ms) / edge_burst.seconds) / (
        len(base_burst.latencies_ms) / base_burst.seconds
    )
    p99_ratio = edge_paced.pct(0.99) / base_paced.pct(0.99)
    print(
        f"door decisions, burst: {burst_ratio:.2f}x the bare echo (target >= 0.5x:"
        f" {'met' if burst_ratio >= BURST_TARGET else 'NOT met'}); paced p99 {p99_ratio:.1f}x the"
        f" echo's (target <= 2x: {'met' if p99_ratio <= P99_TARGET else 'NOT met'})"
    )


def _wait_for_edge(trips: RoundTrips, alive: Callable[[], bool]) -> None:
    """Present a card until the edge answers (it is starting)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError("the edge stopped")
        try:
            trips.run([json.dumps({"card": card_number(0)}).encode()], None, timeout=1.0)
            time.sleep(1.0)  # let any reply to an earlier attempt arrive before measuring
            return
        except RuntimeError:
            continue
    raise RuntimeError("the edge never answered")


if __name__ == "__main__":
    main()
