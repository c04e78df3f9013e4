"""What the outbox keeps in memory while its disk fails: the SQL of ``edge.outbox``'s (f), (g).

Plain statements on one outbox connection, no locks and no state: ``edge.outbox.Outbox``
decides when each runs (under its lock, in its transactions) and logs it.
"""

import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

from edge.outbox_queries import SALVAGE, SCHEMA, SCHEMA_VERSION, TEMP_TABLES, WAITING_FROM
from edge.sqlite_tx import copy_rows, open_store

AlertRow = tuple[str, str, int, str]
"""An alert as stored: id, device id, forwarding rank, JSON body."""


def spill(db: sqlite3.Connection, states: Mapping[str, str], rows: Sequence[AlertRow]) -> None:
    """Keep states and alerts the disk refused in the TEMP tables (``unsaved*``)."""
    db.executemany(
        "INSERT INTO unsaved_states (device_id, state) VALUES (?, ?) "
        "ON CONFLICT (device_id) DO UPDATE SET state = excluded.state",
        list(states.items()),
    )
    db.executemany(
        "INSERT OR IGNORE INTO unsaved (id, device_id, rank, body) VALUES (?, ?, ?, ?)",
        rows,
    )


def write_back(db: sqlite3.Connection) -> None:
    """Store what ``spill`` and ``forget`` kept in memory, within a write transaction."""
    db.execute("DELETE FROM main.alerts WHERE id IN (SELECT id FROM gone)")
    db.execute(
        "INSERT OR IGNORE INTO main.alerts (id, device_id, rank, body) "
        "SELECT id, device_id, rank, body FROM unsaved ORDER BY seq"
    )
    db.execute(
        "INSERT INTO main.device_states (device_id, state) "
        "SELECT device_id, state FROM unsaved_states WHERE true "
        "ON CONFLICT (device_id) DO UPDATE SET state = excluded.state"
    )
    db.execute("DELETE FROM gone")
    db.execute("DELETE FROM unsaved")
    db.execute("DELETE FROM unsaved_states")


def forget(db: sqlite3.Connection, rows: Sequence[tuple[str]]) -> tuple[int, bool]:
    """Settle acknowledged alerts in memory (``gone``) and return how many were stored and
    whether one waits that is not on the wire, as ``Outbox.settle``."""
    deleted = db.executemany(
        "INSERT OR IGNORE INTO gone (id) SELECT id FROM main.alerts WHERE id = ?", rows
    ).rowcount
    deleted += db.executemany("DELETE FROM unsaved WHERE id = ?", rows).rowcount
    db.executemany("DELETE FROM in_flight WHERE id = ?", rows)
    waiting = db.execute(WAITING_FROM.format(alerts="queued")).fetchone() is not None
    return deleted, waiting


def written_again(
    db: sqlite3.Connection,
    path: Path,
    *,
    sync: Literal["full", "normal"],
    error: type[Exception],
) -> sqlite3.Connection:
    """Write the outbox of ``db`` to a new file at ``path`` and return its connection, with
    what only ``db``'s memory holds; ``db`` is left open. Raises ``OSError``,
    ``sqlite3.Error`` or ``error``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db.execute("VACUUM INTO ?", (str(path),))
    new = open_store(
        path, sync=sync, schema=SCHEMA, version=SCHEMA_VERSION, error=error, what="outbox"
    )
    copy_rows(db, new, TEMP_TABLES)
    return new


def into_memory(
    db: sqlite3.Connection, *, sync: Literal["full", "normal"], error: type[Exception]
) -> tuple[sqlite3.Connection, int]:
    """Return an outbox in memory with what ``db`` (its file refusing reads) still gives, and
    how many stored alerts that was; ``db`` is left open. Raises ``error``.

    The stored alerts first, read up to the first damaged page, then all that memory held (on
    the wire, kept, acknowledged), applied as a write-back applies it.
    """
    new = open_store(
        Path(":memory:"),
        sync=sync,
        schema=SCHEMA,
        version=SCHEMA_VERSION,
        error=error,
        what="outbox",
    )
    kept = copy_rows(db, new, SALVAGE)[0]
    copy_rows(db, new, TEMP_TABLES)
    write_back(new)
    # Alerts the file no longer gives are not on the wire: they would hold the window until a
    # reconnect (after an ack, every alert on the wire counts as fresh).
    new.execute("DELETE FROM in_flight WHERE id NOT IN (SELECT id FROM main.alerts)")
    return new, kept
