"""Shelly Gen1 as registered: wired inputs read as states (a pull cord on an input in switch
mode, the Gen1 Shelly that reports a momentary button's terminal as well as its push events),
and the bare temperatures of a Gen1 set to °F.

Decoded from the payloads as the devices publish them, fed to ``detect`` on simulated time.
"""

from datetime import timedelta

import pytest

from devices.adapters import decode_all
from devices.kinds import AlertKind, DeviceKind
from devices.observations import DeviceEvent, InputState, Observation
from devices.topics import ShellyTopic, parse_device_topic
from edge.detection import AlertDecision, DeviceState
from edge.detectors.inputs import (
    SAME_PUSH_S,
    InputMemory,
    InputPressed,
    input_changed,
    push_event,
)
from tests.devices.test_tasmota_shelly import decode
from tests.edge.detection_series import RAISED, T0, at, feed

SOS = DeviceKind.SOS_BUTTON
GEN1 = "shellies/shelly1-10521c454394"


def gen1(level: str, payload: str) -> Observation:
    """One Gen1 Shelly message, decoded as the edge decodes it."""
    ((decoded),) = decode(f"{GEN1}/{level}", payload)
    (observation,) = decoded.observations
    return observation


def gen2_input(state: object) -> tuple[Observation, ...]:
    """A Gen2+ Shelly's NotifyStatus for its input 0 (a Plus i4, a Plus 1's SW input)."""
    body = (
        '{"src":"shellyplusi4-c4d8d5","dst":"shellyplusi4-c4d8d5/events","method":"NotifyStatus",'
        f'"params":{{"ts":1733400000.12,"input:0":{{"id":0,"state":{state}}}}}}}'
    )
    (decoded,) = decode("shellyplusi4-c4d8d5/events/rpc", body)
    return decoded.observations


def sos(alerts: list[AlertDecision]) -> list[tuple[float, str, str, object]]:
    return [
        (
            (a.event_time - T0).total_seconds(),
            a.state,
            a.reason.rule,
            a.reason.values.get("uncommanded_rule"),
        )
        for a in alerts
        if a.kind is AlertKind.SOS
    ]


# --- decoding --------------------------------------------------------------------------------


def test_shelly_inputs_decode_as_states() -> None:
    assert gen1("input/0", "1") == InputState("0", True)
    assert gen1("input/1", "0") == InputState("1", False)
    assert gen2_input("true") == (InputState("input:0", True),)
    assert gen2_input("false") == (InputState("input:0", False),)
    # An input in button mode has no state: its pushes come as NotifyEvent.
    assert gen2_input("null") == ()


# --- the pure rules --------------------------------------------------------------------------


def test_off_to_on_is_a_press_and_the_same_state_again_is_nothing() -> None:
    memory = InputMemory(states=(("0", False),))
    memory, pressed = input_changed(memory, "0", True, at(0))
    assert pressed == InputPressed("0", first_sighting=False)
    for on in (True, True, False, False):
        memory, pressed = input_changed(memory, "0", on, at(30))
        assert pressed is None
    _, pressed = input_changed(memory, "0", True, at(90))
    assert pressed == InputPressed("0", first_sighting=False)


def test_on_at_the_first_sighting_is_a_marked_press_and_off_is_nothing() -> None:
    _, pressed = input_changed(InputMemory(), "0", True, at(0))
    assert pressed == InputPressed("0", first_sighting=True)
    _, pressed = input_changed(InputMemory(), "1", False, at(0))
    assert pressed is None


def test_a_push_event_makes_its_input_momentary() -> None:
    memory, _ = input_changed(InputMemory(), "0", False, at(0))
    memory, pressed = input_changed(memory, "0", True, at(1))
    assert pressed is not None
    memory, same = push_event(memory, "0", at(1 + SAME_PUSH_S))
    assert same, "the push the state already raised"
    memory, pressed = input_changed(memory, "0", False, at(2 + SAME_PUSH_S))
    memory, pressed = input_changed(memory, "0", True, at(60))
    assert pressed is None, "a momentary input's state is not a press"
    _, same = push_event(memory, "0", at(60.5))
    assert not same, "its push event is"


def test_a_push_event_long_after_the_state_is_a_push_of_its_own() -> None:
    memory, pressed = input_changed(InputMemory(states=(("0", False),)), "0", True, at(0))
    assert pressed is not None
    _, same = push_event(memory, "0", at(SAME_PUSH_S + 0.5))
    assert not same
    _, same = push_event(memory, "1", at(0.5))
    assert not same, "another input's push"


# --- through detect --------------------------------------------------------------------------


def test_a_pull_cord_in_switch_mode_raises_one_sos_per_pull() -> None:
    """Gen1 re-publishes its input every 30 s: the cord pulled, held, reset, pulled again."""
    timed = [
        (0, gen1("input/0", "0")),
        (30, gen1("input/0", "1")),
        (60, gen1("input/0", "1")),
        (90, gen1("input/0", "1")),
        (120, gen1("input/0", "0")),
        (150, gen1("input/0", "1")),
    ]
    state, alerts = feed(SOS, timed)
    assert sos(alerts) == [(30.0, RAISED, "input_on", None), (150.0, RAISED, "input_on", None)]
    assert alerts[0].reason.values["input"] == "0"
    assert DeviceState.from_json(state.to_json()) == state


def test_a_gen2_pull_cord_raises_and_its_first_sighting_on_is_marked() -> None:
    timed = [(0, o) for o in gen2_input("true")] + [(60, o) for o in gen2_input("true")]
    _, alerts = feed(SOS, timed)
    assert sos(alerts) == [(0.0, RAISED, "input_on", "first-sighting")]
    assert alerts[0].reason.values["suspected_uncommanded"] is True


def test_a_gen1_momentary_button_is_one_sos_per_push_not_two() -> None:
    """A Gen1 Shelly 1 in momentary mode: the terminal goes 1 then 0, then the push event."""
    first = [
        (0.0, gen1("input/0", "0")),
        (10.0, gen1("input/0", "1")),
        (10.3, gen1("input/0", "0")),
        (10.9, gen1("input_event/0", '{"event":"S","event_cnt":7}')),
    ]
    second = [
        (40.0, gen1("input/0", "1")),
        (40.2, gen1("input/0", "0")),
        (40.8, gen1("input_event/0", '{"event":"L","event_cnt":8}')),
        (70.8, gen1("input_event/0", '{"event":"L","event_cnt":8}')),  # its 30 s repeat
    ]
    state, alerts = feed(SOS, first + second)
    assert [(t, rule) for t, _, rule, _ in sos(alerts)] == [
        (10.0, "input_on"),
        (40.8, "button_press"),
    ]
    assert state.inputs.momentary == frozenset({"0"})


def test_the_first_press_after_a_restart_is_a_press_even_with_the_last_count_before_it() -> None:
    """A mains Shelly 1 pressed once (its count 1), restarted (a power cut): it publishes
    its count from 0 again, then the next press is again count 1. Before, that press was
    taken for the 30 s repeat of the one before the restart: a lost SOS."""
    timed = [
        (0.0, gen1("input_event/0", '{"event":"S","event_cnt":1}')),
        (30.0, gen1("input_event/0", '{"event":"S","event_cnt":1}')),  # its 30 s repeat
        (600.0, gen1("input_event/0", '{"event":"","event_cnt":0}')),  # restarted
        (630.0, gen1("input_event/0", '{"event":"","event_cnt":0}')),  # and its repeat
        (900.0, gen1("input_event/0", '{"event":"S","event_cnt":1}')),  # pressed again
        (930.0, gen1("input_event/0", '{"event":"S","event_cnt":1}')),  # its repeat
    ]
    state, alerts = feed(SOS, timed)
    assert [(t, rule) for t, _, rule, _ in sos(alerts)] == [
        (0.0, "button_press"),
        (900.0, "button_press"),
    ]
    assert dict(state.event_counts) == {"0": 1}


def test_a_push_event_first_then_the_state_is_one_sos() -> None:
    timed: list[tuple[float, Observation]] = [
        (0.0, DeviceEvent("press", count=("0", 1))),
        (0.1, InputState("0", True)),
        (0.4, InputState("0", False)),
    ]
    _, alerts = feed(SOS, timed)
    assert [rule for _, _, rule, _ in sos(alerts)] == ["button_press"]


def test_inputs_of_other_kinds_raise_nothing_but_prove_the_device_alive() -> None:
    state, alerts = feed(
        DeviceKind.SMOKE, [(0, InputState("0", False)), (5, InputState("0", True))]
    )
    assert alerts == []
    assert state.last_seen == at(5)


def test_an_older_edges_state_without_inputs_still_loads() -> None:
    state = DeviceState(last_seen=T0 + timedelta(seconds=1))
    data = state.to_json().replace(', "inputs": {"momentary": [], "raised": {}, "states": {}}', "")
    assert '"inputs"' not in data
    assert DeviceState.from_json(data) == state


# --- a Gen1 set to °F ------------------------------------------------------------------------


def test_a_gen1_set_to_fahrenheit_raises_heat_only_when_registered_in_celsius() -> None:
    """A Gen1 H&T set to °F reporting a 22 °C room every 5 minutes: read as °C, 72 and 73.4
    are two readings over 57 °C, a heat alarm; registered with °F, nothing until the room
    really reaches 60 °C (140 °F)."""
    topic = parse_device_topic(
        f"{GEN1.replace('shelly1-10521c454394', 'shellyht-f1f2f3')}/sensor/temperature"
    )
    assert isinstance(topic, ShellyTopic)

    def readings(fahrenheit: bool, *values: str) -> list[tuple[float, Observation]]:
        timed: list[tuple[float, Observation]] = []
        for n, value in enumerate(values):
            (decoded,) = decode_all(topic, value.encode(), fahrenheit=lambda _: fahrenheit)
            timed += [(300.0 * n, o) for o in decoded.observations]
        return timed

    room = ("72", "73.4", "72.5")
    _, as_celsius = feed(DeviceKind.HEAT, readings(False, *room))
    assert [(a.kind, a.state) for a in as_celsius] == [(AlertKind.HEAT, RAISED)]
    _, as_registered = feed(DeviceKind.HEAT, readings(True, *room))
    assert as_registered == []
    _, fire = feed(DeviceKind.HEAT, readings(True, *room, "140", "141"))
    [alarm] = fire
    assert alarm.kind is AlertKind.HEAT
    assert alarm.reason.values["temperature_c"] == pytest.approx(60.56)
