"""One way for the edge's SQLite stores to run a transaction or a read on their connection.

The outbox and the access store each keep one connection (autocommit mode, shared by the
event loop's worker threads) behind a lock; both need the same care: ``BEGIN IMMEDIATE`` so a
writer holds the lock from the start, a rollback that never hides the original error, and
SQLite errors wrapped in the store's own exception, and stored JSON rows read back the same
way. Each is used from the event loop through its own ``DatabaseThread``.
"""

import asyncio
import functools
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Literal, ParamSpec, TypeVar

from pydantic import BaseModel, ValidationError

P = ParamSpec("P")
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

logger = logging.getLogger(__name__)


def open_store(
    path: Path,
    *,
    sync: Literal["full", "normal"],
    schema: str,
    version: int,
    error: type[Exception],
    what: str,
) -> sqlite3.Connection:
    """Open (or create) one of the edge's SQLite stores at ``path``: WAL mode, ``sync``,
    ``schema`` applied and its ``version`` checked; every failure is ``error`` naming ``what``.

    Autocommit mode: transactions are explicit (``transaction``'s BEGIN IMMEDIATE … COMMIT).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except (OSError, sqlite3.Error) as exc:
        raise error(f"cannot open {what} {path}: {exc}") from exc
    try:
        mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode != "wal":
            raise error(f"{what} {path} cannot use WAL mode (got {mode!r})")
        # FULL fsyncs the WAL on every commit: a committed write survives a power cut.
        db.execute(f"PRAGMA synchronous={'FULL' if sync == 'full' else 'NORMAL'}")
        # TEMP tables (what is on the wire, lost at a restart by design) in memory: in a temp
        # file every send and ack wrote its pages there and truncated it again.
        db.execute("PRAGMA temp_store=MEMORY")
        found = db.execute("PRAGMA user_version").fetchone()[0]
        if found not in (0, version):
            raise error(f"{what} {path} has schema {found}, expected {version}")
        db.executescript(schema)
        db.execute(f"PRAGMA user_version={version}")
    except (sqlite3.Error, error) as exc:
        db.close()
        if isinstance(exc, error):
            raise
        raise error(f"cannot prepare {what} {path}: {exc}") from exc
    return db


class DatabaseThread:
    """One thread that runs a store's calls in order, so an fsync on a slow SD card never
    stalls the event loop (and with it the broker keepalives)."""

    def __init__(self, name: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` on the thread and return its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def shutdown(self) -> None:
        """Wait for the calls under way, then end the thread."""
        self._executor.shutdown(wait=True)


@contextmanager
def transaction(
    db: sqlite3.Connection,
    lock: threading.Lock,
    error: type[Exception],
    what: str,
    *,
    fsync: bool = True,
) -> Iterator[sqlite3.Connection]:
    """Run the block in one write transaction; SQLite errors become ``error``.

    ``fsync=False`` commits this one transaction at ``synchronous=NORMAL``: in WAL mode it is
    still atomic, but the WAL is not flushed to disk until the next full commit (or
    checkpoint), so a power cut may undo it. Only for writes whose loss is harmless (an
    acknowledged alert's delete: undone, the alert is sent again and the hub ignores it).
    """
    with lock:
        restore = None if fsync else db.execute("PRAGMA synchronous").fetchone()[0]
        try:
            if restore is not None:
                db.execute("PRAGMA synchronous=NORMAL")
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")
        except BaseException as exc:
            if db.in_transaction:
                # The original error matters more than a failed rollback.
                with suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise error(f"{what} write failed: {exc}") from exc
            raise
        finally:
            if restore is not None:
                with suppress(sqlite3.Error):
                    db.execute(f"PRAGMA synchronous={int(restore)}")


@contextmanager
def reading(
    db: sqlite3.Connection, lock: threading.Lock, error: type[Exception], what: str
) -> Iterator[sqlite3.Connection]:
    """Run the block's reads under the connection's lock; SQLite errors become ``error``."""
    with lock:
        try:
            yield db
        except sqlite3.Error as exc:
            raise error(f"{what} read failed: {exc}") from exc


def read_back(model: type[M], rows: Iterable[tuple[str, str]], what: str) -> list[M]:
    """Return the stored JSON ``(id, body)`` rows as ``model``, without those that no longer parse.

    One that does not is logged as ``what`` with its id and left on disk for a person to inspect:
    it never blocks the rows behind it.
    """
    parsed: list[M] = []
    for row_id, body in rows:
        try:
            parsed.append(model.model_validate_json(body))
        except ValidationError:
            logger.exception("%s %s cannot be read back; not sent", what, row_id)
    return parsed
