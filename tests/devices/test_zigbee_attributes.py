"""Zigbee2MQTT's ``advanced.output: attribute``: each key of a device's state on a topic of its
own, ``zigbee2mqtt/<friendly_name>/<key>``, its value as Zigbee2MQTT writes it (text as it is,
numbers and booleans as JSON, null as an empty payload: ``iteratePayloadAttributeOutput``)."""

import pytest

from devices.adapters import decode_all
from devices.kinds import DeviceKind
from devices.observations import DeviceAddress, DeviceEvent, StateUpdate, ZigbeeAddress
from devices.payloads import ButtonEvent
from devices.topics import (
    DeviceChannel,
    ZigbeeTopic,
    parse_device_topic,
    zigbee_attribute_topic,
)
from devices.zigbee2mqtt import decode_zigbee_attribute

REGISTERED = {"b3 1201 sos", "kitchen/smoke", "kitchen"}


def registered(name: str) -> bool:
    return name in REGISTERED


def read(topic: str) -> ZigbeeTopic:
    parsed = parse_device_topic(topic)
    assert isinstance(parsed, ZigbeeTopic)
    return zigbee_attribute_topic(parsed, registered)


def test_the_last_level_of_a_registered_device_is_its_attribute() -> None:
    assert read("zigbee2mqtt/b3 1201 sos/action") == ZigbeeTopic(
        "b3 1201 sos", DeviceChannel.STATE, "action"
    )
    assert read("zigbee2mqtt/b3 1201 sos") == ZigbeeTopic("b3 1201 sos", DeviceChannel.STATE)


def test_a_registered_name_with_a_slash_is_a_device_not_an_attribute() -> None:
    # Friendly names may hold "/": "kitchen/smoke" is a device, its "smoke" an attribute.
    assert read("zigbee2mqtt/kitchen/smoke") == ZigbeeTopic("kitchen/smoke", DeviceChannel.STATE)
    assert read("zigbee2mqtt/kitchen/smoke/smoke") == ZigbeeTopic(
        "kitchen/smoke", DeviceChannel.STATE, "smoke"
    )
    assert read("zigbee2mqtt/kitchen/battery") == ZigbeeTopic(
        "kitchen", DeviceChannel.STATE, "battery"
    )


def test_nobody_registered_stays_a_name_and_availability_stays_availability() -> None:
    assert read("zigbee2mqtt/hall/door/contact") == ZigbeeTopic(
        "hall/door/contact", DeviceChannel.STATE
    )
    assert read("zigbee2mqtt/b3 1201 sos/availability") == ZigbeeTopic(
        "b3 1201 sos", DeviceChannel.AVAILABILITY
    )


@pytest.mark.parametrize(
    ("key", "text", "readings"),
    [
        ("smoke", "true", {"smoke": True}),
        ("smoke", "false", {"smoke": False}),
        ("contact", "false", {"contact": False}),
        ("battery", "87", {"battery_pct": 87.0}),
        ("temperature", "23.45", {"temperature_c": 23.45}),
        ("water_leak", "", {}),  # null
        ("battery_state", "low", {"battery_low": True}),
        ("presence_state", "move", {"presence": True, "occupancy": True}),
        ("linkquality", "120", {}),
        ("color-r", "255", {}),  # a nested object's key: nothing Linli reads
    ],
)
def test_an_attribute_reads_as_its_key_in_a_whole_message(
    key: str, text: str, readings: dict[str, object]
) -> None:
    observations = decode_zigbee_attribute(key, text)
    states = [o.readings.present() for o in observations if isinstance(o, StateUpdate)]
    assert states == ([readings] if readings else [])


def test_an_action_is_text_and_an_empty_one_is_nothing() -> None:
    assert decode_zigbee_attribute("action", "emergency") == (DeviceEvent(ButtonEvent.PRESS),)
    assert decode_zigbee_attribute("action", "") == ()
    assert decode_zigbee_attribute("action", "1_single") == (DeviceEvent(ButtonEvent.PRESS),)
    assert decode_zigbee_attribute("action", "brightness_move_up") == ()  # not a press


def test_decode_all_reads_an_attribute_topic_for_the_device_it_belongs_to() -> None:
    def kind_of(address: DeviceAddress) -> DeviceKind | None:
        return DeviceKind.SMOKE if address == ZigbeeAddress("kitchen/smoke") else None

    topic = ZigbeeTopic("kitchen/smoke", DeviceChannel.STATE, "smoke")
    [decoded] = decode_all(topic, b"true", kind_of=kind_of)
    assert decoded.address == ZigbeeAddress("kitchen/smoke")
    [state] = decoded.observations
    assert isinstance(state, StateUpdate)
    assert state.readings.smoke is True
