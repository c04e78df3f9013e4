"""One deadline that cannot be fired must not stop every other one, on any hub worker.

Several hub workers on one PostgreSQL are upgraded one at a time (docs/scale.md, "Several hub
workers"), so a worker can meet a deadline row it cannot fire: a kind a newer worker added, or
a case its rules refuse. Before, the supervision round stopped at that deadline, the task
died and started again, and met the same deadline first every time: no escalation of any
case fired again on that worker, however overdue.
"""

from datetime import timedelta

from sqlalchemy import Engine, select

from hub.cases.rules import CaseEventAction
from hub.persistence.tables import CaseTimerRow
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import make_alert, make_device


def test_a_deadline_a_worker_cannot_fire_does_not_hold_up_the_others(
    pg_engine: Engine, clock: FakeClock
) -> None:
    newer, older = HubStore(pg_engine, clock=clock), HubStore(pg_engine, clock=clock)
    older.fleet.register_device(make_device("b3-1201-smoke"))
    older.fleet.register_device(make_device("b5-0402-smoke", location="Building 5"))
    [first] = older.intake.ingest_alerts(
        [make_alert(id="alarm-b3-1201", device_id="b3-1201-smoke")], clock.now
    ).cases_opened
    [second] = older.intake.ingest_alerts(
        [make_alert(id="alarm-b5-0402", device_id="b5-0402-smoke")], clock.now
    ).cases_opened
    assert first.id != second.id
    # A newer worker scheduled a deadline of a kind this version does not know, due first.
    with newer.db.writing() as session:
        session.add(
            CaseTimerRow(
                case_id=first.id,
                kind="follow_up",
                due_at=clock.now + timedelta(seconds=10),
                assignee=None,
                created_at=clock.now,
            )
        )
    clock.advance(61)  # both cases' acknowledgement deadlines (60 s) have passed

    changed = older.deadlines.fire_due_timers(clock.now)

    assert sorted(view.id for view in changed) == [first.id, second.id]
    for case in (first, second):
        events = [e.action for e in older.cases.get_case(case.id).events]
        assert events.count(CaseEventAction.ESCALATED) == 1
    with older.db.reading() as session:
        unknown = session.scalars(select(CaseTimerRow).where(CaseTimerRow.kind == "follow_up"))
        # Left for a worker that knows it: not marked fired by one that could not fire it.
        assert [row.fired_at for row in unknown] == [None]


def test_more_unfireable_deadlines_than_a_round_takes_do_not_starve_the_rest(
    pg_engine: Engine, clock: FakeClock
) -> None:
    store = HubStore(pg_engine, clock=clock)
    store.fleet.register_device(make_device("b3-1201-smoke"))
    [case] = store.intake.ingest_alerts(
        [make_alert(id="alarm-b3-1201", device_id="b3-1201-smoke")], clock.now
    ).cases_opened
    with store.db.writing() as session:
        for n in range(3):
            session.add(
                CaseTimerRow(
                    case_id=case.id,
                    kind="follow_up",
                    due_at=clock.now + timedelta(seconds=n),
                    assignee=None,
                    created_at=clock.now,
                )
            )
    clock.advance(61)

    # Rounds of two deadlines: the three this worker cannot fire come first.
    assert store.deadlines.fire_due_timers(clock.now, limit=2) == []
    [changed] = store.deadlines.fire_due_timers(clock.now, limit=2)

    assert changed.id == case.id
    assert changed.escalation_level == 1
