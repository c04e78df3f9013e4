"""The topic scheme: builders and parsers agree, and nothing outside the scheme parses."""

import pytest

from devices.errors import TopicError
from devices.topics import (
    DeviceChannel,
    EdgeChannel,
    NativeTopic,
    ZigbeeBridgeTopic,
    ZigbeeTopic,
    device_topic,
    edge_topic,
    parse_device_topic,
    parse_edge_topic,
    zigbee_topic,
)


@pytest.mark.parametrize("channel", list(DeviceChannel))
@pytest.mark.parametrize("device_id", ["co-1", "b3.f12.1201_smoke", "A"])
def test_native_topic_round_trips(device_id: str, channel: DeviceChannel) -> None:
    topic = device_topic(device_id, channel)
    assert topic == f"linli/dev/{device_id}/{channel}"
    assert parse_device_topic(topic) == NativeTopic(device_id, channel)


@pytest.mark.parametrize("channel", list(EdgeChannel))
def test_edge_topic_round_trips(channel: EdgeChannel) -> None:
    topic = edge_topic("edge-courtyard", channel)
    parsed = parse_edge_topic(topic)
    assert (parsed.edge_id, parsed.channel) == ("edge-courtyard", channel)


@pytest.mark.parametrize("name", ["Smoke RIGHT", "0x00158d0001d64498", "sensore perdita gas"])
def test_zigbee_topic_round_trips(name: str) -> None:
    assert parse_device_topic(zigbee_topic(name)) == ZigbeeTopic(name, DeviceChannel.STATE)
    availability = parse_device_topic(f"{zigbee_topic(name)}/availability")
    assert availability == ZigbeeTopic(name, DeviceChannel.AVAILABILITY)


@pytest.mark.parametrize(
    "topic",
    ["zigbee2mqtt/bridge/state", "zigbee2mqtt/bridge/event", "zigbee2mqtt/lamp/set"],
)
def test_zigbee_bridge_and_command_topics_are_not_devices(topic: str) -> None:
    assert isinstance(parse_device_topic(topic), ZigbeeBridgeTopic)


def test_zigbee_base_is_configurable() -> None:
    assert parse_device_topic("z2m/door", z2m_base="z2m") == ZigbeeTopic(
        "door", DeviceChannel.STATE
    )


@pytest.mark.parametrize(
    "topic",
    [
        "linli/dev/x/bogus",
        "linli/dev/x",
        "linli/dev/x/state/extra",
        "linli/dev/+/state",
        "linli/dev/a b/state",
        "homeassistant/sensor/x/config",
        "linli/other",
    ],
)
def test_topics_outside_the_scheme_are_refused(topic: str) -> None:
    with pytest.raises(TopicError):
        parse_device_topic(topic)


@pytest.mark.parametrize(
    "topic", ["linli/edge/e1/bogus", "linli/edge/e1", "linli/edges/e1/alert", "linli/edge/#/alert"]
)
def test_bad_edge_topics_are_refused(topic: str) -> None:
    with pytest.raises(TopicError):
        parse_edge_topic(topic)


def test_builders_refuse_ids_that_would_break_the_scheme() -> None:
    for bad in ["a/b", "+", "#", "", "x" * 65]:
        with pytest.raises(ValueError, match="not a valid id"):
            device_topic(bad, DeviceChannel.STATE)
