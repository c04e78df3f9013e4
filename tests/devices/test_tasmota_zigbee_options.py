"""A Tasmota Zigbee bridge's output under the options that change it (Tasmota's
``xdrv_23_zigbee_2a_devices_impl.ino``, ``jsonPublishAttrList``): every shape must still be
the same device with the same readings, or a bridge configured for Home Assistant loses every
alarm behind it."""

import json

import pytest

from devices.adapters import decode_all
from devices.kinds import DeviceKind
from devices.observations import Decoded, DeviceAddress, StateUpdate, TasmotaAddress
from devices.tasmota import address_keys
from devices.topics import TasmotaChannel, TasmotaTopic, parse_device_topic

# A real message (shared/realdata tasmota_zigbee_and_sensors.json) and a leak of the same
# device, with its friendly name (SetOption83 keys it by the name instead of the address).
ENTRY = {
    "Device": "0x2916",
    "Name": "SNZB-02",
    "Temperature": 25.72,
    "Humidity": 47.73,
    "Endpoint": 1,
    "LinkQuality": 116,
}
LEAK = {"Device": "0x4A1C", "Name": "bike leak", "Water": 1, "Endpoint": 1}


def decode(topic: str, payload: object) -> tuple[Decoded, ...]:
    def kind_of(_: DeviceAddress) -> DeviceKind | None:
        return DeviceKind.WATER_LEAK

    return decode_all(parse_device_topic(topic), json.dumps(payload).encode(), kind_of=kind_of)


def state(decoded: Decoded) -> dict[str, float | bool]:
    [update] = [o for o in decoded.observations if isinstance(o, StateUpdate)]
    return update.readings.present()


@pytest.mark.parametrize(
    ("options", "topic", "payload"),
    [
        ("default", "tele/zbbridge/SENSOR", {"ZbReceived": {"0x2916": ENTRY}}),
        ("SetOption83 (keyed by name)", "tele/zbbridge/SENSOR", {"ZbReceived": {"SNZB-02": ENTRY}}),
        ("SetOption100 (no ZbReceived)", "tele/zbbridge/SENSOR", {"0x2916": ENTRY}),
        ("SetOption119 (no key)", "tele/zbbridge/SENSOR", {"ZbReceived": ENTRY}),
        ("SetOption100 + 119", "tele/zbbridge/SENSOR", ENTRY),
        (
            "SetOption89 (topic per device)",
            "tele/zbbridge/2916/SENSOR",
            {"ZbReceived": {"0x2916": ENTRY}},
        ),
        ("SetOption89 + 112 (by name)", "tele/zbbridge/SNZB-02/SENSOR", {"ZbReceived": ENTRY}),
        ("SetOption89 + 120 (endpoint)", "tele/zbbridge/2916_1/SENSOR", {"0x2916": ENTRY}),
        ("SetOption118 (ZbReceived in topic)", "tele/zbbridge/ZbReceived", {"0x2916": ENTRY}),
        ("SetOption89 + 118 + 119", "tele/zbbridge/2916/ZbReceived", ENTRY),
        (
            "SetOption144 (with time)",
            "tele/zbbridge/SENSOR",
            {"Time": "2026-12-05T10:00:00", "ZbReceived": {"0x2916": ENTRY}},
        ),
    ],
)
def test_every_output_option_is_the_same_device_and_readings(
    options: str, topic: str, payload: object
) -> None:
    [decoded] = decode(topic, payload)
    assert isinstance(decoded.address, TasmotaAddress), options
    assert "zbbridge/0x2916" in address_keys(decoded.address), options
    assert "zbbridge/SNZB-02" in address_keys(decoded.address), options
    assert state(decoded) == {"temperature_c": 25.72, "humidity_pct": 47.73}, options


def test_without_the_wrapper_several_devices_are_still_several() -> None:
    decoded = decode("tele/zbbridge/SENSOR", {"0x2916": ENTRY, "0x4A1C": LEAK})
    assert [state(d) for d in decoded] == [
        {"temperature_c": 25.72, "humidity_pct": 47.73},
        {"water_leak": True},
    ]


def test_a_per_device_topic_names_the_device_when_the_entry_does_not() -> None:
    entry = {"Device": "0x4A1C", "Water": 1}
    [decoded] = decode("tele/zbbridge/bike_leak/SENSOR", {"ZbReceived": entry})
    assert isinstance(decoded.address, TasmotaAddress)
    assert "zbbridge/bike_leak" in address_keys(decoded.address)
    assert state(decoded) == {"water_leak": True}


def test_a_wired_tasmota_is_not_taken_for_a_bridge() -> None:
    payload = {"Time": "2026-12-05T10:00:00", "AM2301": {"Temperature": 24.6, "Humidity": 40.1}}
    [decoded] = decode("tele/hall/SENSOR", payload)
    assert decoded.address == TasmotaAddress("hall")
    assert state(decoded) == {"temperature_c": 24.6, "humidity_pct": 40.1}


def test_the_per_device_topic_level_is_read_as_a_name() -> None:
    sensor = TasmotaChannel.SENSOR
    assert parse_device_topic("tele/zbbridge/2916/SENSOR") == TasmotaTopic(
        "zbbridge", sensor, "0x2916"
    )
    assert parse_device_topic("tele/zbbridge/0x2916_2/SENSOR") == TasmotaTopic(
        "zbbridge", sensor, "0x2916"
    )
    assert parse_device_topic("tele/zbbridge/Hall_door/SENSOR") == TasmotaTopic(
        "zbbridge", sensor, "Hall_door"
    )
    # A name is kept as it stands: "Room_2" is not device "Room"'s endpoint 2.
    assert parse_device_topic("tele/zbbridge/Room_2/SENSOR") == TasmotaTopic(
        "zbbridge", sensor, "Room_2"
    )
