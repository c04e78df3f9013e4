"""Scenarios as pure streams: deterministic, ordered, decodable, and doing what they claim."""

import itertools
import random
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from devices.kinds import AlertKind, DeviceKind
from devices.observations import AvailabilityChange, DeviceEvent, StateUpdate
from devices.payloads import ButtonEvent
from devices.registry import Device
from devices.site import SiteFile, SiteInfo
from simulators.errors import NoSuitableDeviceError, UnknownScenarioError
from simulators.scenarios import SCENARIOS, Scenario, get_scenario
from simulators.sensors import Step
from simulators.sites import sample_site_path
from tests.simulators.observed import (
    BATTERY_LOW_PCT,
    CO_CLEAR_PPM,
    CO_RAISE_PPM,
    GAS_ALARM_LEL,
    GAS_WARNING_LEL,
    HEAT_C,
    Seen,
    detected_alert_kinds,
    observe,
    readings,
)

EPOCH = datetime(2025, 6, 1, tzinfo=UTC)
INCIDENTS = ["co_rising", "fire", "gas_leak", "water_leak", "sos", "battery_dying"]
ENDLESS = ["background", "demo", "demo_calm"]
DAY_S = 86_400.0


@pytest.fixture(scope="module")
def site() -> SiteFile:
    return SiteFile.load(sample_site_path())


def steps_of(name: str, site: SiteFile, seed: int = 1, until: float = DAY_S) -> list[Step]:
    """Return a scenario's steps, cut at ``until`` simulated seconds if it never ends."""
    return list(itertools.takewhile(lambda s: s.at <= until, _steps(name, site, seed)))


def _steps(name: str, site: SiteFile, seed: int) -> Iterator[Step]:
    return SCENARIOS[name].steps(site, random.Random(seed), epoch=EPOCH)


def test_the_registry_has_every_scenario_with_a_one_line_description() -> None:
    # Detection's scenarios first; the door-access scenarios (issue 4) follow them.
    assert list(SCENARIOS)[: len(INCIDENTS) + 2] == ["background", *INCIDENTS, "demo"]
    for name, scenario in SCENARIOS.items():
        assert scenario.name == name
        assert scenario.description
        assert "\n" not in scenario.description
        assert len(scenario.description) <= 100
        assert not scenario.expected_alert_kinds & scenario.forbidden_alert_kinds


def test_incident_scenarios_declare_what_they_must_and_must_not_cause() -> None:
    expected = {name: SCENARIOS[name].expected_alert_kinds for name in INCIDENTS}

    assert expected == {
        "co_rising": {AlertKind.CO},
        "fire": {AlertKind.HEAT, AlertKind.SMOKE, AlertKind.SOS},
        "gas_leak": {AlertKind.GAS},
        "water_leak": {AlertKind.WATER_LEAK},
        "sos": {AlertKind.SOS},
        "battery_dying": {AlertKind.BATTERY_LOW, AlertKind.DEVICE_OFFLINE},
    }
    assert AlertKind.DEVICE_OFFLINE in SCENARIOS["fire"].forbidden_alert_kinds
    assert SCENARIOS["background"].forbidden_alert_kinds == set(AlertKind)
    assert SCENARIOS["battery_dying"].forbidden_alert_kinds >= {AlertKind.SMOKE, AlertKind.SOS}


def test_get_scenario_names_the_known_ones_when_asked_for_another() -> None:
    assert get_scenario("fire") is SCENARIOS["fire"]
    with pytest.raises(UnknownScenarioError, match="known: background, co_rising"):
        get_scenario("earthquake")


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_a_seed_gives_the_same_steps_and_another_seed_other_ones(name: str, site: SiteFile) -> None:
    until = 4 * 3600.0
    first, again = steps_of(name, site, 7, until), steps_of(name, site, 7, until)
    other = steps_of(name, site, 8, until)

    assert first == again
    if name != "battery_dying":  # a clean battery curve and a silent detector: nothing random
        assert first != other


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_steps_come_in_time_order_and_all_decode(name: str, site: SiteFile) -> None:
    steps = steps_of(name, site, until=6 * 3600.0)

    assert steps
    assert all(a.at <= b.at for a, b in itertools.pairwise(steps))
    assert steps[0].at >= 0.0
    seen = observe(site, steps)  # fails on anything the edge's adapters would refuse
    assert seen


@pytest.mark.parametrize("name", INCIDENTS)
def test_an_incident_ends_at_its_duration_and_drives_only_its_participants(
    name: str, site: SiteFile
) -> None:
    scenario = SCENARIOS[name]
    steps = steps_of(name, site)
    participants = scenario.participants(site)

    assert scenario.duration_s is not None
    assert steps[-1].at == pytest.approx(scenario.duration_s)
    assert {s.device for s in observe(site, steps)} == set(participants)


@pytest.mark.parametrize("name", INCIDENTS)
def test_an_incident_causes_its_expected_alert_kinds_and_no_forbidden_one(
    name: str, site: SiteFile
) -> None:
    scenario = SCENARIOS[name]

    kinds = detected_alert_kinds(observe(site, steps_of(name, site)), EPOCH)

    assert kinds >= scenario.expected_alert_kinds
    assert not kinds & scenario.forbidden_alert_kinds


def test_background_stays_below_every_threshold_for_a_day(site: SiteFile) -> None:
    seen = observe(site, steps_of("background", site, until=DAY_S))

    assert detected_alert_kinds(seen, EPOCH) == set()
    assert not [s for s in seen if isinstance(s.observation, DeviceEvent)]
    assert all(c for _, c in readings(seen, "contact"))  # every door closed
    assert max(v for _, v in readings(seen, "co_ppm")) <= 5.0


def test_background_reports_every_device_about_every_minute(site: SiteFile) -> None:
    seen = observe(site, steps_of("background", site, until=3600.0))
    times: dict[str, list[float]] = {}
    for s in seen:
        if isinstance(s.observation, StateUpdate):
            times.setdefault(s.device.id, []).append(s.at)

    assert set(times) == {d.id for d in site.devices}
    for at in times.values():
        gaps = [b - a for a, b in itertools.pairwise(at) if b > a]
        assert min(gaps) >= 55.0
        assert max(gaps) <= 65.0


def by_device(seen: list[Seen], device_id: str) -> list[Seen]:
    return [s for s in seen if s.device.id == device_id]


def test_fire_heat_rises_10_degrees_a_minute_past_57_then_smoke_and_sos(site: SiteFile) -> None:
    seen = observe(site, steps_of("fire", site))
    heat = readings(by_device(seen, "b3-f12-1201-heat"), "temperature_c")
    smoke = readings(by_device(seen, "b3-f12-1201-smoke"), "smoke")
    presses = [
        s.at
        for s in by_device(seen, "b3-f12-1201-sos")
        if isinstance(s.observation, DeviceEvent) and s.observation.event == ButtonEvent.PRESS
    ]

    assert max(float(v) for _, v in heat) >= 70.0
    crossed = next(at for at, v in heat if float(v) >= HEAT_C)
    minute_rises = [
        float(b) - float(a) for (t1, a), (t2, b) in itertools.combinations(heat, 2) if t2 - t1 == 60
    ]
    assert max(minute_rises) >= 9.0  # ~10 °C/min, above EN 54-5's 8.3 °C/min rate-of-rise
    tripped = next(at for at, v in smoke if v is True)
    assert tripped < crossed
    assert len(presses) == 1
    assert presses[0] > crossed
    assert smoke[-1][1] is False  # the smoke has cleared by the end


def test_fire_smoke_detector_speaks_zigbee2mqtt(site: SiteFile) -> None:
    steps = steps_of("fire", site)

    smoke_alarm = [
        s for s in steps if s.topic == "zigbee2mqtt/b3 1201 smoke" and b'"smoke":true' in s.payload
    ]
    sos = [s for s in steps if s.topic == "zigbee2mqtt/b3 1201 sos" and b'"emergency"' in s.payload]

    assert smoke_alarm
    assert len(sos) == 1


def test_co_rising_ramps_to_about_200_ppm_holds_then_clears(site: SiteFile) -> None:
    co = [
        (at, float(v)) for at, v in readings(observe(site, steps_of("co_rising", site)), "co_ppm")
    ]

    first_alarm = next(at for at, v in co if v >= CO_RAISE_PPM)
    peak = max(v for _, v in co)
    assert 60.0 < first_alarm < 60.0 + 5 * 60
    assert 180.0 <= peak <= 230.0
    above_150 = [at for at, v in co if v >= 150.0]
    assert above_150[-1] - above_150[0] >= 50 * 60  # long enough for a UL 2034 dose alarm
    assert co[-1][1] < CO_CLEAR_PPM


def test_gas_leak_climbs_through_10_and_20_lel_and_never_goes_negative(site: SiteFile) -> None:
    gas = [
        (at, float(v))
        for at, v in readings(observe(site, steps_of("gas_leak", site)), "gas_lel_pct")
    ]

    warning = next(at for at, v in gas if v >= GAS_WARNING_LEL)
    alarm = next(at for at, v in gas if v >= GAS_ALARM_LEL)
    assert warning < alarm
    assert all(v >= 0.0 for _, v in gas)
    assert gas[-1][1] < GAS_WARNING_LEL


def test_water_leak_flaps_within_seconds_then_stays_wet(site: SiteFile) -> None:
    wet = readings(observe(site, steps_of("water_leak", site)), "water_leak")

    first_wet = next(at for at, v in wet if v is True)
    flaps = [(at, v) for at, v in wet if first_wet <= at <= first_wet + 10.0]
    changes = sum(1 for (_, a), (_, b) in itertools.pairwise(flaps) if a != b)
    assert changes >= 5  # wet/dry/wet/dry/wet/dry... within ten seconds
    settled = [v for at, v in wet if first_wet + 10.0 < at < first_wet + 10 * 60.0]
    assert len(settled) >= 5
    assert all(settled)


def test_sos_is_one_press(site: SiteFile) -> None:
    seen = observe(site, steps_of("sos", site))

    events = [s.observation for s in seen if isinstance(s.observation, DeviceEvent)]
    assert [e.event for e in events] == [ButtonEvent.PRESS]


def test_battery_dying_drains_below_15_then_silence_then_offline(site: SiteFile) -> None:
    seen = observe(site, steps_of("battery_dying", site))
    battery = readings(seen, "battery_pct")

    assert all(float(b) <= float(a) for (_, a), (_, b) in itertools.pairwise(battery))
    assert float(battery[-1][1]) < BATTERY_LOW_PCT
    last = seen[-1]
    assert last.observation == AvailabilityChange(online=False)
    assert last.at - battery[-1][0] >= 60.0  # it fell silent before it was declared offline
    assert seen[0].observation == AvailabilityChange(online=True)


def test_demo_keeps_the_background_going_and_starts_incidents(site: SiteFile) -> None:
    seen = observe(site, steps_of("demo", site, seed=3, until=DAY_S))

    kinds = detected_alert_kinds(seen, EPOCH)
    assert len(kinds) >= 5
    reporting = {s.device.id for s in seen if s.at > DAY_S - 3600.0}
    assert len(reporting) >= len(site.devices) - 3  # dead batteries get replaced


@pytest.mark.parametrize("seed", range(8))
def test_the_demo_raises_a_first_alarm_within_seconds(site: SiteFile, seed: int) -> None:
    first = steps_of("demo", site, seed=seed, until=20.0)
    kinds = detected_alert_kinds(observe(site, first), EPOCH)
    assert kinds & {AlertKind.SOS, AlertKind.WATER_LEAK}, kinds
    # ... and then one incident every couple of minutes.
    hour = detected_alert_kinds(
        observe(site, steps_of("demo", site, seed=seed, until=3600.0)), EPOCH
    )
    assert len(hour) >= 3


def test_the_calm_demo_keeps_the_old_pace(site: SiteFile) -> None:
    first = steps_of("demo_calm", site, seed=1, until=110.0)
    assert not detected_alert_kinds(observe(site, first), EPOCH)


def test_a_scenario_refuses_a_site_without_the_devices_it_needs() -> None:
    doors = SiteFile(
        site=SiteInfo(name="Gatehouse", edge_id="edge-gate"),
        devices=[Device(id="door-1", kind=DeviceKind.DOOR_CONTACT, location="Gate")],
    )

    for name in ("fire", "co_rising", "sos"):
        scenario: Scenario = SCENARIOS[name]
        with pytest.raises(NoSuitableDeviceError):
            list(scenario.steps(doors, random.Random(1)))
    assert steps_of("demo", doors, until=3600.0)  # the demo carries on with what there is
