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

import functools
import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import (
    Dialect,
    Engine,
    Select,
    Table,
    TextClause,
    bindparam,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import InstrumentedAttribute, Session

from hub.audit.chain import AuditEntry, AuditRecord, chain
from hub.errors import NotFoundError
from hub.persistence.engine import SQLITE_BUSY_TIMEOUT_MS, SQLITE_WRITE_OPTION
from hub.persistence.tables import (
    NAIVE_DATETIME,
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
    UTCDateTime,
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
    session: Session, table: type[R], key: object, missing: str, *, lock: bool = False
) -> R:
    """Return the row of ``table`` whose primary key is ``key``, locked for update with
    ``lock``; raise NotFoundError saying ``missing`` when there is none."""
    row = session.get(table, key, with_for_update=lock)
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


def insert_new_rows(session: Session, table: Table, key: str, rows: list[dict[str, Any]]) -> Any:
    """Insert the ``rows`` whose ``key`` is not stored yet; return a result of their keys.

    The rows all have the same columns; the keys returned are those of the rows inserted,
    the others were there already.

    One round trip per batch, ``ON CONFLICT (key) DO NOTHING RETURNING key``, with a statement
    built once per dialect, table and columns (building a fresh ``insert().values(...)`` per
    alert cost a third of the hub's CPU in a burst). PostgreSQL gets the rows as one JSON
    text (``_pg_insert``): one parameter, where a multi-row VALUES of a thousand alerts has
    twelve thousand that psycopg parses anew for every batch. SQLite gets multi-row VALUES
    through the driver, up to ``_SQLITE_ROWS_PER_INSERT`` rows a statement, the values
    converted by the column types' own converters (``_sqlite_insert``).
    """
    dialect = session.get_bind().dialect
    columns = tuple(rows[0])
    if dialect.name == "postgresql":
        return session.execute(*_pg_insert(dialect, table, key, rows)).scalars()
    # One multi-row INSERT … RETURNING per chunk, as SQLAlchemy's "insertmanyvalues" would.
    sql, converters = _sqlite_insert(dialect, table, columns)
    conflict = f" ON CONFLICT ({_quote(dialect, key)}) DO NOTHING RETURNING {_quote(dialect, key)}"
    connection = session.connection()
    values = _sqlite_values(converters, rows)
    inserted: list[Any] = []
    for start in range(0, len(values), _SQLITE_ROWS_PER_INSERT):
        chunk = values[start : start + _SQLITE_ROWS_PER_INSERT]
        rows_sql = ", ".join([_placeholders(len(columns))] * len(chunk))
        flat = tuple(value for row in chunk for value in row)
        inserted += connection.exec_driver_sql(sql + rows_sql + conflict, flat).scalars().all()
    return inserted


def insert_rows(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows``, all with the same columns, in their order: one statement per batch.

    For the many rows one ingest batch adds (audit entries, case history lines). PostgreSQL
    gets them as one JSON text (``_pg_insert``): one statement to run, not a thousand
    executions of an ``executemany``; SQLite one ``executemany`` through the driver, the values
    converted by the column types' own converters (``_sqlite_insert``).
    """
    if not rows:
        return
    dialect = session.get_bind().dialect
    columns = tuple(rows[0])
    if dialect.name == "postgresql":
        session.execute(*_pg_insert(dialect, table, None, rows))
        return
    sql, converters = _sqlite_insert(dialect, table, columns)
    session.connection().exec_driver_sql(
        sql + _placeholders(len(columns)), _sqlite_values(converters, rows)
    )


_SQLITE_ROWS_PER_INSERT = 500
"""Rows in one multi-row INSERT … RETURNING on SQLite (its limit is 32,766 parameters)."""

_Converter = Callable[[Any], Any] | None


@functools.cache
def _sqlite_insert(
    dialect: Dialect, table: Table, columns: tuple[str, ...]
) -> tuple[str, tuple[tuple[str, _Converter], ...]]:
    """Return the start of an INSERT of ``columns`` into ``table`` (up to ``VALUES ``) and
    each column's converter from Python to what SQLite stores (None: stored as it is).

    The converters are the column types' own (``bind_processor``), so a row is stored exactly
    as SQLAlchemy would store it; executing through the driver skips SQLAlchemy's per-row,
    per-parameter machinery, which cost more than SQLite's work for the audit entries and
    history lines of a take.
    """
    if dialect.name != "sqlite":
        raise NotImplementedError(f"the hub does not support {dialect.name} databases")
    _refuse_defaulted(table, columns)
    converters = tuple(
        (name, table.c[name].type.dialect_impl(dialect).bind_processor(dialect)) for name in columns
    )
    names = ", ".join(_quote(dialect, name) for name in columns)
    # Names from the table's own metadata, quoted; every value is a bound parameter.
    return f"INSERT INTO {_quote(dialect, table.name)} ({names}) VALUES ", converters  # noqa: S608


def _refuse_defaulted(table: Table, columns: tuple[str, ...]) -> None:
    """Refuse rows that leave out a column with a Python-side default: SQLAlchemy would fill
    it, a statement of our own would store NULL."""
    defaulted = [c.name for c in table.c if c.name not in columns and c.default is not None]
    if defaulted:
        raise ValueError(f"rows for {table.name} must give {defaulted}: they have defaults")


def _quote(dialect: Dialect, name: str) -> str:
    return dialect.identifier_preparer.quote(name)


def _placeholders(count: int) -> str:
    return "(" + ", ".join(["?"] * count) + ")"


def _sqlite_values(
    converters: tuple[tuple[str, _Converter], ...], rows: list[dict[str, Any]]
) -> list[tuple[Any, ...]]:
    """Return each row's values in the column order of ``converters``, converted.

    A value no converter takes (a naive datetime) fails as it would in SQLAlchemy, as a
    ``StatementError``: callers tell bad data from a failed database by that.
    """
    try:
        return [
            tuple([row[name] if to_db is None else to_db(row[name]) for name, to_db in converters])
            for row in rows
        ]
    except (TypeError, ValueError) as exc:
        raise StatementError(f"({type(exc).__name__}) {exc}", None, None, exc) from exc


def _pg_insert(
    dialect: Dialect, table: Table, key: str | None, rows: list[dict[str, Any]]
) -> tuple[TextClause, dict[str, str]]:
    """Return PostgreSQL's INSERT of ``rows`` (all with the same columns) and its parameter:
    the rows as one JSON text, read back into typed columns by ``json_to_recordset``.

    Why JSON: one text parameter, which psycopg hands over as it is, and Python's C encoder
    writes. Arrays per column (``unnest``, the way before) had psycopg dump every element in
    Python and escape each string with a regular expression: a quarter of the hub's CPU in a
    burst on PostgreSQL. Timestamps go as ISO 8601 text with their offset (refused if naive,
    as ``UTCDateTime`` refuses them); JSON columns nest as they are. A naive timestamp or a
    value JSON cannot carry fails as a ``StatementError``: the ingest tells bad data from a
    failed database by it.
    With a ``key``: ``ON CONFLICT (key) DO NOTHING RETURNING key``.
    """
    columns = tuple(rows[0])
    statement, stamped = _pg_recordset_insert(dialect, table, key, columns)
    try:
        if stamped:
            rows = [{**row, **{name: _pg_timestamp(row[name]) for name in stamped}} for row in rows]
        payload = json.dumps(rows, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StatementError(f"({type(exc).__name__}) {exc}", None, None, exc) from exc
    return statement, {"rows": payload}


def _pg_timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(NAIVE_DATETIME)
    return value.isoformat()


@functools.cache
def _pg_recordset_insert(
    dialect: Dialect, table: Table, key: str | None, columns: tuple[str, ...]
) -> tuple[TextClause, tuple[str, ...]]:
    """Return the INSERT … SELECT … FROM json_to_recordset of ``columns`` into ``table``, and
    the columns that hold timestamps (sent as text)."""
    _refuse_defaulted(table, columns)
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(name) for name in columns)
    # Each column read as the table's own type: the text of a timestamp, the JSON of a JSON
    # column, a number as a number; names from the table's metadata, quoted.
    record = ", ".join(f"{quote(name)} {table.c[name].type.compile(dialect)}" for name in columns)
    sql = (
        f"INSERT INTO {quote(table.name)} ({names}) SELECT {names} "  # noqa: S608
        f"FROM json_to_recordset(CAST(:rows AS JSON)) AS r({record})"
    )
    if key is not None:
        sql += f" ON CONFLICT ({quote(key)}) DO NOTHING RETURNING {quote(key)}"
    stamped = tuple(name for name in columns if isinstance(table.c[name].type, UTCDateTime))
    return text(sql), stamped


def audit(session: Session, record: AuditRecord) -> None:
    """Queue an audit record; it is chained and stored when the writing transaction ends."""
    session.info.setdefault(_AUDIT_KEY, []).append(record)


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


_HEAD = cast(Table, AuditHeadRow.__table__)
_MOVE_HEAD = (
    update(_HEAD)
    .where(
        _HEAD.c.id == AUDIT_HEAD_ID,
        _HEAD.c.seq == bindparam("old_seq"),
        _HEAD.c.hash == bindparam("old_hash"),
    )
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)
"""Move the chain head if it is still the one guessed (built once: a statement built per
transaction cost a twentieth of a one-alert intake)."""


def append_audit(
    session: Session, records: list[AuditRecord], head: AuditHead | None = None
) -> None:
    """Chain ``records`` onto the audit trail inside ``session``'s transaction.

    Call it last in the transaction: the chain head is then the last lock it takes. With a
    ``head`` guess (``AuditHead``), the head is moved first and read only if it moved.
    """
    if not records:
        return
    if head is not None and head.last is not None:
        seq, digest = head.last
        entries = chain(records, seq, digest)
        session.flush()  # the transaction's other rows first: the head is its last lock
        new_seq, new_hash = entries[-1].seq, entries[-1].hash
        moved = session.connection().execute(
            _MOVE_HEAD,
            {"old_seq": seq, "old_hash": digest, "new_seq": new_seq, "new_hash": new_hash},
        )
        if moved.rowcount == 1:
            _insert_entries(session, entries)
            head.last = (entries[-1].seq, entries[-1].hash)
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
    insert_rows(
        session,
        cast(Table, AuditEntryRow.__table__),
        # An entry's fields are the table's columns, name for name. Read one by one, not
        # with ``asdict``: it deep-copies every detail dict (a tenth of a drain's ingest).
        [{name: getattr(e, name) for name in _ENTRY_COLUMNS} for e in entries],
    )


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
