"""A take's many rows in one statement per dialect: inserted, inserted if new, updated by key.

The ingest writes hundreds of rows per take (alerts, audit entries, case history lines, the
alerts' cases). SQLAlchemy's per-row and per-parameter machinery cost more than the database's
own work for them, so these helpers build their statement once per dialect, table and columns
and hand the values to the driver in the form each dialect takes fastest:

* SQLite: through the driver, each value converted by its column type's own converter
  (``bind_processor``), so a row is stored exactly as SQLAlchemy would store it;
* PostgreSQL: all the rows as one JSON text (``hub.persistence.json_text``), read into the
  table's own column types by ``json_to_recordset``. One text parameter, which a C encoder
  writes, timestamps included, and psycopg passes on as it is. Arrays per column (``unnest``,
  the way before) had psycopg dump every element in Python and escape each string with a
  regular expression, a quarter of the hub's CPU in a burst.

On PostgreSQL a write may also be left for the transaction's last statement to carry, as a
data-modifying ``WITH`` clause (``insert_rows_later``, ``update_rows_later``): a round trip less
each, for writes nothing in the transaction reads after (the intake's alerts' cases and history
lines, carried by the audit trail's append).

Timestamps are refused if naive, as ``UTCDateTime`` refuses them; a value no converter or JSON
takes fails as a ``StatementError``, so callers tell bad data from a failed database by it.
Rows that leave out a column with a Python-side default are refused: SQLAlchemy would fill it,
these statements would store NULL.
"""

import functools
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Dialect, Table, TextClause, event, text
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from hub.persistence.json_text import json_text
from hub.persistence.tables import NAIVE_DATETIME, UTCDateTime

Row = dict[str, Any]

_SQLITE_ROWS_PER_INSERT = 500
"""Rows in one multi-row INSERT … RETURNING on SQLite (its limit is 32,766 parameters)."""

_Converter = Callable[[Any], Any] | None
_Converters = tuple[tuple[str, _Converter], ...]

_P = ParamSpec("_P")
_R = TypeVar("_R")
_MEMO = "_linli_bulk_statements"


def _per_dialect(
    build: Callable[Concatenate[Dialect, _P], _R],
) -> Callable[Concatenate[Dialect, _P], _R]:
    """``functools.cache`` for what is built for one dialect, kept on the dialect itself: an
    engine's statements go when the engine goes. (A cache of the module's, keyed by the
    dialect, held every engine a process ever made: tens of thousands of objects each.)"""

    @functools.wraps(build)
    def cached(dialect: Dialect, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        memo: dict[Any, Any] = dialect.__dict__.setdefault(_MEMO, {})
        key = (build, args, *sorted(kwargs.items())) if kwargs else (build, args)
        if key not in memo:
            memo[key] = build(dialect, *args, **kwargs)
        result: _R = memo[key]
        return result

    return cached


def insert_new_rows(session: Session, table: Table, key: str, rows: list[Row]) -> Any:
    """Insert the ``rows`` whose ``key`` is not stored yet; return a result of their keys.

    The rows all have the same columns; the keys returned are those of the rows inserted,
    the others were there already: ``ON CONFLICT (key) DO NOTHING RETURNING key``, one
    statement for PostgreSQL, multi-row VALUES of up to ``_SQLITE_ROWS_PER_INSERT`` rows for
    SQLite (as SQLAlchemy's "insertmanyvalues" would).
    """
    dialect = session.get_bind().dialect
    columns = tuple(rows[0])
    conflict = f" ON CONFLICT ({_quote(dialect, key)}) DO NOTHING RETURNING {_quote(dialect, key)}"
    if dialect.name == "postgresql":
        return session.execute(*_pg_insert(dialect, table, rows, conflict)).scalars()
    sql, converters = _sqlite_insert(dialect, table, columns)
    connection = session.connection()
    values = _sqlite_values(converters, rows)
    inserted: list[Any] = []
    for start in range(0, len(values), _SQLITE_ROWS_PER_INSERT):
        chunk = values[start : start + _SQLITE_ROWS_PER_INSERT]
        rows_sql = ", ".join([_placeholders(len(columns))] * len(chunk))
        flat = tuple(value for row in chunk for value in row)
        inserted += connection.exec_driver_sql(sql + rows_sql + conflict, flat).scalars().all()
    return inserted


def pg_insert_new_rows_reading(
    session: Session, table: Table, key: str, rows: list[Row], read: str, params: Row
) -> tuple[list[Any], list[Any]]:
    """PostgreSQL only: ``insert_new_rows``, and the one-column SELECT ``read`` (``params``
    bind its values) run by the same statement; return the keys inserted and the values read.

    A round trip less for a read that would otherwise follow the insert. ``read`` sees the
    database as the statement began: none of the rows it inserts, everything committed before
    it (READ COMMITTED takes each statement's snapshot afresh, after the locks taken before).
    """
    dialect = session.get_bind().dialect
    statement, stamped = _pg_insert_reading(dialect, table, tuple(rows[0]), key, read)
    found = session.execute(statement, {**params, "rows": _pg_rows_json(rows, stamped)}).all()
    return [value for inserted, value in found if inserted], [
        value for inserted, value in found if not inserted
    ]


@_per_dialect
def _pg_insert_reading(
    dialect: Dialect, table: Table, columns: tuple[str, ...], key: str, read: str
) -> tuple[TextClause, tuple[str, ...]]:
    sql, stamped = _pg_insert_select(dialect, table, columns)
    name = _quote(dialect, key)
    # Names from the table's metadata, quoted; ``read`` is the caller's constant SQL; every
    # value is a bound parameter.
    return text(
        f"WITH inserted AS ({sql} ON CONFLICT ({name}) DO NOTHING RETURNING {name}) "  # noqa: S608
        f"SELECT true, {name} FROM inserted UNION ALL SELECT false, * FROM ({read}) AS read"
    ), stamped


def insert_rows(
    session: Session, table: Table, rows: list[Row], *, skip_existing: bool = False
) -> None:
    """Insert ``rows``, all with the same columns, in their order: one statement per batch
    (an ``executemany`` through the driver on SQLite). ``skip_existing``: a row whose key, or
    any unique column, is stored already is left out (``ON CONFLICT DO NOTHING``)."""
    if not rows:
        return
    dialect = session.get_bind().dialect
    conflict = " ON CONFLICT DO NOTHING" if skip_existing else ""
    if dialect.name == "postgresql":
        session.execute(*_pg_insert(dialect, table, rows, conflict))
        return
    sql, converters = _sqlite_insert(dialect, table, tuple(rows[0]))
    session.connection().exec_driver_sql(
        sql + _placeholders(len(converters)) + conflict, _sqlite_values(converters, rows)
    )


def pg_insert_rows_when(
    session: Session, table: Table, rows: list[Row], before: str, when: str, params: Row
) -> int:
    """PostgreSQL only: insert ``rows`` if ``when`` holds after the data-modifying ``WITH``
    clause ``before`` ran, both in one statement (``params`` bind their values); return the
    number of rows inserted (all or none).

    For a write whose rows depend on another that must succeed first (the audit trail's head
    moved, then its entries), without a round trip between them.
    """
    statement, stamped = _pg_insert_when(
        session.get_bind().dialect, table, tuple(rows[0]), before, when
    )
    result = session.execute(statement, {**params, "rows": _pg_rows_json(rows, stamped)})
    return int(getattr(result, "rowcount", 0))


@_per_dialect
def _pg_insert_when(
    dialect: Dialect, table: Table, columns: tuple[str, ...], before: str, when: str
) -> tuple[TextClause, tuple[str, ...]]:
    sql, stamped = _pg_insert_select(dialect, table, columns)
    return text(f"WITH {before} {sql} WHERE {when}"), stamped


Key = str | tuple[str, ...]
"""The column, or columns, that name a row to update (its primary key)."""


def _key_columns(key: Key) -> tuple[str, ...]:
    return (key,) if isinstance(key, str) else key


def update_rows(session: Session, table: Table, key: Key, rows: list[Row]) -> None:
    """Set the other columns of each row where ``key`` (a column, or several) matches: one
    statement per batch on PostgreSQL (an executemany is a statement per row for the server to
    run), one ``executemany`` through the driver on SQLite."""
    if not rows:
        return
    dialect = session.get_bind().dialect
    columns = tuple(rows[0])
    keys = _key_columns(key)
    if dialect.name == "postgresql":
        statement, stamped = _pg_recordset_update(dialect, table, keys, columns)
        session.execute(statement, {"rows": _pg_rows_json(rows, stamped), "count": len(rows)})
        return
    changed = tuple(name for name in columns if name not in keys)
    converters = _sqlite_converters(dialect, table, (*changed, *keys))
    assignments = ", ".join(f"{_quote(dialect, c)} = ?" for c in changed)
    where = " AND ".join(f"{_quote(dialect, k)} = ?" for k in keys)
    sql = f"UPDATE {_quote(dialect, table.name)} SET {assignments} WHERE {where}"  # noqa: S608
    session.connection().exec_driver_sql(sql, _sqlite_values(converters, rows))


Rider = tuple[str, Row]
"""A data-modifying statement for a ``WITH`` clause of the transaction's last statement: its
SQL and its parameters (named apart from every other rider's)."""
_RIDERS = "linli.bulk.riders"


def insert_rows_later(session: Session, table: Table, rows: list[Row]) -> None:
    """``insert_rows``, on PostgreSQL carried by the transaction's last statement (see
    ``take_riders``) instead of a round trip now; at once on SQLite, where a statement costs
    no round trip. The transaction must not read these rows after."""
    if not rows:
        return
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        insert_rows(session, table, rows)
        return
    riders, prefix = _riders(session)
    sql, stamped = _pg_insert_select(dialect, table, tuple(rows[0]), prefix)
    riders.append((sql, {f"{prefix}rows": _pg_rows_json(rows, stamped)}))


def update_rows_later(session: Session, table: Table, key: Key, rows: list[Row]) -> None:
    """``update_rows``, carried as ``insert_rows_later`` is. The transaction must not read
    these rows after."""
    if not rows:
        return
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        update_rows(session, table, key, rows)
        return
    riders, prefix = _riders(session)
    sql, stamped = _pg_update_sql(dialect, table, _key_columns(key), tuple(rows[0]), prefix)
    riders.append(
        (sql, {f"{prefix}rows": _pg_rows_json(rows, stamped), f"{prefix}count": len(rows)})
    )


def _riders(session: Session) -> tuple[list[Rider], str]:
    """Return the transaction's riders so far, and the prefix of the next one's parameters."""
    riders: list[Rider] = session.info.setdefault(_RIDERS, [])
    return riders, f"r{len(riders)}_"


def take_riders(session: Session) -> tuple[str, Row]:
    """Remove and return the writes carried for the transaction's last statement, as the
    clauses of its ``WITH`` (``r0 AS (…), r1 AS (…)``; empty if none) and their parameters.

    PostgreSQL runs every data-modifying statement of a ``WITH`` once and to the end, whether
    or not the main statement reads it, all on one snapshot: so each rider must write rows no
    other part of that statement writes, and nothing of the transaction may read them before.
    The audit trail's append carries them (``hub.persistence.transactions``): one round trip
    for the alerts' cases, the history lines and the trail.
    """
    riders: list[Rider] = session.info.pop(_RIDERS, [])
    clauses = ", ".join(f"r{n} AS ({sql})" for n, (sql, _) in enumerate(riders))
    params = {name: value for _, values in riders for name, value in values.items()}
    return clauses, params


def run_riders(session: Session) -> None:
    """Run the carried writes now, in one statement, if any (a transaction whose last
    statement cannot carry them)."""
    clauses, params = take_riders(session)
    if clauses:
        session.execute(text(f"WITH {clauses} SELECT 1"), params)


@event.listens_for(Session, "before_commit")
def _run_left_riders(session: Session) -> None:
    """A transaction that ends without a statement to carry its riders runs them before it
    commits: a write left for later is never dropped."""
    run_riders(session)


@_per_dialect
def _sqlite_converters(dialect: Dialect, table: Table, columns: tuple[str, ...]) -> _Converters:
    """Return each column's converter from Python to what SQLite stores (None: as it is),
    the column types' own (``bind_processor``)."""
    if dialect.name != "sqlite":
        raise NotImplementedError(f"the hub does not support {dialect.name} databases")
    return tuple(
        (name, table.c[name].type.dialect_impl(dialect).bind_processor(dialect)) for name in columns
    )


@_per_dialect
def _sqlite_insert(
    dialect: Dialect, table: Table, columns: tuple[str, ...]
) -> tuple[str, _Converters]:
    """Return the start of an INSERT of ``columns`` into ``table`` (up to ``VALUES ``) and
    the columns' converters."""
    converters = _sqlite_converters(dialect, table, columns)
    _refuse_defaulted(table, columns)
    names = ", ".join(_quote(dialect, name) for name in columns)
    # Names from the table's own metadata, quoted; every value is a bound parameter.
    return f"INSERT INTO {_quote(dialect, table.name)} ({names}) VALUES ", converters  # noqa: S608


def _sqlite_values(converters: _Converters, rows: list[Row]) -> list[tuple[Any, ...]]:
    """Return each row's values in the column order of ``converters``, converted."""
    try:
        return [
            tuple([row[name] if to_db is None else to_db(row[name]) for name, to_db in converters])
            for row in rows
        ]
    except (TypeError, ValueError) as exc:
        raise StatementError(f"({type(exc).__name__}) {exc}", None, None, exc) from exc


def _pg_insert(
    dialect: Dialect, table: Table, rows: list[Row], conflict: str
) -> tuple[TextClause, dict[str, str]]:
    """Return PostgreSQL's INSERT of ``rows`` (followed by ``conflict``) and its parameter."""
    statement, stamped = _pg_recordset_insert(dialect, table, tuple(rows[0]), conflict)
    return statement, {"rows": _pg_rows_json(rows, stamped)}


@_per_dialect
def _pg_recordset_insert(
    dialect: Dialect, table: Table, columns: tuple[str, ...], conflict: str
) -> tuple[TextClause, tuple[str, ...]]:
    """Return the INSERT … SELECT … FROM json_to_recordset of ``columns`` into ``table``, and
    the columns that hold timestamps (sent as text)."""
    sql, stamped = _pg_insert_select(dialect, table, columns)
    return text(sql + conflict), stamped


@_per_dialect
def _pg_insert_select(
    dialect: Dialect, table: Table, columns: tuple[str, ...], prefix: str = ""
) -> tuple[str, tuple[str, ...]]:
    """Return the SQL of the INSERT … SELECT … FROM json_to_recordset of ``columns`` into
    ``table`` (its parameter ``{prefix}rows``), and the columns that hold timestamps (sent as
    text)."""
    _refuse_defaulted(table, columns)
    record, stamped = _pg_record(dialect, table, columns)
    names = ", ".join(_quote(dialect, name) for name in columns)
    sql = (
        f"INSERT INTO {_quote(dialect, table.name)} ({names}) SELECT {names} "  # noqa: S608
        f"FROM json_to_recordset(CAST(:{prefix}rows AS JSON)) AS r({record})"
    )
    return sql, stamped


@_per_dialect
def _pg_recordset_update(
    dialect: Dialect, table: Table, keys: tuple[str, ...], columns: tuple[str, ...]
) -> tuple[TextClause, tuple[str, ...]]:
    """The UPDATE of ``_pg_update_sql``, as a statement."""
    sql, stamped = _pg_update_sql(dialect, table, keys, columns, "")
    return text(sql), stamped


@_per_dialect
def _pg_update_sql(
    dialect: Dialect, table: Table, keys: tuple[str, ...], columns: tuple[str, ...], prefix: str
) -> tuple[str, tuple[str, ...]]:
    """Return the UPDATE … FROM json_to_recordset that sets the other ``columns`` where the
    ``keys`` match, and the columns that hold timestamps (sent as text).

    Its parameters are ``{prefix}rows`` and ``{prefix}count``. The planner cannot see how many
    rows a ``json_to_recordset`` yields and guesses 100: then a hash join over a sequential scan
    of the whole table looks cheaper than 100 probes of its primary key, and a one-alert take
    scanned every alert stored (a table of 6,400 alerts: 1.4 ms against 0.03). ``LIMIT :count``,
    the number of rows sent, changes nothing of what is updated and tells the planner the count
    (10 % of its guess when a prepared statement's generic plan cannot see the value): the key's
    index, probed once per row.
    """
    record, stamped = _pg_record(dialect, table, columns)
    changed = [name for name in columns if name not in keys]
    assignments = ", ".join(f"{_quote(dialect, c)} = r.{_quote(dialect, c)}" for c in changed)
    where = " AND ".join(
        f"{_quote(dialect, table.name)}.{_quote(dialect, k)} = r.{_quote(dialect, k)}" for k in keys
    )
    sql = (
        f"UPDATE {_quote(dialect, table.name)} SET {assignments} "  # noqa: S608
        f"FROM (SELECT * FROM json_to_recordset(CAST(:{prefix}rows AS JSON)) AS r({record}) "
        f"LIMIT :{prefix}count) AS r WHERE {where}"
    )
    return sql, stamped


@_per_dialect
def _pg_record(
    dialect: Dialect, table: Table, columns: tuple[str, ...]
) -> tuple[str, tuple[str, ...]]:
    """Return the record definition that reads ``columns`` as the table's own types (the text
    of a timestamp, the JSON of a JSON column, a number as a number), and the timestamp
    columns; names from the table's metadata, quoted."""
    record = ", ".join(
        f"{_quote(dialect, name)} {table.c[name].type.compile(dialect)}" for name in columns
    )
    stamped = tuple(name for name in columns if isinstance(table.c[name].type, UTCDateTime))
    return record, stamped


def _pg_rows_json(rows: list[Row], stamped: tuple[str, ...]) -> str:
    """Return the rows as one JSON text, timestamps as RFC 3339 with their offset."""
    try:
        for row in rows:
            for name in stamped:
                value = row[name]
                if value is not None and value.tzinfo is None:
                    raise ValueError(NAIVE_DATETIME)
        return json_text(rows)
    except (TypeError, ValueError) as exc:
        raise StatementError(f"({type(exc).__name__}) {exc}", None, None, exc) from exc


def _refuse_defaulted(table: Table, columns: tuple[str, ...]) -> None:
    """Refuse rows that leave out a column with a Python-side default."""
    defaulted = [c.name for c in table.c if c.name not in columns and c.default is not None]
    if defaulted:
        raise ValueError(f"rows for {table.name} must give {defaulted}: they have defaults")


def _quote(dialect: Dialect, name: str) -> str:
    return dialect.identifier_preparer.quote(name)


def _placeholders(count: int) -> str:
    return "(" + ", ".join(["?"] * count) + ")"
