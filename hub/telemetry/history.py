"""Recent readings kept by the hub itself, so the console can chart them with no InfluxDB at all.

Why a bounded database table and not an in-memory ring: the console's most useful chart is
"the readings around this incident", which is often looked at hours later, after a hub
restart, or by a second hub worker sharing the same PostgreSQL. A table survives all three; a
ring would be empty after a restart and different in each worker. It is bounded by age
(``history_retention_hours``, pruned by the writer; readings stamped further ahead than that go
too; a care household's sensors' readings are kept at least the care check's look-back, a
week) and the writer's queue is bounded in memory (``history_queue_max``, oldest dropped and
counted), so it cannot grow without limit.

Writes happen off the ingest path: the ingest loop hands each ``TelemetryBatch`` to
``ReadingHistory.submit`` (no I/O, no waiting), and a ``BatchWorker`` thread inserts batches
of up to ``HISTORY_BATCH`` readings per short transaction. A reading re-sent with the same
device and event time is stored once (``INSERT … ON CONFLICT DO NOTHING``).
"""

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, cast

from pydantic import AwareDatetime
from sqlalchemy import ColumnElement, Engine, Table, delete, not_, select, true
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from hub.care.rules import LOOK_BACK as CARE_LOOK_BACK
from hub.http.views import View
from hub.persistence.bulk import insert_rows
from hub.persistence.community import CareDeviceRow
from hub.persistence.tables import ReadingHistoryRow
from hub.persistence.transactions import Clock, Database, utc_now
from hub.telemetry.writer import BatchWorker, TelemetryItem, TelemetrySink

logger = logging.getLogger(__name__)

_HISTORY = cast(Table, ReadingHistoryRow.__table__)

HISTORY_BATCH = 250
"""Readings per history transaction. On SQLite every writer waits for the one before it, an
alert's intake included: 1,000 readings held the lock about 25 ms on the bench machine (a
burst's readings, flushed at the edge's next telemetry tick, came as five of those back to
back), 250 about 10 ms. At a city's rate (10,000 devices a minute, 167 readings/s) that is still
under one commit a second."""

PRUNE_CHUNK = 2_000
"""Readings deleted per pruning transaction (about 30 ms of SQLite's one writer on the bench
machine; 300,000 at once held it two seconds)."""

MAX_SAMPLES = 20_000
"""The most readings one history query returns."""


class ReadingSample(View):
    """What one device reported at one moment."""

    device_id: str
    ts: AwareDatetime
    readings: dict[str, float | bool]


def incident_window(
    opened_at: datetime,
    last_alert_at: datetime,
    now: datetime,
    *,
    before: timedelta = timedelta(minutes=30),
    after: timedelta = timedelta(minutes=30),
) -> tuple[datetime, datetime]:
    """Return the time span to chart around a case: from before it opened to after its last alert.

    The end never lies in the future: a chart of a live incident ends now.
    """
    return opened_at - before, min(now, last_alert_at + after)


def history_rows(items: Iterable[TelemetryItem]) -> list[dict[str, Any]]:
    """Return table rows for the items, one per (device, event time), readings merged in order."""
    rows: dict[tuple[str, datetime], dict[str, Any]] = {}
    for edge_id, point in items:
        readings = point.readings.present()
        if not readings:
            continue
        key = (point.device_id, point.ts)
        row = rows.setdefault(
            key, {"device_id": point.device_id, "ts": point.ts, "edge_id": edge_id, "readings": {}}
        )
        row["readings"].update(readings)
    return list(rows.values())


class ReadingHistory(TelemetrySink):
    """The ``reading_history`` table: fed from the ingest loop, written by its own thread."""

    def __init__(
        self,
        engine: Engine,
        *,
        retention: timedelta,
        capacity: int = 50_000,
        clock: Clock = utc_now,
        batch_size: int = HISTORY_BATCH,
        flush_seconds: float = 0.5,
        prune_every: timedelta = timedelta(minutes=5),
    ) -> None:
        self._db = Database(engine, clock=clock)
        self._retention = retention
        # The care check looks CARE_LOOK_BACK back for a resident's last sign of life: pruned
        # sooner, a motion 4 days old was forgotten and the quiet counted from weeks before.
        # Only the care households' sensors are kept that long: a week of every reading of a
        # city (167 a second) would be some 100 million rows, the care sensors' a few.
        self._care_retention = max(retention, CARE_LOOK_BACK)
        self._prune_every = prune_every
        self._last_prune: datetime | None = None
        self.worker: BatchWorker[TelemetryItem] = BatchWorker(
            "console-history",
            self._flush,
            batch_size=batch_size,
            flush_seconds=flush_seconds,
            capacity=capacity,
            # A lost connection or a lock is worth retrying; any other database error is this
            # batch's own (a value the column refuses) and drops it.
            retry_on=(OperationalError,),
            drop_on=(SQLAlchemyError,),
        )

    def _flush(self, items: list[TelemetryItem]) -> None:
        rows = history_rows(items)
        if rows:
            with self._db.writing() as session:
                insert_rows(session, _HISTORY, rows, skip_existing=True)
        now = self._db.clock()
        if self._last_prune is None or now - self._last_prune >= self._prune_every:
            self.prune(now)
            self._last_prune = now

    def prune(self, now: datetime) -> int:
        """Delete readings older than the retention (a care household's sensor's: than the
        care check's look-back), and those stamped further ahead of ``now`` than it (a clock
        years fast: read by nothing, they would stay for years); return how many went."""
        removed = 0
        if self._care_retention > self._retention:
            cared = ReadingHistoryRow.device_id.in_(select(CareDeviceRow.device_id))
            removed += self._prune_where(before=now - self._retention, spare=cared)
        removed += self._prune_where(before=now - self._care_retention)
        removed += self._prune_where(after=now + self._retention)
        if removed:
            logger.info("pruned %d readings over %s old (or ahead)", removed, self._retention)
        return removed

    def _prune_where(
        self,
        *,
        before: datetime | None = None,
        after: datetime | None = None,
        spare: ColumnElement[bool] | None = None,
    ) -> int:
        """Delete the readings stamped before ``before`` (or after ``after``) but those
        ``spare`` holds for, in transactions of about PRUNE_CHUNK rows from the farthest out,
        each its own turn among SQLite's writers: the first prune after days down deleted
        ~300,000 rows in one, holding an alert's intake for two seconds. Return how many
        went."""
        ts = ReadingHistoryRow.ts
        removed = 0
        while True:
            with self._db.writing() as session:
                # The PRUNE_CHUNK-th reading from the far end bounds this transaction's range
                # (on the ts index); with fewer left, the rest goes at once.
                if before is not None:
                    far = select(ts).where(ts < before).order_by(ts.asc())
                else:
                    far = select(ts).where(ts > after).order_by(ts.desc())
                prunable = true() if spare is None else not_(spare)
                far = far.where(prunable)
                bound = session.scalar(far.offset(PRUNE_CHUNK).limit(1))
                # Through the bound itself: readings sharing its instant go with it, so every
                # transaction deletes something, however many share one.
                if before is not None:
                    doomed = ts < before if bound is None else ts <= bound
                else:
                    doomed = ts > after if bound is None else ts >= bound
                result = session.execute(delete(ReadingHistoryRow).where(doomed, prunable))
            removed += int(result.rowcount)  # type: ignore[attr-defined]  # a CursorResult
            if bound is None:
                return removed

    def readings(
        self,
        device_ids: Iterable[str],
        start: datetime,
        end: datetime,
        *,
        limit: int = MAX_SAMPLES,
        newest: bool = False,
    ) -> list[ReadingSample]:
        """Return the readings of these devices between start and end, oldest first: the
        first ``limit`` of them, or with ``newest`` the last ``limit`` (a chart of an incident
        still going on must end at its latest readings, not stop short of them)."""
        ids = sorted(set(device_ids))
        if not ids:
            return []
        order = (ReadingHistoryRow.ts, ReadingHistoryRow.device_id)
        with self._db.reading() as session:
            rows = session.scalars(
                select(ReadingHistoryRow)
                .where(
                    ReadingHistoryRow.device_id.in_(ids),
                    ReadingHistoryRow.ts >= start,
                    ReadingHistoryRow.ts <= end,
                )
                .order_by(*(column.desc() for column in order) if newest else order)
                .limit(limit)
            ).all()
            if newest:
                rows = rows[::-1]
            return [
                ReadingSample(device_id=row.device_id, ts=row.ts, readings=dict(row.readings))
                for row in rows
            ]
