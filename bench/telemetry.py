"""Telemetry throughput: Linli's InfluxDB forwarder against a bare influxdb-client write.

Both write the same readings to the same private VictoriaMetrics (a real server of the
InfluxDB v2 write API) in the same run. The baseline is influxdb-client's synchronous write
of pre-rendered line protocol, 1,000 lines per request: the cost of the server and the client
alone. Linli's ``TelemetryForwarder`` starts from ``TelemetryBatch`` messages as the hub
receives them, so its figure includes rendering and the hand-over to its writer thread. Also
printed: what ``submit()`` costs the ingest loop per 500-reading batch.

    python -m bench.telemetry [--points N]
"""

import argparse
import tempfile
import time
from pathlib import Path

from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS

from hub.telemetry.writer import (
    InfluxLineWriter,
    TelemetryForwarder,
    line_protocol,
    telemetry_items,
)
from tests.hub.test_telemetry_influx import VictoriaMetrics, recent_batch

BATCH = 500
REQUEST = 1000


def percentile(values: list[float], q: float) -> float:
    """Return the ``q`` quantile (0..1) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def main() -> None:
    """Run both writers against one server and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    args = parser.parse_args()
    n = args.points - args.points % BATCH
    root = Path(tempfile.mkdtemp(prefix="linli-bench-telemetry-"))
    server = VictoriaMetrics(root / "vm")
    server.start()
    try:
        batches = [recent_batch(BATCH, device_id=f"bench-{i % 20}") for i in range(n // BATCH)]
        lines = [
            line
            for batch in batches
            for item in telemetry_items(batch)
            if (line := line_protocol(item)) is not None
        ]
        client = InfluxDBClient(url=server.url, token="bench", org="linli", timeout=5000)
        api = client.write_api(write_options=SYNCHRONOUS)
        started = time.perf_counter()
        for i in range(0, len(lines), REQUEST):
            api.write(bucket="linli", org="linli", record=lines[i : i + REQUEST])
        bare = time.perf_counter() - started
        client.close()  # type: ignore[no-untyped-call]

        writer = InfluxLineWriter(server.url, "bench", "linli", "linli", timeout_seconds=5)
        forwarder = TelemetryForwarder(
            writer, batch_size=REQUEST, flush_seconds=0.05, capacity=2 * n
        )
        forwarder.start()
        submits: list[float] = []
        started = time.perf_counter()
        for batch in batches:
            t = time.perf_counter()
            forwarder.submit(batch)
            submits.append(time.perf_counter() - t)
        while forwarder.worker.counters.get("points_written", 0) < n:
            time.sleep(0.005)
        ours = time.perf_counter() - started
        forwarder.stop()
    finally:
        server.stop()
    print(f"{n:,} readings to VictoriaMetrics, {REQUEST} per request")
    print(f"  baseline, bare influxdb-client:  {n / bare:>10,.0f} points/s")
    print(f"  Linli TelemetryForwarder:        {n / ours:>10,.0f} points/s  ({bare / ours:.2f}x)")
    p50, p99 = percentile(submits, 0.5) * 1e6, percentile(submits, 0.99) * 1e6
    print(
        f"  submit() of {BATCH} readings on the ingest loop: p50 {p50:.0f} us, p99 {p99:.0f} us,"
        f" max {max(submits) * 1e3:.1f} ms"
    )


if __name__ == "__main__":
    main()
