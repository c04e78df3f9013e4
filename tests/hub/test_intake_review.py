"""Correlation and intake defects found by an outside review (2026-12-06), each shown by a
test that failed before its fix, on SQLite and PostgreSQL."""

from datetime import timedelta

import pytest

from devices.kinds import AlertKind, AlertState, DeviceKind, Severity
from hub.cases.correlation import CLOCK_AHEAD_ALLOWED
from hub.cases.rules import (
    CaseAction,
    CaseStatus,
    IncomingAlert,
    OpenNewCase,
    ReopenCase,
    Resolution,
    ResolvedCaseState,
    decide,
)
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import T0, make_alert, make_device, make_status
from tests.hub.test_correlation_sites import UNIT, two_sites
from tests.hub.test_incidents import DEVICES, SMOKE, scenario_1

ZERO = timedelta(0)


@pytest.fixture
def site(store: HubStore) -> HubStore:
    """Register building 3's detectors and button, and a button in building 7."""
    for device in DEVICES:
        store.fleet.register_device(device)
    return store


def test_a_fire_never_takes_in_a_press_of_another_sites_building_of_the_same_name(
    store: HubStore,
) -> None:
    """A press in Meiyuan's Building 3, then a fire in Lanyuan's: the Lanyuan fire case took
    the Meiyuan SOS in (its place was compared by name alone), closing the call for help of
    one community into a case only the other community's staff see."""
    two_sites(store)
    button = make_device("meiyuan-sos", kind=DeviceKind.SOS_BUTTON, location=UNIT, edge_id="e-mei")
    smoke = make_device("meiyuan-smoke", location=UNIT, edge_id="e-mei")
    store.fleet.record_edge_status(make_status("e-mei", devices=[smoke, button]), T0)
    press = make_alert(
        device_id="meiyuan-sos", edge_id="e-mei", kind=AlertKind.SOS, severity=Severity.CRITICAL
    )
    [sos] = store.intake.ingest_alerts([press], T0).cases_opened
    assert sos.site_id == "meiyuan"

    later = T0 + timedelta(seconds=20)
    fire = store.intake.ingest_alerts(
        [make_alert(device_id="lanyuan-smoke", edge_id="e-lan", ts=later)], later
    )
    [lan] = fire.cases_opened
    assert lan.site_id == "lanyuan"
    assert fire.cases_merged_into == []
    kept = store.cases.get_case(sos.id)
    assert (kept.status, kept.merged_into, kept.alert_count) == (CaseStatus.OPEN, None, 1)
    assert lan.alert_count == 1


def test_an_alarm_received_just_before_its_case_was_resolved_reopens_it(
    store: HubStore, clock: FakeClock
) -> None:
    """The intake decides with the time the alarm was received: under a backlog (or on a
    worker whose clock is a little behind the one that resolved) the case may have been
    resolved after that instant. Such an alarm opened a second case of the incident beside the
    one just resolved, instead of bringing it back."""
    store.fleet.register_device(SMOKE)
    [case] = store.intake.ingest_alerts([make_alert(device_id=SMOKE.id)], clock.now).cases_opened
    received = clock.advance(30)
    clock.advance(2)  # the operator resolves while the next alarm waits its turn
    store.cases.act(case.id, CaseAction.RESOLVE, note="toast", resolution=Resolution.NUISANCE)
    again = make_alert(device_id=SMOKE.id, ts=received)
    result = store.intake.ingest_alerts([again], received)
    assert result.cases_opened == []
    [reopened] = result.cases_updated
    assert (reopened.id, reopened.status, reopened.alert_count) == (case.id, CaseStatus.OPEN, 2)


def test_a_press_received_before_its_sos_case_was_resolved_is_still_a_new_call() -> None:
    """The SOS rule never reopens (its window is 0), whatever the clocks say."""
    resolved = ResolvedCaseState(Severity.CRITICAL, 1, T0, resolved_at=T0 + timedelta(seconds=5))
    press = IncomingAlert(AlertState.RAISED, Severity.CRITICAL, T0 + timedelta(seconds=4))
    decision = decide(
        press, None, T0 + timedelta(seconds=4), recently_resolved=resolved, reopen_within=ZERO
    )
    assert isinstance(decision, OpenNewCase)
    reopened = decide(
        press,
        None,
        T0 + timedelta(seconds=4),
        recently_resolved=resolved,
        reopen_within=timedelta(seconds=1800),
    )
    assert isinstance(reopened, ReopenCase)


def test_an_alarm_stamped_in_the_future_does_not_push_its_fire_out_of_reach(
    site: HubStore, clock: FakeClock
) -> None:
    """An edge whose clock runs a day ahead (no network time after a power cut) stamps its
    smoke alarm tomorrow. The fire case's last alert became tomorrow, so the neighbour's SOS a
    minute later was more than 600 s from it and opened a second life-safety case beside the
    fire, as did every press while the fire burned."""
    heat, smoke, _, sos = scenario_1(clock.now)
    ahead = smoke.model_copy(update={"ts": clock.now + timedelta(days=1)})
    [fire] = site.intake.ingest_alerts([heat, ahead], clock.now).cases_opened
    assert fire.last_alert_at <= clock.now + CLOCK_AHEAD_ALLOWED
    press = sos.model_copy(update={"ts": clock.now + timedelta(seconds=60)})
    result = site.intake.ingest_alerts([press], clock.advance(60))
    assert result.cases_opened == []
    [joined] = result.cases_updated
    assert (joined.id, joined.alert_count) == (fire.id, 3)
    stored = {a.id: a.ts for a in site.cases.get_case(fire.id).alerts}
    assert stored[ahead.id] == ahead.ts, "the alert is kept as the edge stamped it"


def test_a_fire_stamped_in_the_future_still_takes_in_the_press_before_it(
    site: HubStore, clock: FakeClock
) -> None:
    heat, _, _, sos = scenario_1(clock.now)
    [pressed] = site.intake.ingest_alerts([sos], clock.now).cases_opened
    ahead = heat.model_copy(update={"ts": clock.now + timedelta(days=1)})
    result = site.intake.ingest_alerts([ahead], clock.advance(20))
    [fire] = result.cases_opened
    assert result.cases_merged_into == [fire.id]
    assert site.cases.get_case(pressed.id).merged_into == fire.id


def test_a_clearance_stamped_in_the_future_that_came_first_does_not_push_its_case_ahead(
    site: HubStore, clock: FakeClock
) -> None:
    # A clearance handled before its alarm (another worker took it first) waits, and joins the
    # case the alarm opens: its time counts no later than its receipt allows, as any alert's.
    gas = make_device("boiler-gas", kind=DeviceKind.GAS, location="Basement/Boiler room")
    site.fleet.register_device(gas)
    ahead = make_alert(
        device_id=gas.id,
        kind=AlertKind.GAS,
        state=AlertState.CLEARED,
        ts=clock.now + timedelta(days=1),
    )
    assert site.intake.ingest_alerts([ahead], clock.now).cases_opened == []
    alarm = make_alert(device_id=gas.id, kind=AlertKind.GAS, severity=Severity.HIGH, ts=clock.now)
    [case] = site.intake.ingest_alerts([alarm], clock.advance(1)).cases_opened
    stored = site.cases.get_case(case.id)
    assert sorted(a.id for a in stored.alerts) == sorted([ahead.id, alarm.id])
    assert stored.last_alert_at <= clock.now + CLOCK_AHEAD_ALLOWED
