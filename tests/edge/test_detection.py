"""Detection rules on plain values: thresholds at their bounds, hysteresis, transitions only.

CO and heat have their own files (test_detection_co.py, test_detection_heat.py); the leak's
and the check-in deadlines' time-driven halves are in test_detection_time.py.
"""

import json
from typing import Any

import pytest

from devices.kinds import AlertKind, AlertState, DeviceKind, Severity
from devices.observations import DeviceEvent, Observation
from devices.zigbee2mqtt import decode_zigbee_state
from edge.detection import AlertDecision, DeviceState, GasLevel, StateFormatError, detect
from tests.edge.detection_series import (
    CLEARED,
    CRIT,
    HIGH,
    LOW,
    RAISED,
    T0,
    at,
    device,
    feed,
    reading,
    summary,
    ticked,
)


def run(
    kind: DeviceKind, observations: list[Observation], state: DeviceState | None = None
) -> tuple[DeviceState, list[AlertDecision]]:
    """Feed observations one by one (a second apart); return the final state and all alerts."""
    return feed(kind, enumerate(observations), state)


# --- gas ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pct", "expected"),
    [
        (9.9, []),
        (10.0, [(AlertKind.GAS, RAISED, HIGH)]),
        (19.9, [(AlertKind.GAS, RAISED, HIGH)]),
        (20.0, [(AlertKind.GAS, RAISED, CRIT)]),
    ],
)
def test_gas_warning_at_10_and_alarm_at_20_lel(
    pct: float, expected: list[tuple[AlertKind, AlertState, Severity]]
) -> None:
    _, alerts = run(DeviceKind.GAS, [reading(gas_lel_pct=pct)])
    assert summary(alerts) == expected


def test_gas_climbing_through_warning_to_alarm_escalates_with_a_new_alert() -> None:
    values = [5.0, 10.0, 15.0, 20.0, 25.0, 12.0, 8.0, 7.9, 9.0]
    state, alerts = run(DeviceKind.GAS, [reading(gas_lel_pct=v) for v in values])
    assert summary(alerts) == [(AlertKind.GAS, RAISED, HIGH), (AlertKind.GAS, RAISED, CRIT)]
    # Below the clear level for the clear hold (5 min), every reading: cleared.
    clean = [(10.0 + s, reading(gas_lel_pct=3.0)) for s in range(0, 301, 30)]
    state, alerts = feed(DeviceKind.GAS, clean, state)
    assert summary(alerts) == [(AlertKind.GAS, CLEARED, CRIT)]
    assert alerts[0].event_time == at(310.0)
    assert alerts[0].reason.rule == "gas_lel_pct<8 for 300s"
    assert state.gas is GasLevel.CLEAR


def test_gas_warning_holds_between_8_and_10() -> None:
    state, alerts = run(DeviceKind.GAS, [reading(gas_lel_pct=v) for v in [11.0, 9.0, 8.0]])
    assert summary(alerts) == [(AlertKind.GAS, RAISED, HIGH)]
    assert state.gas is GasLevel.WARNING
    state, alerts = feed(DeviceKind.GAS, [(3.0, reading(gas_lel_pct=7.9))], state)
    assert alerts == []
    _, alerts = feed(DeviceKind.GAS, [(303.0, reading(gas_lel_pct=7.9))], state)
    assert summary(alerts) == [(AlertKind.GAS, CLEARED, HIGH)]


def test_gas_flag_is_an_alarm() -> None:
    _, alerts = run(DeviceKind.GAS, [reading(gas=False), reading(gas=True), reading(gas=False)])
    assert summary(alerts) == [(AlertKind.GAS, RAISED, CRIT), (AlertKind.GAS, CLEARED, CRIT)]


def test_a_gas_level_swinging_round_the_clear_level_raises_once_and_clears_once() -> None:
    """A leak in a draughty boiler room: 25 % LEL and 5 % LEL by turns, every 30 s, for 10 min.
    Cleared at each reading below 8 % LEL, it raised and cleared 20 times."""
    swinging = [(30.0 * i, reading(gas_lel_pct=25.0 if i % 2 == 0 else 5.0)) for i in range(20)]
    state, alerts = feed(DeviceKind.GAS, swinging)
    assert summary(alerts) == [(AlertKind.GAS, RAISED, CRIT)]
    clean = [(600.0 + 30.0 * i, reading(gas_lel_pct=2.0)) for i in range(12)]
    state, alerts = feed(DeviceKind.GAS, clean, state)
    assert summary(alerts) == [(AlertKind.GAS, CLEARED, CRIT)]
    assert alerts[0].event_time == at(870.0)  # clean since the last swing down, at 570 s


def test_a_gas_detector_silent_after_a_clean_reading_clears_at_the_tick() -> None:
    """Reporting on change: one reading of clean air, then nothing while the air stays clean."""
    state, alerts = feed(DeviceKind.GAS, [(0.0, reading(gas_lel_pct=30.0))])
    state, alerts = feed(DeviceKind.GAS, [(60.0, reading(gas_lel_pct=1.0))], state)
    assert alerts == []
    # The edge's clock: the device was last heard at 60 s (feed: received at its event time).
    state, alerts = ticked(DeviceKind.GAS, state, 359.0)
    assert alerts == []
    state, alerts = ticked(DeviceKind.GAS, state, 365.0)
    assert summary(alerts) == [(AlertKind.GAS, CLEARED, CRIT)]
    assert alerts[0].event_time == at(360.0)
    assert state.gas is GasLevel.CLEAR
    assert state.gas_clean_since is None


def test_gas_clean_since_round_trips() -> None:
    state, _ = feed(
        DeviceKind.GAS, [(0.0, reading(gas_lel_pct=30.0)), (9.0, reading(gas_lel_pct=3.0))]
    )
    assert state.gas_clean_since == at(9.0)
    assert DeviceState.from_json(state.to_json()) == state


# --- smoke -------------------------------------------------------------------------------


def test_smoke_raises_and_clears_once() -> None:
    observations: list[Observation] = [
        reading(smoke=False),
        reading(smoke=True),
        reading(smoke=True),
        reading(smoke=False),
        reading(smoke=False),
    ]
    _, alerts = run(DeviceKind.SMOKE, observations)
    assert summary(alerts) == [(AlertKind.SMOKE, RAISED, CRIT), (AlertKind.SMOKE, CLEARED, CRIT)]


@pytest.mark.parametrize(
    "values",
    [
        {"smoke_test": True},
        {"smoke_test": True, "smoke": True},
        {"smoke_test": True, "smoke": False},
    ],
)
def test_smoke_self_test_is_recorded_and_never_an_alarm(values: dict[str, bool]) -> None:
    result = detect(DeviceState(), device(DeviceKind.SMOKE), reading(**values), T0)
    assert result.self_test
    assert result.alerts == ()
    # A check-in, and when the test began (it is believed for a bounded time).
    assert result.state == DeviceState(last_seen=T0, self_test_since=T0)


# --- water leak, battery (availability: test_detection_time.py) -------------------------


def test_water_leak_raises_on_the_first_wet_reading() -> None:
    _, alerts = run(DeviceKind.WATER_LEAK, [reading(water_leak=False), reading(water_leak=True)])
    assert summary(alerts) == [(AlertKind.WATER_LEAK, RAISED, HIGH)]
    assert alerts[0].event_time == at(1)
    assert alerts[0].reason.rule == "water_leak=true"


@pytest.mark.parametrize(("pct", "raised"), [(15.0, False), (14.9, True)])
def test_battery_low_below_15_pct(pct: float, raised: bool) -> None:
    _, alerts = run(DeviceKind.SMOKE, [reading(battery_pct=pct)])
    assert summary(alerts) == ([(AlertKind.BATTERY_LOW, RAISED, LOW)] if raised else [])


@pytest.mark.parametrize(("pct", "cleared"), [(24.9, False), (25.0, True)])
def test_battery_clears_at_25_pct(pct: float, cleared: bool) -> None:
    state, _ = run(DeviceKind.SMOKE, [reading(battery_pct=10.0)])
    _, alerts = run(DeviceKind.SMOKE, [reading(battery_pct=pct)], state)
    assert summary(alerts) == ([(AlertKind.BATTERY_LOW, CLEARED, LOW)] if cleared else [])


def test_battery_low_flag() -> None:
    flags = [False, True, True, False]
    _, alerts = run(DeviceKind.GAS, [reading(battery_low=f) for f in flags])
    assert [a.state for a in alerts] == [RAISED, CLEARED]


# --- SOS ---------------------------------------------------------------------------------


def test_every_sos_press_is_a_new_alert() -> None:
    presses: list[Observation] = [
        DeviceEvent("press"),
        DeviceEvent("press"),
        DeviceEvent("long_press"),
    ]
    _, alerts = run(DeviceKind.SOS_BUTTON, presses)
    assert summary(alerts) == [(AlertKind.SOS, RAISED, CRIT)] * 3


def test_button_events_of_other_devices_are_not_sos() -> None:
    _, alerts = run(DeviceKind.DOOR_READER, [DeviceEvent("press")])
    assert alerts == []
    _, alerts = run(DeviceKind.SOS_BUTTON, [DeviceEvent("card_presented")])
    assert alerts == []


def test_zigbee2mqtt_emergency_then_null_action_is_exactly_one_sos() -> None:
    messages: list[dict[str, Any]] = [
        {"action": "emergency", "battery": 100, "last_seen": "2026-04-17T23:33:22+08:00"},
        {"action": None, "battery": 100, "last_seen": "2026-04-17T23:33:23+08:00"},
        {"action": "", "battery": 100},
    ]
    observations = [obs for m in messages for obs in decode_zigbee_state(m)]
    _, alerts = run(DeviceKind.SOS_BUTTON, observations)
    assert summary(alerts) == [(AlertKind.SOS, RAISED, CRIT)]


# --- combined and state ------------------------------------------------------------------


def test_one_reading_can_raise_several_alerts_life_safety_first() -> None:
    obs = reading(battery_pct=5.0, temperature_c=70.0, smoke=True)
    _, alerts = run(DeviceKind.SMOKE, [reading(temperature_c=70.0), obs])
    assert [a.kind for a in alerts] == [AlertKind.SMOKE, AlertKind.HEAT, AlertKind.BATTERY_LOW]


def test_repeated_readings_emit_nothing() -> None:
    obs = reading(co_alarm=True, battery_pct=5.0, water_leak=True, gas_lel_pct=30.0)
    state, first = run(DeviceKind.CO, [obs])
    assert len(first) == 4
    _, again = run(DeviceKind.CO, [obs, obs, obs], state)
    assert again == []


def test_state_round_trips_through_json() -> None:
    observations: list[Observation] = [
        reading(smoke=True, battery_low=True, gas_lel_pct=12.0, temperature_c=30.0),
        reading(co_ppm=60.0, temperature_c=31.0, water_leak=True),
        reading(co_ppm=40.0, water_leak=False),
    ]
    state, _ = run(DeviceKind.SMOKE, observations)
    text = state.to_json()
    data = json.loads(text)
    assert (data["raised"], data["gas"]) == (["battery_low", "smoke", "water_leak"], "warning")
    assert data["last_seen"] == at(2).isoformat()
    assert len(data["heat"]["samples"]) == 2
    assert data["leak_dry_since"] == at(2).isoformat()
    assert DeviceState.from_json(text) == state
    assert DeviceState.from_json("{}") == DeviceState()


def test_a_state_persisted_by_an_older_edge_still_loads() -> None:
    old = '{"gas": "warning", "raised": ["battery_low", "smoke"]}'
    state = DeviceState.from_json(old)
    assert state.raised == {AlertKind.BATTERY_LOW, AlertKind.SMOKE}
    assert state.gas is GasLevel.WARNING
    assert (state.last_seen, state.co.dose, state.heat.samples) == (None, 0.0, ())


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"raised": ["fire"]}',
        '{"raised": ["sos"]}',
        '{"last_seen": "2026-04-17T12:00:00"}',
        '{"last_seen": 12}',
        '{"co": {"dose": "lots"}}',
        '{"heat": {"samples": [["2026-04-17T12:00:00Z"]]}}',
        '{"sos": {"phase": "cancellable"}}',
        '{"sos": {"phase": "maybe"}}',
        '{"sos": {"presses": [12]}}',
        '{"battery": [["2026-04-17T12:00:00Z"]]}',
        '{"battery": [["2026-04-17T12:00:00", 50]]}',
        '{"flat": {"temperature_c": [21.0, null]}}',
    ],
)
def test_unreadable_state_is_refused(text: str) -> None:
    with pytest.raises(StateFormatError):
        DeviceState.from_json(text)
