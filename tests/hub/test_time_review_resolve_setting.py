"""A resolution deadline set for another category than requests (``RESOLVE_WITHIN_S``, e.g.
a water leak to be fixed within a day) runs on the cases alerts open, as on a resident's
request: before, only the request repository started that clock, so the setting did nothing
for a case an alarm opened (outside review of time handling), on SQLite and PostgreSQL."""

from datetime import timedelta

from sqlalchemy import Engine

from devices.kinds import AlertKind, DeviceKind, Severity
from hub.cases.rules import CaseAction, CaseEventAction
from hub.cases.supervision import supervision_policy
from hub.settings import HubSettings
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import make_alert, make_device

LEAK = make_device("b2-bikes-leak", kind=DeviceKind.WATER_LEAK, location="Building 2/Basement")


def test_a_leak_not_fixed_within_the_set_day_climbs_to_the_street(
    engine: Engine, clock: FakeClock
) -> None:
    policy = supervision_policy(HubSettings(resolve_within_s={"property": 86400}))
    store = HubStore(engine, clock=clock, supervision=policy)
    store.fleet.register_device(LEAK)
    t0 = clock.now
    leak = make_alert(device_id=LEAK.id, kind=AlertKind.WATER_LEAK, severity=Severity.HIGH, ts=t0)
    [case] = store.intake.ingest_alerts([leak], t0).cases_opened
    clock.now = t0 + timedelta(minutes=5)
    store.cases.act(case.id, CaseAction.ACKNOWLEDGE, actor="op")  # taken on, never done

    for hours in (12, 23, 24, 25):
        clock.now = t0 + timedelta(hours=hours)
        store.deadlines.fire_due_timers(clock.now)

    after = store.cases.get_case(case.id)
    climbed = [e for e in after.events if e.action is CaseEventAction.ESCALATED]
    assert [e.ts for e in climbed] == [t0 + timedelta(hours=24)]
    assert "not done in time" in str(climbed[0].note)
    assert after.escalation_level == 1
