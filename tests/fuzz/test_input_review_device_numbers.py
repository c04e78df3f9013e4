"""Numbers that are no measurement in real device messages: ``Infinity``, ``1e309`` (which a
JSON parser reads as infinity), ``NaN``, and their text forms, in payloads as Zigbee2MQTT and
Tasmota publish them (shapes quoted from public logs). Such a number is no reading: it never
becomes the highest level (a gas alarm from a broken payload), and it never costs the
message its other readings (a smoke detector's ``smoke: true``)."""

import pytest

from devices.adapters import decode
from devices.observations import StateUpdate
from devices.payloads import Readings

NUMBERS = ["Infinity", "-Infinity", "1e309", "-1e309", "NaN"]
"""JSON numbers that are not finite (``NaN`` and ``Infinity`` as Python's parser reads them)."""
NOT_NUMBERS = [*NUMBERS, '"inf"', '"NaN"', '"1e309"']
"""And as text, which the adapters read as numbers as they read ``"80.00"``."""

# Xiaomi JTQJ-BF-01LM/BW and JTYJ-GD-01LM/BW as Zigbee2MQTT published them (public issue logs).
GAS = '{"battery_low":false,"gas":%s,"gas_density":237,"linkquality":15,"tamper":false}'
SMOKE = '{"battery":%s,"voltage":3195,"linkquality":57,"smoke":true,"sensitivity":"high"}'
# Tasmota's AM2301 sensor message (Tasmota docs' console capture).
TASMOTA = (
    '{"Time":"2019-01-01T00:00:00","AM2301":{"Temperature":24.6,"Humidity":%s},"TempUnit":"C"}'
)


def readings(topic: str, payload: str) -> Readings:
    decoded = decode(topic, payload.encode())
    assert decoded is not None
    [update] = decoded.observations
    assert isinstance(update, StateUpdate)
    return update.readings


@pytest.mark.parametrize("number", NUMBERS)
def test_a_gas_level_that_is_no_number_raises_no_gas_level(number: str) -> None:
    seen = readings("zigbee2mqtt/sensore perdita gas", GAS % number)
    assert seen.gas_lel_pct is None
    assert seen.tamper is False


@pytest.mark.parametrize("number", NOT_NUMBERS)
def test_a_battery_that_is_no_number_keeps_the_smoke_alarm_beside_it(number: str) -> None:
    seen = readings("zigbee2mqtt/sens_smoke1", SMOKE % number)
    assert seen.smoke is True
    assert seen.battery_pct is None


@pytest.mark.parametrize("number", NOT_NUMBERS)
def test_a_tasmota_humidity_that_is_no_number_keeps_the_temperature(number: str) -> None:
    seen = readings("tele/kitchen/SENSOR", TASMOTA % number)
    assert seen.temperature_c == 24.6
    assert seen.humidity_pct is None
