"""An alert stored once when another hub worker stores a copy of it in the middle of a take
(``hub.cases.take_rows``: the take reads which of its alerts are stored, and inserts the others
with their cases later, after the device's turn, ``hub.cases.ordering``)."""

import threading
from typing import Any

from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

from devices.kinds import AlertKind, DeviceKind, Severity
from hub.persistence.engine import create_hub_engine
from hub.persistence.tables import AlertRow, AuditEntryRow
from hub.store import HubStore
from tests.hub.factories import T0, make_alert, make_device

GAS = make_device("b1-boiler-gas", kind=DeviceKind.GAS, location="Building 1/Boiler")


def test_a_copy_another_worker_stores_meanwhile_is_a_duplicate(pg_engine: Engine) -> None:
    """Worker 2 stores the same alert (an edge's re-sent copy, dealt to it) after worker 1 read
    that it is not stored yet, and before worker 1 takes the device's turn: worker 1's insert
    finds it there and its take runs again, and then counts the alert a duplicate. The alert is
    stored once, counted once in its case, audited once."""
    other_engine = create_hub_engine(pg_engine.url.render_as_string(hide_password=False))
    first, second = HubStore(pg_engine), HubStore(other_engine)
    first.fleet.register_device(GAS)
    alert = make_alert(device_id=GAS.id, kind=AlertKind.GAS, severity=Severity.HIGH, ts=T0)
    raced: list[Any] = []

    def the_other_worker_first(_c: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if raced or "pg_advisory_xact_lock" not in statement:
            return
        worker = threading.Thread(
            target=lambda: raced.append(second.intake.ingest_alerts([alert], T0))
        )
        worker.start()
        worker.join(timeout=30)
        assert raced, "the other worker did not finish: it waited for this one"

    reads: list[str] = []
    event.listen(pg_engine, "before_cursor_execute", the_other_worker_first)
    event.listen(
        pg_engine,
        "before_cursor_execute",
        lambda _c, _cur, statement, *_r: reads.append(statement) if "anon_1" in statement else None,
    )
    try:
        result = first.intake.ingest_alerts([alert], T0)
    finally:
        event.remove(pg_engine, "before_cursor_execute", the_other_worker_first)
        other_engine.dispose()

    [stored_by_other] = raced
    assert [a.id for a in stored_by_other.new] == [alert.id]
    [case] = stored_by_other.cases_opened
    assert len(reads) == 2, "the take ran again"
    assert result.new == []
    assert [d.id for d in result.duplicates] == [alert.id]
    assert result.cases_opened == result.cases_updated == []
    with Session(pg_engine) as session:
        assert session.execute(select(AlertRow.id, AlertRow.case_id)).all() == [(alert.id, case.id)]
        audited = session.scalar(select(func.count()).where(AuditEntryRow.alert_id == alert.id))
    assert audited == 2  # stored, and attached to its case: once each
    assert first.cases.get_case(case.id).alert_count == 1
    assert first.audit.verify_audit().intact
