"""A fire case that takes in the SOS press before it (``hub.cases.merging``) keeps the press's
acknowledgement deadline: the elderly resident pressed at T0 and nobody took the press on, so
the community's minute ran from T0, not from the moment the detector tripped. Before, the fire
case's minute started afresh when it opened: a press 50 s before the smoke climbed to the
street at 110 s, and each climb of the chain could be put off by up to a minute so (outside
review of time handling), on SQLite and PostgreSQL."""

from datetime import timedelta

from devices.kinds import AlertKind, Severity
from hub.cases.rules import CaseEventAction
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import make_alert
from tests.hub.test_incidents import DEVICES, HEAT, SOS


def escalations(store: HubStore, case_id: int) -> list[tuple[object, str | None]]:
    events = store.cases.get_case(case_id).events
    return [(e.ts, e.note) for e in events if e.action is CaseEventAction.ESCALATED]


def test_a_fire_that_takes_in_a_press_escalates_a_minute_after_the_press(
    store: HubStore, clock: FakeClock
) -> None:
    for device in DEVICES:
        store.fleet.register_device(device)
    t0 = clock.now
    press = make_alert(device_id=SOS.id, kind=AlertKind.SOS, severity=Severity.CRITICAL, ts=t0)
    [pressed] = store.intake.ingest_alerts([press], t0).cases_opened
    clock.now = t0 + timedelta(seconds=50)  # the detector trips 50 s after the press
    heat = make_alert(device_id=HEAT.id, kind=AlertKind.HEAT, severity=Severity.HIGH, ts=clock.now)
    result = store.intake.ingest_alerts([heat], clock.now)
    [fire] = result.cases_opened
    assert result.cases_merged_into == [fire.id]

    clock.now = t0 + timedelta(seconds=60)
    store.deadlines.fire_due_timers(clock.now)

    climbed = escalations(store, fire.id)
    assert [at for at, _ in climbed] == [t0 + timedelta(seconds=60)]
    assert "street" in str(climbed[0][1])
    assert store.cases.get_case(fire.id).escalation_level == 1
    assert escalations(store, pressed.id) == []  # one chain: the fire case's

    # The chain goes on from there, a minute a step: the district at 120 s, not later.
    clock.now = t0 + timedelta(seconds=120)
    store.deadlines.fire_due_timers(clock.now)
    assert store.cases.get_case(fire.id).escalation_level == 2


def test_a_press_taken_in_after_it_climbed_keeps_its_chains_next_step(
    store: HubStore, clock: FakeClock
) -> None:
    """The press climbed to the street at 60 s; its next step, the district, is due at 120 s.
    The fire opening at 100 s takes it in at the street level and climbs at 120 s too."""
    for device in DEVICES:
        store.fleet.register_device(device)
    t0 = clock.now
    press = make_alert(device_id=SOS.id, kind=AlertKind.SOS, severity=Severity.CRITICAL, ts=t0)
    [pressed] = store.intake.ingest_alerts([press], t0).cases_opened
    clock.now = t0 + timedelta(seconds=60)
    store.deadlines.fire_due_timers(clock.now)
    assert store.cases.get_case(pressed.id).escalation_level == 1
    clock.now = t0 + timedelta(seconds=100)
    heat = make_alert(device_id=HEAT.id, kind=AlertKind.HEAT, severity=Severity.HIGH, ts=clock.now)
    [fire] = store.intake.ingest_alerts([heat], clock.now).cases_opened
    assert fire.escalation_level == 1

    clock.now = t0 + timedelta(seconds=120)
    store.deadlines.fire_due_timers(clock.now)

    assert store.cases.get_case(fire.id).escalation_level == 2
