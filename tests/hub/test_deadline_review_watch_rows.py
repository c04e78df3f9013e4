"""A case taken on with nobody going is looked at again each acknowledgement deadline
(``Watch``): each look used to add a fired deadline row, 1,440 a day for a life-safety case
and never pruned. One row is re-armed instead; the looks happen when they did (outside review
of paging and deadline rows)."""

from datetime import time, timedelta

from sqlalchemy import Engine, func, select

from hub.cases.rules import CaseAction, CaseEventAction
from hub.persistence.tables import CaseTimerRow
from hub.roster.rules import Responder, ResponderRole, Shift
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import T0
from tests.hub.test_escalation_dispatch import EVERY_DAY, sos_with_two_on_call

SATURDAY = T0.weekday()


def _timer_rows(store: HubStore, case_id: int) -> int:
    with store.db.reading() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(CaseTimerRow)
                .where(CaseTimerRow.case_id == case_id)
            )
            or 0
        )


def test_a_day_of_watching_a_case_nobody_goes_to_keeps_its_deadline_rows_few(
    engine: Engine, clock: FakeClock
) -> None:
    # wang and li are on call this Saturday until 10:01:30 (Asia/Shanghai; the clock reads
    # 10:00:01), then nobody: the SOS, taken on, is watched for a day, a look a minute.
    day = Shift(days=[SATURDAY], start=time(0, 0), end=time(10, 1, 30))
    store, case = sos_with_two_on_call(engine, clock, day)
    t0 = clock.now
    clock.advance(20)
    store.cases.act(case.id, CaseAction.ACKNOWLEDGE, actor="op.li")

    for step in range(1, 24 * 60 + 1):  # a day, a round a minute
        clock.now = t0 + timedelta(minutes=step)
        store.deadlines.fire_due_timers(clock.now)

    # Before: one fired row per look (over 1,400). Now the watch re-arms one row.
    assert _timer_rows(store, case.id) < 10
    with store.db.reading() as session:
        pending = session.scalars(
            select(CaseTimerRow.due_at).where(
                CaseTimerRow.case_id == case.id, CaseTimerRow.fired_at.is_(None)
            )
        ).all()
    # Still looking: the next look one acknowledgement deadline (60 s) after the last.
    assert pending == [clock.now + timedelta(seconds=60)]

    # The look still happens on time: zhao, on call from now, is sent at the next one.
    zhao = Responder(
        id="zhao",
        site_id="lanyuan",
        name="zhao",
        role=ResponderRole.SECURITY,
        shifts=[Shift(days=EVERY_DAY, start=time(0, 0), end=time(23, 59))],
    )
    store.roster.put_responder(zhao)
    last = clock.now
    clock.now = last + timedelta(seconds=59)
    store.deadlines.fire_due_timers(clock.now)
    assert [m.responder for m in store.cases.get_case(case.id).team] == []
    clock.now = last + timedelta(seconds=60)
    store.deadlines.fire_due_timers(clock.now)
    after = store.cases.get_case(case.id)
    assert [m.responder for m in after.team] == ["zhao"]
    dispatched = [e.ts for e in after.events if e.action is CaseEventAction.DISPATCHED]
    assert dispatched[-1] == last + timedelta(seconds=60)
