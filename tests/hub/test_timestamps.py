"""How the hub's rows reach SQLite: its own timestamp text and driver-level inserts must store
exactly what SQLAlchemy's own path stores, or queries comparing the two would miss rows."""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, cast

import psycopg
import psycopg.sql
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    event,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

from devices.kinds import DeviceKind
from hub.audit.chain import AuditRecord
from hub.persistence.bulk import (
    insert_new_rows,
    insert_rows,
    insert_rows_later,
    update_rows,
    update_rows_later,
)
from hub.persistence.engine import create_hub_engine, migrate
from hub.persistence.tables import (
    AlertRow,
    AuditEntryRow,
    EdgeRow,
    UTCDateTime,
    sqlite_utc_text,
)
from hub.persistence.transactions import Database, audit
from hub.store import HubStore
from tests.hub.conftest import migrated_engine
from tests.hub.factories import alert_rows, make_alert, make_device

_SQLITE = sqlite.dialect()
_DECORATED = cast(TypeDecorator[datetime], UTCDateTime().dialect_impl(_SQLITE))
_SQLALCHEMY_TEXT: Callable[[Any], Any] | None = TypeDecorator.bind_processor(_DECORATED, _SQLITE)
"""SQLAlchemy's own chain: ``process_bind_param``, then the SQLite ``DATETIME`` formatter."""

aware = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5, minutes=-30))]
    ),
)


@settings(max_examples=500, deadline=None)
@given(aware)
def test_sqlite_text_is_sqlalchemys_text(value: datetime) -> None:
    assert _SQLALCHEMY_TEXT is not None
    assert sqlite_utc_text(value) == _SQLALCHEMY_TEXT(value)


def test_the_sqlite_processor_is_the_fast_one_and_other_dialects_keep_theirs() -> None:
    assert _DECORATED.bind_processor(_SQLITE) is sqlite_utc_text
    assert sqlite_utc_text(None) is None
    assert sqlite_utc_text(datetime(2025, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=8)))) == (
        "2025-03-01 02:00:00.000000"
    )


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        sqlite_utc_text(datetime(2025, 3, 1, 2, 0))


@pytest.fixture
def two_databases(tmp_path: Path) -> list[Engine]:
    engines = []
    for name in ("driver", "sqlalchemy"):
        engine = create_hub_engine(f"sqlite:///{tmp_path / name}.sqlite3")
        migrate(engine)
        HubStore(engine).fleet.register_device(make_device("gas-1", kind=DeviceKind.GAS))
        engines.append(engine)
    return engines


def _entries(start: int) -> list[dict[str, Any]]:
    return [
        {
            "seq": start + i,
            "ts": datetime(2025, 3, 1, 2, 0, i, i * 1000, tzinfo=timezone(timedelta(hours=8))),
            "action": "alert_stored",
            "case_id": None if i % 2 else i,
            "alert_id": f"a{i}",
            "actor": None,
            "detail": {"kind": "gas", "名": "楼", "n": i, "nested": [1, {"x": None}]},
            "prev_hash": "0" * 64,
            "hash": f"{i:064d}",
        }
        for i in range(3)
    ]


def _stored(engine: Engine, table: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(f"SELECT * FROM {table} ORDER BY 1"))]


def test_driver_inserts_store_what_sqlalchemy_stores(two_databases: list[Engine]) -> None:
    driver, reference = two_databases
    audit_log = cast(Table, AuditEntryRow.__table__)
    alerts = cast(Table, AlertRow.__table__)
    with Session(driver) as session, session.begin():
        insert_rows(session, audit_log, _entries(1))
        first = list(insert_new_rows(session, alerts, "id", alert_rows(["a1", "a2"])))
        # The same ids again with one new: only the new one is inserted and named.
        again = list(insert_new_rows(session, alerts, "id", alert_rows(["a2", "a3", "a1"])))
    with Session(reference) as session, session.begin():
        session.execute(insert(audit_log), _entries(1))
        session.execute(insert(alerts), alert_rows(["a1", "a2", "a3"]))
    assert (first, again) == (["a1", "a2"], ["a3"])
    for table in ("audit_log", "alerts"):
        assert _stored(driver, table) == _stored(reference, table)
    # Read back through the ORM, and found by a bound timestamp, as any query finds them.
    with Session(driver) as session:
        entry = session.scalars(select(AuditEntryRow).where(AuditEntryRow.seq == 2)).one()
        assert entry.ts == datetime(2025, 3, 1, 2, 0, 1, 1000, tzinfo=timezone(timedelta(hours=8)))
        assert entry.detail == _entries(1)[1]["detail"]
        found = session.scalars(select(AuditEntryRow.seq).where(AuditEntryRow.ts >= entry.ts))
        assert list(found) == [2, 3]


def test_a_large_take_is_inserted_in_chunks(two_databases: list[Engine]) -> None:
    driver = two_databases[0]
    ids = [f"a{i:05d}" for i in range(1234)]  # more rows than one INSERT holds
    alerts = cast(Table, AlertRow.__table__)
    with Session(driver) as session, session.begin():
        inserted = list(insert_new_rows(session, alerts, "id", alert_rows(ids)))
    assert sorted(inserted) == ids
    assert len(_stored(driver, "alerts")) == len(ids)


def test_rows_that_leave_out_a_defaulted_column_are_refused(tmp_path: Path) -> None:
    """The driver path would store NULL where SQLAlchemy fills a column's default."""
    metadata = MetaData()
    table = Table(
        "with_default",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("kind", String(8), default="plain"),
    )
    engine = create_hub_engine(f"sqlite:///{tmp_path / 'defaults.sqlite3'}")
    metadata.create_all(engine)
    with Session(engine) as session, session.begin():
        with pytest.raises(ValueError, match="kind"):
            insert_rows(session, table, [{"id": 1}])
        insert_rows(session, table, [{"id": 2, "kind": "given"}])
    assert _stored(engine, "with_default") == [(2, "given")]


@pytest.fixture
def pg_engine(migrated_postgres_url: str) -> Iterator[Engine]:
    for engine in migrated_engine(migrated_postgres_url):
        HubStore(engine).fleet.register_device(make_device("gas-1", kind=DeviceKind.GAS))
        yield engine


def _stored_in(session: Session, table: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in session.execute(text(f"SELECT * FROM {table} ORDER BY 1"))]


def test_postgresql_inserts_store_what_sqlalchemy_stores(pg_engine: Engine) -> None:
    """The rows go to PostgreSQL as one JSON text (``hub.persistence.bulk``): stored as SQLAlchemy's
    own insert stores them (compared in one database: its insert is rolled back first)."""
    audit_log = cast(Table, AuditEntryRow.__table__)
    alerts = cast(Table, AlertRow.__table__)
    with Session(pg_engine) as session:
        session.execute(insert(audit_log), _entries(1))
        session.execute(insert(alerts), alert_rows(["a1", "a2", "a3"]))
        reference = {t: _stored_in(session, t) for t in ("audit_log", "alerts")}
        session.rollback()
    with Session(pg_engine) as session, session.begin():
        insert_rows(session, audit_log, _entries(1))
        first = list(insert_new_rows(session, alerts, "id", alert_rows(["a1", "a2"])))
        again = list(insert_new_rows(session, alerts, "id", alert_rows(["a2", "a3", "a1"])))
    assert (first, again) == (["a1", "a2"], ["a3"])
    with Session(pg_engine) as session:
        assert {t: _stored_in(session, t) for t in reference} == reference
        entry = session.scalars(select(AuditEntryRow).where(AuditEntryRow.seq == 2)).one()
        assert entry.ts == datetime(2025, 3, 1, 2, 0, 1, 1000, tzinfo=timezone(timedelta(hours=8)))
        assert entry.detail == _entries(1)[1]["detail"]


def test_postgresql_inserts_refuse_what_sqlalchemy_refuses(pg_engine: Engine) -> None:
    alerts = cast(Table, AlertRow.__table__)
    naive = alert_rows(["n1"])
    naive[0]["ts"] = datetime(2025, 3, 1, 2, 0)
    unencodable = alert_rows(["u1"])
    unencodable[0]["reason"] = {"rule": "r", "values": {"seen": {1, 2}}}  # a set: not JSON
    with (
        Session(pg_engine) as session,
        session.begin(),
        pytest.raises(StatementError, match="naive"),
    ):
        session.execute(insert(alerts), naive)
    for rows in (naive, unencodable):
        # A StatementError: the ingest tells bad data from a failed database by it.
        with Session(pg_engine) as session, session.begin(), pytest.raises(StatementError):
            insert_new_rows(session, alerts, "id", rows)
    with Session(pg_engine) as session:
        assert _stored_in(session, "alerts") == []


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_updates_by_key_store_what_sqlalchemy_stores(
    dialect: str, request: pytest.FixtureRequest
) -> None:
    engine = (
        request.getfixturevalue("two_databases")[0]
        if dialect == "sqlite"
        else request.getfixturevalue("pg_engine")
    )
    audit_log = cast(Table, AuditEntryRow.__table__)
    later = datetime(2025, 3, 1, 9, 30, 0, 123456, tzinfo=timezone(timedelta(hours=8)))
    changes: list[dict[str, Any]] = [
        {"seq": 1, "actor": "王", "ts": later},
        {"seq": 3, "actor": None, "ts": later},
    ]
    with Session(engine) as session:
        insert_rows(session, audit_log, _entries(1))
        for change in changes:
            session.execute(
                update(audit_log).where(audit_log.c.seq == change["seq"]).values(**change)
            )
        reference = _stored_in(session, "audit_log")
        session.rollback()
    with Session(engine) as session, session.begin():
        insert_rows(session, audit_log, _entries(1))
        update_rows(session, audit_log, "seq", changes)
    with Session(engine) as session:
        assert _stored_in(session, "audit_log") == reference


def _plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)


def _scans_of(
    engine: Engine, statement: str, parameters: dict[str, Any], *, generic: bool
) -> set[tuple[str, str | None]]:
    """Return the scans (node type, table) of a statement as sent: prepared, and its plan
    explained for the values sent, as the custom or the generic plan."""
    names = sorted(parameters, key=lambda name: statement.index(f"%({name})s"))
    for n, name in enumerate(names, 1):
        statement = statement.replace(f"%({name})s", f"${n}")
    with engine.connect() as conn:
        mode = "force_generic_plan" if generic else "force_custom_plan"
        conn.exec_driver_sql(f"SET plan_cache_mode = {mode}")
        conn.exec_driver_sql(f"PREPARE explained AS {statement}")
        driver = cast(psycopg.Connection[Any], conn.connection.dbapi_connection)
        values = ", ".join(
            psycopg.sql.Literal(parameters[name]).as_string(driver) for name in names
        )
        [[plan]] = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) EXECUTE explained({values})").one()
        conn.rollback()
    return {
        (node["Node Type"], node.get("Relation Name"))
        for node in _plan_nodes(plan["Plan"])
        if "Scan" in node["Node Type"]
    }


@pytest.mark.parametrize("carried", [False, True], ids=["on its own", "carried"])
@pytest.mark.parametrize("generic", [False, True], ids=["custom plan", "generic plan"])
def test_a_one_row_update_probes_the_key_not_the_whole_table(
    pg_engine: Engine, generic: bool, carried: bool
) -> None:
    """A one-alert take sets its alert's case by the primary key, however many alerts are
    stored: the planner must not guess a ``json_to_recordset`` at 100 rows and scan the
    table (it did, 1.4 ms a take at 6,400 alerts). Both plans a prepared statement may get,
    for the update on its own and carried by the audit trail's statement (as the intake
    sends it, ``update_rows_later``)."""
    alerts = cast(Table, AlertRow.__table__)
    with Session(pg_engine) as session, session.begin():
        insert_rows(session, alerts, alert_rows([f"a{n:05}" for n in range(5000)]))
    with pg_engine.connect() as conn:
        conn.execute(text("ANALYZE alerts"))
        conn.commit()
    db = Database(pg_engine)
    with db.writing() as session:
        audit(session, AuditRecord(ts=datetime.now(UTC), action="test"))  # the head's guess
    sent: list[tuple[str, Any]] = []

    def capture(_c: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        if statement.startswith("WITH r0" if carried else "UPDATE"):
            sent.append((statement, parameters))

    event.listen(pg_engine, "before_cursor_execute", capture)
    try:
        one = [{"id": "a04321", "case_id": None}]
        if carried:
            with db.writing() as session:
                update_rows_later(session, alerts, "id", one)
                audit(session, AuditRecord(ts=datetime.now(UTC), action="test"))
        else:
            with Session(pg_engine) as session, session.begin():
                update_rows(session, alerts, "id", one)
    finally:
        event.remove(pg_engine, "before_cursor_execute", capture)
    [(statement, parameters)] = sent
    scans = _scans_of(pg_engine, statement, parameters, generic=generic)
    assert ("Seq Scan", "alerts") not in scans, scans
    assert ("Index Scan", "alerts") in scans, scans


def test_writes_left_for_later_ride_on_the_audit_trail_statement(pg_engine: Engine) -> None:
    """On PostgreSQL, rows inserted and updated "later" go with the audit trail's append: one
    statement, stored exactly, the chain intact; with a stale guess of the head they are
    written once all the same; a transaction with nothing to carry them runs them before it
    commits."""
    alerts = cast(Table, AlertRow.__table__)
    edges = cast(Table, EdgeRow.__table__)
    with Session(pg_engine) as session, session.begin():
        insert_rows(session, alerts, alert_rows(["a1", "a2"]))
    db = Database(pg_engine)
    other = Database(pg_engine)  # another worker: it moves the head under db's guess
    at = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)
    with db.writing() as session:
        audit(session, AuditRecord(ts=at, action="test"))
    sent: list[str] = []

    def capture(_c: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        sent.append(statement)

    def edge(name: str) -> dict[str, Any]:
        return {"id": name, "state": "online", "last_seen": at, "outbox_depth": 0, "counters": {}}

    event.listen(pg_engine, "before_cursor_execute", capture)
    try:
        for n, stale in enumerate([False, True]):
            if stale:
                with other.writing() as session:
                    audit(session, AuditRecord(ts=at, action="elsewhere"))
            sent.clear()
            with db.writing() as session:
                insert_rows_later(session, edges, [edge(f"e{n}")])
                update_rows_later(session, alerts, "id", [{"id": f"a{n + 1}", "location": "moved"}])
                audit(session, AuditRecord(ts=at, action="test"))
            [carried] = [s for s in sent if s.startswith("WITH r0")]
            assert "INSERT INTO audit_log" in carried  # the trail's own statement
            assert "INSERT INTO edges" in carried
            assert "UPDATE alerts" in carried
            assert not [s for s in sent if s.startswith(("INSERT INTO edges", "UPDATE alerts"))]
    finally:
        event.remove(pg_engine, "before_cursor_execute", capture)
    with Session(pg_engine) as session, session.begin():
        insert_rows_later(session, edges, [edge("alone")])
    with Session(pg_engine) as session:
        stored = session.execute(text("SELECT id FROM edges ORDER BY id")).scalars().all()
        moved = session.execute(text("SELECT id, location FROM alerts ORDER BY id")).all()
    assert stored == ["alone", "e0", "e1"]  # each once, the stale guess's included
    assert [tuple(row) for row in moved] == [("a1", "moved"), ("a2", "moved")]
    # The chain holds (no fork, no skip); the two alerts this test wrote by hand have no entry,
    # and the verdict says so (``hub.audit.records``), not that a link broke.
    verdict = HubStore(pg_engine).audit.verify_audit()
    assert (verdict.intact, verdict.broken_seq) == (False, None)
    assert verdict.reason is not None
    assert verdict.reason.startswith("alerts holds 2 rows but the trail recorded 0")


@pytest.mark.parametrize("generic", [False, True], ids=["custom plan", "generic plan"])
def test_the_first_read_of_a_take_probes_the_stored_ids(pg_engine: Engine, generic: bool) -> None:
    """A take's first read asks which of its alerts are stored (``hub.cases.take_rows``) by
    their ids, sent as one JSON text: the planner must probe the primary key for them, also on
    a table it has no statistics of yet (right after a burst, before autovacuum analyses it),
    where it took the ids for 100 and read all 10,000 alerts (1.6 ms a take)."""
    alerts = cast(Table, AlertRow.__table__)
    with Session(pg_engine) as session, session.begin():
        insert_rows(session, alerts, alert_rows([f"a{n:05}" for n in range(5000)]))
    sent: list[tuple[str, Any]] = []

    def capture(_c: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        if "json_array_elements_text" in statement:
            sent.append((statement, parameters))

    event.listen(pg_engine, "before_cursor_execute", capture)
    try:
        store = HubStore(pg_engine)
        store.intake.ingest_alerts([make_alert(device_id="gas-1")], datetime.now(UTC))
    finally:
        event.remove(pg_engine, "before_cursor_execute", capture)
    [(statement, parameters)] = sent
    scans = _scans_of(pg_engine, statement, parameters, generic=generic)
    assert ("Seq Scan", "alerts") not in scans, scans
    assert {("Index Only Scan", "alerts"), ("Index Scan", "alerts")} & scans, scans
