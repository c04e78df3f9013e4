"""The pure attach windows of a batch (``plan_routes`` / ``attach_routes``): which incident
each alert of a batch joins, given the active incidents' newest alert times."""

from datetime import timedelta

from devices.kinds import AlertKind, AlertState, Severity
from devices.messages import Alert
from hub.cases.correlation import (
    DEFAULT_RULES,
    attach_routes,
    incident_lock_keys,
    plan_routes,
    route,
)
from tests.hub.factories import T0, make_alert

UNIT = "Building 3/Floor 12/Unit 1201"
LOCATIONS = {"b3-1201-smoke": UNIT, "b3-1201-sos": UNIT}
FIRE = route(DEFAULT_RULES, "b3-1201-smoke", AlertKind.SMOKE, UNIT)


def press(seconds: float = 0) -> Alert:
    """Return an SOS press ``seconds`` after T0."""
    return make_alert(
        device_id="b3-1201-sos",
        kind=AlertKind.SOS,
        severity=Severity.CRITICAL,
        ts=T0 + timedelta(seconds=seconds),
    )


def test_a_press_near_an_active_fire_joins_it() -> None:
    sos = press()
    plan = plan_routes(DEFAULT_RULES, [sos], LOCATIONS)
    assert FIRE.key in plan.candidate_keys
    routes, attached = attach_routes(plan, [sos], {FIRE.key: T0 - timedelta(seconds=30)})
    assert routes[sos.id] == FIRE
    assert attached[sos.id].rule == "sos"  # its own route, kept for when the fire is gone


def test_a_press_long_after_the_fire_goes_its_own_way() -> None:
    sos = press()
    plan = plan_routes(DEFAULT_RULES, [sos], LOCATIONS)
    routes, attached = attach_routes(plan, [sos], {FIRE.key: T0 - timedelta(hours=2)})
    assert routes[sos.id].rule == "sos"
    assert attached == {}


def test_a_fire_raised_in_the_same_batch_is_joined_too() -> None:
    smoke, sos = make_alert(device_id="b3-1201-smoke", ts=T0), press(5)
    plan = plan_routes(DEFAULT_RULES, [smoke, sos], LOCATIONS)
    routes, attached = attach_routes(plan, [smoke, sos], {})
    assert routes[smoke.id] == FIRE
    assert routes[sos.id] == FIRE
    assert set(attached) == {sos.id}


def test_a_cleared_fire_in_the_batch_opens_no_window() -> None:
    cleared = make_alert(device_id="b3-1201-smoke", state=AlertState.CLEARED, ts=T0)
    sos = press()
    plan = plan_routes(DEFAULT_RULES, [cleared, sos], LOCATIONS)
    routes, _ = attach_routes(plan, [cleared, sos], {})
    assert routes[sos.id].rule == "sos"


def test_nothing_to_attach_to_means_no_candidates() -> None:
    smoke = make_alert(device_id="b3-1201-smoke", ts=T0)
    plan = plan_routes(DEFAULT_RULES, [smoke], LOCATIONS)
    assert plan.candidate_keys == frozenset()
    assert attach_routes(plan, [smoke], {}) == ({smoke.id: FIRE}, {})


def test_a_take_locks_the_incidents_others_may_join_and_those_it_may_join() -> None:
    smoke = make_alert(device_id="b3-1201-smoke", kind=AlertKind.SMOKE)
    leak = make_alert(device_id="b3-1201-leak", kind=AlertKind.WATER_LEAK)
    battery = make_alert(device_id="b3-1201-smoke", kind=AlertKind.BATTERY_LOW)
    sos = press()
    locations = {**LOCATIONS, "b3-1201-leak": UNIT}
    plan = plan_routes(DEFAULT_RULES, [smoke, leak, battery, sos], locations)
    keys = incident_lock_keys(DEFAULT_RULES, plan)
    # The fire (an SOS attaches to fires) and every incident the press may join: the building's
    # fire, the dwelling's CO and gas. Not the leak, the battery or the press's own case: no
    # kind attaches to those, so two workers meet at their unique open_key instead.
    assert keys == {FIRE.key} | plan.candidate_keys
    assert {route(DEFAULT_RULES, sos.device_id, AlertKind.CO, UNIT).key} <= keys
    for alert in (leak, battery, sos):
        assert plan.own[alert.id].key not in keys
