"""The durable store-and-forward outbox: every alert on disk until the hub acknowledges it.

One SQLite file in WAL mode. Invariants the agent relies on:

(a) an alert is on disk before anything else happens with it: before it is published and
    before the device message that caused it is acknowledged to the local broker. The device
    messages that arrive together share one fsynced transaction (``commit_group``, the
    ingest's group commit), and each is acknowledged only after it;
(b) a device's detection state is written in the same transaction as the alerts it produced,
    so a device message redelivered after a crash finds the transition already made and
    produces no second alert;
(c) an alert is deleted only when the hub's ``AlertAck`` names it (that delete is committed
    without its own fsync: a power cut that undoes it makes the alert go out again, which the
    hub deduplicates; never the reverse, an alert lost);
(d) sending order is life-safety first: devices are ordered by their most urgent pending alert
    (``devices.kinds.forwarding_rank``, 0 = SOS), then alerts by insertion sequence. Every
    device's own alerts keep their order (a smoke ``raised`` never overtakes the
    ``cleared`` before it), while a device with an SOS goes ahead of one with only faults
    (when every queued alert has one rank, that order is the insertion order, read from the
    front: a backlog of one kind is not ranked and sorted whole at every send);
(e) at most ``limit`` unacknowledged alerts are on the wire at once; one sent longer than
    ``resend_after_s`` ago, with no acknowledgement from the hub since, is due again (while
    acks keep coming the hub is working through the window: re-sending it then only buries
    a busy hub under duplicates); ``reset_in_flight`` (on every reconnect) makes all
    unacknowledged alerts due again;
(f) a disk that refuses a write (full, read-only, failing) does not stop the alarms: refusing
    the commit left the device message unacknowledged, the ingest reconnecting for ever and a
    smoke alarm never sent (a QoS 0 one lost outright). What it refused is kept in memory
    (``_spill``) and sent, not durable until a later write succeeds (``write_back``; a power
    cut meanwhile loses it); an ack it refuses is kept in memory too (``_forget``); the SQL of
    both is ``edge.outbox_memory``'s. A damaged
    file at start is set aside, one that cannot be opened gives an outbox in memory
    (``edge.sqlite_tx.open_recovering``), one deleted while in use is written again;
(g) a file that refuses a read while the edge runs (damaged, an I/O error, not a database
    any more) does not stop the alarms either: every read then failed, and the uplink
    reconnected for ever with no alert, not even an SOS, sent. The outbox moves into memory
    (``_move_to_memory``) with the alerts and states it can still read and all that memory
    held (on the wire, kept, acknowledged), logged as an error and counted
    (``outbox_read_refused``); it stays there until the edge restarts, when the damaged file
    is set aside as at (f). A statement's own error (a bug) still raises;
(h) the outbox is bounded, but never at a life-safety alert's cost: past ``max_alerts`` stored
    (a hub away for days), a commit sheds the oldest superseded alerts, transitions of a
    non-life-safety kind of a device that has raised and cleared it again since, counted
    (``outbox_shed``, in the edge status) and logged once per ``max_alerts`` shed. An SOS,
    a fire, an unresolved alarm and each device's last episode are kept, however many
    (``edge.outbox_shed``).

What is in flight is deliberately NOT durable (a TEMP table): after a restart nothing is on
the wire, so everything unacknowledged is sent again. The hub deduplicates by alert id.

Errors: every ``sqlite3.Error`` is wrapped in ``OutboxError``.
"""

import logging
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from devices.kinds import forwarding_rank
from devices.messages import Alert
from edge.outbox_memory import AlertRow, forget, into_memory, spill, write_back, written_again
from edge.outbox_queries import (
    DEPTH_FROM,
    HELD,
    IN_FLIGHT_FROM,
    MARK_FROM,
    SALVAGE,
    SCHEMA,
    SCHEMA_VERSION,
    WAITING_FROM,
    Source,
    due_rows,
)
from edge.outbox_shed import MAX_ALERTS, Shedder
from edge.redelivery import Receipt
from edge.sqlite_tx import (
    inode,
    open_recovering,
    read_back,
    reading,
    recovering,
    refused,
    transaction,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

FILE_NAME = "outbox.sqlite3"


@dataclass(frozen=True, slots=True)
class OutgoingAlert:
    """An alert as the uplink sends it: its id and its JSON body as stored."""

    id: str
    body: str


@dataclass(frozen=True, slots=True)
class Settled:
    """What an acknowledgement did to the outbox."""

    deleted: int
    """How many of the acknowledged alerts were still stored."""
    waiting: bool
    """Whether a stored alert is not on the wire (for the forwarder to send)."""


class OutboxError(Exception):
    """The outbox could not read or write its database."""


class Outbox:
    """The SQLite outbox of one edge. Thread-safe: every method holds one lock."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        *,
        resend_after_s: float,
        path: Path | None = None,
        sync: Literal["full", "normal"] = "full",
        max_alerts: int = MAX_ALERTS,
    ) -> None:
        """Wrap an open connection; use ``Outbox.open`` instead."""
        self._db = connection
        # The file, to write again if it is deleted under the running edge (``_keep_file``).
        self._path, self._sync = path, sync
        self._inode = None if path is None else inode(path)
        self._lock = threading.Lock()
        self.resend_after_s = resend_after_s
        # When the hub last acknowledged (the ``now`` of ``acknowledge``): every alert on the
        # wire then counts as sent then, if it was sent before (see (e)). Kept here and not
        # written into each in-flight row: that was a write per row on the wire at every ack.
        self._acked_at = float("-inf")
        # Whether something is held in memory because the disk refused it (see ``_spill``).
        self._spilled = False
        # Past ``max_alerts`` stored, superseded non-life-safety alerts are shed (see (h)).
        self._shedder = Shedder(max_alerts)
        self._spill_shedder = Shedder(max_alerts)  # what a full disk keeps in memory
        self.counters: Counter[str] = Counter()
        """``outbox_read_refused``: the file refused a read, the outbox moved into memory;
        ``outbox_write_refused``: the disk refused a write (full, read-only) and alerts or
        acks are kept in memory, once each time it starts refusing (logged once too);
        ``outbox_shed``: superseded alerts shed to keep the outbox within its bound (h)."""

    @classmethod
    def open(
        cls,
        path: Path,
        sync: Literal["full", "normal"] = "full",
        *,
        resend_after_s: float = 10.0,
        max_alerts: int = MAX_ALERTS,
    ) -> "Outbox":
        """Open (or create) the outbox database at ``path``; a damaged file, or a disk that
        cannot be written, does not stop the edge (``edge.sqlite_tx.open_recovering``)."""
        db, on_disk = open_recovering(
            path,
            sync=sync,
            schema=SCHEMA,
            version=SCHEMA_VERSION,
            error=OutboxError,
            what="outbox",
            salvage=SALVAGE,
        )
        return cls(
            db,
            resend_after_s=resend_after_s,
            path=path if on_disk else None,
            sync=sync,
            max_alerts=max_alerts,
        )

    def close(self) -> None:
        """Close the database, once what memory holds is written if the disk takes it."""
        if self._spilled:
            try:
                self._store({}, [], ())
            except OutboxError as exc:
                logger.error("outbox closed with alerts only in memory, now lost: %s", exc)
        with self._lock:
            self._db.close()

    def commit(self, device_id: str, new_state_json: str, alerts: Sequence[Alert]) -> None:
        """Store a device's new detection state and the alerts it produced, atomically."""
        self.commit_group({device_id: new_state_json}, alerts)

    def commit_group(
        self,
        states: Mapping[str, str],
        alerts: Sequence[Alert],
        receipts: Sequence[Receipt] = (),
    ) -> None:
        """Store several devices' new states and the alerts they produced in ONE transaction.

        The group commit of ``edge.ingest``: the device messages that arrived together cost
        one fsync, not one each. ``alerts`` are stored in the order given, which is the
        order they are sent in among a device's own alerts. ``receipts`` are the group's
        messages, kept (with the group before) to recognise them if the broker delivers them
        again (``edge.redelivery``).
        """
        rows = [
            (alert.id, alert.device_id, forwarding_rank(alert.kind), alert.model_dump_json())
            for alert in alerts
        ]
        try:
            self._keep_file()
            self._store(states, rows, receipts)
        except OutboxError as exc:
            if not refused(exc):
                raise
            self._spill(states, rows, exc)

    def _keep_file(self) -> None:
        """Write the outbox file again if it was deleted in use (SQLite goes on writing the
        deleted file, and the next start found an empty outbox, every alert lost unsaid)."""
        if self._path is None or inode(self._path) == self._inode:
            return
        logger.error("outbox %s was deleted while in use: writing it again", self._path)
        with self._lock:
            try:
                new = written_again(self._db, self._path, sync=self._sync, error=OutboxError)
            except (OSError, sqlite3.Error, OutboxError) as exc:
                # Still writable as it is (its file deleted): the alerts go out meanwhile.
                logger.error("outbox %s cannot be written again: %s", self._path, exc)
                self._inode = inode(self._path)
                return
            self._db.close()
            self._db = new
            self._inode = inode(self._path)

    def _store(
        self,
        states: Mapping[str, str],
        rows: Sequence[AlertRow],
        receipts: Sequence[Receipt],
    ) -> None:
        with self._transaction() as db:
            was_spilled = self._spilled
            if was_spilled:
                write_back(db)
            db.executemany(
                "INSERT INTO device_states (device_id, state) VALUES (?, ?) "
                "ON CONFLICT (device_id) DO UPDATE SET state = excluded.state",
                list(states.items()),
            )
            # OR IGNORE: storing the same alert twice is a no-op, never a second alert.
            db.executemany(
                "INSERT OR IGNORE INTO alerts (id, device_id, rank, body) VALUES (?, ?, ?, ?)",
                rows,
            )
            if receipts:
                (group,) = db.execute("SELECT COALESCE(MAX(grp), 0) + 1 FROM receipts").fetchone()
                db.execute("DELETE FROM receipts WHERE grp < ?", (group - 1,))
                db.executemany(
                    "INSERT INTO receipts (grp, mid, topic, digest) VALUES (?, ?, ?, ?)",
                    [(group, r.mid, r.topic, r.digest) for r in receipts],
                )
            shed = self._shedder.shed(db) if rows else 0
        if shed:
            self._count_shed(shed)
        if was_spilled:
            self._recheck()

    def _count_shed(self, shed: int) -> None:
        """Count alerts shed (the edge status carries it); log the first, then once for every
        further ``cap`` shed: a week's flood is a few lines, not one a commit."""
        before = self.counters["outbox_shed"]
        self.counters["outbox_shed"] += shed
        cap = self._shedder.cap
        if before == 0 or before // cap != (before + shed) // cap:
            logger.warning(
                "outbox past %d alerts (the hub away?): %d superseded non-life-safety alerts "
                "shed so far, oldest first; every life-safety alert and each device's last "
                "episode are kept",
                cap,
                before + shed,
            )

    def _recheck(self) -> None:
        """Read again, under the lock, whether memory holds anything (another thread may have
        kept something since), and say so when it no longer does."""
        with self._lock:
            was = self._spilled
            self._spilled = bool(self._db.execute(HELD).fetchone()[0])
        if was and not self._spilled:
            logger.warning("outbox writable again: the alerts kept in memory are stored")

    def _spill(
        self,
        states: Mapping[str, str],
        rows: Sequence[AlertRow],
        refusal: OutboxError,
    ) -> None:
        """Keep what the disk refused in memory (TEMP tables), sent like any stored alert: see
        (f). Raises ``OutboxError`` only if memory cannot take it either."""
        with self._transaction(immediate=False) as db:
            spill(db, states, rows)
            shed = self._spill_shedder.shed(db, "unsaved")
            was, self._spilled = self._spilled, True
            if not was:
                self.counters["outbox_write_refused"] += 1
        if shed:
            self._count_shed(shed)
        if not was:
            logger.error(
                "outbox cannot be written (%s): alerts are kept in memory and sent, but are "
                "lost if the edge stops before the disk takes them; free the disk",
                refusal,
            )

    @property
    def unsaved(self) -> bool:
        """Whether alerts or acknowledgements are held in memory only (the disk refused them,
        or the whole outbox is in memory), lost if the edge stops."""
        return self._spilled or self._path is None

    def _source(self) -> Source:
        return "queued" if self._spilled else "alerts"

    def commit_and_take(
        self,
        states: Mapping[str, str],
        alerts: Sequence[Alert],
        receipts: Sequence[Receipt],
        now: float,
        limit: int,
    ) -> list[OutgoingAlert] | None:
        """``commit_group``, then ``take_due`` at ``now``: one call of the outbox's thread
        for an alert stored and sent at once (``edge.handoff``).

        Only the commit's failure raises; a take that fails after it returns None (stored:
        the forwarder sends them), so that the caller still counts what it committed.
        """
        self.commit_group(states, alerts, receipts)
        try:
            return self.take_due(now, limit)
        except OutboxError as exc:
            logger.warning("alerts stored, but taking them to send failed: %s", exc)
            return None

    def receipts(self) -> list[Receipt]:
        """Return the receipts of the last two committed groups of device messages."""
        rows = self._recovering(self._read_receipts)
        return [Receipt(int(mid), str(topic), str(digest)) for mid, topic, digest in rows]

    def _read_receipts(self) -> list[tuple[int, str, str]]:
        with self._reading() as db:
            return db.execute("SELECT mid, topic, digest FROM receipts").fetchall()

    def load_states(self) -> dict[str, str]:
        """Return every device's last committed detection state (JSON), by device id."""
        return self._recovering(self._load_states)

    def _load_states(self) -> dict[str, str]:
        with self._reading() as db:
            return dict(db.execute("SELECT device_id, state FROM device_states").fetchall())

    def due(self, now: float, limit: int) -> list[Alert]:
        """Return the alerts to send now, most urgent device first.

        ``limit`` is the window: the most alerts that may be unacknowledged on the wire at
        once. Alerts in flight for less than ``resend_after_s`` take up room in it; those in
        flight for longer are due again.
        """
        rows = self._recovering(lambda: self._read_due(now, limit))
        return read_back(Alert, rows, "outbox alert")

    def _read_due(self, now: float, limit: int) -> list[tuple[str, str]]:
        with self._reading() as db:
            return due_rows(db, self._stale_before(now), limit, self._source())

    def take_due(self, now: float, limit: int) -> list[OutgoingAlert]:
        """Return the alerts to send now, as stored, and mark them sent at ``now``: one call.

        What the uplink sends: ``due`` and ``mark_sent`` under one lock, and the stored JSON
        body as it is (written by ``commit_group`` from the ``Alert`` model), not parsed and
        serialised again for every send.
        """
        return self._recovering(lambda: self._take_due(now, limit))

    def _take_due(self, now: float, limit: int) -> list[OutgoingAlert]:
        # The TEMP table only: nothing to fsync, and no lock on a disk that may refuse writes.
        with self._transaction(immediate=False) as db:
            rows = due_rows(db, self._stale_before(now), limit, self._source())
            db.executemany(
                "INSERT OR REPLACE INTO in_flight (id, sent_at) VALUES (?, ?)",
                [(alert_id, now) for alert_id, _ in rows],
            )
        return [OutgoingAlert(alert_id, body) for alert_id, body in rows]

    def mark_sent(self, ids: Sequence[str], now: float) -> None:
        """Record that these alerts were handed to the hub's broker at ``now``."""
        self._recovering(lambda: self._mark_sent(ids, now))

    def _mark_sent(self, ids: Sequence[str], now: float) -> None:
        with self._transaction(immediate=False) as db:
            # Only alerts still stored: an ack that overtook the send must not leave a
            # phantom in-flight entry occupying the window.
            db.executemany(
                MARK_FROM.format(alerts=self._source()),
                [(now, alert_id) for alert_id in ids],
            )

    def release(self, ids: Sequence[str]) -> None:
        """Make alerts taken but never handed to a connection due again at once."""
        self._recovering(lambda: self._release(ids))

    def _release(self, ids: Sequence[str]) -> None:
        with self._transaction(immediate=False) as db:  # the TEMP table only
            db.executemany("DELETE FROM in_flight WHERE id = ?", [(alert_id,) for alert_id in ids])

    def acknowledge(self, ids: Sequence[str], now: float | None = None) -> int:
        """Delete the alerts the hub has committed; return how many were still stored.

        With ``now``, the alerts still on the wire count as sent at ``now``: the hub is
        working through them, so their ``resend_after_s`` starts again (see (e)).
        """
        return self.settle(ids, now).deleted

    def settle(self, ids: Sequence[str], now: float | None = None) -> Settled:
        """``acknowledge``, and say in the same call whether any stored alert is not on the
        wire: only then has the forwarder something to send (at a steady rate, every stored
        alert is on the wire and an ack frees room for nothing)."""
        rows = [(alert_id,) for alert_id in ids]
        deleted, waiting = self._recovering(lambda: self._settle(rows))
        if now is not None:
            with self._lock:
                self._acked_at = max(self._acked_at, now)
        return Settled(deleted, waiting)

    def _settle(self, rows: Sequence[tuple[str]]) -> tuple[int, bool]:
        try:
            return self._delete(rows)
        except OutboxError as exc:
            if not refused(exc):
                raise
            return self._forget(rows, exc)

    def _delete(self, rows: Sequence[tuple[str]]) -> tuple[int, bool]:
        # Not fsynced: a delete a power cut undoes only sends the alert again, which the hub
        # deduplicates by id; the next alert's full commit makes it durable anyway.
        with self._transaction(fsync=False) as db:
            was_spilled = self._spilled
            deleted = db.executemany("DELETE FROM main.alerts WHERE id = ?", rows).rowcount
            if was_spilled:
                deleted += db.executemany("DELETE FROM unsaved WHERE id = ?", rows).rowcount
                write_back(db)
            db.executemany("DELETE FROM in_flight WHERE id = ?", rows)
            waiting = db.execute(WAITING_FROM.format(alerts="alerts")).fetchone() is not None
        if was_spilled:
            self._recheck()
        return deleted, waiting

    def _forget(self, rows: Sequence[tuple[str]], refusal: OutboxError) -> tuple[int, bool]:
        """Settle an acknowledgement the disk refused to delete: in memory (``gone``), so the
        hub's acknowledged alerts are not sent again and again; deleted from disk later."""
        with self._transaction(immediate=False) as db:
            deleted, waiting = forget(db, rows)
            was, self._spilled = self._spilled, True
            if not was:
                self.counters["outbox_write_refused"] += 1
        if not was:
            logger.error("outbox cannot be written (%s): acknowledgements kept in memory", refusal)
        return deleted, waiting

    def _stale_before(self, now: float) -> float:
        """Return the time an alert on the wire must have been sent by to be due again at
        ``now``: ``resend_after_s`` before, unless the hub acknowledged since then, when none
        is (an alert counts as sent at the later of its send and the last acknowledgement)."""
        stale_before = now - self.resend_after_s
        return stale_before if self._acked_at <= stale_before else float("-inf")

    def reset_in_flight(self) -> None:
        """Forget what is on the wire: every unacknowledged alert becomes due again."""
        self._recovering(self._reset_in_flight)

    def _reset_in_flight(self) -> None:
        with self._transaction(immediate=False) as db:
            db.execute("DELETE FROM in_flight")

    def depth(self) -> int:
        """Return how many alerts wait for the hub's acknowledgement."""
        return self._recovering(self._depth)

    def _depth(self) -> int:
        with self._reading() as db:
            (count,) = db.execute(DEPTH_FROM.format(alerts=self._source())).fetchone()
            return int(count)

    def in_flight(self) -> int:
        """Return how many stored alerts are on the wire, fresh or stale."""
        return self._recovering(self._in_flight)

    def _in_flight(self) -> int:
        with self._reading() as db:
            (count,) = db.execute(IN_FLIGHT_FROM.format(alerts=self._source())).fetchone()
            return int(count)

    def _recovering(self, work: Callable[[], T]) -> T:
        """Run ``work``; if the file refuses it (damaged, an I/O error), move the outbox into
        memory and run it there: see (g). Any other error raises."""
        return recovering(work, OutboxError, self._move_to_memory)

    def _move_to_memory(self, failure: Exception) -> bool:
        """Go on in memory with what the file still gives and all that memory held; False if
        the outbox is in memory already (nothing to move to)."""
        with self._lock:
            if self._path is None:
                return False
            try:
                new, kept = into_memory(self._db, sync=self._sync, error=OutboxError)
            except OutboxError:
                return False
            with suppress(sqlite3.Error):
                self._db.close()
            self._db, self._path, self._spilled = new, None, False
            self.counters["outbox_read_refused"] += 1
        logger.error(
            "outbox file cannot be read (%s): running with the outbox in memory (%d alerts "
            "read from the file, and all kept in memory), lost if the edge stops; replace the "
            "card",
            failure,
            kept,
        )
        return True

    def _transaction(
        self, *, fsync: bool = True, immediate: bool = True
    ) -> AbstractContextManager[sqlite3.Connection]:
        # The connection as it is once the lock is held: ``_keep_file`` may replace it.
        return transaction(
            lambda: self._db, self._lock, OutboxError, "outbox", fsync=fsync, immediate=immediate
        )

    def _reading(self) -> AbstractContextManager[sqlite3.Connection]:
        return reading(lambda: self._db, self._lock, OutboxError, "outbox")
