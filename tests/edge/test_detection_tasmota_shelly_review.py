"""An outside review's Tasmota and Shelly payloads, decoded as the edge decodes them and detected.

Sources are cited per test; where no published message was found, the test says so and names
the source that fixes the keys.
"""

import logging

import pytest

from devices.kinds import AlertKind, DeviceKind
from devices.observations import DeviceEvent, Observation, StateUpdate
from devices.payloads import ButtonEvent
from edge.detection import AlertDecision, DeviceState, detect
from tests.devices.test_tasmota_shelly import decode, readings
from tests.edge.detection_series import CRIT, RAISED, T0, device, feed, summary


def observe(topic: str, payload: str, kind: DeviceKind | None) -> list[Observation]:
    """Decode one message of a device registered as ``kind``, as the edge does."""
    return [o for decoded in decode(topic, payload, kind) for o in decoded.observations]


def detected(kind: DeviceKind, topic: str, payloads: list[str]) -> list[AlertDecision]:
    """Decode the messages, a minute apart, and detect them for one device of ``kind``."""
    timed = [
        (60.0 * i, o) for i, payload in enumerate(payloads) for o in observe(topic, payload, kind)
    ]
    _, alerts = feed(kind, timed)
    return alerts


def raised(alerts: list[AlertDecision], kind: AlertKind) -> int:
    return sum(1 for a in alerts if a.kind is kind and a.state is RAISED)


# --- Tasmota wired: the ESP8266's ANALOG temperature ---------------------------------------

# As quoted in Tasmota's tasmota/tasmota_xdrv_driver/xdrv_59_influxdb.ino: the ANALOG block's
# 184.72 °C beside two real probes.
INFLUX_EXAMPLE = (
    '{"Time":"2021-08-14T17:19:33","Switch1":"ON","Switch2":"OFF",'
    '"ANALOG":{"Temperature":184.72},"DS18B20":{"Id":"01144A0CB2AA","Temperature":27.50},'
    '"HTU21":{"Temperature":28.23,"Humidity":null},"TempUnit":"C"}'
)


def test_an_analog_temperature_beside_real_probes_is_no_fire() -> None:
    assert readings(decode("tele/tasmota/SENSOR", INFLUX_EXAMPLE)) == {"temperature_c": 28.23}
    assert detected(DeviceKind.HEAT, "tele/tasmota/SENSOR", [INFLUX_EXAMPLE]) == []


def test_an_analog_thermistor_alone_is_read() -> None:
    # An NTC on A0 as the only probe (the same message without the other blocks).
    alone = '{"Time":"2021-08-14T17:19:33","ANALOG":{"Temperature":21.4},"TempUnit":"C"}'
    assert readings(decode("tele/tasmota/SENSOR", alone)) == {"temperature_c": 21.4}


# --- Tasmota Zigbee: a button's On/Off commands ----------------------------------------------

# Sonoff SNZB-01 single press behind a Tasmota bridge, as published: arendst/Tasmota#9216.
SNZB01_TOPIC = "tele/tasmota_DC0CBC/ECE2/SENSOR"
SNZB01_SINGLE = (
    '{"ZbReceived":{"0xECE2":{"Device":"0xECE2","0006!02":"","Power":2,"Endpoint":1,'
    '"LinkQuality":71}}}'
)


def test_an_snzb01_press_on_a_tasmota_bridge_is_one_sos() -> None:
    alerts = detected(DeviceKind.SOS_BUTTON, SNZB01_TOPIC, [SNZB01_SINGLE])
    assert summary(alerts) == [(AlertKind.SOS, RAISED, CRIT)]


@pytest.mark.parametrize(
    ("command", "event"),
    [
        ("0006!02", ButtonEvent.PRESS),  # toggle: single
        ("0006!01", ButtonEvent.DOUBLE_PRESS),  # on: double
        ("0006!00", ButtonEvent.LONG_PRESS),  # off: long
    ],
)
def test_the_snzb01s_commands_are_its_gestures(command: str, event: ButtonEvent) -> None:
    payload = SNZB01_SINGLE.replace("0006!02", command)
    assert observe(SNZB01_TOPIC, payload, DeviceKind.SOS_BUTTON) == [DeviceEvent(event)]


def test_power_alone_is_no_press_and_a_command_of_another_kind_is_none() -> None:
    # A plug's attribute report says its relay's state in Power: the same entry without the
    # command is no press, even for a device registered as an SOS button.
    power_only = SNZB01_SINGLE.replace('"0006!02":"",', "")
    assert observe(SNZB01_TOPIC, power_only, DeviceKind.SOS_BUTTON) == []
    # The command of a device registered as anything else is no press.
    assert observe(SNZB01_TOPIC, SNZB01_SINGLE, DeviceKind.DOOR_CONTACT) == []


def test_the_commands_are_known_keys(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="devices.lenient"):
        observe(SNZB01_TOPIC, SNZB01_SINGLE, DeviceKind.SOS_BUTTON)
    assert "0006!02" not in caplog.text


# --- Tasmota Zigbee: the IAS zone's test bit --------------------------------------------------

ZONE = '{"ZbReceived":{"0x1234":{"Device":"0x1234","ZoneStatusChange":%d,"Endpoint":1}}}'


@pytest.mark.parametrize("kind", [DeviceKind.SMOKE, DeviceKind.CO, DeviceKind.GAS])
def test_a_detectors_zone_alarm_with_the_test_bit_is_a_test(kind: DeviceKind) -> None:
    # ZCL ZoneStatus bit 8 (0x0100) is Test, as zigbee-herdsman-converters' iasZoneAlarm reads
    # it; no published Tasmota message with it was found. Alarm 1 + test: 0x0101.
    (state,) = observe("tele/zbbridge/SENSOR", ZONE % 0x0101, kind)
    assert isinstance(state, StateUpdate)
    assert state.readings.smoke_test is True
    result = detect(DeviceState(), device(kind), state, T0)
    assert result.self_test
    assert result.alerts == ()
    # The raw notification (little-endian, "0500<00") says the same.
    raw = '{"ZbReceived":{"0x1234":{"Device":"0x1234","0500<00":"010100FF0000"}}}'
    assert observe("tele/zbbridge/SENSOR", raw, kind) == [state]


def test_a_zone_alarm_without_the_test_bit_still_raises() -> None:
    # Xiaomi JTYJ-GD-01LM's test press sends alarm 2 alone (zigbee-herdsman-converters
    # src/lib/lumi.ts lumi_smoke: test = zoneStatus & (1 << 1)): Tasmota cannot tell it from
    # a real alarm 2, and missing a real one is worse. And at rest it stays silent.
    alerts = detected(DeviceKind.SMOKE, "tele/zbbridge/SENSOR", [ZONE % 0x0002])
    assert summary(alerts) == [(AlertKind.SMOKE, RAISED, CRIT)]
    assert detected(DeviceKind.SMOKE, "tele/zbbridge/SENSOR", [ZONE % 0, ZONE % 0]) == []
    # A test bit on a leak sensor is no smoke_test.
    assert readings(decode("tele/zbbridge/SENSOR", ZONE % 0x0100, DeviceKind.WATER_LEAK)) == {
        "water_leak": False
    }


# --- ZCL's no-measurement temperature in every path ------------------------------------------


@pytest.mark.parametrize("sentinel", ["327.67", "-327.68"])
@pytest.mark.parametrize(
    ("topic", "template"),
    [
        # OWON THS317-ET behind a Tasmota bridge (Koenkk/zigbee2mqtt#15173: 327.67 below
        # −20 °C; 0x8000, −327.68, ZCL's invalid value), Tasmota's Zigbee keys.
        (
            "tele/zbbridge/SENSOR",
            '{"ZbReceived":{"0x2916":{"Device":"0x2916","Temperature":%s,"Humidity":48}}}',
        ),
        # A wired probe on a Tasmota, a Shelly Gen1's and a Gen2's temperature.
        ("tele/tasmota/SENSOR", '{"DS18B20":{"Id":"01","Temperature":%s},"TempUnit":"C"}'),
        ("shellies/shellyht-A1B2C3/sensor/temperature", "%s"),
        (
            "shellyplusht-c049ef8bc088/events/rpc",
            '{"src":"shellyplusht-c049ef8bc088","method":"NotifyStatus",'
            '"params":{"ts":1,"temperature:0":{"id":0,"tC":%s}}}',
        ),
    ],
)
def test_a_no_measurement_temperature_is_no_heat(topic: str, template: str, sentinel: str) -> None:
    payload = template % sentinel
    states = [o for o in observe(topic, payload, DeviceKind.HEAT) if isinstance(o, StateUpdate)]
    assert all(s.readings.temperature_c is None for s in states)
    assert detected(DeviceKind.HEAT, topic, [payload, payload]) == []


# --- three presses or more are a press --------------------------------------------------------


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        # Shelly Gen1 i3's triple push (bieniu/ha-shellies-discovery#91 publishes "SSS").
        ("shellies/shellyix3-10521CF2C2C2/input_event/0", '{"event":"SSS","event_cnt":7}'),
        # Shelly Gen2+ Input component event triple_push (shelly-api-docs, Input: events
        # single_push, double_push, triple_push, long_push); no published message was found.
        (
            "shellyplusi4-c4d8d5/events/rpc",
            '{"src":"shellyplusi4-c4d8d5","dst":"shellyplusi4-c4d8d5/events",'
            '"method":"NotifyEvent","params":{"ts":1733400000.12,"events":[{"component":'
            '"input:0","id":0,"event":"triple_push","ts":1733400000.12}]}}',
        ),
        # Tasmota SetOption73 1 (arendst/Tasmota#23910's form): TRIPLE, QUAD, PENTA.
        ("stat/LivingFans/RESULT", '{"Button1":{"Action":"TRIPLE"}}'),
        ("stat/LivingFans/RESULT", '{"Button1":{"Action":"QUAD"}}'),
        ("stat/LivingFans/RESULT", '{"Button1":{"Action":"PENTA"}}'),
    ],
)
def test_a_triple_press_is_one_sos(topic: str, payload: str) -> None:
    assert raised(detected(DeviceKind.SOS_BUTTON, topic, [payload]), AlertKind.SOS) == 1


def test_a_shellys_repeated_triple_is_not_a_second_sos() -> None:
    # A mains Shelly re-publishes its last event every 30 s with the same event_cnt.
    topic, payload = (
        "shellies/shellyix3-10521CF2C2C2/input_event/0",
        '{"event":"SSS","event_cnt":7}',
    )
    assert raised(detected(DeviceKind.SOS_BUTTON, topic, [payload, payload]), AlertKind.SOS) == 1
