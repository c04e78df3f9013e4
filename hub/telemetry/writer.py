"""Readings out of the hub, off the ingest path: a bounded batch worker and the InfluxDB writer.

Every reading an edge forwards (``TelemetryBatch``) is handed to a ``BatchWorker`` by the MQTT
ingest loop. Handing over never waits and never does I/O: it appends to a bounded in-memory
buffer (``SendBuffer``) under a lock and returns. The worker's own thread takes batches out,
writes them, and on failure puts the batch back at the head and waits a jittered, growing
pause before trying again. While the server is down the buffer fills up to its bound; beyond
it the OLDEST points are dropped (the freshest readings are worth more to an operator) and
counted under ``points_dropped``.

``TelemetryForwarder`` turns readings into line protocol here: one measurement ``reading`` with
tags ``device_id`` and ``edge_id`` and one field per reading (numbers as floats, flags as
booleans), millisecond timestamps at the reading's event time; ``hub.telemetry.influx`` posts
them (we do the batching and retrying ourselves, so memory stays bounded and drops are counted).

Errors: ``TelemetryWriteError`` (retried) and ``TelemetryRejectedError`` (dropped), from
``hub.telemetry.influx``.
"""

import functools
import itertools
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timezone, tzinfo
from typing import Generic, TypeVar

import pydantic_core

from devices.messages import TelemetryBatch, TelemetryPoint
from devices.mqtt_link import Backoff
from devices.payloads import Readings
from hub.telemetry.buffer import Run as Run
from hub.telemetry.buffer import SendBuffer as SendBuffer
from hub.telemetry.influx import InfluxLineWriter as InfluxLineWriter
from hub.telemetry.influx import (
    LineWriter,
    TelemetryPartialWriteError,
    TelemetryRejectedError,
    TelemetryWriteError,
)

logger = logging.getLogger(__name__)

MEASUREMENT = "reading"
"""The InfluxDB measurement every reading is written to (the Grafana dashboard queries it)."""
TAG_KEYS = ("device_id", "edge_id")
"""The tags of each point."""

T = TypeVar("T")


DROP_LOG_SECONDS = 60.0
"""At most one buffer-full line a minute per worker: in an outage every batch overflows."""


MAX_WAIT_ASKED = 300.0
"""The longest pause a server's ``Retry-After`` is followed for (the buffer fills meanwhile)."""


class BatchWorker(Generic[T]):
    """Hands items to ``flush`` in batches from its own thread; ``submit`` never waits.

    ``flush`` receives at most ``batch_size`` items and raises one of ``retry_on`` when they
    could not be delivered: the batch is put back and retried after a backoff pause (or the
    error's ``retry_after`` seconds, if it has them and they are longer). It raises
    anything else when the batch itself is bad (``drop_on`` names the expected kinds, logged
    without a traceback): a poison batch must not block the rest, nor cost the good points
    beside it, so it is written again in halves and only the points refused alone are dropped
    and counted; one of ``partial_on`` says the sink stored the batch but for its ``dropped``
    items (InfluxDB 2.x's 422), which are counted as refused, nothing being written again.
    A partial batch waits at most ``flush_seconds``. With ``writers`` > 1 that many
    threads take batches in turn, so one batch's round trip overlaps the next one's encoding
    and the server's work (batches may then land out of order: harmless for time series,
    whose points carry their own timestamps); at most ``writers * batch_size`` points are in
    flight beside the bounded buffer. Counters: ``points_queued``,
    ``points_written``, ``points_dropped`` (overflow and refused), ``points_refused``,
    ``batches_written``, ``write_failures``, ``batches_rejected`` (batches with a point refused).
    """

    def __init__(
        self,
        name: str,
        flush: Callable[[list[T]], None],
        *,
        batch_size: int,
        flush_seconds: float,
        capacity: int,
        retry_on: tuple[type[Exception], ...],
        drop_on: tuple[type[Exception], ...] = (),
        partial_on: tuple[type[Exception], ...] = (),
        backoff: Backoff | None = None,
        writers: int = 1,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if writers < 1:
            raise ValueError("a batch worker needs at least one writer thread")
        self.name = name
        self._writers = writers
        self._drop_on = drop_on
        self._partial_on = partial_on
        self._flush = flush
        self._batch_size = batch_size
        self._flush_seconds = flush_seconds
        self._retry_on = retry_on
        self._backoff = backoff or Backoff(initial=0.5, maximum=30.0)
        self._buffer: SendBuffer[T] = SendBuffer(capacity)
        self._lock = threading.Condition()
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self._in_flight = 0
        self._failing = False
        self._counters: Counter[str] = Counter()
        self._monotonic = monotonic
        self._drops_unlogged = 0
        self._drops_logged_at: float | None = None
        self._asked_wait = 0.0

    @property
    def counters(self) -> dict[str, int]:
        """Return a snapshot of the counters."""
        with self._lock:
            return dict(self._counters)

    @property
    def buffered(self) -> int:
        """Return how many items wait to be written."""
        with self._lock:
            return len(self._buffer)

    def submit(self, items: Iterable[T]) -> None:
        """Queue items without waiting; when the buffer is full the oldest are dropped."""
        items = list(items)
        if not items:
            return
        with self._lock:
            self._counters["points_queued"] += len(items)
            dropped = self._buffer.offer(items)
            self._counters["points_dropped"] += dropped
            if len(self._buffer) >= self._batch_size:
                self._lock.notify()
            line = self._overflowed(dropped) if dropped else None
        if line:
            logger.warning(*line)

    def _overflowed(self, dropped: int) -> tuple[object, ...] | None:
        """Count overflowed points (holding the lock); return the log line due, if one is:
        the first drop at once, then at most a line per ``DROP_LOG_SECONDS``."""
        now = self._monotonic()
        pending = self._drops_unlogged
        self._drops_unlogged += dropped
        last = self._drops_logged_at
        if last is not None and now - last < DROP_LOG_SECONDS:
            return None
        count, self._drops_unlogged = self._drops_unlogged, 0
        self._drops_logged_at = now
        message = "%s: buffer full, dropped the %d oldest points"
        if pending and last is not None:
            return (f"{message} in the last %.0f s", self.name, count, now - last)
        return (message, self.name, count)

    def start(self) -> None:
        """Start the writer threads."""
        self._threads = [
            threading.Thread(target=self._run, name=f"{self.name}-{i}", daemon=True)
            for i in range(self._writers)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread after one last attempt to write what is buffered."""
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                logger.warning("%s: did not stop within %.1f s", self.name, timeout)
        with self._lock:
            unlogged, self._drops_unlogged = self._drops_unlogged, 0
        if unlogged:
            logger.warning("%s: buffer full, dropped the %d oldest points", self.name, unlogged)

    def _run(self) -> None:
        while True:
            with self._lock:
                # Wait for a full batch, the flush interval, or the stop signal.
                deadline = time.monotonic() + self._flush_seconds
                while not self._stopping:
                    remaining = deadline - time.monotonic()
                    if self._held():
                        self._lock.wait(max(remaining, self._flush_seconds))
                        continue
                    if len(self._buffer) >= self._batch_size or remaining <= 0:
                        break
                    self._lock.wait(remaining)
                stopping = self._stopping
                batch = self._buffer.take_runs(self._batch_size)
                if batch:
                    self._in_flight += 1
            if batch and not self._write(batch) and not stopping:
                with self._lock:
                    # A server's Retry-After (429/503) is honoured: sooner meets the same refusal.
                    delay = max(self._backoff.next_delay(), min(self._asked_wait, MAX_WAIT_ASKED))
                    self._asked_wait = 0.0
                self._pause(delay)
            if stopping:
                self._drain_on_stop()
                return

    def _held(self) -> bool:
        # After a failed write the writers retry one at a time, and only once every batch
        # taken before the failure is back: a dead server sees one attempt per pause, and the
        # counters never miss a batch still out when the failures are counted.
        return self._failing and self._in_flight > 0

    def _resolved(self, *, failed: bool) -> None:
        """Account for the end of one batch's attempt (called holding the lock)."""
        self._in_flight -= 1
        self._failing = failed
        self._lock.notify_all()

    def _write(self, batch: list[Run[T]]) -> bool:
        items = batch[0][1] if len(batch) == 1 else [item for _, run in batch for item in run]
        try:
            written, refused = self._deliver(items)
        except self._retry_on as exc:
            # Halves of a refused batch already written are written again on the retry: both
            # sinks store a point once (same device, same instant), so nothing doubles.
            asked = getattr(exc, "retry_after", None)
            with self._lock:
                if isinstance(asked, int | float):
                    self._asked_wait = max(self._asked_wait, float(asked))
                self._counters["write_failures"] += 1
                dropped = self._buffer.give_back_runs(batch)
                self._counters["points_dropped"] += dropped
                line = self._overflowed(dropped) if dropped else None
                self._resolved(failed=True)
            logger.warning(
                "%s: writing %d points failed, will retry: %s", self.name, len(items), exc
            )
            if line:
                logger.warning(*line)
            return False
        with self._lock:
            self._counters["points_written"] += written
            if refused:
                self._counters["batches_rejected"] += 1
                self._counters["points_refused"] += len(refused)
                self._counters["points_dropped"] += len(refused)
            if written:
                self._counters["batches_written"] += 1
                self._backoff.reset()
            # A write that went through ends a run of failures; refusals alone leave it as it was.
            self._resolved(failed=False if written else self._failing)
        if refused:
            self._log_refused(len(items), refused)
        return True

    def _deliver(self, items: list[T]) -> tuple[int, list[tuple[T | None, Exception]]]:
        """Write ``items``; return how many were written and those refused, each with its error
        (None for an item the sink refused without naming it: a partial write).

        A batch refused whole is written again in halves, down to the single items refused:
        one bad reading (or a bug one reading sets off) costs that reading, not the other
        devices' readings beside it in the batch. Raises one of ``retry_on`` as ``flush`` does.
        Each refused item costs about 2·log2(batch) extra writes; a sink refusing everything,
        2·batch.
        """
        try:
            self._flush(items)
        except self._retry_on:
            raise
        except self._partial_on as exc:
            # The sink stored the rest: sending it again, in halves, would only repeat it.
            dropped = min(len(items), max(0, int(getattr(exc, "dropped", 0))))
            return len(items) - dropped, [(None, exc)] * dropped
        except Exception as exc:  # noqa: BLE001 - whatever the sink says of the batch itself
            if len(items) == 1:
                return 0, [(items[0], exc)]
            middle = len(items) // 2
            first, first_refused = self._deliver(items[:middle])
            second, second_refused = self._deliver(items[middle:])
            return first + second, first_refused + second_refused
        return len(items), []

    def _log_refused(self, batch_size: int, refused: list[tuple[T | None, Exception]]) -> None:
        """One line per batch, not per item: a sink refusing everything must not flood the log.
        Anything but the expected ``drop_on`` errors is logged with its traceback (a bug)."""
        item, exc = refused[0]
        message = "%s: dropped %d of a batch of %d points as refused, first %.200r: %s"
        args: tuple[object, ...] = (self.name, len(refused), batch_size, item, exc)
        if item is None:  # a partial write: the sink's error says which
            message = "%s: dropped %d of a batch of %d points as refused: %.500s"
            args = (self.name, len(refused), batch_size, exc)
        if isinstance(exc, self._drop_on):
            logger.error(message, *args)
        else:
            logger.error(message, *args, exc_info=exc)

    def _pause(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        with self._lock:
            # Other writers' notifications must not cut the pause short.
            while not self._stopping and (remaining := end - time.monotonic()) > 0:
                self._lock.wait(remaining)

    def _drain_on_stop(self) -> None:
        # One attempt per remaining batch; what still fails is counted as dropped, not lost
        # silently, and shutdown is not held up by a dead server.
        while True:
            with self._lock:
                batch = self._buffer.take_runs(self._batch_size)
            if not batch:
                return
            with self._lock:
                self._in_flight += 1
            if not self._write(batch):
                with self._lock:
                    left = len(self._buffer)
                    self._buffer.take(left)
                    self._counters["points_dropped"] += left
                logger.warning("%s: stopped with %d points unwritten", self.name, left)
                return


TelemetryItem = tuple[str, TelemetryPoint]
"""One point to write and the edge it came through; converted in the worker thread."""


def telemetry_items(batch: TelemetryBatch) -> list[TelemetryItem]:
    """Return a batch's points paired with their edge (cheap: runs on the ingest loop)."""
    return list(zip(itertools.repeat(batch.edge_id), batch.points, strict=False))


@functools.lru_cache(maxsize=65_536)
def escape_key(text: str) -> str:
    """Escape a tag key, tag value or field key for line protocol (commas, ``=``, spaces)."""
    # Cached: the same few device ids, edge ids and field names come back in every batch.
    return text.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def line_protocol(item: TelemetryItem) -> str | None:
    """Return one point in InfluxDB line protocol, or None if it carries no reading.

    Numbers are written as floats and flags as booleans: a field keeps one type per series,
    so 21 and 21.5 must both be floats.
    """
    lines = line_protocol_batch((item,))
    return lines[0] if lines else None


_PREFIXES: dict[str, dict[str, str]] = {}
"""Each edge's devices' measurement and tags, escaped once (by edge, then device): the same
pairs come back in every batch (cleared when it holds past ``_PREFIXES_MAX`` devices)."""
_PREFIXES_MAX = 65_536
_prefix_count = 0

_FIELD_KEYS = {name: f"{escape_key(name)}=" for name in Readings.model_fields}
_FIELD_TRUE = {name: f"{key}true" for name, key in _FIELD_KEYS.items()}
_FIELD_FALSE = {name: f"{key}false" for name, key in _FIELD_KEYS.items()}
"""Each reading's escaped ``name=`` (and whole flag fields), rendered once."""

_NUMBERS: dict[float, str] = {}
"""Numbers already rendered: sensors repeat a few values (whole ppm, tenths of a degree), and
``repr(float(...))`` was the encoder's largest single cost. Zero (``-0.0 == 0.0`` but renders
apart) and NaN (never equal to itself) are not kept; cleared past ``_NUMBERS_MAX``."""
_NUMBERS_MAX = 4096


def _number(value: float) -> str:
    text = repr(float(value))
    if value and value == value:
        if len(_NUMBERS) >= _NUMBERS_MAX:
            _NUMBERS.clear()
        _NUMBERS[value] = text
    return text


_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIXED_OFFSETS = (timezone, pydantic_core.TzInfo)
"""Time zone types whose offset never changes: ``datetime.timezone`` and what pydantic gives
a parsed ``Z`` or ``+02:00``."""
_EPOCHS: dict[tzinfo, datetime] = {}
"""The Unix epoch in each fixed-offset time zone seen (a handful; cleared past 64)."""


def _epoch(zone: tzinfo | None) -> datetime | None:
    """Return the Unix epoch in ``zone`` if its offset is fixed, else None."""
    if type(zone) not in _FIXED_OFFSETS or zone is None:
        return None
    epoch = _EPOCHS.get(zone)
    if epoch is None:
        if len(_EPOCHS) >= 64:
            _EPOCHS.clear()
        epoch = _EPOCHS[zone] = _UNIX_EPOCH.astimezone(zone)
    return epoch


def line_protocol_batch(items: Iterable[TelemetryItem]) -> list[str]:
    """Return the lines of many points, skipping those without readings."""
    # The forwarder's hot path, so its lookups are local. It reads the frozen model's own
    # attribute dict (field order, no extras: ``extra="ignore"``) instead of
    # ``Readings.present()``: a pydantic dump per point was most of the forwarder's CPU. Flags
    # are tested by identity first, so a bool never reaches ``_NUMBERS`` (``True == 1.0``).
    # Timestamps: ``ts.timestamp()`` asks the time zone for its offset on every call, which
    # for pydantic's own zone objects (every parsed timestamp) costs more than the rest of a
    # line's fields. Between two datetimes of one zone object no offset is asked, so a
    # fixed-offset zone's epoch is looked up once per run of points sharing it and each point
    # subtracts it: ``total_seconds()`` divides the same whole microseconds ``timestamp()``
    # does, so the milliseconds are the same to the bit. Other zones take ``timestamp()``.
    lines = []
    prefixes, numbers, number = _PREFIXES, _NUMBERS, _number
    keys, true, false = _FIELD_KEYS, _FIELD_TRUE, _FIELD_FALSE
    edge: str | None = None
    devices: dict[str, str] = {}
    zone: tzinfo | bool | None = False  # no point seen yet
    epoch: datetime | None = None
    for edge_id, point in items:
        fields = []
        for name, value in point.readings.__dict__.items():
            if value is None:
                continue
            if value is True:
                fields.append(true[name])
            elif value is False:
                fields.append(false[name])
            else:
                fields.append(keys[name] + (numbers.get(value) or number(value)))
        if not fields:
            continue
        if edge_id is not edge:
            edge = edge_id
            devices = prefixes.get(edge_id) or _devices(edge_id)
        prefix = devices.get(point.device_id) or _prefix(devices, point.device_id, edge_id)
        ts = point.ts
        if ts.tzinfo is not zone:
            zone = ts.tzinfo
            epoch = _epoch(ts.tzinfo)
        seconds = ts.timestamp() if epoch is None else (ts - epoch).total_seconds()
        lines.append(f"{prefix}{','.join(fields)} {round(seconds * 1000)}")
    return lines


def _devices(edge_id: str) -> dict[str, str]:
    return _PREFIXES.setdefault(edge_id, {})


def _prefix(devices: dict[str, str], device_id: str, edge_id: str) -> str:
    global _prefix_count
    if _prefix_count >= _PREFIXES_MAX:
        # Every edge's table is emptied in place: callers may hold one.
        for table in _PREFIXES.values():
            table.clear()
        _PREFIXES.clear()
        _prefix_count = 0
        _PREFIXES[edge_id] = devices
    prefix = f"{MEASUREMENT},device_id={escape_key(device_id)},edge_id={escape_key(edge_id)} "
    devices[device_id] = prefix
    _prefix_count += 1
    return prefix


WRITERS = 1
"""Writer threads of the forwarder. One: the encoder (~1.2 us a point) and a kept-alive request
(~1 ms per 1,000 points on loopback) leave a second thread little to overlap, and two requests
at once made VictoriaMetrics hold writes for its merges three to four times as often as one
writer at a time does (100-350 ms each; ``bench.telemetry`` counts them), which cost more than
the overlap gained. ``BatchWorker`` still takes more for a server that gains from them."""


class TelemetrySink:
    """A store of readings fed from the ingest loop and written by its own batch worker."""

    worker: BatchWorker[TelemetryItem]

    def submit(self, batch: TelemetryBatch) -> None:
        """Queue a batch's readings without waiting (called on the ingest loop)."""
        self.worker.submit(telemetry_items(batch))

    def start(self) -> None:
        """Start the writer thread."""
        self.worker.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Store what is queued, then stop the writer thread."""
        self.worker.stop(timeout)


class TelemetryForwarder(TelemetrySink):
    """Every reading to InfluxDB: ``submit`` from the ingest loop, writing in its own thread."""

    def __init__(
        self,
        writer: LineWriter,
        *,
        batch_size: int = 1000,
        flush_seconds: float = 1.0,
        capacity: int = 100_000,
        backoff: Backoff | None = None,
        writers: int = WRITERS,
    ) -> None:
        self._writer = writer
        self.worker: BatchWorker[TelemetryItem] = BatchWorker(
            "telemetry-influx",
            self._flush,
            batch_size=batch_size,
            flush_seconds=flush_seconds,
            capacity=capacity,
            retry_on=(TelemetryWriteError,),
            drop_on=(TelemetryRejectedError,),
            partial_on=(TelemetryPartialWriteError,),
            backoff=backoff,
            writers=writers,
        )

    def _flush(self, items: list[TelemetryItem]) -> None:
        lines = line_protocol_batch(items)
        if lines:
            self._writer.write(lines)

    def stop(self, timeout: float = 5.0) -> None:
        """Write what can still be written, then release the connection."""
        super().stop(timeout)
        self._writer.close()
