"""Tuya detectors that name their self-test otherwise: a test press is no fire, CO or gas.

The keys are zigbee-herdsman-converters' (src/devices/alecto.ts SMART-SMOKE10,
src/devices/woox.ts R7049 with legacy ``R7049_status``, src/devices/lincukoo.ts gas/CO
detector: ``self_checking``, ``checking_result``, ``test_alarm``, ``test_alarm_result``).
Before, none was read: the detector's alarm during its test opened a real case.
"""

import pytest

from devices.kinds import AlertKind, DeviceKind
from devices.observations import Observation
from edge.detection import DeviceState, detect
from tests.conftest import only_state
from tests.edge.detection_series import CRIT, RAISED, T0, device, summary


def zigbee(payload: str) -> Observation:
    """Decode one Zigbee2MQTT message as the edge does."""
    return only_state("zigbee2mqtt/detector", payload.encode())


TESTS = [
    # Woox R7049: test_alarm (settable flag) and test_alarm_result while it sounds.
    (
        DeviceKind.SMOKE,
        '{"battery_low":false,"battery_level":"high","fault_alarm":false,"smoke":true,'
        '"test_alarm":true,"test_alarm_result":"checking","silence_siren":false}',
        AlertKind.SMOKE,
    ),
    (
        DeviceKind.SMOKE,
        '{"battery_low":false,"smoke":true,"test_alarm_result":"checking"}',
        AlertKind.SMOKE,
    ),
    # Alecto SMART-SMOKE10: self_checking (settable flag), checking_result.
    (
        DeviceKind.SMOKE,
        '{"battery":100,"battery_state":"high","checking_result":"checking","lifecycle":false,'
        '"self_checking":true,"silence":false,"smoke_state":"alarm","smoke_value":0}',
        AlertKind.SMOKE,
    ),
    # Lincukoo gas/CO detector: self_checking "ON"/"OFF", checking_result.
    (
        DeviceKind.GAS,
        '{"co":0,"co_state":"normal","gas":0,"gas_sensor_state":"alarm",'
        '"self_checking":"ON","checking_result":"checking"}',
        AlertKind.GAS,
    ),
    (
        DeviceKind.CO,
        '{"co":0,"co_state":"alarm","gas":0,"gas_sensor_state":"normal",'
        '"self_checking":"OFF","checking_result":"checking"}',
        AlertKind.CO,
    ),
]


@pytest.mark.parametrize(("kind", "payload", "alert"), TESTS)
def test_a_tuya_detectors_test_press_is_no_alarm(
    kind: DeviceKind, payload: str, alert: AlertKind
) -> None:
    result = detect(DeviceState(), device(kind), zigbee(payload), T0)
    assert result.self_test
    assert result.alerts == ()


@pytest.mark.parametrize(("kind", "payload", "alert"), TESTS)
def test_out_of_its_test_the_same_alarm_is_raised(
    kind: DeviceKind, payload: str, alert: AlertKind
) -> None:
    done = (
        payload.replace('"test_alarm":true', '"test_alarm":false')
        .replace('"self_checking":true', '"self_checking":false')
        .replace('"self_checking":"ON"', '"self_checking":"OFF"')
        .replace('"checking"', '"check_success"')
    )
    result = detect(DeviceState(), device(kind), zigbee(done), T0)
    assert not result.self_test
    assert summary(list(result.alerts)) == [(alert, RAISED, CRIT)]
