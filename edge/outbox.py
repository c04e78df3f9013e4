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
    unacknowledged alerts due again.

What is in flight is deliberately NOT durable (a TEMP table): after a restart nothing is on
the wire, so everything unacknowledged is sent again. The hub deduplicates by alert id.

Errors: every ``sqlite3.Error`` is wrapped in ``OutboxError``.
"""

import logging
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from devices.kinds import forwarding_rank
from devices.messages import Alert
from edge.redelivery import Receipt
from edge.sqlite_tx import open_store, read_back, reading, transaction

logger = logging.getLogger(__name__)

FILE_NAME = "outbox.sqlite3"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    device_id TEXT NOT NULL,
    rank INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_by_device ON alerts (device_id, rank);
CREATE INDEX IF NOT EXISTS alerts_by_rank ON alerts (rank);
CREATE TABLE IF NOT EXISTS device_states (
    device_id TEXT PRIMARY KEY,
    state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS receipts (
    grp INTEGER NOT NULL,
    mid INTEGER NOT NULL,
    topic TEXT NOT NULL,
    digest TEXT NOT NULL
);
CREATE TEMP TABLE IF NOT EXISTS in_flight (
    id TEXT PRIMARY KEY,
    sent_at REAL NOT NULL
);
"""

_DUE = """
SELECT a.id, a.body
FROM alerts AS a
JOIN (SELECT device_id, MIN(rank) AS top FROM alerts GROUP BY device_id) AS d
    ON d.device_id = a.device_id
LEFT JOIN in_flight AS f ON f.id = a.id
WHERE f.id IS NULL OR f.sent_at <= :stale_before
ORDER BY d.top, a.seq
LIMIT :room
"""

_DUE_IN_ORDER = """
SELECT a.id, a.body
FROM alerts AS a
LEFT JOIN in_flight AS f ON f.id = a.id
WHERE f.id IS NULL OR f.sent_at <= :stale_before
ORDER BY a.seq
LIMIT :room
"""

_RANKS = "SELECT (SELECT MIN(rank) FROM alerts), (SELECT MAX(rank) FROM alerts)"

_WAITING = """
SELECT 1 FROM alerts AS a LEFT JOIN in_flight AS f ON f.id = a.id
WHERE f.id IS NULL ORDER BY a.seq DESC LIMIT 1
"""
"""A stored alert that is not on the wire, if any: newest first, where one waits in a burst."""


def _due_rows(db: sqlite3.Connection, stale_before: float, limit: int) -> list[tuple[str, str]]:
    """Return (id, body) of the alerts due, as many as the window of ``limit`` has room for.

    An alert sent after ``stale_before`` still takes up room; one sent before is due again.
    """
    (fresh,) = db.execute(
        "SELECT COUNT(*) FROM in_flight WHERE sent_at > ?", (stale_before,)
    ).fetchone()
    room = limit - fresh
    if room <= 0:
        return []
    low, high = db.execute(_RANKS).fetchone()
    if low is None:
        return []
    # One rank throughout (a burst of one kind, nearly always): every device's most urgent
    # alert ranks alike, so the order is the insertion order, read from the front until the
    # window is full, instead of ranking and sorting the whole outbox at every send.
    due = _DUE_IN_ORDER if low == high else _DUE
    return db.execute(due, {"stale_before": stale_before, "room": room}).fetchall()


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

    def __init__(self, connection: sqlite3.Connection, *, resend_after_s: float) -> None:
        """Wrap an open connection; use ``Outbox.open`` instead."""
        self._db = connection
        self._lock = threading.Lock()
        self.resend_after_s = resend_after_s
        # When the hub last acknowledged (the ``now`` of ``acknowledge``): every alert on the
        # wire then counts as sent then, if it was sent before (see (e)). Kept here and not
        # written into each in-flight row: that was a write per row on the wire at every ack.
        self._acked_at = float("-inf")

    @classmethod
    def open(
        cls,
        path: Path,
        sync: Literal["full", "normal"] = "full",
        *,
        resend_after_s: float = 10.0,
    ) -> "Outbox":
        """Open (or create) the outbox database at ``path``."""
        db = open_store(
            path,
            sync=sync,
            schema=_SCHEMA,
            version=SCHEMA_VERSION,
            error=OutboxError,
            what="outbox",
        )
        return cls(db, resend_after_s=resend_after_s)

    def close(self) -> None:
        """Close the database."""
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
        with self._transaction() as db:
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
        with self._reading() as db:
            rows = db.execute("SELECT mid, topic, digest FROM receipts").fetchall()
        return [Receipt(int(mid), str(topic), str(digest)) for mid, topic, digest in rows]

    def load_states(self) -> dict[str, str]:
        """Return every device's last committed detection state (JSON), by device id."""
        with self._reading() as db:
            return dict(db.execute("SELECT device_id, state FROM device_states").fetchall())

    def due(self, now: float, limit: int) -> list[Alert]:
        """Return the alerts to send now, most urgent device first.

        ``limit`` is the window: the most alerts that may be unacknowledged on the wire at
        once. Alerts in flight for less than ``resend_after_s`` take up room in it; those in
        flight for longer are due again.
        """
        with self._reading() as db:
            rows = _due_rows(db, self._stale_before(now), limit)
        return read_back(Alert, rows, "outbox alert")

    def take_due(self, now: float, limit: int) -> list[OutgoingAlert]:
        """Return the alerts to send now, as stored, and mark them sent at ``now``: one call.

        What the uplink sends: ``due`` and ``mark_sent`` under one lock, and the stored JSON
        body as it is (written by ``commit_group`` from the ``Alert`` model), not parsed and
        serialised again for every send.
        """
        with self._transaction() as db:  # the TEMP table only: nothing to fsync
            rows = _due_rows(db, self._stale_before(now), limit)
            db.executemany(
                "INSERT OR REPLACE INTO in_flight (id, sent_at) VALUES (?, ?)",
                [(alert_id, now) for alert_id, _ in rows],
            )
        return [OutgoingAlert(alert_id, body) for alert_id, body in rows]

    def mark_sent(self, ids: Sequence[str], now: float) -> None:
        """Record that these alerts were handed to the hub's broker at ``now``."""
        with self._transaction() as db:
            # Only alerts still stored: an ack that overtook the send must not leave a
            # phantom in-flight entry occupying the window.
            db.executemany(
                "INSERT OR REPLACE INTO in_flight (id, sent_at) "
                "SELECT id, ? FROM alerts WHERE id = ?",
                [(now, alert_id) for alert_id in ids],
            )

    def release(self, ids: Sequence[str]) -> None:
        """Make alerts taken but never handed to a connection due again at once."""
        with self._transaction() as db:  # the TEMP table only: nothing to fsync
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
        # Not fsynced: a delete a power cut undoes only sends the alert again, which the hub
        # deduplicates by id; the next alert's full commit makes it durable anyway.
        with self._transaction(fsync=False) as db:
            deleted = db.executemany("DELETE FROM alerts WHERE id = ?", rows).rowcount
            db.executemany("DELETE FROM in_flight WHERE id = ?", rows)
            waiting = db.execute(_WAITING).fetchone() is not None
        if now is not None:
            with self._lock:
                self._acked_at = max(self._acked_at, now)
        return Settled(deleted, waiting)

    def _stale_before(self, now: float) -> float:
        """Return the time an alert on the wire must have been sent by to be due again at
        ``now``: ``resend_after_s`` before, unless the hub acknowledged since then, when none
        is (an alert counts as sent at the later of its send and the last acknowledgement)."""
        stale_before = now - self.resend_after_s
        return stale_before if self._acked_at <= stale_before else float("-inf")

    def reset_in_flight(self) -> None:
        """Forget what is on the wire: every unacknowledged alert becomes due again."""
        with self._transaction() as db:
            db.execute("DELETE FROM in_flight")

    def depth(self) -> int:
        """Return how many alerts wait for the hub's acknowledgement."""
        with self._reading() as db:
            (count,) = db.execute("SELECT COUNT(*) FROM alerts").fetchone()
            return int(count)

    def in_flight(self) -> int:
        """Return how many stored alerts are on the wire, fresh or stale."""
        with self._reading() as db:
            (count,) = db.execute(
                "SELECT COUNT(*) FROM in_flight JOIN alerts USING (id)"
            ).fetchone()
            return int(count)

    def _transaction(self, *, fsync: bool = True) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self._db, self._lock, OutboxError, "outbox", fsync=fsync)

    def _reading(self) -> AbstractContextManager[sqlite3.Connection]:
        return reading(self._db, self._lock, OutboxError, "outbox")
