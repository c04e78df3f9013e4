"""Found by an outside review of the site plan and the map: every kind outside life safety,
security and faults fell to "a kind this console does not know yet" and showed "alarm", red as
an SOS: a water leak, a resident's everyday request (on the household's SOS button, which red
says was pressed), a care household's no-activity check. Seven leaking pipes made a plan of red
dots among which the SOS could not be found.

Each category now shows its own state (``hub.console.routes.KIND_STATES``, docs/console.md):
life safety "alarm"; wellbeing "wellbeing" (a person possibly in danger, worse than all but an
alarm); security "security"; property "property" (additive); maintenance and supervision
"fault"; a request no state of its own (the device shows its own condition). A kind the console
does not know (a newer edge's) is still an alarm."""

from datetime import timedelta

from devices.kinds import AlertKind
from hub.cases.correlation import CaseCategory, category_of
from hub.console import routes
from hub.console.routes import build_site_plan, device_state
from tests.console.test_console_api import case, device
from tests.hub.factories import T0

STATE_OF_CATEGORY: dict[CaseCategory, str | None] = {
    CaseCategory.LIFE_SAFETY: "alarm",
    CaseCategory.WELLBEING: "wellbeing",
    CaseCategory.SECURITY: "security",
    CaseCategory.PROPERTY: "property",
    CaseCategory.MAINTENANCE: "fault",
    CaseCategory.SUPERVISION: "fault",
    CaseCategory.REQUEST: None,
}
"""The state a device shows for an unfinished case of each category (None: its own)."""


def test_a_leak_a_request_and_a_wellbeing_check_are_not_an_sos() -> None:
    sensor = device("pump-leak", "Building 3/B1")
    assert device_state(sensor, [AlertKind.SOS]) == "alarm"
    assert device_state(sensor, [AlertKind.WATER_LEAK]) == "property"
    assert device_state(sensor, [AlertKind.NO_ACTIVITY]) == "wellbeing"
    assert device_state(sensor, [AlertKind.DEVICE_CLAIM_CONFLICT]) == "security"  # the hub's
    assert device_state(sensor, [AlertKind.EDGE_OFFLINE]) == "fault"  # supervision
    assert device_state(sensor, [AlertKind.BRIDGE_OFFLINE]) == "fault"
    # A resident's request stands on the household's SOS button: the button shows its own
    # condition, not a press (and a flat or silent button still says so).
    assert device_state(sensor, [AlertKind.RESIDENT_REQUEST]) == "ok"
    assert device_state(sensor, [AlertKind.RESIDENT_REQUEST], offline=True) == "fault"
    never = device("web-button", "Building 3", last_seen=None)
    assert device_state(never, [AlertKind.RESIDENT_REQUEST]) == "silent"


def test_the_worst_state_wins_and_an_unknown_kind_is_still_an_alarm() -> None:
    sensor = device("b3-1201", "Building 3/Floor 12/Unit 1201")
    assert device_state(sensor, [AlertKind.WATER_LEAK, AlertKind.SOS]) == "alarm"
    assert device_state(sensor, [AlertKind.RESIDENT_REQUEST, AlertKind.SOS]) == "alarm"
    assert device_state(sensor, [AlertKind.DOOR_FORCED, AlertKind.NO_ACTIVITY]) == "wellbeing"
    assert device_state(sensor, [AlertKind.WATER_LEAK, AlertKind.DOOR_FORCED]) == "security"
    assert device_state(sensor, [AlertKind.BATTERY_LOW, AlertKind.WATER_LEAK]) == "property"
    # A kind from a newer edge that this hub does not know: err on the side of attention.
    assert device_state(sensor, ["meteor_strike"]) == "alarm"
    assert device_state(sensor, ["meteor_strike", AlertKind.WATER_LEAK]) == "alarm"


def test_every_alert_kind_shows_the_state_of_its_category() -> None:
    """Every kind has a decided state (a kind added to ``AlertKind`` must be given one here,
    or it shows as an alarm), the state of its case's category; the claim conflict, which
    ``category_of`` does not know, as the hub opens it (security, ``hub.fleet.conflicts``)."""
    kind_states = routes.KIND_STATES
    assert set(kind_states) == set(AlertKind)
    for kind in AlertKind:
        category = (
            CaseCategory.SECURITY if kind is AlertKind.DEVICE_CLAIM_CONFLICT else category_of(kind)
        )
        assert kind_states[kind] == STATE_OF_CATEGORY[category], kind


def test_an_sos_among_seven_leaks_stands_out_on_the_plan() -> None:
    leaks = [device(f"b{n}-leak", f"Building {n}/B1") for n in range(1, 8)]
    button = device("b3-1201-sos", "Building 3/Floor 12/Unit 1201")
    care = device("b5-601-sos", "Building 5/Floor 6/Unit 601")
    asking = device("b6-301-sos", "Building 6/Floor 3/Unit 301")
    cases = [
        *(case(n, f"b{n}-leak", AlertKind.WATER_LEAK) for n in range(1, 8)),
        case(8, "b3-1201-sos", AlertKind.SOS),
        case(9, "b5-601-sos", AlertKind.NO_ACTIVITY),
        case(10, "b6-301-sos", AlertKind.RESIDENT_REQUEST),
    ]
    plan = build_site_plan([*leaks, button, care, asking], cases, T0 + timedelta(minutes=5))
    states = {
        d.id: (d.state, d.hazard) for b in plan.buildings for f in b.floors for d in f.devices
    }
    assert states == {
        **{f"b{n}-leak": ("property", False) for n in range(1, 8)},
        "b3-1201-sos": ("alarm", True),
        "b5-601-sos": ("wellbeing", False),
        "b6-301-sos": ("ok", False),
    }
    assert plan.counts == {
        "alarm": 1,
        "security": 0,
        "fault": 0,
        "ok": 1,
        "silent": 0,
        "wellbeing": 1,
        "property": 7,
    }
