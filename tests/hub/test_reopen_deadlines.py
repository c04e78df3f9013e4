"""A reopened case runs one acknowledgement chain, not two: the deadline of its earlier life
is retired when it is resolved and when it is reopened (by a person, or by its alarm coming
back), on SQLite and PostgreSQL."""

from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select

from devices.kinds import AlertKind, DeviceKind, Severity
from hub.cases.rules import CaseAction, CaseEventAction, CaseStatus, Resolution
from hub.cases.supervision import TimerKind
from hub.persistence.tables import CaseTimerRow
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import make_alert, make_device

SOS = make_device("b3-1201-sos", kind=DeviceKind.SOS_BUTTON, edge_id="edge-b3")
SMOKE = make_device("b3-1201-smoke", kind=DeviceKind.SMOKE)
STEP = 20
"""Seconds between supervision rounds: every deadline here falls on one, so each fires on time."""


def ONE_CHAIN(start: datetime) -> list[datetime]:  # noqa: N802 - reads as the constant it is
    """One escalation chain from ``start``: street, district, then the district again after 1
    and 2 more minutes (the top level's reminders back off)."""
    return [start + timedelta(seconds=s) for s in (60, 120, 180, 300)]


def escalated_at(store: HubStore, case_id: int, after: datetime) -> list[datetime]:
    events = store.cases.get_case(case_id).events
    return [e.ts for e in events if e.action is CaseEventAction.ESCALATED and e.ts > after]


def pending_acknowledgements(store: HubStore, case_id: int) -> int:
    with store.db.reading() as session:
        found = session.scalar(
            select(func.count()).where(
                CaseTimerRow.case_id == case_id,
                CaseTimerRow.kind == TimerKind.ACKNOWLEDGE.value,
                CaseTimerRow.fired_at.is_(None),
            )
        )
    return found or 0


def supervise(store: HubStore, clock: FakeClock, start: datetime, seconds: int) -> None:
    for s in range(STEP, seconds + 1, STEP):
        clock.now = start + timedelta(seconds=s)
        store.deadlines.fire_due_timers(clock.now)


def test_a_case_reopened_by_an_operator_escalates_once_a_minute(
    engine: Engine, clock: FakeClock
) -> None:
    store = HubStore(engine, clock=clock)
    store.fleet.register_device(SOS)
    t0 = clock.now
    sos = make_alert(device_id=SOS.id, kind=AlertKind.SOS, severity=Severity.CRITICAL, ts=t0)
    [case] = store.intake.ingest_alerts([sos], t0).cases_opened
    clock.now = t0 + timedelta(seconds=5)
    store.cases.act(case.id, CaseAction.ACKNOWLEDGE, actor="op")
    clock.now = t0 + timedelta(seconds=10)
    store.cases.act(
        case.id, CaseAction.RESOLVE, note="false", resolution=Resolution.FALSE_ALARM, actor="op"
    )
    assert pending_acknowledgements(store, case.id) == 0  # ended: nothing left to escalate
    clock.now = reopened_at = t0 + timedelta(seconds=40)
    store.cases.act(case.id, CaseAction.REOPEN, actor="op", note="resident called again")

    supervise(store, clock, reopened_at, 300)

    assert escalated_at(store, case.id, reopened_at) == ONE_CHAIN(reopened_at)
    assert pending_acknowledgements(store, case.id) == 1


def test_an_alarm_coming_back_reopens_with_one_deadline(engine: Engine, clock: FakeClock) -> None:
    store = HubStore(engine, clock=clock)
    store.fleet.register_device(SMOKE)
    t0 = clock.now
    smoke = make_alert(device_id=SMOKE.id, kind=AlertKind.SMOKE, severity=Severity.CRITICAL, ts=t0)
    [case] = store.intake.ingest_alerts([smoke], t0).cases_opened
    clock.now = t0 + timedelta(seconds=60)
    assert store.deadlines.fire_due_timers(clock.now)  # level 1; the next deadline at t0+120
    clock.now = t0 + timedelta(seconds=70)
    store.cases.act(
        case.id, CaseAction.RESOLVE, note="checked", resolution=Resolution.FALSE_ALARM, actor="op"
    )
    clock.now = reopened_at = t0 + timedelta(seconds=100)
    again = make_alert(
        device_id=SMOKE.id, kind=AlertKind.SMOKE, severity=Severity.CRITICAL, ts=clock.now
    )
    store.intake.ingest_alerts([again], clock.now)
    assert store.cases.get_case(case.id).status is CaseStatus.OPEN

    supervise(store, clock, reopened_at, 300)

    assert escalated_at(store, case.id, reopened_at) == ONE_CHAIN(reopened_at)
    assert pending_acknowledgements(store, case.id) == 1
