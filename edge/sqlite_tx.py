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
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Literal, ParamSpec, TypeVar

from pydantic import BaseModel, ValidationError

P = ParamSpec("P")
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

logger = logging.getLogger(__name__)

WAL_LIMIT_BYTES = 4 * 1024 * 1024
"""The size a store's write-ahead log is cut back to after a checkpoint (SQLite checkpoints
at 1000 pages, 4 MiB, by default): a Raspberry Pi's SD card is not left holding the largest
transaction ever written."""


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
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except (OSError, sqlite3.Error) as exc:
        raise error(f"cannot open {what} {path}: {exc}") from exc
    try:
        mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode != "wal" and str(path) != ":memory:":  # a store in memory has no WAL
            raise error(f"{what} {path} cannot use WAL mode (got {mode!r})")
        # FULL fsyncs the WAL on every commit: a committed write survives a power cut.
        db.execute(f"PRAGMA synchronous={'FULL' if sync == 'full' else 'NORMAL'}")
        # TEMP tables (what is on the wire, lost at a restart by design) in memory: in a temp
        # file every send and ack wrote its pages there and truncated it again.
        db.execute("PRAGMA temp_store=MEMORY")
        # A large transaction (a backlog stored or acknowledged at once) grows the WAL to its
        # size, and SQLite would keep that file for good: truncate it after each checkpoint.
        db.execute(f"PRAGMA journal_size_limit={WAL_LIMIT_BYTES}")
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


Copy = tuple[str, str]
"""A read of one database's rows and the write that stores each of them in another."""


def open_recovering(
    path: Path,
    *,
    sync: Literal["full", "normal"],
    schema: str,
    version: int,
    error: type[Exception],
    what: str,
    salvage: Sequence[Copy],
) -> tuple[sqlite3.Connection, bool]:
    """``open_store``, but a file that cannot be used does not stop the edge (which would
    forward no alarm at all): one that is damaged (a power cut mid-write on an SD card) is set
    aside as ``<name>.damaged-<n>`` and a new one started with the rows ``salvage`` can still
    read of it; a disk that cannot be written (read-only, failing) gives a store in memory,
    with the rows the file still holds. Each is logged as an error. Only a file of another
    schema version (a downgrade) still raises. Return the connection and whether it is the
    file at ``path`` (False: in memory).

    A file damaged in one table still opens: ``PRAGMA quick_check`` finds it, and it is set
    aside too. Before, its first read moved the store into memory, and so at every start: the
    edge never wrote that store to disk again (an alarm taken in was lost with a power cut).
    """

    def opened(at: Path) -> sqlite3.Connection:
        return open_store(at, sync=sync, schema=schema, version=version, error=error, what=what)

    try:
        db = opened(path)
    except error as exc:
        if not isinstance(exc.__cause__, sqlite3.DatabaseError | OSError):
            raise
        failure: Exception = exc
        is_damaged = damaged(exc)
    else:
        problem = integrity_problem(db)
        if problem is None:
            return db, True
        db.close()
        failure = error(f"{what} {path} fails its integrity check: {problem}")
        is_damaged = True
    if is_damaged:
        try:
            aside = set_aside(path)
            db = opened(path)
        except (OSError, error):
            pass
        else:
            kept = salvage_from(db, f"{aside.resolve().as_uri()}?mode=ro", salvage)
            logger.error(
                "%s %s was damaged (%s): set aside as %s; %d rows recovered from it",
                what,
                path,
                failure,
                aside.name,
                kept,
            )
            return db, True
    db = opened(Path(":memory:"))
    kept = salvage_from(db, f"{path.resolve().as_uri()}?mode=ro&immutable=1", salvage)
    logger.error(
        "%s %s cannot be used (%s): running with a %s in memory (%d rows read from the file), "
        "lost if the edge stops; repair the disk",
        what,
        path,
        failure,
        what,
        kept,
    )
    return db, False


def integrity_problem(db: sqlite3.Connection) -> str | None:
    """Return the first damage ``PRAGMA quick_check`` finds in a store's file (its pages and
    b-trees; linear in the file's size, a few milliseconds for an edge's stores), or None."""
    try:
        rows = db.execute("PRAGMA quick_check(1)").fetchall()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return None if rows == [("ok",)] else str(rows[0][0])


def salvage_from(db: sqlite3.Connection, uri: str, copies: Sequence[Copy]) -> int:
    """Copy what can still be read of the database at ``uri`` into ``db`` (each read up to
    its first damaged page); return how many rows the first copy took."""
    try:
        old = sqlite3.connect(uri, uri=True)
    except sqlite3.Error:
        return 0
    try:
        return copy_rows(old, db, copies)[0] if copies else 0
    finally:
        old.close()


def copy_rows(
    source: sqlite3.Connection, db: sqlite3.Connection, copies: Sequence[Copy]
) -> list[int]:
    """Run each copy's read on ``source`` and its write on ``db``; a read that fails part way
    keeps the rows before. Return how many rows each copy stored."""
    counts: list[int] = []
    for read, write in copies:
        rows: list[tuple[object, ...]] = []
        with suppress(sqlite3.Error):
            rows.extend(source.execute(read))
        try:
            db.executemany(write, rows)
        except sqlite3.Error:
            rows = []
        counts.append(len(rows))
    return counts


def damaged(exc: Exception) -> bool:
    """Whether a store failed because its file is damaged or not a database at all (the
    ``sqlite3.Error`` that ``exc`` was raised from says)."""
    cause = exc.__cause__
    return isinstance(cause, sqlite3.DatabaseError) and cause.sqlite_errorcode in (
        sqlite3.SQLITE_CORRUPT,
        sqlite3.SQLITE_NOTADB,
    )


_REFUSING = frozenset(
    {
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_CORRUPT,
        sqlite3.SQLITE_NOTADB,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PERM,
    }
)
"""The primary result codes of a disk that refuses a write or a read (full, read-only,
failing, a damaged file or one that is no database any more), as opposed to a statement's own
error (a missing table, a constraint, a syntax error)."""


def refused(exc: Exception) -> bool:
    """Whether the disk refused a store's write or read (full, read-only, I/O error, damaged
    file), unlike a bug in a statement (the ``sqlite3.Error`` that ``exc`` was raised from
    says)."""
    cause = exc.__cause__
    if not isinstance(cause, sqlite3.Error):
        return False
    code = getattr(cause, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _REFUSING


def recovering(
    work: Callable[[], T], error: type[Exception], into_memory: Callable[[Exception], bool]
) -> T:
    """Run a store's ``work``; if its file refuses it (``refused``: full, read-only, an I/O
    error, damaged), move the store into memory (``into_memory``, False if it cannot: already
    there) and run ``work`` there. Any other error raises: a bug in a statement is not hidden.
    The outbox and the door-access store both go on this way."""
    try:
        return work()
    except error as exc:
        if not refused(exc) or not into_memory(exc):
            raise
    return work()


def inode(path: Path) -> int | None:
    """Return the file's inode number, or None if there is no file at ``path``."""
    try:
        return path.stat().st_ino
    except OSError:
        return None


def set_aside(path: Path) -> Path:
    """Rename a damaged store's file (and its WAL and shared memory) out of the way, as
    ``<name>.damaged-<n>``; return its new path."""
    n = 1
    while (aside := path.with_name(f"{path.name}.damaged-{n}")).exists():
        n += 1
    path.rename(aside)
    for suffix in ("-wal", "-shm"):
        part = path.with_name(path.name + suffix)
        if part.exists():
            part.rename(aside.with_name(aside.name + suffix))
    return aside


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
    connection: "sqlite3.Connection | Callable[[], sqlite3.Connection]",
    lock: threading.Lock,
    error: type[Exception],
    what: str,
    *,
    fsync: bool = True,
    immediate: bool = True,
) -> Iterator[sqlite3.Connection]:
    """Run the block in one write transaction; SQLite errors become ``error``.

    ``immediate=False`` begins it deferred, for a block that writes TEMP tables only: it then
    takes no lock on the database file, and works on a disk that refuses every write.

    ``fsync=False`` commits this one transaction at ``synchronous=NORMAL``: in WAL mode it is
    still atomic, but the WAL is not flushed to disk until the next full commit (or
    checkpoint), so a power cut may undo it. Only for writes whose loss is harmless (an
    acknowledged alert's delete: undone, the alert is sent again and the hub ignores it).
    """
    with lock:
        db = _current(connection)
        restore = None if fsync else db.execute("PRAGMA synchronous").fetchone()[0]
        try:
            if restore is not None:
                db.execute("PRAGMA synchronous=NORMAL")
            db.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
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
    connection: "sqlite3.Connection | Callable[[], sqlite3.Connection]",
    lock: threading.Lock,
    error: type[Exception],
    what: str,
) -> Iterator[sqlite3.Connection]:
    """Run the block's reads under the connection's lock; SQLite errors become ``error``."""
    with lock:
        try:
            yield _current(connection)
        except sqlite3.Error as exc:
            raise error(f"{what} read failed: {exc}") from exc


def _current(
    connection: "sqlite3.Connection | Callable[[], sqlite3.Connection]",
) -> sqlite3.Connection:
    """The connection, or the one a store holds now (read under its lock: it may replace it)."""
    return connection if isinstance(connection, sqlite3.Connection) else connection()


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
