"""SQLite's writers in one hub process take turns, alarms first.

SQLite has one writer at a time. A writer that finds the write lock taken waits in SQLite's
busy handler, which polls: it sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100 ms … and
tries again, and whoever tries at the right moment wins. When the hub records a storm's
readings (the history writer's and the readings lane's transactions back to back), an alert's
intake lost that race again and again: an SOS raised just after a burst of 20,000 alarms waited
45–180 ms for the lock, where each of the transactions ahead of it held it for about 10 ms.

So the writers of one process wait for their turn here, before ``BEGIN IMMEDIATE``: a waiting
writer is woken the moment the lock is free, and an urgent one goes before every routine one
(readings, history, console actions) that waits. Urgent are the alert intake and whatever else
the ingest loop waits for (an edge's status): while the loop waits, so do the alerts behind it.
SQLite's own busy handler still arbitrates between processes (a ``linli`` command writing to a
running hub's database).

PostgreSQL needs none of this: its writers wait for the row locks they need, in a queue.
"""

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError


class WriteTurns:
    """The writers of one SQLite database in this process, one at a time, urgent ones first."""

    def __init__(self, timeout_s: float) -> None:
        self._timeout_s = timeout_s
        self._changed = threading.Condition()
        self._writing = False
        self._urgent_waiting = 0
        self._waiting = 0

    @property
    def waiting(self) -> int:
        """Return how many writers wait for their turn."""
        return self._waiting

    @contextmanager
    def turn(self, *, urgent: bool = False) -> Iterator[None]:
        """Wait for this writer's turn and hold it until the block ends.

        Raise ``OperationalError`` ("database is locked", as SQLite would) if the turn does
        not come within the timeout: a writer that never finishes must not hang the others.
        """
        deadline = time.monotonic() + self._timeout_s
        with self._changed:
            self._waiting += 1
            if urgent:
                self._urgent_waiting += 1
            try:
                while self._writing or (not urgent and self._urgent_waiting):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise OperationalError(
                            "BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked")
                        )
                    self._changed.wait(remaining)
            finally:
                self._waiting -= 1
                if urgent:
                    self._urgent_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._changed:
                self._writing = False
                self._changed.notify_all()


_TURNS: dict[str, WriteTurns] = {}
_TURNS_LOCK = threading.Lock()


def write_turns(engine: Engine, timeout_s: float) -> WriteTurns | None:
    """Return the turns of ``engine``'s SQLite database (one per file in this process,
    whatever the number of engines on it), or None for PostgreSQL."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:":
        key = f"memory:{id(engine)}"
    else:
        key = os.path.realpath(database)
    with _TURNS_LOCK:
        return _TURNS.setdefault(key, WriteTurns(timeout_s))
