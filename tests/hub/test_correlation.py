"""The pure correlation core: which incident an alert belongs to, and site rules files."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from devices.kinds import FAULTS, AlertKind
from hub.cases.correlation import (
    ALARM_PATH_FAULTS,
    DEFAULT_RULES,
    CaseCategory,
    CorrelationRule,
    CorrelationRules,
    WaitingCase,
    attach_targets,
    category_of,
    load_rules,
    route,
    takes_in,
)
from hub.errors import InvalidInputError

T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
UNIT_1201 = "Building 3/Floor 12/Unit 1201"
UNIT_201 = "Building 3/Floor 2/Unit 201"


def test_fire_kinds_in_one_building_share_one_key() -> None:
    keys = {
        route(DEFAULT_RULES, device, kind, place).key
        for device, kind, place in [
            ("b3-1201-heat", AlertKind.HEAT, UNIT_1201),
            ("b3-1201-smoke", AlertKind.SMOKE, UNIT_1201),
            ("b3-corridor-cam", AlertKind.CAMERA_FIRE, "Building 3/Floor 12/Corridor"),
            ("b3-201-smoke", AlertKind.CAMERA_SMOKE, UNIT_201),
        ]
    }
    assert len(keys) == 1
    fire = route(DEFAULT_RULES, "b3-1201-smoke", AlertKind.SMOKE, UNIT_1201)
    assert (fire.rule, fire.place, fire.category) == (
        "fire",
        "Building 3",
        CaseCategory.LIFE_SAFETY,
    )
    other_building = route(DEFAULT_RULES, "b4-smoke", AlertKind.SMOKE, "Building 4/Floor 1")
    assert other_building.key != fire.key


def test_two_spellings_of_one_building_are_one_fire() -> None:
    """Devices registered by different people: case, a Chinese input method's full-width
    digits and spaces, doubled spaces. One incident, shown as the first spelling."""
    spellings = [
        ("a", "Building 3/Floor 12/Unit 1201"),
        ("b", "building 3/floor 12/unit 1202"),
        ("c", "BUILDING  3/Floor 12"),
        ("d", "Ｂｕｉｌｄｉｎｇ\u30003/Floor 11"),
    ]
    routes = [route(DEFAULT_RULES, device, AlertKind.SMOKE, place) for device, place in spellings]
    assert len({r.key for r in routes}) == 1
    assert routes[1].place == "building 3"
    targets = attach_targets(DEFAULT_RULES, AlertKind.SOS, "building 3/floor 12/unit 1201")
    assert routes[0].key in {t.route.key for t in targets}
    assert route(DEFAULT_RULES, "e", AlertKind.SMOKE, "Building 33/Floor 1").key != routes[0].key
    fire = DEFAULT_RULES.rule_for(AlertKind.SMOKE)
    assert fire is not None
    waiting = WaitingCase(
        kinds=frozenset({AlertKind.SOS}),
        locations=("building 3/unit 1201",),
        last_alert_at=T0,
        taken_on=False,
    )
    assert takes_in(fire, "Building 3", T0, waiting)


def test_co_gas_and_leaks_stay_apart_from_fire_and_each_other() -> None:
    fire = route(DEFAULT_RULES, "d", AlertKind.SMOKE, UNIT_1201).key
    co = route(DEFAULT_RULES, "d", AlertKind.CO, UNIT_1201).key
    gas = route(DEFAULT_RULES, "d", AlertKind.GAS, UNIT_1201).key
    leak = route(DEFAULT_RULES, "d", AlertKind.WATER_LEAK, UNIT_1201)
    assert len({fire, co, gas, leak.key}) == 4
    assert leak.category is CaseCategory.PROPERTY
    # CO is per dwelling: the neighbour's CO alarm is another incident.
    assert route(DEFAULT_RULES, "d", AlertKind.CO, UNIT_201).key != co


@pytest.mark.parametrize("fault", sorted(FAULTS - ALARM_PATH_FAULTS))
def test_faults_are_one_maintenance_case_per_device(fault: AlertKind) -> None:
    faulty = route(DEFAULT_RULES, "b3-1201-smoke", fault, UNIT_1201)
    assert faulty.category is CaseCategory.MAINTENANCE
    assert faulty.key == route(DEFAULT_RULES, "b3-1201-smoke", AlertKind.BATTERY_LOW, UNIT_1201).key
    assert faulty.key != route(DEFAULT_RULES, "b3-1201-smoke", AlertKind.SMOKE, UNIT_1201).key
    assert faulty.key != route(DEFAULT_RULES, "b3-1201-heat", fault, UNIT_1201).key
    assert attach_targets(DEFAULT_RULES, fault, UNIT_1201) == []


def test_an_edge_lost_is_one_supervision_case_per_edge() -> None:
    """A fault, but of the alarm path: its own category, faster than maintenance."""
    lost = route(DEFAULT_RULES, "edge.edge-b3", AlertKind.EDGE_OFFLINE, "Lanyuan")
    assert lost.category is CaseCategory.SUPERVISION
    assert lost.key != route(DEFAULT_RULES, "edge.edge-b4", AlertKind.EDGE_OFFLINE, "Lanyuan").key
    assert category_of(AlertKind.EDGE_OFFLINE) is CaseCategory.SUPERVISION


def test_door_and_camera_security_join_per_area() -> None:
    gate = "Courtyard/Main gate"
    forced = route(DEFAULT_RULES, "gate-contact", AlertKind.DOOR_FORCED, gate)
    person = route(DEFAULT_RULES, "gate-cam", AlertKind.CAMERA_PERSON, f"{gate}/Camera 1")
    assert forced.key == person.key
    assert forced.category is CaseCategory.SECURITY


def test_an_sos_alone_is_its_own_case_and_may_join_life_safety_nearby() -> None:
    sos = route(DEFAULT_RULES, "b3-1201-sos", AlertKind.SOS, UNIT_1201)
    assert (sos.rule, sos.category) == ("sos", CaseCategory.LIFE_SAFETY)
    assert sos.key != route(DEFAULT_RULES, "b3-201-sos", AlertKind.SOS, UNIT_201).key
    targets = attach_targets(DEFAULT_RULES, AlertKind.SOS, UNIT_1201)
    assert [t.route.rule for t in targets] == ["fire", "co", "gas"]
    assert targets[0].route.key == route(DEFAULT_RULES, "x", AlertKind.HEAT, UNIT_201).key


def test_kinds_no_rule_names_are_one_case_per_device_and_kind() -> None:
    rules = CorrelationRules(rules=())
    alone = route(rules, "b3-1201-smoke", AlertKind.SMOKE, UNIT_1201)
    assert (alone.key, alone.rule, alone.place) == ("b3-1201-smoke|smoke", None, None)
    assert category_of(AlertKind.SMOKE) is CaseCategory.LIFE_SAFETY
    assert category_of(AlertKind.WATER_LEAK) is CaseCategory.PROPERTY


def test_a_long_place_still_makes_a_short_key() -> None:
    deep = "/".join(["Building 3"] * 25)
    fire = route(DEFAULT_RULES, "d", AlertKind.SMOKE, deep)
    assert len(fire.key) <= 129
    wide = CorrelationRules(
        rules=(
            CorrelationRule(
                name="fire",
                kinds=frozenset({AlertKind.SMOKE}),
                category="life_safety",
                place_depth=25,
            ),
        )
    )
    assert len(route(wide, "d", AlertKind.SMOKE, deep).key) <= 129


@pytest.mark.parametrize(
    ("rules", "complaint"),
    [
        (
            [{"name": "mixed", "kinds": ["smoke", "battery_low"], "category": "life_safety"}],
            "mixes faults",
        ),
        (
            [
                {"name": "a", "kinds": ["smoke"], "category": "life_safety"},
                {"name": "b", "kinds": ["smoke"], "category": "life_safety"},
            ],
            "grouped by both",
        ),
        (
            [
                {
                    "name": "x",
                    "kinds": ["gas"],
                    "category": "life_safety",
                    "attach": ["device_offline"],
                }
            ],
            "fault never joins",
        ),
        ([{"name": "x", "kinds": [], "category": "property"}], "groups no kinds"),
        ([{"name": "Bad Name", "kinds": ["gas"], "category": "property"}], "pattern"),
        (
            [{"name": "x", "kinds": ["gas"], "category": "property", "colour": "red"}],
            "Extra inputs",
        ),
    ],
)
def test_bad_rules_are_refused(rules: list[dict[str, object]], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        CorrelationRules.model_validate({"rules": rules})


def test_a_site_loads_its_rules_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(
        '[[rules]]\nname = "fire"\nkinds = ["smoke", "heat"]\ncategory = "life_safety"\n'
        'place_depth = 2\nattach = ["sos"]\nattach_within_s = 120\n'
    )
    rules = load_rules(path)
    floor12 = route(rules, "a", AlertKind.SMOKE, UNIT_1201)
    assert floor12.place == "Building 3/Floor 12"
    assert floor12.key != route(rules, "b", AlertKind.HEAT, UNIT_201).key
    [target] = attach_targets(rules, AlertKind.SOS, UNIT_1201)
    assert target.within_s == 120


@pytest.mark.parametrize("text", ["not toml [", '[[rules]]\nname = "x"\n'])
def test_a_bad_rules_file_is_a_clear_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(text)
    with pytest.raises(InvalidInputError, match="correlation rules"):
        load_rules(path)
    with pytest.raises(InvalidInputError, match="correlation rules"):
        load_rules(tmp_path / "missing.json")
