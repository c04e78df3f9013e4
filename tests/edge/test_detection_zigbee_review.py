"""An outside review's Zigbee2MQTT payloads, decoded as the edge decodes them and detected.

IAS zones of no known type publish their bits as ``alarm_1``/``alarm_2``/``alarm``
(zigbee-herdsman-converters ``modernExtend.iasZoneAlarm`` with ``zoneType: "generic"``, and
Zigbee2MQTT's generated definition of any unsupported IAS device, src/lib/generateDefinition.ts):
read by the registered kind. Zones of a known type with both bits publish
``<zoneType>_alarm_1``/``_2``. ZCL's "no measurement" temperature is no temperature.
"""

from devices.adapters import decode_all
from devices.kinds import AlertKind, DeviceKind
from devices.observations import (
    DeviceAddress,
    DeviceEvent,
    InputState,
    Observation,
    StateUpdate,
    ZigbeeAddress,
)
from devices.payloads import ButtonEvent
from devices.topics import DeviceChannel, ZigbeeTopic
from edge.detection import AlertDecision
from edge.detectors.inputs import RULE_FIRST_SIGHTING, RULE_INPUT_ON
from tests.devices.test_tasmota_shelly import decode
from tests.edge.detection_series import CRIT, RAISED, feed, minutes_after_t0, summary

# ORVIBO SE30 SOS button (generic IAS zone), as published: Koenkk/zigbee2mqtt#25421.
SE30_SOS = '{"alarm_1":false,"alarm_2":true,"battery":80,"battery_low":false,"tamper":false}'
SE30_AT_REST = SE30_SOS.replace('"alarm_2":true', '"alarm_2":false')


def observe(payload: str, kind: DeviceKind | None, name: str = "b3 1201 sos") -> list[Observation]:
    """Decode one whole Zigbee2MQTT message of a device registered as ``kind``."""
    (decoded,) = decode(f"zigbee2mqtt/{name}", payload, kind)
    return list(decoded.observations)


def detected(kind: DeviceKind, payloads: list[str]) -> list[AlertDecision]:
    """Decode the messages, a minute apart, and detect them for one device of ``kind``."""
    timed = [(60.0 * i, o) for i, payload in enumerate(payloads) for o in observe(payload, kind)]
    _, alerts = feed(kind, timed)
    return alerts


def sos(alerts: list[AlertDecision]) -> list[tuple[float | None, str, object]]:
    """Return each SOS raised: minutes after T0, its rule and its uncommanded rule."""
    return [
        (minutes_after_t0(a), a.reason.rule, a.reason.values.get("uncommanded_rule"))
        for a in alerts
        if a.kind is AlertKind.SOS and a.state is RAISED
    ]


# --- SOS buttons: the alarm bit is a state ----------------------------------------------------


def test_an_se30_sos_is_one_press_and_its_repeats_are_none() -> None:
    # Zigbee2MQTT re-publishes the cached alarm_2 with every later report (a battery report
    # here): the bit is a state, its off → on one press. The first message is a press at the
    # first sighting (the edge did not see it at rest before): marked, still raised.
    battery_report = SE30_SOS.replace('"battery":80', '"battery":79')
    alerts = detected(
        DeviceKind.SOS_BUTTON, [SE30_SOS, battery_report, SE30_AT_REST, SE30_SOS, SE30_SOS]
    )
    assert sos(alerts) == [
        (0.0, RULE_INPUT_ON, RULE_FIRST_SIGHTING),
        (3.0, RULE_INPUT_ON, None),
    ]


def test_an_se30_at_rest_is_silent() -> None:
    assert detected(DeviceKind.SOS_BUTTON, [SE30_AT_REST, SE30_AT_REST]) == []


def test_a_feibit_sos_flag_is_a_press_once() -> None:
    # Feibit SEB01ZB (feibit.ts: fz.ias_sos_alarm_2 → sos, tamper, battery_low; fz.battery).
    # No published message was found; the keys are the converter's.
    rest = '{"battery":100,"battery_low":false,"sos":false,"tamper":false}'
    pressed = rest.replace('"sos":false', '"sos":true')
    assert InputState("sos", True) in observe(pressed, DeviceKind.SOS_BUTTON)
    assert detected(DeviceKind.SOS_BUTTON, [rest, rest]) == []
    assert sos(detected(DeviceKind.SOS_BUTTON, [rest, pressed, pressed])) == [
        (1.0, RULE_INPUT_ON, None)
    ]


def test_an_action_press_beside_the_alarm_bit_is_one_press() -> None:
    both = SE30_SOS.replace("{", '{"action":"emergency",', 1)
    observations = observe(both, DeviceKind.SOS_BUTTON)
    assert [o for o in observations if not isinstance(o, StateUpdate)] == [
        DeviceEvent(ButtonEvent.PRESS)
    ]
    assert len(sos(detected(DeviceKind.SOS_BUTTON, [both]))) == 1


def test_attribute_output_reads_each_bit_for_the_registered_button() -> None:
    # advanced.output: attribute: alarm_1 and alarm_2 on topics of their own, every report.
    def kind_of(address: DeviceAddress) -> DeviceKind | None:
        return DeviceKind.SOS_BUTTON if address == ZigbeeAddress("b3 1201 sos") else None

    def attribute(key: str, text: str) -> list[Observation]:
        topic = ZigbeeTopic("b3 1201 sos", DeviceChannel.STATE, key)
        (decoded,) = decode_all(topic, text.encode(), kind_of=kind_of)
        return list(decoded.observations)

    report = [*attribute("alarm_1", "false"), *attribute("alarm_2", "true")]
    assert report == [InputState("alarm_1", False), InputState("alarm_2", True)]
    # Two reports of the same state: one press, not one per report.
    timed = [(60.0 * i, o) for i in range(2) for o in report]
    _, alerts = feed(DeviceKind.SOS_BUTTON, timed)
    assert len(sos(alerts)) == 1


# --- detectors, door contacts and others: the alarm bit by the registered kind ---------------


def test_a_generic_smoke_detectors_alarm_is_smoke_and_at_rest_is_silent() -> None:
    # MultIR MIR-SM100-E and Heiman HS2SA-5 smoke detectors (multir.ts: iasZoneAlarm generic,
    # alarm_1, alarm_2, tamper, battery_low). No published message was found: the SE30's
    # message above has the same keys.
    at_rest = '{"alarm_1":false,"alarm_2":false,"battery":80,"battery_low":false,"tamper":false}'
    fire = at_rest.replace('"alarm_1":false', '"alarm_1":true')
    assert detected(DeviceKind.SMOKE, [at_rest, at_rest]) == []
    assert summary(detected(DeviceKind.SMOKE, [fire])) == [(AlertKind.SMOKE, RAISED, CRIT)]
    # The same bit of a CO, gas or leak detector is that alarm.
    assert summary(detected(DeviceKind.CO, [fire])) == [(AlertKind.CO, RAISED, CRIT)]
    assert summary(detected(DeviceKind.GAS, [fire]))[0][:2] == (AlertKind.GAS, RAISED)
    assert summary(detected(DeviceKind.WATER_LEAK, [fire]))[0][:2] == (
        AlertKind.WATER_LEAK,
        RAISED,
    )


def test_a_specific_key_wins_and_an_unregistered_generic_alarm_is_ignored() -> None:
    assert observe('{"smoke":false,"alarm_1":true}', DeviceKind.SMOKE) == observe(
        '{"smoke":false}', DeviceKind.SMOKE
    )
    # Nobody registered it: alarm_1 could be a vibration sensor's. Its battery still counts.
    (state,) = observe('{"alarm_1":true,"battery":80}', None)
    assert isinstance(state, StateUpdate)
    assert state.readings.present() == {"battery_pct": 80.0}


def test_a_door_contacts_alarm_is_the_door_open_unless_it_says_contact() -> None:
    (opened,) = observe('{"alarm_1":true,"battery":90}', DeviceKind.DOOR_CONTACT)
    assert isinstance(opened, StateUpdate)
    assert opened.readings.contact is False
    (closed,) = observe('{"alarm_1":true,"contact":true}', DeviceKind.DOOR_CONTACT)
    assert isinstance(closed, StateUpdate)
    assert closed.readings.contact is True


def test_a_heat_detectors_alarm_and_a_sirens_alarm_text_are_not_read() -> None:
    # Heiman HM-5HA-E publishes "alarm" (heiman.ts): no heat flag in Readings; its
    # temperature is what a heat detector is judged by.
    assert observe('{"alarm":true,"battery":100}', DeviceKind.HEAT) == observe(
        '{"battery":100}', DeviceKind.HEAT
    )
    # A siren's "alarm" is its mode (tuya.ts e.enum("alarm", …)): skipped, never the message.
    assert observe('{"alarm":"alarm_sound","smoke":true}', DeviceKind.SMOKE) == observe(
        '{"smoke":true}', DeviceKind.SMOKE
    )


def test_both_bits_of_a_smoke_and_a_co_zone_are_read() -> None:
    # Sunricher SR-ZG9070A-SS (smoke) and SR-ZG9060B-CS (CO), sunricher.ts: iasZoneAlarm
    # zoneType smoke / carbon_monoxide with alarm_1 and alarm_2, so smoke_alarm_1/_2 and
    # carbon_monoxide_alarm_1/_2. No published message was found. Read unregistered too.
    smoke = '{"battery":100,"smoke_alarm_1":true,"smoke_alarm_2":false,"tamper":false}'
    assert summary(detected(DeviceKind.SMOKE, [smoke])) == [(AlertKind.SMOKE, RAISED, CRIT)]
    co = '{"battery":100,"carbon_monoxide_alarm_1":false,"carbon_monoxide_alarm_2":true}'
    assert summary(detected(DeviceKind.CO, [co])) == [(AlertKind.CO, RAISED, CRIT)]
    (unregistered,) = observe(smoke, None)
    assert isinstance(unregistered, StateUpdate)
    assert unregistered.readings.smoke is True
    at_rest = smoke.replace("true", "false")
    assert detected(DeviceKind.SMOKE, [at_rest, at_rest]) == []


# --- ZCL's no-measurement temperature ----------------------------------------------------------


def test_zcls_no_measurement_temperatures_are_no_temperature() -> None:
    # OWON THS317-ET reports 327.67 °C near −20 °C (Koenkk/zigbee2mqtt#15173,
    # Koenkk/zigbee-herdsman-converters#5633); ZCL's invalid value 0x8000 is −327.68 °C. Both
    # keys are OWON's exposes (owon.ts: temperature, humidity, battery).
    for sentinel in ("327.67", "-327.68"):
        payload = f'{{"battery":100,"humidity":48,"temperature":{sentinel}}}'
        (state,) = observe(payload, DeviceKind.HEAT)
        assert isinstance(state, StateUpdate)
        assert state.readings.present() == {"battery_pct": 100.0, "humidity_pct": 48.0}
        assert detected(DeviceKind.HEAT, [payload, payload]) == []
    # A real freezer's cold is read.
    (cold,) = observe('{"temperature":-19.5}', DeviceKind.HEAT)
    assert isinstance(cold, StateUpdate)
    assert cold.readings.temperature_c == -19.5
