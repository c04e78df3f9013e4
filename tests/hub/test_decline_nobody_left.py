"""A case taken on whose last responder declines in person, with nobody else on call, climbs
at once (as one whose last responder lets the acceptance deadline pass does: docs/cases.md,
"at once if it was taken on already").

Before, the decline sent the case back to ``open`` with nobody on it and no deadline left: its
acknowledgement deadline finds it acknowledged and does nothing, so an SOS the community's only
guard on duty declined (he was at another call) sat there, and the street never heard of it
(suspected by the review of the hub's handling of time)."""

from datetime import timedelta

from sqlalchemy import Engine

from devices.kinds import AlertKind, DeviceKind, Severity
from hub.cases.rules import CaseAction, CaseEventAction, CaseStatus
from hub.roster.rules import Grid, Responder, ResponderRole, Site
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import make_alert, make_device

SOS = make_device("b3-1201-sos", kind=DeviceKind.SOS_BUTTON, edge_id="edge-b3")


def community_with_one_guard(store: HubStore) -> None:
    store.roster.put_site(Site(id="lanyuan", name="Lanyuan", edge_ids=["edge-b3"]))
    store.roster.put_grid(Grid(id="g-b3", site_id="lanyuan", name="B3", places=["Building 3"]))
    guard = Responder(id="li", site_id="lanyuan", name="Li", role=ResponderRole.SECURITY)
    store.roster.put_responder(guard)
    store.fleet.register_device(SOS)


def test_an_acknowledged_sos_its_only_guard_declines_climbs_at_once(
    engine: Engine, clock: FakeClock
) -> None:
    store = HubStore(engine, clock=clock)
    community_with_one_guard(store)
    sos = make_alert(device_id=SOS.id, kind=AlertKind.SOS, severity=Severity.CRITICAL, ts=clock.now)
    [case] = store.intake.ingest_alerts([sos], clock.now).cases_opened
    assert [m.responder for m in case.team] == ["li"]
    clock.advance(20)
    store.cases.act(case.id, CaseAction.ACKNOWLEDGE, actor="op.li")
    clock.advance(10)

    declined = store.cases.act(case.id, CaseAction.DECLINE, actor="li", for_self=True)

    assert declined.team == []
    assert declined.escalation_level == 1  # the street hears of it now
    events = store.cases.get_case(case.id).events
    [escalated] = [e for e in events if e.action is CaseEventAction.ESCALATED]
    assert escalated.ts == clock.now
    assert escalated.note == "nobody left on call to go: escalated to the street level"


def test_a_case_not_taken_on_yet_climbs_on_its_own_schedule_after_a_decline(
    engine: Engine, clock: FakeClock
) -> None:
    """Not acknowledged: its acknowledgement chain runs and climbs at 60 s, once (not twice)."""
    store = HubStore(engine, clock=clock)
    community_with_one_guard(store)
    t0 = clock.now
    sos = make_alert(device_id=SOS.id, kind=AlertKind.SOS, severity=Severity.CRITICAL, ts=t0)
    [case] = store.intake.ingest_alerts([sos], t0).cases_opened
    clock.advance(10)
    declined = store.cases.act(case.id, CaseAction.DECLINE, actor="li", for_self=True)
    assert (declined.status, declined.escalation_level) == (CaseStatus.OPEN, 0)
    clock.now = t0 + timedelta(seconds=61)
    store.deadlines.fire_due_timers(clock.now)
    assert store.cases.get_case(case.id).escalation_level == 1
