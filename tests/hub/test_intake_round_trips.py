"""The round trips of a take on PostgreSQL: each is a wait on the server, and at a hundred
alerts a second they, more than the server's work, are what an alert waits for
(docs/scale.md). A change that adds one shows here, with the statement it added."""

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, event

from devices.kinds import AlertKind, AlertState, DeviceKind, Severity
from hub.store import HubStore
from tests.hub.factories import T0, make_alert, make_device

GAS = make_device("b1-boiler-gas", kind=DeviceKind.GAS, location="Building 1/Boiler")


def test_an_alert_that_joins_its_case_is_five_statements(pg_engine: Engine) -> None:
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
        # The devices, whether a silence overlaps, and which of the alerts are stored already.
        "SELECT %(param_1)s::VARCHAR AS",
        "SELECT pg_advisory_xact_lock(hashtextextended(name, 0))",  # the device's turn
        "SELECT cases.id, cases.status,",  # the incident's active case, locked, and its members
        # With its case, ON CONFLICT DO NOTHING RETURNING; and, in the same statement, the
        # stray clearances of the device to adopt (ids; their rows read only if any).
        "WITH inserted AS",
        # Carried by the audit trail's append: the alert counted in the case and in its
        # device's member row, the history line.
        "WITH r0 AS",
    ], "\n".join(sent)


def test_what_a_joining_take_carries_is_what_is_stored(engine: Engine) -> None:
    """The counts a take leaves to its last statement (``records.carry_counts``) are stored as
    the take left them: the case's and each member row's, read back in a transaction of their
    own, match what the take returned, on both databases, also when a priority is raised."""
    store = HubStore(engine)
    other = make_device("b1-boiler-gas-2", kind=DeviceKind.GAS, location="Building 1/Boiler")
    for device in (GAS, other):
        store.fleet.register_device(device)
    first = make_alert(device_id=GAS.id, kind=AlertKind.GAS, severity=Severity.MEDIUM, ts=T0)
    store.intake.ingest_alerts([first], T0)
    later = T0 + timedelta(seconds=30)
    joining = [
        make_alert(device_id=GAS.id, kind=AlertKind.GAS, severity=Severity.MEDIUM, ts=later),
        make_alert(device_id=other.id, kind=AlertKind.GAS, severity=Severity.CRITICAL, ts=later),
    ]
    result = store.intake.ingest_alerts(joining, later)
    [returned] = result.cases_updated
    stored = store.cases.get_case(returned.id)
    assert (stored.alert_count, stored.priority) == (3, Severity.CRITICAL)
    assert (stored.last_alert_at, stored.updated_at) == (later, later)
    # pages_failing: the intake's view does not say (None: keep the last), a read computes it.
    assert returned.pages_failing is None
    assert stored.pages_failing == []
    assert stored.model_dump(exclude={"alerts", "events", "pages_failing"}) == (
        returned.model_dump(exclude={"pages_failing"})
    )
    members = {
        (m.device_id, m.alert_count, m.first_alert_at, m.last_alert_at) for m in stored.members
    }
    assert members == {(GAS.id, 2, T0, later), (other.id, 1, later, later)}
    assert [a.case_id for a in stored.alerts] == [returned.id] * 3


def test_a_clearance_ahead_of_its_alarm_in_one_take_is_adopted(engine: Engine) -> None:
    """A take whose clearance comes before its alarm (an edge's backlog replayed out of order)
    leaves the case as the two in order would: on PostgreSQL the stray clearances are read by
    the INSERT of the take's alerts, which cannot see the take's own; those are found among its
    alerts instead."""
    store = HubStore(engine)
    store.fleet.register_device(GAS)
    clearance = make_alert(
        device_id=GAS.id, kind=AlertKind.GAS, state=AlertState.CLEARED, ts=T0 + timedelta(seconds=5)
    )
    alarm = make_alert(device_id=GAS.id, kind=AlertKind.GAS, severity=Severity.HIGH, ts=T0)
    result = store.intake.ingest_alerts([clearance, alarm], T0 + timedelta(seconds=6))
    [case] = result.cases_opened
    stored = store.cases.get_case(case.id)
    assert sorted(a.id for a in stored.alerts) == sorted([clearance.id, alarm.id])
    assert stored.alert_count == 2
