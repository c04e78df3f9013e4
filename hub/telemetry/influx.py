"""The InfluxDB side of the forwarder: line protocol to an InfluxDB v2 write API over HTTP.

``InfluxLineWriter`` posts each batch as one body to ``/api/v2/write`` (``precision=ms``,
``Authorization: Token …``) on connections it keeps alive, one per writer thread at a time.
Any server of that API accepts it (InfluxDB 2.x/3.x, VictoriaMetrics). It is the standard
library's ``http.client``, not influxdb-client: the client's per-request machinery (parameter
sanitising, header merging, its pool manager) cost more CPU per 1,000-point request than the
request itself, and the worker already owns batching and retrying.

Errors: ``TelemetryWriteError`` (retry: no connection, timeout, 401/403/429/5xx; a
``Retry-After`` the server sends is kept with it, for the worker to honour),
``TelemetryRejectedError`` (drop: the server called the batch itself invalid) and
``TelemetryPartialWriteError`` (InfluxDB 2.x's 422, InfluxDB 3's 400 "partial write": it
stored the batch but for the points it counts; nothing is sent again).
"""

import email.utils
import http.client
import json
import re
import select
import ssl
import threading
import urllib.parse
from datetime import UTC, datetime
from typing import Protocol


class TelemetryWriteError(Exception):
    """A batch could not be written; it is kept and retried (not before ``retry_after``
    seconds when the server said so: a 429 or 503 with ``Retry-After``)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TelemetryRejectedError(Exception):
    """The server refused a batch as invalid: retrying cannot help, so it is dropped."""


class TelemetryPartialWriteError(TelemetryRejectedError):
    """The server stored the batch but for ``dropped`` of its points, which it refused.

    InfluxDB OSS 2.x answers a write some of whose points it rejects (a field type conflict
    with a series the bucket holds, a point outside the bucket's retention) with 422: "Data
    that has not been rejected is ingested and queryable", and its message ends in
    ``dropped=<n>``; InfluxDB 3 with 400, listing the rejected lines (up to 100). Writing
    the batch again in halves to find the refused points would send every stored point
    again, log2(batch) times, and each refused one alone: hundreds of requests a batch when
    an edge's clock fell back to 1970.
    """

    def __init__(self, message: str, *, dropped: int) -> None:
        super().__init__(message)
        self.dropped = dropped


_REJECTED_STATUSES = frozenset({400, 413, 422})
"""Answers saying the batch itself is invalid or too large: retrying the same batch cannot help.
Others (401/403 until the token is fixed, 429, 5xx) are retried."""


class LineWriter(Protocol):
    """Where line-protocol records go."""

    def write(self, lines: list[str]) -> None:
        """Write the records, or raise ``TelemetryWriteError`` (retry) or
        ``TelemetryRejectedError`` (drop)."""

    def close(self) -> None:
        """Release the connection."""


class InfluxLineWriter:
    """Writes line protocol to an InfluxDB v2 write API, synchronously, on kept-alive connections.

    Safe to call from several threads: each call takes an idle connection (or opens one) and
    gives it back after a complete answer. No retries here: the worker owns retrying, so a dead
    server costs one timeout per attempt and the buffer decides what is kept.
    """

    def __init__(
        self, url: str, token: str, org: str, bucket: str, *, timeout_seconds: float
    ) -> None:
        # "host:8086" without a scheme is plain HTTP, as it was under influxdb-client (urllib3).
        parts = urllib.parse.urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{url!r} is not an http(s) URL of an InfluxDB server")
        self._host = parts.hostname
        self._port = parts.port
        self._tls = ssl.create_default_context() if parts.scheme == "https" else None
        query = urllib.parse.urlencode({"org": org, "bucket": bucket, "precision": "ms"})
        self._path = f"{parts.path.rstrip('/')}/api/v2/write?{query}"
        # A secret file's trailing newline (a Kubernetes secret made --from-file) is no part of
        # the token; a header cannot carry one, and http.client's refusal quoted the token.
        token = token.strip()
        if not (token.isascii() and token.isprintable()):
            raise ValueError(
                "LINLI_HUB_INFLUX_TOKEN holds a line break, a control character or a character "
                "outside ASCII: it cannot be an InfluxDB API token (its value is not shown)"
            )
        self._headers = {
            "Authorization": f"Token {token}",
            "Content-Type": "text/plain; charset=utf-8",
            "Accept": "application/json",
        }
        self._timeout = timeout_seconds
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def write(self, lines: list[str]) -> None:
        """Write the records or raise ``TelemetryWriteError`` / ``TelemetryRejectedError``."""
        body = "\n".join(lines).encode()
        connection = self._connection()
        try:
            connection.request("POST", self._path, body=body, headers=self._headers)
            response = connection.getresponse()
            answer = response.read()
        except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out, TLS
            connection.close()
            raise TelemetryWriteError(f"{type(exc).__name__}: {exc}") from exc
        if response.will_close:
            connection.close()
        else:
            with self._lock:
                self._idle.append(connection)
        status = response.status
        if 200 <= status < 300:
            return
        if 0 < (dropped := _dropped(status, answer) or 0) <= len(lines):
            raise TelemetryPartialWriteError(
                f"HTTP {status}: {answer.decode(errors='replace')!r}", dropped=dropped
            )
        if status in _REJECTED_STATUSES:
            raise TelemetryRejectedError(f"HTTP {status}: {answer.decode(errors='replace')!r}")
        raise TelemetryWriteError(
            f"HTTP {status}: {response.reason}",
            retry_after=_retry_after(response.getheader("Retry-After")),
        )

    def close(self) -> None:
        """Close the idle connections."""
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def _connection(self) -> http.client.HTTPConnection:
        with self._lock:
            while self._idle:
                connection = self._idle.pop()
                if not _closed_by_server(connection):
                    return connection
                connection.close()
        if self._tls is not None:
            return http.client.HTTPSConnection(
                self._host, self._port, timeout=self._timeout, context=self._tls
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)


_DROPPED = re.compile(r"\bdropped=(\d+)")
_PARTIAL_3 = "partial write of line protocol occurred"
_LISTED_MAX = 100
"""InfluxDB 3 lists at most this many rejected lines: with that many listed, more may hide."""


def _dropped(status: int, answer: bytes) -> int | None:
    """Return how many points a partial write refused, storing the others, or None when the
    answer is no partial write or does not say (then the batch is taken as refused whole).

    InfluxDB OSS 2.x: 422, its JSON ``message`` ending in ``dropped=<n>``. InfluxDB 3: 400,
    ``{"error": "partial write of line protocol occurred", "data": [<rejected line>, …]}``.
    """
    text = answer.decode(errors="replace")
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {}
    if status == 422:
        message = body.get("message")
        counts = _DROPPED.findall(message if isinstance(message, str) else text)
        return int(counts[0]) if len(counts) == 1 else None
    data = body.get("data")
    if status == 400 and body.get("error") == _PARTIAL_3 and isinstance(data, list):
        listed = {item.get("line_number") for item in data if isinstance(item, dict)}
        return len(listed) if len(listed) == len(data) < _LISTED_MAX else None
    return None


def _retry_after(value: str | None) -> float | None:
    """Return the seconds a ``Retry-After`` header asks to wait (delay or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _closed_by_server(connection: http.client.HTTPConnection) -> bool:
    # An idle kept-alive socket that is readable has been closed by the server (or sent
    # something unasked): writing on it would fail, so it is replaced before use.
    sock = connection.sock
    if sock is None:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))
