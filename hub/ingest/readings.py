"""The readings lane: edges' telemetry batches handled off the alert path.

The ingest loop only hands each batch over (``offer``, never waiting), unparsed
(``RawTelemetry``): this lane's own task parses it, one batch at a time with the event loop
yielded between (an SOS arriving meanwhile is taken between two batches, not after all of
them), screens it (``hub.ingest.identity``), passes it to the telemetry sinks and
records the last readings, a few batches in one transaction. It yields to alerts: it starts
no database work while the ingest loop has alerts in hand (``AlertGate``), so on SQLite's one
writer an alert's commit waits behind at most the one readings transaction already running.

The queue is bounded: under overload a batch that does not fit is dropped, counted under
``telemetry_dropped`` and logged, as telemetry is best effort (docs/telemetry.md); the next
batch carries newer readings anyway. Alerts are never dropped: they are the ingest loop's.
"""

import asyncio
import functools
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy.exc import SQLAlchemyError

from devices.messages import TelemetryBatch
from hub.ingest.identity import screen_telemetry
from hub.ingest.messages import RawTelemetry, RejectedMessage, TelemetryMessage, parse_telemetry
from hub.persistence.transactions import Clock, utc_now
from hub.store import HubStore

logger = logging.getLogger(__name__)

READINGS_QUEUE_MAX = 2000
"""Telemetry batches waiting for the lane: 100 edges' 5 s batches for well over a minute."""
READINGS_PER_TRANSACTION = 5
"""Batches recorded in one transaction: on SQLite's one writer an alert commit may wait behind
one, so few (a 100-device edge's batch is 100 points); still 5× fewer commits than one each."""
_DROP_LOG_EVERY = 100
T = TypeVar("T")


def offer_or_drop(
    queue: "asyncio.Queue[T]",
    message: T,
    counters: Counter[str],
    counted_as: str,
    warn: Callable[[int], None],
) -> None:
    """Queue ``message`` for a lane, counted as ``<counted_as>_queued``; if the queue is full,
    drop it, counted as ``<counted_as>_dropped``, and ``warn`` with how many were dropped at
    the first of every ``_DROP_LOG_EVERY``."""
    try:
        queue.put_nowait(message)
    except asyncio.QueueFull:
        counters[f"{counted_as}_dropped"] += 1
        dropped = counters[f"{counted_as}_dropped"]
        if dropped % _DROP_LOG_EVERY == 1:
            warn(dropped)
        return
    counters[f"{counted_as}_queued"] += 1


class AlertGate:
    """Open while the ingest loop holds no alerts; the readings lane waits for it to open."""

    def __init__(self) -> None:
        self._open = asyncio.Event()
        self._open.set()
        self._holders = 0

    @contextmanager
    def alerts_in_hand(self) -> Iterator[None]:
        """Keep the gate closed while the caller stores and acknowledges alerts."""
        self._holders += 1
        self._open.clear()
        try:
            yield
        finally:
            self._holders -= 1
            if self._holders == 0:
                self._open.set()

    async def wait_open(self) -> None:
        """Return once no alerts are in hand."""
        await self._open.wait()


class ReadingsLane:
    """A bounded queue of telemetry batches and the task that records them."""

    def __init__(
        self,
        store: HubStore,
        counters: Counter[str],
        gate: AlertGate,
        *,
        reject: Callable[[RejectedMessage], None] = lambda _: None,
        max_queued: int = READINGS_QUEUE_MAX,
        per_transaction: int = READINGS_PER_TRANSACTION,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._clock = clock
        self._counters = counters
        self._gate = gate
        self._reject = reject
        self._queue: asyncio.Queue[TelemetryMessage | RawTelemetry] = asyncio.Queue(max_queued)
        self._per_transaction = per_transaction
        self.sinks: list[Callable[[TelemetryBatch], None]] = []
        """Called with every screened batch (console history, InfluxDB); each must return at
        once, handing the batch to its own worker."""

    def offer(self, message: TelemetryMessage | RawTelemetry) -> None:
        """Queue a batch for the lane, or drop (count and log) it if the queue is full."""

        def warn(dropped: int) -> None:
            logger.warning(
                "readings lane full (%d batches): dropped a telemetry batch of edge %s "
                "(%s); %d batches dropped so far",
                self._queue.maxsize,
                message.edge_id,
                f"{len(message.raw)} bytes"
                if isinstance(message, RawTelemetry)
                else f"{len(message.batch.points)} points",
                dropped,
            )

        offer_or_drop(self._queue, message, self._counters, "telemetry", warn)

    def queued(self) -> int:
        """Return how many batches wait for the lane."""
        return self._queue.qsize()

    async def run(self) -> None:
        """Record queued batches until cancelled, yielding to alerts."""
        while True:
            taken = [await self._queue.get()]
            while len(taken) < self._per_transaction and not self._queue.empty():
                taken.append(self._queue.get_nowait())
            parsed = await self._parse(taken)
            if parsed:
                await self._gate.wait_open()
                await self._handle(parsed)

    async def _parse(self, taken: list[TelemetryMessage | RawTelemetry]) -> list[TelemetryMessage]:
        """Parse the deferred batches, yielding to the alert path before each."""
        parsed: list[TelemetryMessage] = []
        for message in taken:
            if isinstance(message, RawTelemetry):
                await asyncio.sleep(0)
                await self._gate.wait_open()
                result = parse_telemetry(message, self._clock())
            else:
                result = message
            if isinstance(result, RejectedMessage):
                self._reject(result)
                continue
            for refused in result.rejected:
                self._reject(refused)
            if result.batch.points or not result.rejected:  # else nothing of it is left
                parsed.append(result)
        return parsed

    async def _handle(self, messages: list[TelemetryMessage]) -> None:
        ids = {p.device_id for m in messages for p in m.batch.points}
        try:
            registered = await asyncio.to_thread(
                functools.partial(
                    self._store.fleet.device_registrations,
                    ids,
                    claims_of=frozenset(m.edge_id for m in messages),
                )
            )
        except SQLAlchemyError as exc:
            # Unchecked, nothing of it is used; the next batches carry newer readings anyway.
            self._counters["telemetry_failed"] += len(messages)
            logger.warning("could not check %d telemetry batches: %s", len(messages), exc)
            return
        kept: list[TelemetryBatch] = []
        for message in messages:
            screened = screen_telemetry(message.edge_id, message.batch, registered)
            for point, reason in screened.refused:
                self._counters[f"rejected.{reason}"] += 1
                logger.warning(
                    "rejected telemetry of %s from edge %s: %s",
                    point.device_id,
                    message.edge_id,
                    reason,
                )
            batch = (
                message.batch
                if not screened.refused
                else message.batch.model_copy(update={"points": screened.kept})
            )
            for sink in self.sinks:
                sink(batch)
            kept.append(batch)
        # record_telemetry reads only the points; one batch of them is one transaction.
        merged = TelemetryBatch(
            edge_id=messages[0].edge_id, points=[p for b in kept for p in b.points]
        )
        await self._gate.wait_open()
        try:
            applied = await asyncio.to_thread(self._store.fleet.record_telemetry, merged)
        except SQLAlchemyError as exc:
            self._counters["telemetry_failed"] += len(messages)
            logger.warning("could not record %d telemetry batches: %s", len(messages), exc)
            return
        self._counters["telemetry_batches"] += len(messages)
        self._counters["telemetry_points"] += applied
