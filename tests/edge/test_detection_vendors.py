"""Vendor messages through the edge's detection: Zigbee2MQTT as published, decoded, detected.

The payloads are those of tests/devices/test_zigbee_vendors.py, with their sources there.
"""

from devices.kinds import AlertKind, DeviceKind
from devices.observations import Observation
from edge.detection import DeviceState, detect
from tests.conftest import only_state
from tests.devices.test_zigbee_vendors import GAS_SELF_TEST
from tests.edge.detection_series import (
    CRIT,
    RAISED,
    T0,
    device,
    feed,
    first,
    minutes_after_t0,
    summary,
)


def zigbee(payload: str) -> Observation:
    """Decode one Zigbee2MQTT message as the edge does."""
    return only_state("zigbee2mqtt/co-detector", payload.encode())


def co_message(ppm: float) -> Observation:
    # Tuya TS0601_smoke_co's message (Koenkk/zigbee-herdsman-converters#9289) with a level.
    return zigbee(
        '{"battery":100,"battery_low":false,"carbon_monoxide":false,'
        f'"co":{ppm},"linkquality":48,"smoke":false}}'
    )


def test_a_zigbee_co_level_of_70_ppm_alarms_within_ul2034_window() -> None:
    # UL 2034: 70 ppm must not alarm before 60 min and must by 240 min. The detector's own
    # carbon_monoxide flag stays false all along: only the ppm level can raise it.
    timed = [(minute * 60.0, co_message(70)) for minute in range(0, 241)]
    _, alerts = feed(DeviceKind.CO, timed)
    raised = first(alerts, AlertKind.CO, RAISED)
    minute = minutes_after_t0(raised)
    assert minute is not None
    assert 60 < minute <= 240
    assert raised is not None
    assert raised.reason.rule == "co_dose>=1"
    assert raised.reason.values["co_ppm"] == 70.0


def test_a_zigbee_co_level_of_30_ppm_never_alarms() -> None:
    timed = [(minute * 60.0, co_message(30)) for minute in range(0, 8 * 60)]
    _, alerts = feed(DeviceKind.CO, timed)
    assert alerts == []


def test_a_gas_detector_self_test_is_never_a_gas_alarm() -> None:
    # The next message of the same log: the gas flag turns "True" during the test. The source
    # quotes it up to '"preheat":true,"se'; Zigbee2MQTT publishes its whole cached state,
    # so the keys after preheat are those of the message before (self_test still true).
    during = GAS_SELF_TEST.replace('"gas":false', '"gas":"True"')
    observations = [zigbee(GAS_SELF_TEST), zigbee(during)]
    state = DeviceState()
    for i, observation in enumerate(observations):
        result = detect(state, device(DeviceKind.GAS), observation, T0)
        state = result.state
        assert result.alerts == ()
        assert result.self_test, i
    # Out of the test, the same flag is a gas alarm.
    after = during.replace('"self_test":true', '"self_test":false')
    _, alerts = feed(DeviceKind.GAS, [(0.0, zigbee(after))])
    assert summary(alerts) == [(AlertKind.GAS, RAISED, CRIT)]


def test_a_co_detector_test_press_is_never_a_co_alarm() -> None:
    # Moes ZC-HM (moes.ts): its self_test_result reads "checking" while its test sounds.
    testing = zigbee('{"battery":100,"carbon_monoxide":true,"co":0,"self_test_result":"checking"}')
    result = detect(DeviceState(), device(DeviceKind.CO), testing, T0)
    assert result.self_test
    assert result.alerts == ()
    alarm = zigbee('{"battery":100,"carbon_monoxide":true,"co":0,"self_test_result":"success"}')
    _, alerts = feed(DeviceKind.CO, [(0.0, alarm)])
    assert summary(alerts) == [(AlertKind.CO, RAISED, CRIT)]
