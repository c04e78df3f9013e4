"""Vendor fields of Zigbee2MQTT, read from real published messages.

Each payload is quoted as published, with the address it was published at. Where no message
was found published, the test says so and cites the zigbee-herdsman-converters definition
(Koenkk/zigbee-herdsman-converters @df72005, src/devices/*.ts) that fixes the key and its unit.
"""

import pytest

from devices.adapters import decode
from devices.errors import PayloadError
from devices.observations import DeviceEvent, StateUpdate
from devices.payloads import ButtonEvent, Readings
from tests.conftest import only_state


def present(payload: str) -> dict[str, float | bool]:
    """Return the readings one Zigbee2MQTT message carries."""
    return only_state("zigbee2mqtt/dev", payload.encode()).readings.present()


# --- carbon monoxide -----------------------------------------------------------------------


def test_co_concentration_is_read_in_ppm() -> None:
    # Tuya TS0601_smoke_co (_TZE284_6ycgarab), its test button, as published:
    # https://github.com/Koenkk/zigbee-herdsman-converters/issues/9289
    test_button = (
        '{"battery":null,"battery_low":null,"carbon_monoxide":false,"co":null,'
        '"linkquality":48,"smoke":null}'
    )
    assert present(test_button) == {"co_alarm": False}
    # The same message with a level, as the Tuya air box publishes it (legacy tuya_CO: co =
    # dp / 100 in ppm, exposes e.co() "ppm"; no published message with a number was found):
    with_level = test_button.replace('"co":null', '"co":70.5')
    assert present(with_level) == {"co_alarm": False, "co_ppm": 70.5}


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        # Nous E12 (nous.ts: carbon_monoxide_value, unit ppm).
        ('{"carbon_monoxide":false,"carbon_monoxide_value":12}', {"co_ppm": 12.0}),
        # Halo Smart Labs HALO+ (halo_smart_labs.ts: co_ppm).
        ('{"co_ppm":3}', {"co_ppm": 3.0}),
    ],
)
def test_other_co_level_names(payload: str, expected: dict[str, float]) -> None:
    assert present(payload).items() >= expected.items()


def test_carbon_monoxide_as_on_off_text() -> None:
    # Tuya TS0601_smart_CO_air_box (DCR-CO) publishes carbon_monoxide "ON"/"OFF" (legacy.ts
    # tuya_CO; the device's exposes were changed to "ON"/"OFF" for it):
    # https://github.com/Koenkk/zigbee2mqtt/issues/27067 and, the value "OFF" seen in MQTT,
    # https://github.com/home-assistant/core/issues/142484
    assert present('{"carbon_monoxide":"OFF","co":0}') == {"co_alarm": False, "co_ppm": 0.0}
    assert present('{"carbon_monoxide":"ON","co":412}') == {"co_alarm": True, "co_ppm": 412.0}


def test_co2_is_never_carbon_monoxide() -> None:
    # A Tuya smoke detector under an old converter, co2 as a flag:
    # https://github.com/Koenkk/zigbee2mqtt/issues/15349
    smoke = (
        '{"battery":90,"battery_low":false,"co2":false,"linkquality":255,"smoke":true,'
        '"tamper":false}'
    )
    assert present(smoke) == {
        "battery_pct": 90.0,
        "battery_low": False,
        "smoke": True,
        "tamper": False,
    }
    # An air quality sensor's CO2 in ppm:
    # https://github.com/stas-demydiuk/domoticz-zigbee2mqtt-plugin/issues/684
    air = '{"co2":359,"formaldehyd":1,"humidity":62.3,"linkquality":84,"temperature":21.1,"voc":14}'
    assert present(air) == {"humidity_pct": 62.3, "temperature_c": 21.1}


@pytest.mark.parametrize("payload", ['{"co": -3}', '{"co": "a lot"}', '{"co": true}'])
def test_a_co_level_that_is_not_a_concentration_is_refused(payload: str) -> None:
    with pytest.raises(PayloadError, match="co"):
        decode("zigbee2mqtt/dev", payload.encode())


# --- gas -----------------------------------------------------------------------------------

# Tuya TS0601_gas_sensor_2 during a self-test started from Zigbee2MQTT, as published:
# https://github.com/Koenkk/zigbee-herdsman-converters/pull/6351 (Waterbrain, 2023-11-03)
GAS_SELF_TEST = (
    '{"alarm_ringtone":"melody3","alarm_time":44,"gas":false,"gas_detection_state":"False",'
    '"gas_value":0,"linkquality":145,"preheat":true,"self_test":true,'
    '"self_test_result":"failure","silence":false}'
)
# The next message of the same log, the gas flag as text: the source quotes it only up to
# '"preheat":true,"se', so the keys after preheat are left out here.
GAS_SELF_TEST_ALARM = (
    '{"alarm_ringtone":"melody3","alarm_time":44,"gas":"True","gas_detection_state":"False",'
    '"gas_value":0,"linkquality":145,"preheat":true}'
)


def test_gas_self_test_is_a_test_and_gas_value_is_not_read() -> None:
    # gas_value's unit differs by model (LEL on this one, ppm on Tuya ZG-225Z): not read.
    assert present(GAS_SELF_TEST) == {"gas": False, "smoke_test": True}


def test_gas_flag_as_text() -> None:
    assert present(GAS_SELF_TEST_ALARM) == {"gas": True}


def test_gas_as_a_level_is_percent_lel() -> None:
    # Lincukoo E04CF-Z10T (lincukoo.ts): gas is numeric "%LEL" (dp 2 / 1000), its alarm in
    # gas_sensor_state normal/alarm, co in ppm. No published message was found.
    payload = '{"gas":12.5,"gas_sensor_state":"alarm","co":0,"co_state":"normal"}'
    assert present(payload) == {
        "gas_lel_pct": 12.5,
        "gas": True,
        "co_ppm": 0.0,
        "co_alarm": False,
    }


def test_gas_density_is_not_read_as_lel() -> None:
    # Xiaomi JTQJ-BF-01LM/BW: gas_density is a raw 0-255 value, not % LEL (realdata
    # z2m_gas_detector.json, https://github.com/Koenkk/zigbee2mqtt/issues/5373).
    payload = (
        '{"battery_low":false,"gas":true,"gas_density":237,"linkquality":15,'
        '"sensitivity":"medium","tamper":false}'
    )
    assert present(payload) == {"battery_low": False, "gas": True, "tamper": False}


def test_ias_zone_alarm_bits_of_both_kinds() -> None:
    # IAS zones exposing alarm_1 and alarm_2 publish <zone>_alarm_1/_2 (modernExtend
    # iasZoneAlarm: Tuya gas sensor, Adeo/BlitzWolf/Pulsar water sensors). No published
    # message was found.
    assert present('{"gas_alarm_1":false,"gas_alarm_2":true}') == {"gas": True}
    assert present('{"water_leak_alarm_1":false,"water_leak_alarm_2":false}') == {
        "water_leak": False
    }


# --- smoke, self-test, faults, battery -----------------------------------------------------


def test_keypad_faults_are_not_alarms() -> None:
    # Linkind keypad, as published: trouble/ac_status/supervision are faults or settings.
    # https://github.com/Koenkk/zigbee2mqtt/issues/6242
    payload = (
        '{"ac_status":false,"action":null,"action_code":null,"action_transaction":null,'
        '"action_zone":null,"battery":99,"battery_low":false,"linkquality":255,'
        '"occupancy":true,"restore_reports":true,"smoke":false,"supervision_reports":true,'
        '"tamper":false,"test":false,"trouble":false,"voltage":2900}'
    )
    assert present(payload) == {
        "battery_pct": 99.0,
        "battery_low": False,
        "occupancy": True,
        "smoke": False,
        "smoke_test": False,
        "tamper": False,
    }


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        # Tuya 228WZH (tuya.ts): self_test "Checking"/"Check success".
        ('{"smoke":true,"self_test":"Checking"}', {"smoke": True, "smoke_test": True}),
        ('{"smoke":false,"self_test":"Check success"}', {"smoke": False, "smoke_test": False}),
        # Nous E12 (nous.ts): test is the text "test"/"idle", testing a flag.
        ('{"carbon_monoxide":true,"test":"test"}', {"co_alarm": True, "smoke_test": True}),
        ('{"carbon_monoxide":false,"testing":false}', {"co_alarm": False, "smoke_test": False}),
        # Moes ZC-HM (moes.ts): self_test_result checking/success/failure.
        (
            '{"carbon_monoxide":true,"self_test_result":"checking"}',
            {"co_alarm": True, "smoke_test": True},
        ),
        # Tuya TS0601_smoke_co (tuya.ts): smoke_state alarm/none/detecting/unknown.
        ('{"smoke_state":"alarm"}', {"smoke": True}),
        ('{"smoke_state":"detecting","fault_alarm":true}', {}),
    ],
)
def test_tuya_self_test_and_state_names(payload: str, expected: dict[str, bool]) -> None:
    decoded = decode("zigbee2mqtt/dev", payload.encode())
    assert decoded is not None
    states = [o.readings.present() for o in decoded.observations if isinstance(o, StateUpdate)]
    assert states == ([expected] if expected else [])


def test_battery_state_low() -> None:
    # A Tuya sensor's battery_state (tuya batteryState: low/medium/high), as published:
    # https://github.com/home-assistant/core/issues/95700
    payload = (
        '{"battery":20,"battery_state":"low","linkquality":124,"soil_moisture":40,'
        '"temperature":18,"temperature_unit":null}'
    )
    assert present(payload) == {"battery_pct": 20.0, "battery_low": True, "temperature_c": 18.0}
    assert present('{"battery_level":"middle"}') == {"battery_low": False}


def test_a_state_name_in_another_form_costs_nothing_else() -> None:
    assert present('{"smoke":true,"battery_state":2,"self_test":[1]}') == {"smoke": True}


# --- presence radars ----------------------------------------------------------------------


def test_a_presence_radar_is_presence() -> None:
    # Tuya ZY-M100 mmWave radar, as published:
    # https://github.com/Andrik45719/ZY-M100/issues/1
    payload = (
        '{"detection_delay":0.1,"fading_time":30,"illuminance_lux":369,'
        '"last_seen":"2024-09-07T15:54:41.147Z","linkquality":98,"maximum_range":6,'
        '"minimum_range":0.3,"presence":true,"radar_sensitivity":2,"target_distance":null}'
    )
    assert present(payload) == {"presence": True}


def test_a_radar_that_has_not_decided_says_nothing() -> None:
    # Tuya ZG-205Z after an update, as published (presence and presence_state null):
    # https://github.com/Koenkk/zigbee2mqtt/issues/28467
    payload = (
        '{"breath_detection_max":5.5,"breath_detection_min":0.2,"breath_sensitivity":9,'
        '"illuminance":0,"indicator":"ON","last_seen":"2025-09-03T07:43:38.597Z",'
        '"linkquality":81,"move_detection_max":7,"move_detection_min":0.2,"move_sensitivity":0,'
        '"none_delay_time":5,"presence":null,"presence_state":null,'
        '"small_move_detection_max":5.5,"small_move_detection_min":0.2,'
        '"small_move_sensitivity":9,"target_distance":5.88}'
    )
    decoded = decode("zigbee2mqtt/human presence detector", payload.encode())
    assert decoded is not None
    assert decoded.observations == ()


@pytest.mark.parametrize(
    ("state", "there", "moving"),
    [
        ("none", False, False),
        ("presence", True, False),
        ("peaceful", True, False),
        ("stationary", True, False),
        ("move", True, True),
        ("motion", True, True),
        ("small_movement", True, True),
        ("large_movement", True, True),
        ("NONE", False, False),
        ("PRESENCE", True, False),
        ("Large movement", True, True),
    ],
)
def test_presence_state_names(state: str, there: bool, moving: bool) -> None:
    # No message with presence_state found published; the names are those of
    # zigbee-herdsman-converters' Tuya and Aqara radars (src/devices/tuya.ts, lumi.ts:
    # e.enum("presence_state", ea.STATE, ["none", "presence", …])). Someone moving is also
    # a motion sensor's occupancy; someone still is there, but did not move.
    assert present(f'{{"presence_state":"{state}"}}') == {"presence": there, "occupancy": moving}


@pytest.mark.parametrize(
    ("state", "moving"),
    [("none", False), ("static", False), ("small", True), ("large", True), ("Large", True)],
)
def test_a_radars_motion_state_is_occupancy(state: str, moving: bool) -> None:
    # Tuya ZG-204ZM (zigbee2mqtt.io/devices/ZG-204ZM: presence, motion_state none, large,
    # small, static): someone still is there (presence) but does not move.
    payload = f'{{"presence":true,"motion_state":"{state}","illuminance_lux":12}}'
    assert present(payload) == {"presence": True, "occupancy": moving}


def test_an_unknown_presence_state_says_nothing_and_costs_nothing_else() -> None:
    assert present('{"presence_state":"sleeping","contact":false}') == {"contact": False}
    assert present('{"presence_state":7,"presence":true}') == {"presence": True}


def test_a_radar_that_says_both_is_read_for_both() -> None:
    # Tuya ZG-205Z sends both keys (its message above); either saying someone is there is
    # someone there.
    assert present('{"presence":false,"presence_state":"move"}') == {
        "presence": True,
        "occupancy": True,
    }


# --- SOS and panic buttons -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "event"),
    [
        # Tuya TS0041-TS0044 wireless switches (exposes 1_single, 1_double, 1_hold, 2_…)
        ("1_single", "press"),
        ("1_double", "double_press"),
        ("3_hold", "long_press"),
        # Aqara Opple WXCJKG11LM-13LM: button_<n>_single/double/triple/hold/release
        ("button_1_single", "press"),
        ("button_2_triple", "press"),
        ("button_1_hold", "long_press"),
        ("button_1_release", None),
        # Aqara WXKG02LM/WXKG07LM double rockers: <gesture>_left/right/both
        ("single_left", "press"),
        ("double_both", "double_press"),
        ("hold_right", "long_press"),
        # Xiaomi WXKG01LM: single … quadruple, many, long, long_release
        ("quadruple", "press"),
        ("many", "press"),
        ("long_release", None),
        # Philips Hue dimmer RWL021/RWL022: <button>_press, then <button>_press_release
        ("on_press", "press"),
        ("on_press_release", None),
        ("off_hold", "long_press"),
        ("off_hold_release", None),
        # IKEA E1810: toggle (the round button); dimming steps are not presses
        ("toggle", "press"),
        ("brightness_move_up", None),
        ("arrow_left_click", None),
    ],
)
def test_a_generic_wireless_button_pressed_for_help_is_a_press(
    action: str, event: str | None
) -> None:
    # An elderly resident's SOS button is often an ordinary Zigbee button registered as an
    # SOS button: its gestures, as zigbee-herdsman-converters names them, are presses.
    decoded = decode("zigbee2mqtt/b2 301 button", f'{{"action":"{action}","battery":90}}'.encode())
    assert decoded is not None
    events = [o.event for o in decoded.observations if isinstance(o, DeviceEvent)]
    assert events == ([event] if event else [])


def test_panic_action_is_a_press() -> None:
    # SwannOne key fob SWO-KEF1PA, as published:
    # https://github.com/stas-demydiuk/domoticz-zigbee2mqtt-plugin/pull/116
    decoded = decode("zigbee2mqtt/Swann_Keychain", b'{"linkquality":26,"action":"panic"}')
    assert decoded is not None
    assert decoded.observations == (DeviceEvent(ButtonEvent.PRESS, None),)


def test_emergency_button_off_is_not_a_press() -> None:
    # Heiman HS1EB / ORVIBO SE21: action "off" is zone status 0 (fromZigbee
    # command_status_change_notification_action), the button at rest.
    decoded = decode("zigbee2mqtt/sos", b'{"action":"off","battery":100}')
    assert decoded is not None
    assert decoded.observations == (StateUpdate(Readings(battery_pct=100.0)),)


def test_a_legacy_click_is_a_press_unless_the_message_has_an_action() -> None:
    # Xiaomi WXKG01LM on a legacy bridge, as published:
    # https://github.com/Koenkk/zigbee2mqtt/issues/1501
    legacy = '{"linkquality":123,"duration":86,"battery":100,"voltage":3022,"click":"single"}'
    decoded = decode("zigbee2mqtt/0x00158d00016d8a67", legacy.encode())
    assert decoded is not None
    assert DeviceEvent(ButtonEvent.PRESS, None) in decoded.observations
    # Zigbee2MQTT 1.36 sends the action and, apart, a wrong click for the same single press
    # (https://github.com/Koenkk/zigbee2mqtt/issues/21661): one press, not two.
    messages = [
        '{"action":"single","battery":100,"click":null,"linkquality":185,'
        '"power_outage_count":317,"voltage":3012}',
        '{"action":"","battery":100,"click":null,"linkquality":185,'
        '"power_outage_count":317,"voltage":3012}',
        '{"action":null,"battery":100,"click":"long","linkquality":185,'
        '"power_outage_count":317,"voltage":3012}',
    ]
    events = []
    for message in messages:
        decoded = decode("zigbee2mqtt/Pulsante ingresso", message.encode())
        assert decoded is not None
        events += [o for o in decoded.observations if isinstance(o, DeviceEvent)]
    assert events == [DeviceEvent(ButtonEvent.PRESS, None)]
