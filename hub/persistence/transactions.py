"""What every hub repository shares: transactions, clock, dialect upsert, site scoping of a
query, audit append.

A repository method is one transaction: ``Database.reading()`` for reads (lock-free under
SQLite's WAL), ``Database.writing()`` for writes (SQLite's write lock taken up front). Every
writing transaction ends by chaining the audit records it queued with ``audit`` onto the
hash-chained trail (``hub.audit.chain``), after taking the chain head's row lock: it is the
last lock a transaction takes, so two hub workers never wait for each other in a circle.

Two guarantees hold even when several hub workers share one PostgreSQL database: every
stored alert, case decision and human action is appended to the trail in the same
transaction that made it, and the chain never forks (appends take turns on the head row).
"""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import (
    Engine,
    Select,
    Table,
    func,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from hub.audit.acting import attributed
from hub.audit.chain import AuditEntry, AuditRecord, chain
from hub.errors import NotFoundError
from hub.persistence.bulk import insert_rows, pg_insert_rows_when, run_riders, take_riders
from hub.persistence.engine import SQLITE_BUSY_TIMEOUT_MS, SQLITE_WRITE_OPTION
from hub.persistence.tables import (
    AlertRow,
    AuditEntryRow,
    AuditHeadRow,
    CaseEventRow,
    CaseMemberRow,
    CaseRow,
    CaseTimerRow,
    DeviceRow,
    EdgeRow,
    HouseholdDeviceRow,
    HouseholdRow,
    NotificationRow,
    SilenceRow,
)
from hub.persistence.write_turns import write_turns

Clock = Callable[[], datetime]
Q = TypeVar("Q", bound=Select[Any])
R = TypeVar("R")

AUDIT_HEAD_ID = 1
"""The one row of ``audit_head``: the chain's last sequence number and hash."""
_AUDIT_KEY = "linli_audit"
"""Key in ``Session.info`` of the audit records a transaction appends when it commits."""
_ENTRY_COLUMNS = tuple(field.name for field in fields(AuditEntry))


def utc_now() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def clean(value: str) -> str:
    """Return free text as every database stores it: PostgreSQL refuses NUL characters."""
    return value.replace("\x00", "")


def clean_or_none(value: str | None) -> str | None:
    """Return ``clean(value)``, or None for None."""
    return None if value is None else clean(value)


def get_existing(
    session: Session,
    table: type[R],
    key: object,
    missing: str,
    *,
    lock: bool = False,
    key_share: bool = False,
) -> R:
    """Return the row of ``table`` whose primary key is ``key``, locked for update with
    ``lock``; raise NotFoundError saying ``missing`` when there is none. ``key_share``: locked
    FOR NO KEY UPDATE (PostgreSQL), for a change that keeps the key, so that another
    transaction's insert of a row referring to it need not wait."""
    row = session.get(table, key, with_for_update={"key_share": True} if key_share else lock)
    if row is None:
        raise NotFoundError(missing)
    return row


def of_sites(
    query: Q,
    column: InstrumentedAttribute[str],
    site_id: str | None = None,
    sites: frozenset[str] | None = None,
) -> Q:
    """Return ``query`` limited to the rows whose ``column`` (a site's id) is ``site_id`` and is
    one of ``sites``, each if given: ``sites`` is a caller's scope, None for every site."""
    if site_id is not None:
        query = query.where(column == site_id)
    if sites is not None:
        query = query.where(column.in_(sorted(sites)))
    return query


def upsert_insert(session: Session, table: Any) -> Any:
    """Return an INSERT for ``table`` that supports ``ON CONFLICT`` in the session's dialect."""
    # Both dialects spell INSERT ... ON CONFLICT the same way, from different modules.
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"the hub does not support {dialect} databases")


def audit(session: Session, record: AuditRecord) -> None:
    """Queue an audit record; it is chained and stored when the writing transaction ends.

    It names the API token the request acts with, if its actor is that token's name
    (``hub.audit.acting``).
    """
    session.info.setdefault(_AUDIT_KEY, []).append(attributed(record))


class AuditHead:
    """The chain head this process last wrote or read: a guess that the database checks.

    With it an append needs no read of the head first: it moves the head with one UPDATE
    that matches only if the head is still the one guessed (a compare-and-swap), then
    inserts its entries. Another hub worker (or another store in this process) that
    appended since, a transaction that rolled back, a head edited by hand: the UPDATE
    matches nothing, and the append reads the head, locked, as it would without a guess.
    So the guess can be stale but never forks the chain.
    """

    def __init__(self) -> None:
        self.last: tuple[int, str] | None = None


_MOVE_HEAD_SQL = (
    "UPDATE audit_head SET seq = :new_seq, hash = :new_hash"
    " WHERE id = :head_id AND seq = :old_seq AND hash = :old_hash"
)
"""Move the chain head if it is still the one guessed."""
_MOVE_HEAD = text(_MOVE_HEAD_SQL)
"""SQLite: the move on its own (built once: a statement built per transaction cost a
twentieth of a one-alert intake)."""
_PG_MOVE_HEAD = f"moved AS ({_MOVE_HEAD_SQL} RETURNING id)"
_PG_HEAD_MOVED = "EXISTS (SELECT FROM moved)"
"""PostgreSQL: the same move as the ``WITH`` clause of the entries' insert, and its test."""
_ENTRIES = cast(Table, AuditEntryRow.__table__)


def append_audit(
    session: Session, records: list[AuditRecord], head: AuditHead | None = None
) -> None:
    """Chain ``records`` onto the audit trail inside ``session``'s transaction.

    Call it last in the transaction: the chain head is then the last lock it takes. With a
    ``head`` guess (``AuditHead``), the head is moved first and read only if it moved. On
    PostgreSQL that statement also carries the transaction's writes left for it
    (``hub.persistence.bulk.take_riders``); otherwise they run first, on their own.
    """
    guess = head.last if records and head is not None else None
    if guess is not None:
        assert head is not None
        entries = chain(records, *guess)
        session.flush()  # the transaction's other rows first: the head is its last lock
        move = {
            "head_id": AUDIT_HEAD_ID,
            "old_seq": guess[0],
            "old_hash": guess[1],
            "new_seq": entries[-1].seq,
            "new_hash": entries[-1].hash,
        }
        if session.get_bind().dialect.name == "postgresql":
            # The carried writes, the head moved and the entries inserted: one statement. The
            # writes run whether the head moved or not; the entries only if it did.
            riders, carried = take_riders(session)
            moved = pg_insert_rows_when(
                session,
                _ENTRIES,
                _entry_rows(entries),
                f"{riders}, {_PG_MOVE_HEAD}" if riders else _PG_MOVE_HEAD,
                _PG_HEAD_MOVED,
                {**move, **carried},
            ) == len(entries)
        else:
            moved = session.connection().execute(_MOVE_HEAD, move).rowcount == 1
            if moved:
                _insert_entries(session, entries)
        if moved:
            head.last = (entries[-1].seq, entries[-1].hash)
            return
    run_riders(session)  # none left if the guess's statement carried them
    if not records:
        return
    # The row lock makes appends from several hub workers take turns (SQLite's writers
    # already do): each sees the head the previous one committed, so the chain never forks.
    row = session.scalars(
        select(AuditHeadRow)
        .where(AuditHeadRow.id == AUDIT_HEAD_ID)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    entries = chain(records, row.seq, row.hash)
    _insert_entries(session, entries)
    row.seq, row.hash = entries[-1].seq, entries[-1].hash
    session.flush()
    if head is not None:
        head.last = (row.seq, row.hash)


def _insert_entries(session: Session, entries: list[AuditEntry]) -> None:
    insert_rows(session, _ENTRIES, _entry_rows(entries))


def _entry_rows(entries: list[AuditEntry]) -> list[dict[str, Any]]:
    # An entry's fields are the table's columns, name for name. Read one by one, not with
    # ``asdict``: it deep-copies every detail dict (a tenth of a drain's ingest).
    return [{name: getattr(e, name) for name in _ENTRY_COLUMNS} for e in entries]


class Database:
    """One hub database: its engine, the injected clock, and its transactions."""

    def __init__(self, engine: Engine, *, clock: Clock = utc_now) -> None:
        self.engine = engine
        self.clock = clock
        self.dialect = engine.dialect.name
        self._write_engine = engine.execution_options(**{SQLITE_WRITE_OPTION: True})
        self._turns = write_turns(engine, SQLITE_BUSY_TIMEOUT_MS / 1000)
        self._audit_head = AuditHead()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """Open a read transaction."""
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def writing(self, *, urgent: bool = False) -> Iterator[Session]:
        """Open a write transaction that appends its queued audit records when it ends.

        On SQLite it first waits for its turn among this process's writers
        (``hub.persistence.write_turns``); an ``urgent`` one (alerts) goes first.
        """
        with (
            self._turn(urgent=urgent),
            Session(self._write_engine, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session
            # Last, so the chain head is the last lock the transaction takes (no deadlock).
            append_audit(session, session.info.pop(_AUDIT_KEY, []), self._audit_head)

    def inserting(self, work: Callable[[Session], R]) -> R:
        """Run ``work`` in a write transaction; once more if an insert of its lost a race.

        For work that reads whether a record exists and inserts it if not (a create, or a
        create-or-replace): another transaction may insert the same key after the read found
        none. PostgreSQL makes the insert wait for that transaction, then fails it on the key.
        The second run finds the row and does what it does when the record exists (replaces
        it, or refuses a second create), as if it had come second; an error that was not that
        race comes again and is raised. (SQLite's one writer never lets two overlap.)
        """
        try:
            with self.writing() as session:
                return work(session)
        except IntegrityError:
            with self.writing() as session:
                return work(session)

    def _turn(self, *, urgent: bool) -> AbstractContextManager[None]:
        return nullcontext() if self._turns is None else self._turns.turn(urgent=urgent)

    def count_rows(self) -> dict[str, int]:
        """Return the number of rows in each table (for health checks and tests)."""
        tables = {
            "devices": DeviceRow,
            "alerts": AlertRow,
            "cases": CaseRow,
            "case_members": CaseMemberRow,
            "case_events": CaseEventRow,
            "audit_log": AuditEntryRow,
            "case_timers": CaseTimerRow,
            "notifications": NotificationRow,
            "silences": SilenceRow,
            "edges": EdgeRow,
            "households": HouseholdRow,
            "household_devices": HouseholdDeviceRow,
        }
        with self.reading() as session:
            return {
                name: session.scalar(select(func.count()).select_from(model)) or 0
                for name, model in tables.items()
            }
