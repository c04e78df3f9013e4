"""The outbox's SQLite schema and its queries: what ``edge.outbox.Outbox`` reads and writes.

Plain SQL and one read (``due_rows``, the window of alerts to send), no state: the rules of
the order and the window are in ``edge.outbox``'s docstring, (d) and (e).
"""

import sqlite3
from typing import Literal

SCHEMA_VERSION = 1

SCHEMA = """
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
CREATE TEMP TABLE IF NOT EXISTS unsaved (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    device_id TEXT NOT NULL,
    rank INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS temp.unsaved_by_device ON unsaved (device_id, rank);
CREATE TEMP TABLE IF NOT EXISTS unsaved_states (
    device_id TEXT PRIMARY KEY,
    state TEXT NOT NULL
);
CREATE TEMP TABLE IF NOT EXISTS gone (
    id TEXT PRIMARY KEY
);
CREATE TEMP VIEW IF NOT EXISTS queued AS
    SELECT seq, id, device_id, rank, body FROM main.alerts
    WHERE id NOT IN (SELECT id FROM gone)
    UNION ALL
    SELECT (1 << 60) + seq, id, device_id, rank, body FROM unsaved;
"""
"""``unsaved``, ``unsaved_states`` and ``gone`` (TEMP, in memory) hold what could not be written
while the disk refused (full, read-only, failing): alerts and states committed in memory only,
and acknowledged alerts not yet deleted from disk. ``queued`` is what waits then: the stored
alerts not acknowledged, then the unsaved ones (stored later, so after every stored one)."""

_DUE_FROM = """
SELECT a.id, a.body
FROM (
    SELECT s.seq AS seq, d.top AS top
    FROM {alerts} AS s
    JOIN (SELECT device_id, MIN(rank) AS top FROM {alerts} GROUP BY device_id) AS d
        ON d.device_id = s.device_id
    WHERE s.seq NOT IN (
        SELECT w.seq FROM in_flight AS f JOIN {alerts} AS w ON w.id = f.id
        WHERE f.sent_at > :stale_before
    )
    ORDER BY d.top, s.seq
    LIMIT :room
) AS o
JOIN {alerts} AS a ON a.seq = o.seq
ORDER BY o.top, o.seq
"""
"""The due window when ranks differ, ranked from the ``alerts_by_device`` index alone and only
the window's rows read: 0.17 s a take from 300,000 alerts, not 0.65 s (x86; a Pi is slower,
and a new alarm's commit waits on the outbox's thread meanwhile)."""

_DUE_IN_ORDER_FROM = """
SELECT a.id, a.body
FROM {alerts} AS a
LEFT JOIN in_flight AS f ON f.id = a.id
WHERE f.id IS NULL OR f.sent_at <= :stale_before
ORDER BY a.seq
LIMIT :room
"""

_RANKS_FROM = "SELECT (SELECT MIN(rank) FROM {alerts}), (SELECT MAX(rank) FROM {alerts})"

WAITING_FROM = """
SELECT 1 FROM {alerts} AS a LEFT JOIN in_flight AS f ON f.id = a.id
WHERE f.id IS NULL ORDER BY a.seq DESC LIMIT 1
"""
"""A stored alert that is not on the wire, if any: newest first, where one waits in a burst."""

MARK_FROM = "INSERT OR REPLACE INTO in_flight (id, sent_at) SELECT id, ? FROM {alerts} WHERE id = ?"
DEPTH_FROM = "SELECT COUNT(*) FROM {alerts}"
HELD = """SELECT EXISTS (SELECT id FROM unsaved UNION ALL SELECT id FROM gone
    UNION ALL SELECT device_id FROM unsaved_states)"""
IN_FLIGHT_FROM = "SELECT COUNT(*) FROM in_flight JOIN {alerts} USING (id)"

TEMP_TABLES = (
    ("SELECT id, sent_at FROM in_flight", "INSERT INTO in_flight VALUES (?, ?)"),
    ("SELECT * FROM unsaved", "INSERT INTO unsaved VALUES (?, ?, ?, ?, ?)"),
    ("SELECT * FROM unsaved_states", "INSERT INTO unsaved_states VALUES (?, ?)"),
    ("SELECT id FROM gone", "INSERT INTO gone VALUES (?)"),
)
"""What is only in memory, carried over to a new connection (``Outbox._keep_file``,
``Outbox._move_to_memory``)."""
SALVAGE = (
    (
        "SELECT id, device_id, rank, body FROM alerts ORDER BY seq",
        "INSERT OR IGNORE INTO alerts (id, device_id, rank, body) VALUES (?, ?, ?, ?)",
    ),
    (
        "SELECT device_id, state FROM device_states",
        "INSERT OR IGNORE INTO device_states (device_id, state) VALUES (?, ?)",
    ),
)
"""What is read out of a damaged outbox file into the new one, at start or (into memory) while
the edge runs (the alerts first)."""

DUE = _DUE_FROM.format(alerts="alerts")

Source = Literal["alerts", "queued"]
"""Where the waiting alerts are: the table, or (while some could not be written) the view."""


def due_rows(
    db: sqlite3.Connection, stale_before: float, limit: int, source: Source = "alerts"
) -> list[tuple[str, str]]:
    """Return (id, body) of the alerts due, as many as the window of ``limit`` has room for.

    An alert sent after ``stale_before`` still takes up room; one sent before is due again.
    """
    (fresh,) = db.execute(
        "SELECT COUNT(*) FROM in_flight WHERE sent_at > ?", (stale_before,)
    ).fetchone()
    room = limit - fresh
    if room <= 0:
        return []
    low, high = db.execute(_RANKS_FROM.format(alerts=source)).fetchone()
    if low is None:
        return []
    # One rank throughout (a burst of one kind, nearly always): every device's most urgent
    # alert ranks alike, so the order is the insertion order, read from the front until the
    # window is full, instead of ranking and sorting the whole outbox at every send.
    due = _DUE_IN_ORDER_FROM if low == high else _DUE_FROM
    query = due.format(alerts=source)
    return db.execute(query, {"stale_before": stale_before, "room": room}).fetchall()
