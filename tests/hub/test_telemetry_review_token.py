"""The InfluxDB token as deployments hand it over: from a secret file, with its trailing newline.

A Kubernetes secret made with ``kubectl create secret generic --from-file=token=...`` from a
file an editor or ``echo`` ended with a newline puts ``<token>\\n`` in the hub's environment.
Found by an outside review: ``http.client`` refuses a header value holding a newline with a
``ValueError`` naming the value, before anything is sent; the forwarder took that for a batch
the server refused, so it dropped every reading (halving each batch down to single readings,
all refused) and logged the error, ``Authorization: Token <the secret>`` included, once a batch,
although docs/telemetry.md promises the token is never logged.
"""

import contextlib
import http.server
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from devices.messages import TelemetryBatch, TelemetryPoint
from devices.mqtt_link import Backoff
from devices.payloads import Readings
from hub.telemetry.writer import InfluxLineWriter, TelemetryForwarder
from tests.polling import wait_until
from tests.threaded_server import served_in_thread

SECRET = "pQ3-x_T0ken=="


class TokenCheckingHandler(http.server.BaseHTTPRequestHandler):
    """``POST /api/v2/write`` answering 204 to the right token and 401 to any other."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        """Keep the body's lines when the token is right."""
        server: TokenCheckingServer = self.server  # type: ignore[assignment]
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        if self.headers.get("Authorization") != f"Token {SECRET}":
            self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        server.stored.extend(body.split("\n"))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


class TokenCheckingServer(http.server.ThreadingHTTPServer):
    """A ``TokenCheckingHandler`` server keeping the lines written."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), TokenCheckingHandler)
        self.stored: list[str] = []


@contextlib.contextmanager
def token_checking_server() -> Iterator[TokenCheckingServer]:
    """Run a ``TokenCheckingServer`` in a thread."""
    with served_in_thread(TokenCheckingServer()) as server:
        yield server


def readings(count: int) -> TelemetryBatch:
    """Return a CO detector's last few readings."""
    start = datetime.now(UTC) - timedelta(minutes=1)
    return TelemetryBatch(
        edge_id="e1",
        points=[
            TelemetryPoint(
                device_id="b3-u2-co",
                ts=start + timedelta(seconds=i),
                readings=Readings(co_ppm=float(i)),
            )
            for i in range(count)
        ],
    )


def test_a_token_from_a_secret_file_with_its_trailing_newline_writes_and_is_never_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with token_checking_server() as server:
        writer = InfluxLineWriter(
            f"http://127.0.0.1:{server.server_address[1]}",
            f"{SECRET}\n",
            "linli",
            "linli",
            timeout_seconds=5,
        )
        forwarder = TelemetryForwarder(
            writer,
            batch_size=8,
            flush_seconds=0.05,
            backoff=Backoff(initial=0.01, maximum=0.02, rng=lambda: 1.0),
        )
        forwarder.start()
        try:
            forwarder.submit(readings(20))
            wait_until(
                lambda: (
                    forwarder.worker.buffered == 0
                    and forwarder.worker.counters.get("points_written", 0)
                    + forwarder.worker.counters.get("points_dropped", 0)
                    >= 20
                ),
                timeout=15,
                what="the readings written or dropped",
            )
        finally:
            forwarder.stop()
    assert len(server.stored) == 20
    assert forwarder.worker.counters.get("points_dropped", 0) == 0
    assert SECRET not in caplog.text


def test_a_token_that_cannot_be_sent_is_refused_at_start_without_saying_it() -> None:
    # A newline inside the value is no token: the hub says so when it starts, not per batch,
    # and not in words that repeat the secret.
    with pytest.raises(ValueError, match="INFLUX_TOKEN") as refused:
        InfluxLineWriter(
            "http://127.0.0.1:8086", f"{SECRET}\nX-Injected: 1", "o", "b", timeout_seconds=5
        )
    assert SECRET not in str(refused.value)
