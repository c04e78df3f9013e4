"""The edge's durable access data: allow-list, door states and the access-log outbox.

One SQLite file (``access.sqlite3``) in WAL mode with ``synchronous=FULL``.

- ``items``: the allow-list as the hub versioned it (site key and time zone, doors,
  credentials), plus ``meta.version``, both changed in one transaction per update, so an edge
  that restarts holds exactly the version it last acknowledged to itself;
- ``log``: access log records until the hub's ``AccessLogAck`` names them (at-least-once; the
  hub stores each id once), at most ``max_log_records`` of them: a record is shed once that
  many later records have been logged (a circular buffer, as an access panel's event memory;
  only during a hub outage of days, or a reader stuck sending frames), counted
  (``access_log_shed``, in the edge status) and logged once per ``max_log_records`` shed.
  A door alarm (forced, held open, a burst of denials) is an alert in the outbox too, never
  shed with its log record;
- ``doors``: a door monitor's state after a step that raised no alert, in the transaction of
  that step's log records, so a decision costs one commit (one fsync), not two. A step that
  raises an alert stores its state in the alert outbox instead, with the alert; each copy
  carries the door's step count, and the newer one wins at start (``edge.access.control``);
- ``meta.time_floor``: the latest time this edge has known to be true
  (``edge.access.clock_floor``), so a clock set back by a reboot cannot reopen an expired card.

``AllowList`` is the in-memory index the decisions use (by reader, by keyed hash); it is
rebuilt from ``items`` at start and updated after each committed update.

Errors: every ``sqlite3.Error`` is wrapped in ``AccessStoreError``. A read or a write the
file refuses (full, read-only, an I/O error, damaged, no database any more:
``edge.sqlite_tx.refused``) moves the store into memory instead, with what can still be read
(``AccessStore._recovering``), logged as an error and counted (``access_store_refused``); it
stays there until the edge restarts. A door step's record that could not be stored failed the
step, whose device frame was then never acknowledged, and the ingest reconnected for ever with
every alarm of the site behind it; a read that failed (the hub link reads the access log first
thing on every connection) had the link reconnect for ever, the hub never told, until some
write moved the store, and at start stopped the agent. A statement's own error (a bug) still
raises.
"""

import logging
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import TypeAdapter, ValidationError

from devices.access import (
    SITE_KEY,
    AccessBody,
    AccessListUpdate,
    AccessRecord,
    AllowEntry,
    CredentialKind,
    DoorConfig,
    SiteAccess,
    credential_hash,
)
from edge.access.chunks import is_stale
from edge.access.decision import Direction
from edge.sqlite_tx import (
    copy_rows,
    open_recovering,
    open_store,
    read_back,
    reading,
    recovering,
    transaction,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

FILE_NAME = "access.sqlite3"
SCHEMA_VERSION = 1

MAX_LOG_RECORDS = 200_000
"""The default bound of the access log: about 64 MB on the card (320 bytes a record,
measured), a month of a gate passed 2,000 times a day (3 records a passage) with the hub away;
a day of a reader stuck sending two frames a second."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    key TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS doors (door_id TEXT PRIMARY KEY, state TEXT NOT NULL);
"""

_SALVAGE = (
    (
        "SELECT key, version, body FROM items",
        "INSERT OR IGNORE INTO items (key, version, body) VALUES (?, ?, ?)",
    ),
    # Not the allow-list's version: the items read back from a damaged file may lack some, so
    # the edge holds version 0 and is sent a full snapshot at its next sync; until then it
    # decides with what could be read.
    (
        "SELECT key, value FROM meta WHERE key <> 'version'",
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
    ),
    ("SELECT id, body FROM log ORDER BY seq", "INSERT OR IGNORE INTO log (id, body) VALUES (?, ?)"),
    (
        "SELECT door_id, state FROM doors",
        "INSERT OR IGNORE INTO doors (door_id, state) VALUES (?, ?)",
    ),
)
"""What is read out of a damaged (or unwritable) access file into the new one (in memory),
and out of a file the disk stopped taking writes for into the store in memory."""

_BODY: TypeAdapter[AccessBody] = TypeAdapter(AccessBody)


class AccessStoreError(Exception):
    """The access store could not read or write its database."""


class UpdateOutcome(StrEnum):
    """What became of an ``AccessListUpdate``."""

    APPLIED = "applied"
    STALE = "stale"
    """Nothing new: the edge already holds ``to_version`` or later."""
    GAP = "gap"
    """The update starts after the version held: the edge must ask for a catch-up."""


@dataclass(frozen=True, slots=True)
class ReaderRole:
    """The door a reader belongs to, and whether it is the entry or the exit reader."""

    door: DoorConfig
    direction: Direction


class AllowList:
    """The allow-list in memory: what a decision needs, indexed for a constant-time lookup."""

    def __init__(self, version: int = 0, bodies: Iterable[tuple[str, AccessBody]] = ()) -> None:
        self.version = version
        self._bodies: dict[str, AccessBody] = {}
        self.site: SiteAccess | None = None
        self.zone: ZoneInfo | None = None
        self._key = b""
        self.doors: dict[str, DoorConfig] = {}
        self._readers: dict[str, ReaderRole] = {}
        self._by_hash: dict[str, AllowEntry] = {}
        for key, body in bodies:
            self._bodies[key] = body
        self._reindex()

    def __len__(self) -> int:
        return len(self._by_hash)

    def reader(self, reader_id: str) -> ReaderRole | None:
        """Return the door and direction of a reader, None for a reader of no door."""
        return self._readers.get(reader_id)

    def door_of_contact(self, contact_id: str) -> DoorConfig | None:
        """Return the door a contact watches, if any."""
        for door in self.doors.values():
            if door.contact_id == contact_id:
                return door
        return None

    def lookup(self, kind: CredentialKind, value: str) -> tuple[str, AllowEntry | None]:
        """Return the keyed hash of a presented credential and its entry, if any."""
        digest = credential_hash(self._key, kind, value)
        entry = self._by_hash.get(digest)
        return digest, entry if entry is not None and entry.kind is kind else None

    def replace(self, version: int, changes: dict[str, AccessBody | None], *, full: bool) -> None:
        """Apply committed changes (a snapshot replaces everything)."""
        if full:
            self._bodies = {}
        for key, body in changes.items():
            if body is None:
                self._bodies.pop(key, None)
            else:
                self._bodies[key] = body
        self.version = version
        self._reindex()

    def _reindex(self) -> None:
        site = self._bodies.get(SITE_KEY)
        self.site = site if isinstance(site, SiteAccess) else None
        self._key = bytes.fromhex(self.site.hash_key) if self.site else b""
        self.zone = None
        if self.site is not None:
            try:
                self.zone = ZoneInfo(self.site.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                logger.error(
                    "unknown time zone %r for the site: scheduled credentials are refused",
                    self.site.timezone,
                )
        self.doors = {b.id: b for b in self._bodies.values() if isinstance(b, DoorConfig)}
        readers: dict[str, ReaderRole] = {}
        for door in self.doors.values():
            readers[door.reader_id] = ReaderRole(door, Direction.ENTRY)
            if door.exit_reader_id is not None:
                readers[door.exit_reader_id] = ReaderRole(door, Direction.EXIT)
        self._readers = readers
        self._by_hash = {b.hash: b for b in self._bodies.values() if isinstance(b, AllowEntry)}


class AccessStore:
    """The access database of one edge. Thread-safe: every method holds one lock."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        path: Path | None = None,
        *,
        max_log_records: int = MAX_LOG_RECORDS,
    ) -> None:
        """Wrap an open connection (of the file at ``path``; None: in memory); use
        ``AccessStore.open`` instead."""
        if max_log_records < 1:
            raise ValueError(f"the access log's bound must be at least 1, not {max_log_records}")
        self._db = connection
        self._path = path
        self._lock = threading.Lock()
        self.max_log_records = max_log_records
        self.counters: Counter[str] = Counter()
        """``access_store_refused``: the file refused a read or a write, the store moved into
        memory; ``access_log_shed``: records shed to keep the log within its bound
        (``edge.access.control`` hands both on to the agent's counters)."""

    @classmethod
    def open(
        cls,
        path: Path,
        sync: Literal["full", "normal"] = "full",
        *,
        max_log_records: int = MAX_LOG_RECORDS,
    ) -> "AccessStore":
        """Open (or create) the access database at ``path``. A damaged file (a power cut
        mid-write) or a disk that cannot be written does not stop the edge, whose alarms would
        stop with it (``edge.sqlite_tx.open_recovering``): what can be read is kept, and the
        allow-list is fetched whole again."""
        db, on_disk = open_recovering(
            path,
            sync=sync,
            schema=_SCHEMA,
            version=SCHEMA_VERSION,
            error=AccessStoreError,
            what="access store",
            salvage=_SALVAGE,
        )
        return cls(db, path if on_disk else None, max_log_records=max_log_records)

    @property
    def on_disk(self) -> bool:
        """Whether what is stored survives a restart (False: the disk refused it)."""
        return self._path is not None

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    # --- allow-list ---------------------------------------------------------------------

    def load(self) -> AllowList:
        """Return the stored allow-list (items that no longer parse are skipped and logged)."""
        row, rows = self._read(_read_allow_list)
        bodies: list[tuple[str, AccessBody]] = []
        for key, text in rows:
            try:
                bodies.append((key, _BODY.validate_json(text)))
            except ValidationError:
                logger.exception("stored allow-list item %s cannot be read; skipped", key)
        return AllowList(int(row[0]) if row else 0, bodies)

    def apply(self, held: int, update: AccessListUpdate) -> UpdateOutcome:
        """Store an update if it follows the version ``held``; say what happened."""
        if is_stale(update, held):
            return UpdateOutcome.STALE
        if not update.full and update.from_version != held:
            return UpdateOutcome.GAP

        def store(db: sqlite3.Connection) -> None:
            if update.full:
                db.execute("DELETE FROM items")
            for item in update.items:
                if item.body is None:
                    db.execute("DELETE FROM items WHERE key = ?", (item.key,))
                else:
                    db.execute(
                        "INSERT INTO items (key, version, body) VALUES (?, ?, ?) "
                        "ON CONFLICT (key) DO UPDATE SET version = excluded.version, "
                        "body = excluded.body",
                        (item.key, item.version, item.body.model_dump_json()),
                    )
            db.execute(
                "INSERT INTO meta (key, value) VALUES ('version', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(update.to_version),),
            )

        self._write(store)
        return UpdateOutcome.APPLIED

    # --- the time floor ----------------------------------------------------------------

    def load_floor(self) -> datetime | None:
        """Return the stored time floor, None if none was stored (or it cannot be read)."""
        row = self._read(
            lambda db: db.execute("SELECT value FROM meta WHERE key = 'time_floor'").fetchone()
        )
        at = None if row is None else _aware_or_none(row[0])
        if row is not None and at is None:
            logger.error("stored time floor %r cannot be read; ignored", row[0])
        return at

    def save_floor(self, at: datetime) -> None:
        """Store the time floor."""
        self._write(
            lambda db: db.execute(
                "INSERT INTO meta (key, value) VALUES ('time_floor', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (at.isoformat(),),
            )
        )

    # --- the access log -------------------------------------------------------------------

    def record(
        self, records: Sequence[AccessRecord], doors: Sequence[tuple[str, str]] = ()
    ) -> None:
        """Append log records (a record id already stored is ignored) and store door states
        (``(door_id, state_json)``), in one transaction. A record ``max_log_records`` later
        records have followed is shed (see the module)."""

        def store(db: sqlite3.Connection) -> int:
            db.executemany(
                "INSERT OR IGNORE INTO log (id, body) VALUES (?, ?)",
                [(r.id, r.model_dump_json()) for r in records],
            )
            db.executemany(
                "INSERT INTO doors (door_id, state) VALUES (?, ?) "
                "ON CONFLICT (door_id) DO UPDATE SET state = excluded.state",
                doors,
            )
            if not records:
                return 0
            # seq only grows (AUTOINCREMENT): a range of the primary key, no count, no scan.
            return db.execute(
                "DELETE FROM log WHERE seq <= (SELECT MAX(seq) FROM log) - ?",
                (self.max_log_records,),
            ).rowcount

        shed = self._write(store)
        if shed:
            self._count_shed(shed)

    def _count_shed(self, shed: int) -> None:
        """Count records shed; log the first, then once for every further bound's worth."""
        with self._lock:
            before = self.counters["access_log_shed"]
            self.counters["access_log_shed"] += shed
        cap = self.max_log_records
        if before == 0 or before // cap != (before + shed) // cap:
            logger.warning(
                "access log past %d records not acknowledged by the hub: %d oldest records "
                "shed so far (door alarms are kept as alerts)",
                cap,
                before + shed,
            )

    def door_states(self) -> dict[str, str]:
        """Return the door states stored here (JSON), by door id."""
        return dict(
            self._read(lambda db: db.execute("SELECT door_id, state FROM doors").fetchall())
        )

    def pending_log(self, limit: int) -> list[AccessRecord]:
        """Return the oldest records the hub has not acknowledged."""
        rows = self._read(
            lambda db: db.execute(
                "SELECT id, body FROM log ORDER BY seq LIMIT ?", (limit,)
            ).fetchall()
        )
        return read_back(AccessRecord, rows, "access log record")

    def acknowledge(self, ids: Sequence[str]) -> int:
        """Delete the records the hub has committed; return how many were still stored."""
        return self._write(
            lambda db: db.executemany("DELETE FROM log WHERE id = ?", [(i,) for i in ids]).rowcount
        )

    def log_depth(self) -> int:
        """Return how many records wait for the hub's acknowledgement."""
        (count,) = self._read(lambda db: db.execute("SELECT COUNT(*) FROM log").fetchone())
        return int(count)

    def _read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work``'s reads under the lock, recovering from a file that refuses them."""

        def read() -> T:
            with self._reading() as db:
                return work(db)

        return self._recovering(read)

    def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in one write transaction, recovering from a disk that refuses it."""

        def write() -> T:
            with self._transaction() as db:
                return work(db)

        return self._recovering(write)

    def _recovering(self, work: Callable[[], T]) -> T:
        """Run ``work``; if the file refuses it (full, read-only, an I/O error, damaged), move
        the store into memory and run it there: a door's record must not stop the site's
        alarms, nor a failing read the hub link (see the module's docstring). Any other error
        raises, as does a refusal once in memory."""
        failing = self._db
        return recovering(work, AccessStoreError, lambda exc: self._move_to_memory(failing, exc))

    def _move_to_memory(self, failing: sqlite3.Connection, failure: Exception) -> bool:
        """Go on in memory with what the file still gives; False if already in memory. True
        without moving if another call moved it since ``failing`` refused."""
        with self._lock:
            if self._db is not failing:
                return True
            if self._path is None:
                return False
            try:
                memory = open_store(
                    Path(":memory:"),
                    sync="normal",
                    schema=_SCHEMA,
                    version=SCHEMA_VERSION,
                    error=AccessStoreError,
                    what="access store",
                )
            except AccessStoreError:
                return False
            # At allow-list version 0, as a salvaged file (only a restart reads it back: the
            # decisions use the list in memory, whose version the next sync carries on from).
            (items, _meta, records, doors) = copy_rows(self._db, memory, _SALVAGE)
            disk, self._db, path, self._path = self._db, memory, self._path, None
            with suppress(sqlite3.Error):
                disk.close()
            self.counters["access_store_refused"] += 1
        logger.error(
            "access store %s cannot be used (%s): running in memory from now on (%d items, "
            "%d log records, %d door states read from it); what changes is lost if the edge "
            "stops before the hub has it; replace the card and restart the edge",
            path,
            failure,
            items,
            records,
            doors,
        )
        return True

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(lambda: self._db, self._lock, AccessStoreError, "access store")

    def _reading(self) -> AbstractContextManager[sqlite3.Connection]:
        return reading(lambda: self._db, self._lock, AccessStoreError, "access store")


def _read_allow_list(db: sqlite3.Connection) -> tuple[tuple[str] | None, list[tuple[str, str]]]:
    version = db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
    return version, db.execute("SELECT key, body FROM items").fetchall()


def _aware_or_none(text: str) -> datetime | None:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return None
    return at if at.tzinfo is not None else None
