"""An outside review of the heat detector against EN 54-5 class A1R, as a Zigbee temperature
sensor reports: Zigbee2MQTT messages decoded as the edge decodes them, detected on event time,
and the edge's tick between them (simulated time).

A Zigbee temperature sensor reports on change (0.5 °C here, no faster than every 10 s) and
otherwise only at its maximum reporting interval (an hour is common): once the room is back
at a steady temperature, nothing more comes for that long.
"""

import json
from collections.abc import Callable

import pytest

from devices.kinds import AlertKind, DeviceKind
from edge.detection import AlertDecision, DeviceState, detect, tick
from edge.detectors.profile import DEFAULT_PROFILE
from tests.devices.test_tasmota_shelly import decode
from tests.edge.detection_series import CLEARED, RAISED, at, device, minutes_after_t0


def on_change(
    celsius_at: Callable[[float], float], until_s: float, step_c: float = 0.5
) -> list[tuple[float, dict[str, object]]]:
    """The sensor's messages: its temperature, in ``step_c`` steps, when it changed by a step
    and 10 s had passed since the last report (sampled every 5 s)."""
    messages: list[tuple[float, dict[str, object]]] = []
    last: float | None = None
    last_s = -1e9
    for seconds in range(0, int(until_s) + 1, 5):
        value = round(round(celsius_at(seconds) / step_c) * step_c, 1)
        if last is None or (abs(value - last) >= step_c and seconds - last_s >= 10):
            messages.append((float(seconds), {"temperature": value, "battery": 90}))
            last, last_s = value, seconds
    return messages


def replay(messages: list[tuple[float, dict[str, object]]], until_s: float) -> list[AlertDecision]:
    """Decode each message as it comes and tick every 5 s between them."""
    dev = device(DeviceKind.HEAT)
    state = DeviceState()
    alerts: list[AlertDecision] = []
    pending = list(messages)
    for now in range(0, int(until_s) + 1, 5):
        while pending and pending[0][0] <= now:
            seconds, payload = pending.pop(0)
            (decoded,) = decode("zigbee2mqtt/b3 1201 heat", json.dumps(payload), DeviceKind.HEAT)
            for observation in decoded.observations:
                result = detect(state, dev, observation, at(seconds), DEFAULT_PROFILE)
                state = result.state
                alerts.extend(result.alerts)
        result = tick(state, dev, at(now), DEFAULT_PROFILE)
        state = result.state
        alerts.extend(result.alerts)
    return alerts


def kettle_fire(seconds: float) -> float:
    """10 K/min from 25 °C to 70 °C, put out: down at 20 K/min to 25 °C, then steady."""
    if seconds < 270:
        return 25.0 + 10.0 * seconds / 60
    return max(25.0, 70.0 - 20.0 * (seconds - 270) / 60)


def test_heat_clears_when_the_room_has_cooled_though_the_sensor_says_nothing_more() -> None:
    # The last report (25.0 °C) comes 6.8 min in; the room is below 50 °C, not rising, from
    # about 5.6 min: heat clears 5 min after that, not at the sensor's next hourly report.
    alerts = replay(on_change(kettle_fire, 30 * 60.0), 30 * 60.0)
    heat = [(a.state, minutes_after_t0(a)) for a in alerts if a.kind is AlertKind.HEAT]
    assert [state for state, _ in heat] == [RAISED, CLEARED]
    cleared = heat[1][1]
    assert cleared is not None
    assert 10.0 <= cleared <= 12.0


# EN 54-5 class A1 response-time limits from 25 °C, (lower, upper) in seconds, at rates where
# the rate of rise answers (the project's table, tests/edge/test_detection_heat.py). 10 K/min
# is left out: it answers 5-10 s before its 60 s lower limit when the rise begins between two
# reports (docs/detection.md, known limits of the rate of rise).
A1_RESPONSE_S = {20.0: (30, 2 * 60 + 20), 30.0: (20, 60 + 40)}
PHASES = [(period, offset) for period in (5, 10, 20, 30) for offset in range(0, period, 5)]


@pytest.mark.parametrize("step_c", [0.1, 0.5])
@pytest.mark.parametrize(("period_s", "offset_s"), PHASES)
@pytest.mark.parametrize("rate", sorted(A1_RESPONSE_S))
def test_a_rise_alarms_inside_en54_5_a1_limits_whenever_the_sensor_last_reported(
    rate: float, period_s: int, offset_s: int, step_c: float
) -> None:
    # The sensor reports every period_s in step_c steps; the rise from 25 °C begins offset_s
    # after a report (the shipped tests begin it at a report).
    lead = 120  # flat readings before the rise, which begins at `lead` + offset
    start = lead + offset_s

    def celsius(seconds: float) -> float:
        return 25.0 + rate * max(seconds - start, 0.0) / 60

    lower, upper = A1_RESPONSE_S[rate]
    until = start + upper + 60
    messages: list[tuple[float, dict[str, object]]] = [
        (float(t), {"temperature": round(round(celsius(t) / step_c) * step_c, 1)})
        for t in range(0, until, period_s)
    ]
    raised = [
        minutes_after_t0(a)
        for a in replay(messages, until)
        if a.kind is AlertKind.HEAT and a.state is RAISED
    ]
    assert raised
    assert lower <= raised[0] * 60 - start <= upper  # type: ignore[operator]
