"""The round trips of a take on PostgreSQL: each is a wait on the server, and at a hundred
alerts a second they, more than the server's work, are what an alert waits for
(docs/scale.md). A change that adds one shows here, with the statement it added."""

from typing import Any

from sqlalchemy import Engine, event

from devices.kinds import AlertKind, DeviceKind, Severity
from hub.store import HubStore
from tests.hub.factories import T0, make_alert, make_device

GAS = make_device("b1-boiler-gas", kind=DeviceKind.GAS, location="Building 1/Boiler")


def test_an_alert_that_joins_its_case_is_eight_statements(pg_engine: Engine) -> None:
    store = HubStore(pg_engine)
    store.fleet.register_device(GAS)
    for _ in range(2):  # the case opened, and the trail's head known to this process
        alert = make_alert(device_id=GAS.id, kind=AlertKind.GAS, severity=Severity.HIGH, ts=T0)
        store.intake.ingest_alerts([alert], T0)
    sent: list[str] = []

    def capture(_c: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        sent.append(" ".join(statement.split()[:3]))

    event.listen(pg_engine, "before_cursor_execute", capture)
    try:
        joined = make_alert(device_id=GAS.id, kind=AlertKind.GAS, severity=Severity.HIGH, ts=T0)
        result = store.intake.ingest_alerts([joined], T0)
    finally:
        event.remove(pg_engine, "before_cursor_execute", capture)
    assert [c.alert_count for c in result.cases_updated] == [3]
    assert sent == [
        "SELECT devices.id, devices.location,",  # the devices, and whether a silence overlaps
        "INSERT INTO alerts",  # stored once: ON CONFLICT DO NOTHING RETURNING
        "SELECT pg_advisory_xact_lock(hashtextextended(name, 0))",  # the device's turn
        "SELECT cases.id, cases.status,",  # the incident's active case, locked, and its members
        # The alert counted in the case and in its device's member row (flushed before the
        # next read).
        "UPDATE case_members SET",
        "UPDATE cases SET",
        "SELECT alerts.id FROM",  # stray clearances of the device to adopt (ids; rows if any)
        # The alert's case and the history line, carried by the audit trail's append.
        "WITH r0 AS",
    ], "\n".join(sent)
