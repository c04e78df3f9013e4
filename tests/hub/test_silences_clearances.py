"""A clearance during a silence reaches the case its alarm opened before it; what would open
or raise a case stays silenced; a silenced alert's view names its silence (API and intake).

Before, a smoke case open when a drill began never learnt that its detector cleared during
the drill: the clearance was swallowed like the drill's own alarms, the case kept showing the
device alarming, and the live panel could not tell a silenced alert from an alarm.
"""

from datetime import timedelta

import httpx
import pytest

from devices.kinds import AlertKind, AlertState
from devices.messages import Alert
from hub.cases.changes import CaseChanges
from hub.cases.supervisor import Supervisor
from hub.live.events import EventBus
from hub.silences.rules import SilenceScope
from hub.silences.views import SilenceView
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import make_alert, make_device

pytestmark = pytest.mark.fake_clock

SMOKE = "b3-1201-smoke"


@pytest.fixture
def building(store: HubStore) -> HubStore:
    store.fleet.register_device(make_device(SMOKE, edge_id="e1"))
    return store


def _smoke(clock: FakeClock, state: AlertState = AlertState.RAISED, after_s: float = 0) -> Alert:
    return make_alert(device_id=SMOKE, state=state, ts=clock.now + timedelta(seconds=after_s))


def _drill(store: HubStore, clock: FakeClock) -> SilenceView:
    return store.silences.create_silence(
        SilenceScope.EDGE,
        "e1",
        ends_at=clock.now + timedelta(hours=1),
        reason="fire drill",
        kinds=[AlertKind.SMOKE, AlertKind.HEAT],
    )


async def test_a_clearance_during_a_drill_reaches_the_case_opened_before_it(
    building: HubStore, clock: FakeClock
) -> None:
    fire = _smoke(clock)
    [case] = building.intake.ingest_alerts([fire], clock.advance(1)).cases_opened
    _drill(building, clock)
    gone = _smoke(clock, AlertState.CLEARED, after_s=60)
    taken = building.intake.ingest_alerts([gone], clock.advance(61))
    assert taken.silenced == []
    assert [c.id for c in taken.cases_updated] == [case.id]
    [view] = taken.new
    assert (view.case_id, view.silence_id) == (case.id, None)
    detail = building.cases.get_case(case.id)
    assert [(a.id, a.state) for a in detail.alerts] == [
        (fire.id, AlertState.RAISED),
        (gone.id, AlertState.CLEARED),
    ]
    assert detail.members[0].alert_count == 2
    trail = [(e.action, e.alert_id) for e in building.audit.list_audit(limit=100)]
    assert ("alert_silenced", gone.id) not in trail
    assert building.audit.verify_audit().intact

    # The drill over, nothing is reported: the device's last word is its clearance.
    clock.advance(3600)
    await Supervisor(building, CaseChanges(EventBus()), clock=clock).tick()
    assert [c.id for c in building.cases.list_cases()] == [case.id]
    assert len(building.cases.get_case(case.id).alerts) == 2


async def test_the_alarm_again_during_the_drill_stays_silenced_and_is_reported_if_left_raised(
    building: HubStore, clock: FakeClock
) -> None:
    [case] = building.intake.ingest_alerts([_smoke(clock)], clock.advance(1)).cases_opened
    drill = _drill(building, clock)
    gone = _smoke(clock, AlertState.CLEARED, after_s=30)
    again = _smoke(clock, after_s=60)
    taken = building.intake.ingest_alerts([gone, again], clock.advance(61))
    # The clearance ends the case's alarm; the drill's own alarm opens or raises nothing.
    assert taken.silenced == [again.id]
    views = {v.id: v for v in taken.new}
    assert (views[gone.id].case_id, views[gone.id].silence_id) == (case.id, None)
    assert (views[again.id].case_id, views[again.id].silence_id) == (None, drill.id)
    # Still raised when the drill ends: reported into the case, as before.
    clock.advance(3600)
    await Supervisor(building, CaseChanges(EventBus()), clock=clock).tick()
    alerts = building.cases.get_case(case.id).alerts
    assert [a.reason.rule for a in alerts][-1] == "silence_ended"


def test_a_clearance_with_no_case_to_reach_stays_silenced(
    building: HubStore, clock: FakeClock
) -> None:
    drill = _drill(building, clock)
    up = _smoke(clock, after_s=10)
    down = _smoke(clock, AlertState.CLEARED, after_s=20)
    taken = building.intake.ingest_alerts([up, down], clock.advance(30))
    assert sorted(taken.silenced) == sorted([up.id, down.id])
    assert building.cases.list_cases() == []
    assert {v.silence_id for v in taken.new} == {drill.id}


def test_an_alarm_before_the_drill_and_its_clearance_during_it_arrive_together(
    building: HubStore, clock: FakeClock
) -> None:
    # The uplink was cut: the alarm (before the drill) and its clearance (during it) come in
    # one take after it.
    fire = _smoke(clock, after_s=-120)
    _drill(building, clock)
    gone = _smoke(clock, AlertState.CLEARED, after_s=60)
    taken = building.intake.ingest_alerts([fire, gone], clock.advance(120))
    assert taken.silenced == []
    [case] = taken.cases_opened
    assert {v.id: v.case_id for v in taken.new} == {fire.id: case.id, gone.id: case.id}


async def test_the_api_says_which_silence_kept_an_alert_out(
    client: httpx.AsyncClient, app: object, clock: FakeClock
) -> None:
    store: HubStore = app.state.store  # type: ignore[attr-defined]
    store.fleet.register_device(make_device(SMOKE, edge_id="e1"))
    drill = _drill(store, clock)
    silenced = _smoke(clock, after_s=10)
    heat = make_alert(device_id=SMOKE, kind=AlertKind.CO, ts=clock.now + timedelta(seconds=10))
    store.intake.ingest_alerts([silenced, heat], clock.advance(20))
    response = await client.get("/api/v1/alerts")
    assert response.status_code == 200
    by_id = {item["id"]: item for item in response.json()["items"]}
    assert by_id[silenced.id]["silence_id"] == drill.id
    assert by_id[heat.id]["silence_id"] is None
    assert by_id[heat.id]["case_id"] is not None
