"""A temperature no sensor measures costs the alarm flag beside it nothing.

Tuya 228WZH, "smoke detector with temperature and humidity sensor" (zigbee-herdsman-converters
src/devices/tuya.ts: dp 1 ``smoke``, dp 23 ``temperature`` divided by 10, dp 24 ``humidity``).
Tuya devices that send a temperature below 0 °C as a 16-bit value are decoded as 6550.9 °C
(Koenkk/zigbee2mqtt#20774: "-4 °C but it shows 6550.9 °C", #31813), others as −326.76 °C for
−0.1 °C (Koenkk/zigbee-herdsman-converters#11459). Before, such a temperature (outside the
−100 to 1500 °C a reading may hold) refused the whole message: in a stairwell below
freezing, the detector's ``smoke: true`` was lost.
"""

import pytest

from devices.kinds import AlertKind, DeviceKind
from devices.observations import Observation
from edge.detection import DeviceState, detect
from tests.conftest import only_state
from tests.edge.detection_series import CRIT, RAISED, T0, device, feed, summary


def zigbee(payload: str) -> Observation:
    """Decode one Zigbee2MQTT message as the edge does."""
    return only_state("zigbee2mqtt/stairwell-smoke", payload.encode())


@pytest.mark.parametrize("celsius", ["6550.9", "-326.76", "6553.5"])
def test_a_smoke_alarm_beside_an_impossible_temperature_is_raised(celsius: str) -> None:
    payload = (
        '{"battery_state":"high","humidity":71,"linkquality":87,"self_test":"Check success",'
        f'"smoke":true,"temperature":{celsius}}}'
    )
    observation = zigbee(payload)
    result = detect(DeviceState(), device(DeviceKind.SMOKE), observation, T0)
    assert summary(list(result.alerts)) == [(AlertKind.SMOKE, RAISED, CRIT)]


def test_the_impossible_temperature_itself_is_dropped_and_the_rest_kept() -> None:
    observation = zigbee('{"humidity":71,"smoke":false,"temperature":6550.9}')
    result = detect(DeviceState(), device(DeviceKind.SMOKE), observation, T0)
    assert result.alerts == ()
    assert result.state.heat.samples == ()


def test_a_real_fire_temperature_is_kept() -> None:
    # A heat detector at 70 °C, twice: the fixed rule, as ever.
    hot = zigbee('{"temperature":70.0}')
    _, alerts = feed(DeviceKind.HEAT, [(0.0, hot), (10.0, hot)])
    assert summary(alerts) == [(AlertKind.HEAT, RAISED, CRIT)]
