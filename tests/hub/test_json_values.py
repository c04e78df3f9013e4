"""JSON values in the hub's database (``hub.persistence.json_text``), on both dialects."""

import gc
import weakref
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import (
    Column,
    Dialect,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    insert,
    select,
    text,
)
from sqlalchemy.orm import Session

from devices.kinds import AlertKind, DeviceKind
from devices.messages import AlertReason
from hub.persistence.bulk import insert_new_rows, insert_rows, update_rows
from hub.persistence.tables import AlertRow, AuditEntryRow
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import alert_rows, make_alert, make_device


def test_an_alert_whose_reason_is_not_finite_is_stored_with_null_there(
    store: HubStore, engine: Engine, clock: FakeClock
) -> None:
    """JSON has no NaN or infinity. An alert's reason comes from the edge and its values are not
    otherwise bounded: the alert is kept, the value stored as null. (PostgreSQL refused the
    whole alert before, and the ingest counted it ``unstorable``: an alarm lost for the number
    that explained it.)"""
    store.fleet.register_device(make_device("smoke-1", kind=DeviceKind.SMOKE))
    values: dict[str, float | bool | str] = {
        "smoke": True,
        "obscuration": float("inf"),
        "density": float("-inf"),
        "ratio": float("nan"),
        "level": 3.5,
    }
    alert = make_alert(device_id="smoke-1", kind=AlertKind.SMOKE).model_copy(
        update={"reason": AlertReason(rule="smoke_flag", values=values)}
    )
    result = store.intake.ingest_alerts([alert], clock.now)
    assert len(result.cases_opened) == 1
    assert result.rejected == []
    with Session(engine) as session:
        reason = session.scalars(select(AlertRow.reason)).one()
    assert reason["values"] == {
        "smoke": True,
        "obscuration": None,
        "density": None,
        "ratio": None,
        "level": 3.5,
    }


def _rows(prefix: str) -> list[dict[str, Any]]:
    ts = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)
    return [
        {
            "seq": n,
            "ts": ts,
            "action": "alert_stored",
            "case_id": None,
            "alert_id": f"{prefix}{n}",
            "actor": None,
            # Keys that are not strings are written as strings, as the standard library's
            # encoder writes them; text as UTF-8; a timestamp inside a value as RFC 3339.
            "detail": {"n": n, 7: "seven", True: "yes", "名": "楼", "x": float("nan"), "at": ts},
            "prev_hash": "0" * 64,
            "hash": f"{n:064d}",
        }
        for n in (1, 2)
    ]


def test_bulk_rows_and_the_orm_write_json_alike(engine: Engine) -> None:
    audit_log = cast(Table, AuditEntryRow.__table__)
    with Session(engine) as session, session.begin():
        insert_rows(session, audit_log, _rows("bulk"))
    with Session(engine) as session:
        bulk = [tuple(row) for row in session.execute(select(AuditEntryRow.detail))]
    with Session(engine) as session, session.begin():
        session.execute(text("DELETE FROM audit_log"))
        session.execute(insert(audit_log), _rows("orm"))
    with Session(engine) as session:
        orm = [tuple(row) for row in session.execute(select(AuditEntryRow.detail))]
    expected = {
        "n": 1,
        "7": "seven",
        "true": "yes",
        "名": "楼",
        "x": None,
        "at": "2025-03-01T02:00:00+00:00",
    }
    assert bulk == orm
    assert bulk[0] == (expected,)


def test_alerts_inserted_if_new_keep_their_reason(engine: Engine) -> None:
    HubStore(engine).fleet.register_device(make_device("gas-1", kind=DeviceKind.GAS))
    alerts = cast(Table, AlertRow.__table__)
    [row] = alert_rows(["a1"])
    row["reason"] = {"rule": "gas_lel", "values": {"gas_lel_pct": 25.5, "peak": float("inf")}}
    with Session(engine) as session, session.begin():
        assert list(insert_new_rows(session, alerts, "id", [row])) == ["a1"]
    with Session(engine) as session:
        reason = session.scalars(select(AlertRow.reason)).one()
    assert reason == {"rule": "gas_lel", "values": {"gas_lel_pct": 25.5, "peak": None}}


def test_what_bulk_builds_for_an_engine_goes_with_the_engine(tmp_path: Path) -> None:
    """A process that makes engines one after another (a test suite, a tool, a hub that
    reconnects) must not keep every one: the statements built for a dialect live on it."""
    dialect = _bulk_written_with_an_engine_of_its_own(tmp_path / "bulk.sqlite3")
    gc.collect()
    assert dialect() is None


def _bulk_written_with_an_engine_of_its_own(path: Path) -> "weakref.ref[Dialect]":
    table = Table(
        "things", MetaData(), Column("id", String, primary_key=True), Column("n", Integer)
    )
    engine = create_engine(f"sqlite:///{path}")
    table.metadata.create_all(engine)
    with Session(engine) as session, session.begin():
        assert list(insert_new_rows(session, table, "id", [{"id": "a", "n": 1}])) == ["a"]
        update_rows(session, table, "id", [{"id": "a", "n": 2}])
    with Session(engine) as session, session.begin():
        assert list(insert_new_rows(session, table, "id", [{"id": "b", "n": 1}])) == ["b"]
        assert session.execute(select(table.c.n).order_by(table.c.id)).scalars().all() == [2, 1]
    engine.dispose()
    return weakref.ref(engine.dialect)
