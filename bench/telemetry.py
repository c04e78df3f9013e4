"""Telemetry throughput: Linli's InfluxDB forwarder against a bare influxdb-client write.

Everything writes the same readings to the same private VictoriaMetrics (a real server of the
InfluxDB v2 write API) in the same run, in rounds interleaved in ABBA order (baseline then Linli,
Linli then baseline, ...), so that load from elsewhere on the machine and the server's background
work fall on both sides alike. One untimed round of each goes first (connections, caches). Each
timed side starts from a collected heap with the input fixture frozen out of the collector, and
collection on, for both. The figure is the median of the per-round ratios, printed with their
range and middle half: on a shared machine single rounds swing widely, so trust the median of
a dozen rounds or more, never one round.

What each figure measures:

- baseline, the transport alone: influxdb-client's synchronous write of line protocol rendered
  beforehand (outside the clock), 1,000 lines per request, one request at a time, at the lines'
  millisecond precision. This is the target's yardstick and the hardest one: it leaves out
  turning readings into lines. (Until December 2026 it wrote at the client's default precision,
  nanoseconds: the server read every timestamp as 1970, outside retention, and dropped every
  point, so the baseline was measured against a server that stored nothing.)
- context, a bare writer from the readings (first round only): the same client given its own
  ``Point`` objects built from the same ``TelemetryBatch`` messages, as code without Linli's
  encoder would write them.
- Linli: ``TelemetryForwarder`` from ``TelemetryBatch`` messages as the hub receives them
  (parsed from their JSON),
  so its figure includes ``submit()`` on the caller's thread, the line-protocol encoding and
  the hand-over to its writer threads, with the production request size (1,000 points).

Also printed: what ``submit()`` costs the ingest loop per 500-reading batch.

    python -m bench.telemetry [--points N] [--rounds R]
"""

import argparse
import gc
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write.point import Point
from influxdb_client.client.write_api import SYNCHRONOUS, WriteApi
from influxdb_client.domain.write_precision import WritePrecision

from devices.messages import TelemetryBatch
from hub.telemetry.writer import (
    MEASUREMENT,
    InfluxLineWriter,
    TelemetryForwarder,
    line_protocol_batch,
    telemetry_items,
)
from tests.hub.test_telemetry_influx import VictoriaMetrics, recent_batch

BATCH = 500
REQUEST = 1000
TARGET = 0.8


def percentile(values: list[float], q: float) -> float:
    """Return the ``q`` quantile (0..1) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


STALL = 0.02
"""A request answered after this many seconds counts as a server stall (a request normally takes
1-3 ms): VictoriaMetrics holds writes now and then while it merges what it took in (every
~170,000 rows here), the longer the faster it is fed, and a stall of 100-350 ms swings a round
of 100,000 points by half. Both sides' stalls are counted so a round's ratio can be read."""


def bare_lines(api: WriteApi, lines: list[str], requests: list[float]) -> float:
    """Write pre-rendered lines, 1,000 per request; return the seconds, note each request's."""
    started = time.perf_counter()
    for i in range(0, len(lines), REQUEST):
        t = time.perf_counter()
        api.write(
            bucket="linli",
            org="linli",
            record=lines[i : i + REQUEST],
            write_precision=WritePrecision.MS,  # type: ignore[arg-type]  # a str constant
        )
        requests.append(time.perf_counter() - t)
    return time.perf_counter() - started


class TimedWriter(InfluxLineWriter):
    """Linli's writer, noting each request's seconds (as ``bare_lines`` does for the client)."""

    def __init__(self, url: str, requests: list[float]) -> None:
        super().__init__(url, "bench", "linli", "linli", timeout_seconds=5)
        self.requests = requests

    def write(self, lines: list[str]) -> None:
        """Write as Linli does, timing the request."""
        t = time.perf_counter()
        try:
            super().write(lines)
        finally:
            self.requests.append(time.perf_counter() - t)


def bare_points(api: WriteApi, batches: list[TelemetryBatch]) -> float:
    """Build influxdb-client ``Point`` objects from the batches and write them; return seconds."""
    started = time.perf_counter()
    pending: list[Point] = []
    for batch in batches:
        for point in batch.points:
            record = Point(MEASUREMENT).tag("device_id", point.device_id)  # type: ignore[no-untyped-call]
            record = record.tag("edge_id", batch.edge_id).time(point.ts, WritePrecision.MS)
            for name, value in point.readings.present().items():
                record = record.field(name, value if isinstance(value, bool) else float(value))
            pending.append(record)
            if len(pending) == REQUEST:
                api.write(bucket="linli", org="linli", record=pending)
                pending = []
    if pending:
        api.write(bucket="linli", org="linli", record=pending)
    return time.perf_counter() - started


def linli(
    url: str, batches: list[TelemetryBatch], n: int, requests: list[float]
) -> tuple[float, list[float]]:
    """Forward the batches through ``TelemetryForwarder``; return the seconds and submit times."""
    writer = TimedWriter(url, requests)
    forwarder = TelemetryForwarder(writer, batch_size=REQUEST, flush_seconds=0.05, capacity=2 * n)
    forwarder.start()
    submits: list[float] = []
    started = time.perf_counter()
    for batch in batches:
        t = time.perf_counter()
        forwarder.submit(batch)
        submits.append(time.perf_counter() - t)
    while forwarder.worker.counters.get("points_written", 0) < n:
        time.sleep(0.0005)
    seconds = time.perf_counter() - started
    forwarder.stop()
    return seconds, submits


def timed(side: Callable[[], float]) -> tuple[float, float]:
    """Run one side from the same collector state; return its wall and CPU seconds."""
    # Each side starts with empty young generations, so neither pays for the other's garbage.
    gc.collect()
    cpu = time.process_time()
    seconds = side()
    return seconds, time.process_time() - cpu


def main() -> None:
    """Run the writers in interleaved rounds against one server and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=12)
    args = parser.parse_args()
    n = args.points - args.points % BATCH
    root = Path(tempfile.mkdtemp(prefix="linli-bench-telemetry-"))
    server = VictoriaMetrics(root / "vm")
    server.start()
    bare: list[float] = []
    ours: list[float] = []
    submits: list[float] = []
    bare_cpu: list[float] = []
    ours_cpu: list[float] = []
    stalls: dict[str, list[int]] = {"bare": [], "linli": []}
    try:
        # Parsed from JSON, as the hub's MQTT ingest gets them (timestamps then carry pydantic's
        # own time zone objects, whose offsets cost more to read than the standard library's).
        batches = [
            TelemetryBatch.model_validate_json(
                recent_batch(BATCH, device_id=f"bench-{i % 20}").model_dump_json()
            )
            for i in range(n // BATCH)
        ]
        lines = line_protocol_batch(item for batch in batches for item in telemetry_items(batch))
        # The inputs stay alive for every round: keep the collector from walking them again and
        # again, which would charge whichever side allocates (the forwarder) for the fixture.
        # Collection stays on for both sides, as in production.
        gc.collect()
        gc.freeze()
        client = InfluxDBClient(url=server.url, token="bench", org="linli", timeout=5000)
        api = client.write_api(write_options=SYNCHRONOUS)
        points_seconds = bare_points(api, batches)
        times: list[float] = []
        requests: dict[str, list[float]] = {"bare": [], "linli": []}

        def run_bare() -> float:
            requests["bare"].clear()
            seconds = bare_lines(api, lines, requests["bare"])
            stalls["bare"].append(sum(r > STALL for r in requests["bare"]))
            return seconds

        def run_linli() -> float:
            requests["linli"].clear()
            seconds, submitted = linli(server.url, batches, n, requests["linli"])
            stalls["linli"].append(sum(r > STALL for r in requests["linli"]))
            times.extend(submitted)
            return seconds

        # One untimed round of each first: connections, caches and the server's first parts.
        run_bare()
        run_linli()
        times.clear()
        stalls["bare"].clear()
        stalls["linli"].clear()
        for i in range(args.rounds):
            # Interleaved in ABBA order: the server's background merges after one writer's
            # round, and drifts in the machine's load, fall on both sides alike.
            order = [(run_bare, bare, bare_cpu), (run_linli, ours, ours_cpu)]
            for side, walls, cpus in order[:: -1 if i % 4 in (1, 2) else 1]:
                seconds, cpu = timed(side)
                walls.append(seconds)
                cpus.append(cpu)
        submits = times
        client.close()  # type: ignore[no-untyped-call]
    finally:
        server.stop()
    ratios = [b / o for b, o in zip(bare, ours, strict=True)]
    print(f"{n:,} readings to VictoriaMetrics, {REQUEST} per request, {args.rounds} rounds")
    rows = zip(bare, ours, stalls["bare"], stalls["linli"], strict=True)
    for i, (b, o, b_stalls, o_stalls) in enumerate(rows, 1):
        print(
            f"  round {i:>2}: baseline (bare influxdb-client, pre-rendered lines) {n / b:>9,.0f}"
            f" points/s; Linli TelemetryForwarder {n / o:>9,.0f} points/s ({b / o:.2f}x);"
            f" server stalls {b_stalls}/{o_stalls}"
        )
    print(
        f"  context: bare influxdb-client from the same readings (its Point API, round 1 only):"
        f" {n / points_seconds:,.0f} points/s"
    )
    median = statistics.median(ratios)
    print(
        f"telemetry forwarding: {median:.2f}x the bare writer (median; rounds"
        f" {min(ratios):.2f}-{max(ratios):.2f}x); target >= {TARGET:.1f}x:"
        f" {'met' if median >= TARGET else 'NOT met'}"
    )
    quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [median] * 3
    print(
        f"  middle half of the rounds: {quartiles[0]:.2f}-{quartiles[2]:.2f}x; best round of"
        f" each: {min(bare) / min(ours):.2f}x; all rounds' points over all their time:"
        f" {sum(bare) / sum(ours):.2f}x"
    )
    print(
        f"  server stalls (requests over {STALL * 1e3:.0f} ms) in all rounds: baseline"
        f" {sum(stalls['bare'])}, Linli {sum(stalls['linli'])}"
    )
    print(
        f"  client CPU per point (median; all threads of this process, the server's excluded):"
        f" bare {statistics.median(bare_cpu) / n * 1e6:.2f} us,"
        f" Linli {statistics.median(ours_cpu) / n * 1e6:.2f} us"
    )
    p50, p99 = percentile(submits, 0.5) * 1e6, percentile(submits, 0.99) * 1e6
    print(
        f"  submit() of {BATCH} readings on the ingest loop: p50 {p50:.0f} us, p99 {p99:.0f} us,"
        f" max {max(submits) * 1e3:.1f} ms"
    )


if __name__ == "__main__":
    main()
