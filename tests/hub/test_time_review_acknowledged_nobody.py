"""A case an operator acknowledged whose last responder then lets the acceptance deadline pass
has nobody coming: it escalates at that deadline (docs/cases.md: "at once if it was taken on
already"), even while an acknowledgement deadline of its earlier escalation is still pending —
that deadline finds the case acknowledged and does nothing, so waiting for it waited forever
once the silent responders' shift had ended (outside review of time handling)."""

from datetime import time, timedelta

from sqlalchemy import Engine

from hub.cases.rules import CaseAction, CaseEventAction
from hub.roster.rules import Shift
from tests.hub.conftest import FakeClock
from tests.hub.test_escalation_dispatch import EVERY_DAY, sos_with_two_on_call


def test_an_acknowledged_sos_whose_team_falls_silent_escalates_at_the_deadline(
    engine: Engine, clock: FakeClock
) -> None:
    # The clock reads 10:00:01 Asia/Shanghai; the shift ends at 10:01:30, before their
    # acceptance deadline: nobody is on call to offer the case to again.
    shift = Shift(days=EVERY_DAY, start=time(0, 0), end=time(10, 1, 30))
    store, case = sos_with_two_on_call(engine, clock, shift)
    t0 = clock.now
    assert sorted(m.responder for m in case.team) == ["li", "wang"]

    for step in range(1, 31):  # ten minutes, a round every 20 s
        clock.now = t0 + timedelta(seconds=20 * step)
        if step == 4:  # 80 s: the street's operator takes the escalated SOS on
            store.cases.act(case.id, CaseAction.ACKNOWLEDGE, actor="op-street")
        store.deadlines.fire_due_timers(clock.now)

    after = store.cases.get_case(case.id)
    assert after.team == []
    escalated = [e.ts for e in after.events if e.action is CaseEventAction.ESCALATED]
    # Not taken on within 60 s: the street; then, at 120 s, nobody is left on it: the district.
    assert escalated[:2] == [t0 + timedelta(seconds=60), t0 + timedelta(seconds=120)]
    assert after.escalation_level == 2
