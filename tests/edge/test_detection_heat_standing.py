"""Heat at the fixed level from a sensor that says it once, and a DS18B20's error values.

Found by an outside review (2026-12-06): a reading at or above the fixed level that nothing
followed (the sensor destroyed by the fire, or reporting on change only) never raised; and a
DS18B20 says 85.0 °C at power-on, before any conversion, and -127 °C when disconnected.
"""

import pytest

from devices.kinds import AlertKind, DeviceKind
from devices.observations import StateUpdate
from devices.payloads import Readings
from edge.detection import DeviceState, detect
from edge.detectors.heat import HeatSettings
from tests.edge.detection_series import at, device
from tests.edge.edge_replay import Sent, raised_at_min, replay, stamped
from tests.edge.test_detection_tasmota_shelly_review import observe

HOLD_S = HeatSettings().fixed_hold_s
EN54_5_A1_AT_5_K_PER_MIN_S = 500.0
"""EN 54-5 class A1 at 5 K/min from 25 °C: respond within 8 min 20 s (57 °C at 6.4 min)."""


def test_a_reading_at_the_fixed_level_that_nothing_follows_raises_after_the_hold() -> None:
    """A heat detector reporting on change: 25 °C, then 60 °C, then nothing (it burnt)."""
    sent = [stamped(0.0, 0.0, temperature_c=25.0), stamped(400.0, 400.0, temperature_c=60.0)]
    alerts = replay(DeviceKind.HEAT, sent, 900.0)
    heat = [a for a in alerts if a.kind is AlertKind.HEAT]
    assert len(heat) == 1
    assert raised_at_min(alerts, AlertKind.HEAT) == pytest.approx((400.0 + HOLD_S) / 60)
    assert heat[0].reason.rule == "temperature_c>=57 standing 60s"
    assert heat[0].reason.values == {"temperature_c": 60.0}


def test_a_slow_rise_seen_once_above_the_fixed_level_meets_en54_5() -> None:
    """5 K/min from 25 °C (below the rate of rise) reported every minute; the sensor dies
    after its first reading above 57 °C (60 °C at 7 min): the hold raises at 8 min, within
    EN 54-5 A1's 8 min 20 s."""
    sent = [stamped(60.0 * m, 60.0 * m, temperature_c=25.0 + 5.0 * m) for m in range(8)]
    minute = raised_at_min(replay(DeviceKind.HEAT, sent, 900.0), AlertKind.HEAT)
    assert minute is not None
    assert minute * 60 <= EN54_5_A1_AT_5_K_PER_MIN_S


def test_one_spike_followed_by_a_normal_reading_raises_nothing() -> None:
    sent = [stamped(30.0 * i, 30.0 * i, temperature_c=22.0) for i in range(40)]
    sent[5] = stamped(150.0, 150.0, temperature_c=90.0)
    assert replay(DeviceKind.HEAT, sent, 1200.0) == []


def test_a_humidity_sensors_temperature_is_never_held_to_an_alarm() -> None:
    sent = [stamped(0.0, 0.0, temperature_c=70.0)]
    assert replay(DeviceKind.WATER_LEAK, sent, 600.0) == []


# --- DS18B20 ---------------------------------------------------------------------------------

TOPIC = "tele/boiler/SENSOR"


def ds18b20(*celsius: float, unit: str = "C") -> str:
    """A wired Tasmota's SENSOR message with one DS18B20 probe per value (``DS18B20-n``)."""
    if len(celsius) == 1:
        probes = f'"DS18B20":{{"Id":"01144A0CB2AA","Temperature":{celsius[0]}}}'
    else:
        probes = ",".join(
            f'"DS18B20-{i}":{{"Id":"0000059352D{i}","Temperature":{c}}}'
            for i, c in enumerate(celsius, start=1)
        )
    return f'{{"Time":"2026-12-06T10:00:00",{probes},"TempUnit":"{unit}"}}'


def state_of(payload: str) -> StateUpdate | None:
    states = [o for o in observe(TOPIC, payload, DeviceKind.HEAT) if isinstance(o, StateUpdate)]
    assert len(states) <= 1
    return states[0] if states else None


def tasmota(*payloads: tuple[float, str]) -> list[Sent]:
    """Messages of the Tasmota (no time of its own: received at ``t``)."""
    sent = []
    for t, payload in payloads:
        state = state_of(payload)
        if state is not None:
            sent.append(Sent(t, None, state))
    return sent


@pytest.mark.parametrize(
    "payload",
    [
        ds18b20(-127.0),
        ds18b20(-127),
        ds18b20(-196.6, unit="F"),  # -127 °C in Fahrenheit (SetOption8 1)
        '{"Time":"2026-12-06T10:00:00","DS18B20_1":{"Id":"01","Temperature":-127.0},'
        '"TempUnit":"C"}',  # SetOption64 1: an underscore
    ],
)
def test_a_disconnected_ds18b20_is_no_temperature_and_no_refused_message(payload: str) -> None:
    """-127 °C was refused as out of range (-100 °C), the whole message with it."""
    assert state_of(payload) is None


def test_a_disconnected_probe_beside_a_working_one_is_ignored() -> None:
    state = state_of(ds18b20(-127.0, 23.5))
    assert state is not None
    assert state.readings.temperature_c == 23.5
    assert state.doubtful == frozenset()


@pytest.mark.parametrize("payload", [ds18b20(85.0), ds18b20(85), ds18b20(185.0, unit="F")])
def test_a_ds18b20_power_on_value_is_passed_on_as_doubtful(payload: str) -> None:
    state = state_of(payload)
    assert state is not None
    assert state.readings.temperature_c == pytest.approx(85.0)
    assert state.doubtful == {"temperature_c"}


def test_85_from_another_sensor_or_beside_a_hotter_probe_is_not_doubtful() -> None:
    am2301 = '{"AM2301":{"Temperature":85.0,"Humidity":20.0},"TempUnit":"C"}'
    state = state_of(am2301)
    assert state is not None
    assert state.doubtful == frozenset()
    beside = state_of(ds18b20(85.0, 91.5))
    assert beside is not None
    assert (beside.readings.temperature_c, beside.doubtful) == (91.5, frozenset())


def test_a_probe_power_cycling_at_85_is_no_fire() -> None:
    """Every reset says 85.0: two of them in a row raised the fixed alarm, and the hold would
    confirm one; a doubtful reading confirms neither alone."""
    sent = tasmota(
        (0.0, ds18b20(21.0)), (60.0, ds18b20(85.0)), (120.0, ds18b20(85.0)), (180.0, ds18b20(85.0))
    )
    assert replay(DeviceKind.HEAT, sent, 900.0) == []


def test_85_then_a_reading_at_the_fixed_level_is_a_fire() -> None:
    sent = tasmota((0.0, ds18b20(21.0)), (60.0, ds18b20(85.0)), (120.0, ds18b20(87.5)))
    assert raised_at_min(replay(DeviceKind.HEAT, sent, 300.0), AlertKind.HEAT) == 2.0


def test_a_reading_at_the_fixed_level_then_85_is_a_fire() -> None:
    """The probe's power failing in the fire: the 85.0 after a real 62 °C confirms it."""
    sent = tasmota((0.0, ds18b20(21.0)), (60.0, ds18b20(62.0)), (70.0, ds18b20(85.0)))
    assert raised_at_min(replay(DeviceKind.HEAT, sent, 300.0), AlertKind.HEAT) == pytest.approx(
        70.0 / 60
    )


def test_a_power_on_85_inside_a_real_rise_neither_makes_nor_breaks_the_rate_of_rise() -> None:
    """A 10 K/min rise every 10 s with one 85.0 in it: alarmed when the plain rise alarms."""
    plain = [(10.0 * i, ds18b20(25.0 + 10.0 * i / 6)) for i in range(30)]
    glitched = list(plain)
    glitched[3] = (30.0, ds18b20(85.0))
    first = raised_at_min(replay(DeviceKind.HEAT, tasmota(*plain), 300.0), AlertKind.HEAT)
    second = raised_at_min(replay(DeviceKind.HEAT, tasmota(*glitched), 300.0), AlertKind.HEAT)
    assert first is not None
    assert second == first
    # A flat 22 °C with an 85.0 in it is no rise.
    flat = [(10.0 * i, ds18b20(85.0 if i == 8 else 22.0)) for i in range(30)]
    assert replay(DeviceKind.HEAT, tasmota(*flat), 300.0) == []


def test_doubtful_marks_round_trip() -> None:
    state = detect(
        DeviceState(),
        device(DeviceKind.HEAT),
        StateUpdate(Readings(temperature_c=85.0), doubtful=frozenset({"temperature_c"})),
        at(0.0),
    ).state
    assert state.heat.doubtful == (at(0.0),)
    assert DeviceState.from_json(state.to_json()) == state
