"""A press before the fire (``hub.cases.merging``), on SQLite and PostgreSQL: the fire case,
when it opens, takes in the SOS case the press opened before it — members, alerts, deadlines
— unless a person has taken that case on, it is elsewhere or too long before."""

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from devices.kinds import AlertKind, Severity
from hub.cases.correlation import DEFAULT_RULES, WaitingCase, takes_in
from hub.cases.rules import CaseAction, CaseEventAction, CaseStatus, Resolution
from hub.persistence.tables import CaseTimerRow
from hub.roster.rules import Grid, Responder, ResponderRole, Site
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import T0, make_alert
from tests.hub.test_incidents import (
    DEVICES,
    FAR_SOS,
    HEAT,
    SOS,
    registered,
    scenario_1,
    second_waits_for_first,
)

FIRE = DEFAULT_RULES.rules[0]
SOS_KINDS = frozenset({AlertKind.SOS})


@pytest.fixture
def site(store: HubStore) -> HubStore:
    """Register building 3's detectors and button, and a button in building 7."""
    for device in DEVICES:
        store.fleet.register_device(device)
    return store


def waiting(**changes: object) -> WaitingCase:
    """An SOS case in building 3 pressed at T0, nobody on it; ``changes`` replace fields."""
    fields: dict[str, object] = {
        "kinds": SOS_KINDS,
        "locations": ("Building 3/Floor 12/Unit 1202",),
        "last_alert_at": T0,
        "taken_on": False,
    }
    return WaitingCase(**{**fields, **changes})  # type: ignore[arg-type]


def test_the_rule_takes_in_a_press_at_its_place_within_its_window() -> None:
    at = T0 + timedelta(seconds=FIRE.attach_within_s)
    assert FIRE.name == "fire"
    assert takes_in(FIRE, "Building 3", at, waiting())
    assert takes_in(FIRE, "Building 3", T0 - timedelta(seconds=30), waiting())  # either order
    assert not takes_in(FIRE, "Building 3", at + timedelta(seconds=1), waiting())
    assert not takes_in(FIRE, "Building 7", T0, waiting())
    assert not takes_in(FIRE, "Building 3", T0, waiting(taken_on=True))
    assert not takes_in(FIRE, None, T0, waiting())
    # Anything but the rule's attach kinds, or a device elsewhere, and it stays apart.
    assert not takes_in(FIRE, "Building 3", T0, waiting(kinds=SOS_KINDS | {AlertKind.GAS}))
    assert not takes_in(FIRE, "Building 3", T0, waiting(kinds=frozenset()))
    two_places = ("Building 3/Floor 1/Unit 101", "Building 7/Floor 1/Unit 101")
    assert not takes_in(FIRE, "Building 3", T0, waiting(locations=two_places))


def test_the_fire_case_takes_in_the_press_before_it(site: HubStore, clock: FakeClock) -> None:
    heat, smoke, camera, sos = scenario_1()
    [pressed] = site.intake.ingest_alerts([sos], clock.now).cases_opened
    clock.advance(5)
    result = site.intake.ingest_alerts([heat, smoke, camera], clock.now)

    [fire] = result.cases_opened
    assert result.cases_merged_into == [fire.id]
    assert fire.alert_count == 4
    assert fire.priority is Severity.CRITICAL  # the press's priority came with it
    assert sorted(fire.kinds) == sorted(
        [AlertKind.HEAT, AlertKind.SMOKE, AlertKind.CAMERA_FIRE, AlertKind.SOS]
    )
    # The stream hears the SOS case closed, pointing at the fire case.
    [closed] = result.cases_updated
    assert (closed.id, closed.status, closed.merged_into) == (
        pressed.id,
        CaseStatus.CLOSED,
        fire.id,
    )
    assert (closed.resolution, closed.alert_count, closed.members) == (None, 0, [])
    # The button hears the fire case: its press is part of it now.
    assert [c.id for c in result.cases_joined_by(SOS_KINDS)] == [fire.id]

    detail = site.cases.get_case(fire.id)
    assert {a.id for a in detail.alerts} == {heat.id, smoke.id, camera.id, sos.id}
    assert [e.action for e in detail.events][:2] == [
        CaseEventAction.OPENED,
        CaseEventAction.MERGED_IN,
    ]
    old = site.cases.get_case(pressed.id)
    assert old.alerts == []
    assert [e.action for e in old.events] == [CaseEventAction.OPENED, CaseEventAction.MERGED]
    assert f"case {fire.id}" in (old.events[-1].note or "")
    assert old.actions == [CaseAction.COMMENT]  # a note at most: the work is on the fire case
    assert [c.id for c in site.cases.list_cases() if c.status is not CaseStatus.CLOSED] == [fire.id]
    assert site.audit.verify_audit().intact

    # Presses after the merge join the fire case; none reopens the SOS case.
    again = make_alert(device_id=SOS.id, kind=AlertKind.SOS, ts=sos.ts + timedelta(seconds=30))
    later = site.intake.ingest_alerts([again], clock.advance(30))
    assert later.cases_opened == []
    [joined] = later.cases_updated
    assert (joined.id, joined.alert_count) == (fire.id, 5)
    members = {(m.device_id, m.kind): m.alert_count for m in joined.members}
    assert members[(SOS.id, AlertKind.SOS)] == 2


def test_the_households_page_follows_the_fire_case(site: HubStore, clock: FakeClock) -> None:
    """The resident's page shows the household's latest case with its SOS: the fire case once
    it took the press in, at the stage the press had (nobody on it yet)."""
    household = site.households.create_household("Li family", SOS.location, [SOS.id], "h" * 64)
    heat, *_, sos = scenario_1()
    [pressed] = site.intake.ingest_alerts([sos], clock.now).cases_opened
    assert site.households.household_status(household).case_id == pressed.id
    [fire] = site.intake.ingest_alerts([heat], clock.advance(5)).cases_opened
    status = site.households.household_status(household)
    assert (status.case_id, status.stage) == (fire.id, "case_opened")
    site.cases.act(fire.id, CaseAction.ACKNOWLEDGE, actor="duty-operator")
    assert site.households.household_status(household).stage == "acknowledged"


def test_the_press_taken_in_no_longer_escalates_on_its_own(
    site: HubStore, clock: FakeClock
) -> None:
    heat, *_, sos = scenario_1()
    [pressed] = site.intake.ingest_alerts([sos], clock.now).cases_opened
    # Its acknowledgement deadline passes unmet: escalated to the street level.
    clock.advance(61)
    [escalated] = site.deadlines.fire_due_timers(clock.now)
    assert (escalated.id, escalated.escalation_level) == (pressed.id, 1)
    [fire] = site.intake.ingest_alerts([heat], clock.now).cases_opened
    # The fire case starts where the press had got to, and the press's deadlines are retired.
    assert fire.escalation_level == 1
    with site.db.reading() as session:
        pending = session.scalars(
            select(CaseTimerRow.case_id).where(CaseTimerRow.fired_at.is_(None))
        ).all()
    assert set(pending) == {fire.id}
    clock.advance(61)
    assert [c.id for c in site.deadlines.fire_due_timers(clock.now)] == [fire.id]


def test_a_fire_that_comes_back_takes_in_the_press_made_meanwhile(
    site: HubStore, clock: FakeClock
) -> None:
    """The fire case was resolved; a press escalates unanswered; the fire comes back: the
    reopened fire case takes the press in, at the press's escalation level."""
    heat, *_, sos = scenario_1()
    [fire] = site.intake.ingest_alerts([heat], clock.now).cases_opened
    site.cases.act(fire.id, CaseAction.RESOLVE, note="out", resolution=Resolution.REAL)
    late = sos.ts + timedelta(seconds=200)
    press = make_alert(device_id=SOS.id, kind=AlertKind.SOS, ts=late)
    [pressed] = site.intake.ingest_alerts([press], clock.advance(200)).cases_opened
    [escalated] = site.deadlines.fire_due_timers(clock.advance(61))
    assert (escalated.id, escalated.escalation_level) == (pressed.id, 1)
    again = make_alert(device_id=HEAT.id, kind=AlertKind.HEAT, ts=late + timedelta(seconds=61))
    result = site.intake.ingest_alerts([again], clock.now)
    [reopened] = result.cases_updated[:1]
    assert (reopened.id, reopened.status, reopened.escalation_level) == (
        fire.id,
        CaseStatus.OPEN,
        1,
    )
    assert result.cases_merged_into == [fire.id]
    assert AlertKind.SOS in reopened.kinds


def test_a_press_someone_took_on_stays_its_own_case(site: HubStore, clock: FakeClock) -> None:
    heat, *_, sos = scenario_1()
    [pressed] = site.intake.ingest_alerts([sos], clock.now).cases_opened
    site.cases.act(pressed.id, CaseAction.ACKNOWLEDGE, actor="duty-operator")
    result = site.intake.ingest_alerts([heat], clock.advance(5))
    assert result.cases_merged_into == []
    [fire] = result.cases_opened
    assert fire.kinds == [AlertKind.HEAT]
    kept = site.cases.get_case(pressed.id)
    assert (kept.status, kept.merged_into, kept.alert_count) == (
        CaseStatus.ACKNOWLEDGED,
        None,
        1,
    )


def test_a_press_elsewhere_or_long_before_stays_its_own_case(
    site: HubStore, clock: FakeClock
) -> None:
    heat = scenario_1(T0 + timedelta(seconds=FIRE.attach_within_s + 1))[0]
    early = make_alert(device_id=SOS.id, kind=AlertKind.SOS, ts=T0)
    far = make_alert(device_id=FAR_SOS.id, kind=AlertKind.SOS, ts=heat.ts)
    opened = site.intake.ingest_alerts([early, far], clock.now).cases_opened
    # Received when it is stamped: an alert counts as no later than its receipt
    # (``correlation_time``).
    result = site.intake.ingest_alerts([heat], heat.ts)
    assert result.cases_merged_into == []
    assert result.cases_updated == []
    for case in opened:
        assert site.cases.get_case(case.id).status is CaseStatus.OPEN


def test_a_responder_offered_the_press_sees_it_gone_to_the_fire_case(
    site: HubStore, clock: FakeClock
) -> None:
    """The press was dispatched on its own (waiting for an answer): the SOS case leaves the
    responder's list, closed; the fire case is dispatched to whoever is on call for it."""
    site.roster.put_site(Site(id="lanyuan", name="Lanyuan", edge_ids=["edge-1"]))
    site.roster.put_grid(Grid(id="g-b3", site_id="lanyuan", name="B3", places=["Building 3"]))
    site.roster.put_responder(
        Responder(id="wang", site_id="lanyuan", name="Wang", role=ResponderRole.GRID_WORKER)
    )
    heat, *_, sos = scenario_1()
    [pressed] = site.intake.ingest_alerts([sos], clock.now).cases_opened
    assert pressed.status is CaseStatus.DISPATCHED
    [fire] = site.intake.ingest_alerts([heat], clock.advance(5)).cases_opened
    closed = site.cases.get_case(pressed.id)
    assert (closed.status, closed.team, closed.assignee) == (CaseStatus.CLOSED, [], None)
    assert fire.status is CaseStatus.DISPATCHED
    assert [m.responder for m in fire.team] == ["wang"]


def test_a_fire_waits_for_the_press_another_worker_is_storing(
    pg_engine: Engine, migrated_postgres_url: str
) -> None:
    """Two workers: one stores a press and has not committed yet when the other takes the
    fire's first alert. The fire waits for that commit (the incident's lock), then takes the
    press's case in; reading "no press here" it would leave two cases."""
    store = registered(pg_engine)
    heat, *_, sos = scenario_1()
    press, taken = second_waits_for_first(store, migrated_postgres_url, [sos], [heat])
    [pressed] = press.cases_opened
    [fire_case] = taken.cases_opened
    assert taken.cases_merged_into == [fire_case.id]
    assert [c.id for c in taken.cases_updated] == [pressed.id]
    assert store.cases.get_case(pressed.id).merged_into == fire_case.id
    assert sorted(store.cases.get_case(fire_case.id).kinds) == sorted(
        [AlertKind.HEAT, AlertKind.SOS]
    )
    assert store.audit.verify_audit().intact
