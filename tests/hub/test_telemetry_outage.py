"""The telemetry writer through a long outage and a server that asks it to slow down."""

import contextlib
import http.server
import logging
import time
from collections.abc import Iterator

import pytest

from devices.mqtt_link import Backoff
from hub.telemetry.influx import InfluxLineWriter, TelemetryWriteError
from hub.telemetry.writer import BatchWorker
from tests.threaded_server import served_in_thread


class Ticks:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def overflow_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Return the buffer-full lines logged."""
    return [r.getMessage() for r in caplog.records if "buffer full" in r.getMessage()]


def test_a_full_buffer_through_an_outage_logs_a_line_a_minute_not_a_line_a_batch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Through an hour's outage every edge's batch overflowed the buffer and each logged a
    warning, on the ingest loop: 100 edges' 5 s batches, 72,000 lines an hour. The first drop is
    logged at once, then one line a minute with what was dropped since."""
    ticks = Ticks()
    worker: BatchWorker[int] = BatchWorker(
        "t",
        lambda items: None,
        batch_size=1000,
        flush_seconds=60.0,
        capacity=10,
        retry_on=(TelemetryWriteError,),
        monotonic=ticks,
    )  # never started: nothing is written, as when the server is down
    caplog.set_level(logging.WARNING, logger="hub.telemetry.writer")
    worker.submit(range(10))
    for _ in range(100):
        worker.submit(range(3))
        ticks.now += 0.1
    assert worker.counters["points_dropped"] == 300
    assert overflow_warnings(caplog) == ["t: buffer full, dropped the 3 oldest points"]
    ticks.now += 60
    worker.submit(range(5))
    assert worker.counters["points_dropped"] == 305
    assert overflow_warnings(caplog)[1:] == [
        "t: buffer full, dropped the 302 oldest points in the last 70 s"
    ]


class Answers(http.server.BaseHTTPRequestHandler):
    """Answers every write with the server's next status and headers, counting the writes."""

    server: "AnswerServer"

    def do_POST(self) -> None:
        """Read the body, then answer as told."""
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        status, headers = self.server.answer
        self.server.requests += 1
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet."""


class AnswerServer(http.server.ThreadingHTTPServer):
    """A write API that answers what it is told to."""

    answer: tuple[int, dict[str, str]] = (204, {})
    requests = 0


@contextlib.contextmanager
def answering(status: int, headers: dict[str, str]) -> Iterator[AnswerServer]:
    """Serve a write API answering ``status`` with ``headers`` on a free loopback port."""
    server = AnswerServer(("127.0.0.1", 0), Answers)
    server.answer = (status, headers)
    with served_in_thread(server):
        yield server


def writer_of(server: AnswerServer) -> InfluxLineWriter:
    """Return a line writer posting to the server."""
    return InfluxLineWriter(
        f"http://127.0.0.1:{server.server_address[1]}", "t", "o", "b", timeout_seconds=2
    )


def refusal(status: int, headers: dict[str, str]) -> TelemetryWriteError:
    """Return what writing to a server answering ``status`` with ``headers`` raises."""
    with answering(status, headers) as server, pytest.raises(TelemetryWriteError) as raised:
        writer_of(server).write(["m f=1.0 1"])
    return raised.value


@pytest.mark.parametrize("status", [429, 503])
def test_the_influx_writer_keeps_the_wait_a_busy_server_asks_for(status: int) -> None:
    assert refusal(status, {"Retry-After": "30"}).retry_after == 30.0
    # A date gone by: no wait beyond the backoff.
    assert refusal(status, {"Retry-After": "Fri, 31 Dec 1999 23:59:59 GMT"}).retry_after == 0.0
    assert refusal(status, {"Retry-After": "soon"}).retry_after is None
    assert refusal(status, {}).retry_after is None


def test_a_server_asking_to_retry_after_30_s_is_not_asked_again_sooner() -> None:
    """InfluxDB Cloud answers 429 with Retry-After when a bucket's write limit is reached. With
    the backoff's first pauses (0.5 s, 1 s, … here 10 ms) it was asked again at once, each
    attempt one more refusal counted against the limit."""
    with answering(429, {"Retry-After": "30"}) as server:
        writer = writer_of(server)
        worker: BatchWorker[str] = BatchWorker(
            "t",
            writer.write,
            batch_size=10,
            flush_seconds=0.01,
            capacity=100,
            retry_on=(TelemetryWriteError,),
            backoff=Backoff(initial=0.01, maximum=0.02, rng=lambda: 1.0),
        )
        worker.start()
        try:
            worker.submit(["m f=1.0 1"])
            time.sleep(0.5)  # what the worker did NOT do in this time is the point
            asked = server.requests
        finally:
            worker.stop()
            writer.close()
    assert asked == 1
    assert worker.counters["write_failures"] >= 1
