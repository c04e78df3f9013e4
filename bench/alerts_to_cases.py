"""Benchmark: alerts from simulated devices to committed cases, beside a bare-broker baseline.

One private Mosquitto with the shipped site configuration; `linli hub` (on SQLite, or on a
throwaway PostgreSQL database with ``--db postgresql``) and `linli edge` as real processes.
Simulated gas detectors publish their own ``gas`` flag alternating on and off (every message
is an alert transition), stamped with their publish time as event time;
the benchmark follows the hub's live stream, where an alert appears only after its
transaction committed, and times publish → committed-and-visible.

Baseline, same run, same broker: a bare subscriber receiving the same messages from the same
publisher — the cost of MQTT alone. Two loads for each:

- burst: N readings published as fast as the client can (throughput; latency is queueing);
- paced: readings at a steady rate well below capacity (latency of one alert).

The bare burst runs twice, before Linli's loads and after them, and Linli's burst is compared
with the mean of the two: on a shared machine the broker's own speed drifts from minute to
minute, and a baseline taken only before would put that drift into the ratio.

Around the burst it reads the CPU time the edge and the hub processes used (``/proc``) and
prints it per alert. Then, on a second stack whose hub has a broker of its own, a drain after
an outage: the hub's broker is stopped, ``--drain`` readings and a few SOS presses are raised
at the edge (they wait in its outbox), the broker is started again, and the benchmark times
the hub committing them all, then checks them: whole (each alert once), in order per device,
the SOS presses first. Every target of issue 17 is printed beside its same-run baseline.

``--profile DIR`` records the hub and the edge with py-spy (``pip install py-spy``) during the
burst, the paced run and the drain, into ``DIR/hub.folded``, ``DIR/hub-paced.folded``, … (collapsed
stacks: ``flamegraph.pl`` or speedscope draw them). For each paced alert the benchmark also
prints where its time went, from the alert's own stamps: the edge's ``detected_at`` and the
hub's ``received_at``.

    python -m bench.alerts_to_cases [--db sqlite|postgresql] [--alerts N] [--drain N]
"""

import argparse
import contextlib
import json
import os
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

from bench.measuring import (
    Collector,
    CpuMeter,
    CpuUse,
    Figures,
    bare_subscriber,
    follow_stream,
    measure,
    profiled,
    publish_readings,
)
from devices.kinds import DeviceKind
from devices.registry import Device
from devices.topics import DeviceChannel, device_topic
from linli.brokers import MosquittoProcess
from linli.progress import counted
from tests.e2e.stack import Stack, mosquitto_pub
from tests.polling import wait_until


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


POSTGRES_ADMIN_URL = os.environ.get(
    "LINLI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
"""Where ``--db postgresql`` creates its throwaway database (the test suite's variable)."""

TARGET_BURST_RATIO = 0.5
TARGET_PACED_P50_MS = 5.0
TARGET_PACED_P99_MS = 20.0
TARGET_CPU_MS_PER_ALERT = 0.3
TARGET_DRAIN_PER_S = 2000.0


@contextmanager
def hub_database(kind: str, root: Path, name: str) -> Iterator[str]:
    """Yield a fresh hub database URL: a SQLite file, or a PostgreSQL database dropped after."""
    if kind == "sqlite":
        yield f"sqlite:///{root / f'{name}.sqlite3'}"
        return
    database = f"linli_bench_{name}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    try:
        yield (
            make_url(POSTGRES_ADMIN_URL)
            .set(database=database)
            .render_as_string(hide_password=False)
        )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Drain:
    """What the drain after an outage saw."""

    alerts: int
    sos: int
    commit_span_s: float
    """From the first to the last drained alert's commit (the hub's ``received_at``)."""
    after_restart_s: float
    """From the broker's restart until the last alert was committed (includes reconnects)."""
    problems: list[str]
    sos_last_position: int
    """The last SOS press's place in commit order (0-based; < ``sos`` means SOS first)."""

    @property
    def rate(self) -> float:
        """Alerts committed per second, over the commits' span; a drain committed in one take
        has no span, and is then counted from the broker's restart (a lower bound)."""
        if self.commit_span_s > 0:
            return self.alerts / self.commit_span_s
        return self.alerts / self.after_restart_s

    @property
    def rate_basis(self) -> str:
        """What ``rate`` is counted over."""
        if self.commit_span_s > 0:
            return f"committing over {self.commit_span_s:.1f} s"
        return "one take: counted from the broker's restart"


def outbox_depth(stack: Stack) -> int:
    """Return how many alerts wait in the edge's outbox (read from its SQLite file)."""
    path = stack.root / "edge" / "outbox.sqlite3"
    if not path.exists():
        return 0
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as db:
        row = db.execute("SELECT COUNT(*) FROM alerts").fetchone()
    return int(row[0])


_COMMIT_ORDER = text(
    "SELECT a.id, a.device_id, a.kind, a.ts, a.received_at FROM audit_log AS l"
    " JOIN alerts AS a ON a.id = l.alert_id WHERE l.action = 'alert_stored' ORDER BY l.seq"
)


def measure_drain(
    stack: Stack, gas: list[Device], sos: list[Device], count: int, profile: Path | None = None
) -> Drain:
    """Stop the hub's broker, raise ``count`` alerts and a press per SOS button, restart, time.

    With ``profile``, the hub and the edge are recorded with py-spy while they drain.
    """
    stack.hub_broker.stop()
    port = stack.local_broker.port
    gas_topics = [device_topic(d.id, DeviceChannel.STATE) for d in gas]
    half = count // 2
    publish_readings(port, gas_topics, half, offset=0, rate=None)
    for button in sos:
        press = {"event": "press", "ts": datetime.now(UTC).isoformat()}
        mosquitto_pub(port, device_topic(button.id, DeviceChannel.EVENT), json.dumps(press))
    publish_readings(port, gas_topics, count - half, offset=half, rate=None)
    expected = count + len(sos)
    wait_until(
        lambda: outbox_depth(stack) >= expected,
        timeout=600,
        interval=0.5,
        what=f"{expected} alerts in the edge's outbox",
    )
    engine = create_engine(stack.database_url)
    assert stack.hub.proc is not None
    assert stack.edge.proc is not None
    try:
        with (
            profiled(stack.hub.proc.pid, profile, "hub-drain"),
            profiled(stack.edge.proc.pid, profile, "edge-drain"),
        ):
            restarted = time.time()
            stack.hub_broker.start()
            with counted("drain after outage", expected) as progress:
                while True:
                    with engine.connect() as conn:
                        stored = conn.scalar(text("SELECT COUNT(*) FROM alerts")) or 0
                    progress.update(progress.task_ids[0], completed=stored)
                    if stored >= expected:
                        break
                    if time.time() - restarted > 900:
                        raise SystemExit(f"drain: only {stored} of {expected} committed")
                    time.sleep(0.1)
            finished = time.time()
        with engine.connect() as conn:
            rows = conn.execute(_COMMIT_ORDER).all()
            total = conn.scalar(text("SELECT COUNT(*) FROM alerts")) or 0
    finally:
        engine.dispose()
    problems: list[str] = []
    if total != expected or len(rows) != expected:
        problems.append(f"{total} alerts stored, {len(rows)} audited, {expected} raised")
    last_ts: dict[str, datetime] = {}
    for _id, device_id, _kind, ts, _received in rows:
        ts = ts if isinstance(ts, datetime) else datetime.fromisoformat(ts)
        if device_id in last_ts and ts < last_ts[device_id]:
            problems.append(f"{device_id}: an alert committed before an older one")
        last_ts[device_id] = ts
    sos_places = [i for i, row in enumerate(rows) if row[2] == "sos"]
    if len(sos_places) != len(sos):
        problems.append(f"{len(sos_places)} SOS alerts stored of {len(sos)} pressed")
    received = [r[4] if isinstance(r[4], datetime) else datetime.fromisoformat(r[4]) for r in rows]
    span = (max(received) - min(received)).total_seconds() if received else 0.0
    return Drain(
        alerts=len(rows),
        sos=len(sos),
        commit_span_s=span,
        after_restart_s=finished - restarted,
        problems=problems,
        sos_last_position=max(sos_places, default=-1),
    )


def target(name: str, met: bool, figure: str, baseline: str) -> str:
    """Return one target line: the figure, its same-run baseline, and whether it is met."""
    return f"{'MET   ' if met else 'MISSED'} {name:34} {figure:28} {baseline}"


def main() -> None:
    """Run baseline and Linli under both loads and the drain; print figures and targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--alerts", type=int, default=5000, help="readings in the burst")
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--rate", type=float, default=100.0, help="paced readings per second")
    parser.add_argument("--paced", type=int, default=1000, help="readings in the paced run")
    parser.add_argument(
        "--after-burst",
        type=int,
        default=700,
        help="paced readings right after the burst, before it settles (0: skip)",
    )
    parser.add_argument(
        "--drain", type=int, default=5000, help="alerts raised during the outage (0: skip)"
    )
    parser.add_argument("--sos", type=int, default=5, help="SOS buttons pressed in the outage")
    parser.add_argument(
        "--profile",
        type=Path,
        help="record with py-spy: the hub and the edge in the burst and in the drain",
    )
    args = parser.parse_args()
    if args.alerts > 0 and args.paced < 1:
        parser.error("--paced must be at least 1 with a burst: the paced run follows it")
    if MosquittoProcess.executable() is None:
        sys.exit("mosquitto is required for the benchmark")
    devices = [
        Device(id=f"gas-{i:03d}", kind=DeviceKind.GAS, location=f"Building {i % 3 + 1}/Boiler")
        for i in range(args.devices)
    ]
    buttons = [
        Device(id=f"sos-{i:03d}", kind=DeviceKind.SOS_BUTTON, location=f"Building 1/{i + 1}01")
        for i in range(args.sos)
    ]
    loads: Loads | None = None
    drain: Drain | None = None
    with tempfile.TemporaryDirectory(prefix="linli-bench-") as tmp:
        root = Path(tmp)
        if args.alerts > 0:
            with hub_database(args.db, root, "loads") as url:
                (root / "loads").mkdir()
                loads = measure_all_loads(Stack(root / "loads", devices, url), devices, args)
        if args.drain > 0:
            with hub_database(args.db, root, "drain") as url:
                (root / "drain").mkdir()
                stack = Stack(root / "drain", devices + buttons, url, separate_hub_broker=True)
                try:
                    stack.start()
                    drain = measure_drain(stack, devices, buttons, args.drain, args.profile)
                finally:
                    stack.close()
    print(
        f"\n{args.alerts} + {args.paced} alerts from {args.devices} simulated gas detectors;"
        f" one Mosquitto (deploy/mosquitto.conf settings); hub on {args.db};"
        " edge outbox fsync=full"
    )
    if loads is not None:
        print_loads(loads, args)
    if drain is not None:
        print(
            f"{'drain after outage':40} {drain.alerts:6d} alerts ({drain.sos} SOS)"
            f" {drain.rate:7.0f} /s ({drain.rate_basis}),"
            f" all in {drain.after_restart_s:.1f} s after the broker restarted;"
            f" {'whole, in order per device' if not drain.problems else '; '.join(drain.problems)};"
            f" last SOS at position {drain.sos_last_position}"
        )
        print(
            target(
                f"drain >= {TARGET_DRAIN_PER_S:.0f}/s, whole, SOS first",
                drain.rate >= TARGET_DRAIN_PER_S
                and not drain.problems
                and drain.sos_last_position < drain.sos,
                f"{drain.rate:.0f}/s"
                + ("" if loads is None else f" = {drain.rate / loads.bare_rate:.2f}x bare"),
                "no bare baseline (--alerts 0)" if loads is None else loads.bare_rate_text(),
            )
        )


@dataclass
class Loads:
    """What the burst and paced loads saw, Linli's beside the bare subscriber's."""

    base_burst: Figures
    base_paced: Figures
    sys_burst: Figures
    sys_paced: Figures
    burst_cpu: CpuUse
    after_burst: Figures | None = None
    """Paced alerts raised at once after the burst, while both programs catch up on it."""
    base_burst_again: Figures | None = None
    """The bare burst once more, after Linli's loads (the broker's drift brackets them)."""

    @property
    def bare_rate(self) -> float:
        """The bare subscriber's burst rate: the mean of its runs before and after Linli's."""
        runs = [f.rate for f in (self.base_burst, self.base_burst_again) if f is not None]
        return sum(runs) / len(runs)

    def bare_rate_text(self) -> str:
        """The bare subscriber's burst rate, with both runs when there are two."""
        if self.base_burst_again is None:
            return f"bare subscriber {self.base_burst.rate:.0f}/s"
        return (
            f"bare subscriber {self.bare_rate:.0f}/s (mean of {self.base_burst.rate:.0f}"
            f" before, {self.base_burst_again.rate:.0f} after)"
        )


def measure_all_loads(stack: Stack, devices: list[Device], args: argparse.Namespace) -> Loads:
    """Measure the bare subscriber and Linli under the burst and the paced load."""
    # The benchmark times every alert on the live stream: its buffer must hold a whole burst
    # (a console's holds 1,000 events and tells the console when it dropped some).
    timed = args.alerts + args.after_burst + args.paced
    stack.hub.env["LINLI_HUB_STREAM_MAX_QUEUED"] = str(2 * timed + 1000)
    try:
        stack.start()  # inside: a hub that fails to start leaves no broker running
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
        threading.Thread(target=follow_stream, args=(stack, linli, streaming), daemon=True).start()
        streaming.wait(timeout=30)
        topics = [device_topic(d.id, DeviceChannel.STATE) for d in devices]
        cpu = CpuMeter(stack, database=args.db == "postgresql")
        assert stack.hub.proc is not None
        assert stack.edge.proc is not None
        hub_pid, edge_pid = stack.hub.proc.pid, stack.edge.proc.pid
        cpu.begin()
        with (
            profiled(hub_pid, args.profile, "hub"),
            profiled(edge_pid, args.profile, "edge"),
        ):
            sys_burst = measure(
                "linli burst: device → case committed",
                linli,
                lambda: publish_readings(port, topics, args.alerts, offset=0, rate=None),
                args.alerts,
            )
        burst_cpu = cpu.end(args.alerts)

        def paced(name: str, count: int, offset: int, tag: str) -> Figures:
            """Readings at ``args.rate`` from ``offset`` on, timed (and profiled as ``tag``)."""
            with (
                profiled(hub_pid, args.profile, f"hub-{tag}"),
                profiled(edge_pid, args.profile, f"edge-{tag}"),
            ):
                return measure(
                    name,
                    linli,
                    lambda: publish_readings(port, topics, count, offset=offset, rate=args.rate),
                    count,
                )

        after_burst = None
        if args.after_burst > 0:
            # Long enough to span the edge's next telemetry tick, which sends the burst's
            # readings to the hub: what an alarm raised just after a storm waits behind.
            after_burst = paced(
                f"linli paced {args.rate:.0f}/s after burst",
                args.after_burst,
                args.alerts,
                "after-burst",
            )
        settle_after_burst(stack)
        sys_paced = paced(
            f"linli paced {args.rate:.0f}/s", args.paced, args.alerts + args.after_burst, "paced"
        )
        # Gas alarms correlate per room (hub.cases.correlation): one case per boiler room.
        rooms = len({d.location for d in devices})
        wait_until(lambda: len(stack.get("/cases")) == rooms, what="one case per room")
        again = Collector()
        sub = bare_subscriber(port, again)
        base_burst_again = measure(
            "baseline burst again: bare subscriber",
            again,
            lambda: publish_readings(port, base_topics, args.alerts, offset=0, rate=None),
            args.alerts,
        )
        sub.disconnect()
        sub.loop_stop()
    finally:
        stack.close()
    return Loads(
        base_burst, base_paced, sys_burst, sys_paced, burst_cpu, after_burst, base_burst_again
    )


EDGE_TELEMETRY_INTERVAL_S = 5.0
"""``linli edge``'s default ``telemetry_interval_s``: a burst's readings reach the hub by then."""


def settle_after_burst(stack: Stack) -> None:
    """Wait until the burst is over for both programs, not only on the stream: the edge has
    every acknowledgement applied (its outbox is empty) and has sent the burst's readings,
    which the hub then records (one telemetry interval, and a second for the hub's lane).

    The paced run measures one alert at a time in steady state; started at once, its first
    seconds measured the edge deleting 20,000 acknowledged alerts and the hub recording
    20,000 readings: both ahead of the paced alerts on their one database writer.
    """
    wait_until(lambda: outbox_depth(stack) == 0, timeout=300, what="the edge's outbox empty")
    time.sleep(EDGE_TELEMETRY_INTERVAL_S + 1)


def print_loads(loads: Loads, args: argparse.Namespace) -> None:
    """Print the burst and paced figures and their targets."""
    base_burst, base_paced = loads.base_burst, loads.base_paced
    sys_burst, sys_paced, burst_cpu = loads.sys_burst, loads.sys_paced, loads.burst_cpu
    shown = (
        base_burst,
        sys_burst,
        loads.base_burst_again,
        base_paced,
        loads.after_burst,
        sys_paced,
    )
    for figures in (f for f in shown if f is not None):
        print(figures.line())
        if figures.stages_ms:
            print(figures.stages_line(0.5))
            print(figures.stages_line(0.99))
    burst_ratio = sys_burst.rate / loads.bare_rate
    print(
        f"{'ratio linli / baseline':40} burst throughput {burst_ratio:.2f}x;"
        f" paced p50 {sys_paced.pct(0.5) / base_paced.pct(0.5):.1f}x,"
        f" p99 {sys_paced.pct(0.99) / base_paced.pct(0.99):.1f}x"
    )
    print(burst_cpu.line())
    print("\nTargets (issue 17), each beside its same-run baseline:")
    bare_rate = loads.bare_rate_text()
    print(
        target(
            f"burst >= {TARGET_BURST_RATIO}x bare",
            burst_ratio >= TARGET_BURST_RATIO,
            f"{sys_burst.rate:.0f}/s = {burst_ratio:.2f}x",
            bare_rate,
        )
    )
    for q, limit in ((0.5, TARGET_PACED_P50_MS), (0.99, TARGET_PACED_P99_MS)):
        name = f"paced p{round(q * 100)} <= {limit:.0f} ms"
        print(
            target(
                name,
                sys_paced.pct(q) <= limit,
                f"{sys_paced.pct(q):.1f} ms",
                f"bare p{round(q * 100)} {base_paced.pct(q):.1f} ms",
            )
        )
    for side, ms in (("edge", burst_cpu.edge_ms), ("hub", burst_cpu.hub_ms)):
        print(
            target(
                f"CPU {side} <= {TARGET_CPU_MS_PER_ALERT} ms/alert",
                ms <= TARGET_CPU_MS_PER_ALERT,
                f"{ms:.3f} ms/alert",
                f"burst of {args.alerts}; bare at {1000 / loads.bare_rate:.3f} ms/msg wall",
            )
        )


if __name__ == "__main__":
    main()
