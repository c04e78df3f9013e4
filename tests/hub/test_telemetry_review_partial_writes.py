"""InfluxDB 2.x partial writes (HTTP 422): the points it did not reject are already stored.

VictoriaMetrics (the suite's server) never answers 422, so these tests run the forwarder
against a small real HTTP server answering as InfluxDB OSS 2.x documents its write API
(docs.influxdata.com/influxdb/v2/write-data/troubleshoot/, "Handle write responses" and
"Troubleshoot rejected points"): ``422 Unprocessable Entity`` when "some or all of the data has
been rejected. Data that has not been rejected is ingested and queryable", with a JSON body
whose ``message`` describes the rejection and ends in ``dropped=<n>``, e.g. for points outside
the bucket's retention ("partial write: dropped 4 points outside retention policy … dropped=4
for database: … for retention policy: autogen") or for a field type conflict with a series
the bucket already holds. InfluxDB 3 Core answers a partial write with 400 instead, its body
``{"error": "partial write of line protocol occurred", "data": [...]}`` listing up to 100
rejected lines (docs.influxdata.com/influxdb3/core/write-data/troubleshoot/).

Found by an outside review: the forwarder took a 422 for "the whole batch was refused" and
wrote the batch again in halves, down to every rejected point alone: an edge whose clock fell
back to 1970 (a Raspberry Pi without a real-time clock, booted before NTP) made every batch
holding its readings cost hundreds of requests, each re-sending readings InfluxDB had already
stored, and a writer that far behind lets the buffer overflow, dropping everyone's readings.
"""

import contextlib
import http.server
import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from devices.messages import TelemetryBatch, TelemetryPoint
from devices.mqtt_link import Backoff
from devices.payloads import Readings
from hub.telemetry.writer import InfluxLineWriter, TelemetryForwarder
from tests.polling import wait_until
from tests.threaded_server import served_in_thread

RETENTION = timedelta(days=30)
NOW = datetime.now(UTC)


class Influx2Handler(http.server.BaseHTTPRequestHandler):
    """``POST /api/v2/write`` as InfluxDB OSS 2.x answers it (line protocol, ``precision=ms``):
    points older than the bucket's retention, and points whose field has another type than
    the bucket's series already holds, are rejected; the others are stored; 204 if none was
    rejected, else 422 with the documented body (InfluxDB 3 Core's 400 with ``version=3``)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # answers as promptly as a real server's

    def do_POST(self) -> None:
        """Store the acceptable lines, answer 204 or 422 (400 as InfluxDB 3)."""
        server: Influx2Server = self.server  # type: ignore[assignment]
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        lines = body.split("\n")
        server.requests.append(lines)
        lower_bound = round((NOW - RETENTION).timestamp() * 1000)
        too_old = [line for line in lines if int(line.rsplit(" ", 1)[1]) < lower_bound]
        conflicting = [
            line
            for line in lines
            if line not in too_old and any(f"device_id={d}," in line for d in server.integer_co)
        ]
        with server.lock:
            server.stored.extend(
                line for line in lines if line not in too_old and line not in conflicting
            )
        if not too_old and not conflicting:
            self.send_response(204)
            self.end_headers()
            return
        if server.version == 3:
            self.answer_as_influxdb3(lines, too_old + conflicting)
            return
        if too_old:
            reason = (
                f"partial write: dropped {len(too_old)} points outside retention policy of "
                f"duration 720h0m0s - oldest point {too_old[0].rsplit(' ', 2)[0]} dropped "
                f"because it violates a Retention Policy Lower Bound"
            )
            dropped = len(too_old)
        else:
            reason = (
                'partial write: field type conflict: input field "co_ppm" on measurement '
                '"reading" is type float, already exists as type integer'
            )
            dropped = len(conflicting)
        count = f" dropped={dropped}" if server.says_count else ""
        message = (
            f"failure writing points to database: {reason}{count} "
            "for database: 9f282d63c7d3a5c0 for retention policy: autogen"
        )
        answer = json.dumps({"code": "unprocessable entity", "message": message}).encode()
        self.send_response(422)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def answer_as_influxdb3(self, lines: list[str], rejected: list[str]) -> None:
        """Answer as InfluxDB 3 Core does on a partial write (``accept_partial``, its default):
        400 listing the rejected lines, up to 100 (docs.influxdata.com/influxdb3/core/
        write-data/troubleshoot/)."""
        data = [
            {
                "original_line": line,
                "line_number": lines.index(line) + 1,
                "error_message": "invalid column type for column 'co_ppm', expected "
                "iox::column_type::field::integer, got iox::column_type::field::float",
            }
            for line in rejected[:100]
        ]
        answer = json.dumps(
            {"error": "partial write of line protocol occurred", "data": data}
        ).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


class Influx2Server(http.server.ThreadingHTTPServer):
    """An ``Influx2Handler`` server recording every request and every stored line."""

    def __init__(self, integer_co: frozenset[str], *, says_count: bool, version: int) -> None:
        super().__init__(("127.0.0.1", 0), Influx2Handler)
        self.version = version
        """2: InfluxDB OSS 2.x's answers; 3: InfluxDB 3 Core's."""
        self.integer_co = integer_co
        self.says_count = says_count
        """Whether a 422's message ends in ``dropped=<n>``, as InfluxDB 2.x's does."""
        """Devices whose ``co_ppm`` series the bucket already holds as integers."""
        self.requests: list[list[str]] = []
        self.stored: list[str] = []
        self.lock = threading.Lock()


@contextlib.contextmanager
def influx2(
    integer_co: frozenset[str] = frozenset(), *, says_count: bool = True, version: int = 2
) -> Iterator[Influx2Server]:
    """Run an ``Influx2Server`` in a thread."""
    with served_in_thread(Influx2Server(integer_co, says_count=says_count, version=version)) as s:
        yield s


def edge_batch(edge_id: str, devices: int, start: datetime) -> TelemetryBatch:
    """Return one reading of each of an edge's CO detectors, 10 ms apart from ``start``."""
    return TelemetryBatch(
        edge_id=edge_id,
        points=[
            TelemetryPoint(
                device_id=f"{edge_id}-co-{i}",
                ts=start + timedelta(milliseconds=10 * i),
                readings=Readings(co_ppm=float(i % 50), temperature_c=21.5),
            )
            for i in range(devices)
        ],
    )


def forward(server: Influx2Server, batches: list[TelemetryBatch]) -> TelemetryForwarder:
    """Hand the batches to a forwarder writing to ``server`` in one batch, until all is done."""
    total = sum(len(b.points) for b in batches)
    writer = InfluxLineWriter(
        f"http://127.0.0.1:{server.server_address[1]}", "t", "linli", "linli", timeout_seconds=5
    )
    forwarder = TelemetryForwarder(
        writer,
        batch_size=total,
        flush_seconds=0.05,
        capacity=10 * total,
        backoff=Backoff(initial=0.01, maximum=0.02, rng=lambda: 1.0),
    )
    for batch in batches:
        forwarder.submit(batch)
    forwarder.start()
    try:
        wait_until(
            lambda: (
                forwarder.worker.buffered == 0
                and forwarder.worker.counters.get("points_written", 0)
                + forwarder.worker.counters.get("points_refused", 0)
                == total
            ),
            timeout=15,
            what="every point written or refused",
        )
    finally:
        forwarder.stop()
    return forwarder


def test_a_partial_write_is_not_sent_again_when_an_edge_clock_fell_back_to_1970() -> None:
    # Four edges' 5 s batches; e3 booted without its clock (1970): its readings are older
    # than the bucket's retention, the other edges' are recent.
    batches = [
        edge_batch("e1", 300, NOW - timedelta(minutes=1)),
        edge_batch("e2", 300, NOW - timedelta(minutes=1)),
        edge_batch("e3", 100, datetime(1970, 1, 1, 0, 5, tzinfo=UTC)),
        edge_batch("e4", 300, NOW - timedelta(minutes=1)),
    ]
    with influx2() as server:
        forwarder = forward(server, batches)
    # InfluxDB stored the 900 recent readings from the one request it answered 422 to.
    assert len(server.stored) == 900
    assert len(set(server.stored)) == 900
    # Nothing it already stored is sent again, nor what it already refused.
    assert len(server.requests) == 1
    counters = forwarder.worker.counters
    assert counters["points_written"] == 900
    assert counters["points_refused"] == 100
    assert counters["points_dropped"] == 100
    assert counters["batches_rejected"] == 1
    assert counters.get("write_failures", 0) == 0


def test_a_field_type_conflict_costs_the_conflicting_points_and_one_request() -> None:
    # Another tool wrote e2's CO detectors into the bucket as integers before Linli did:
    # InfluxDB refuses Linli's floats for those series and stores every other point.
    batches = [edge_batch(edge, 200, NOW - timedelta(minutes=2)) for edge in ("e1", "e2", "e3")]
    conflicting = frozenset(f"e2-co-{i}" for i in range(200))
    with influx2(integer_co=conflicting) as server:
        forwarder = forward(server, batches)
    assert len(server.stored) == 400
    assert not any(re.search(r"device_id=e2-", line) for line in server.stored)
    assert len(server.requests) == 1
    counters = forwarder.worker.counters
    assert (counters["points_written"], counters["points_refused"]) == (400, 200)


def test_a_422_that_does_not_say_how_many_it_dropped_is_still_narrowed_to_the_refused_points() -> (
    None
):
    # Without the count the forwarder cannot know what was stored: it writes the batch again
    # in halves, as for a batch refused whole, and still loses only the refused readings.
    batches = [
        edge_batch("e1", 40, NOW - timedelta(minutes=1)),
        edge_batch("e3", 4, datetime(1970, 1, 1, 0, 5, tzinfo=UTC)),
    ]
    with influx2(says_count=False) as server:
        forwarder = forward(server, batches)
    assert len(set(server.stored)) == 40
    assert not any("edge_id=e3" in line for line in server.stored)
    counters = forwarder.worker.counters
    assert (counters["points_written"], counters["points_refused"]) == (40, 4)


def test_influxdb3s_partial_write_costs_the_lines_it_lists_and_one_request() -> None:
    # InfluxDB 3 answers a partial write with 400 (not 422), listing each rejected line.
    batches = [edge_batch(edge, 200, NOW - timedelta(minutes=2)) for edge in ("e1", "e2", "e3")]
    conflicting = frozenset(f"e2-co-{i}" for i in range(50))
    with influx2(integer_co=conflicting, version=3) as server:
        forwarder = forward(server, batches)
    assert len(server.stored) == 550
    assert len(server.requests) == 1
    counters = forwarder.worker.counters
    assert (counters["points_written"], counters["points_refused"]) == (550, 50)


def test_influxdb3s_answer_listing_100_lines_may_hide_more_so_the_batch_is_narrowed_down() -> None:
    # It lists at most 100 rejected lines: with 100 listed the count is unknown, and the
    # forwarder falls back to writing the batch in halves; only the rejected points are lost.
    batches = [edge_batch(edge, 150, NOW - timedelta(minutes=2)) for edge in ("e1", "e2")]
    conflicting = frozenset(f"e2-co-{i}" for i in range(150))
    with influx2(integer_co=conflicting, version=3) as server:
        forwarder = forward(server, batches)
    assert len(set(server.stored)) == 150
    counters = forwarder.worker.counters
    assert (counters["points_written"], counters["points_refused"]) == (150, 150)
