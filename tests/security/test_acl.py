"""The ACL, on plain values: derived from the topic scheme, bound to usernames only."""

import re

import pytest

from devices.topics import (
    DeviceChannel,
    EdgeChannel,
    Sender,
    device_channel_sender,
    edge_channel_sender,
    edge_topic,
)
from linli.trust.acl import Access, Identity, Role, render_acl, rules_for
from linli.trust.passwords import mosquitto_hash


def test_every_uplink_channel_has_one_writer_and_one_reader() -> None:
    edge = {r.topic: r.access for r in rules_for(Identity(Role.EDGE, "e1"))}
    hub = {r.topic: r.access for r in rules_for(Identity(Role.HUB))}
    for channel in EdgeChannel:
        edge_access = edge[edge_topic("e1", channel)]
        hub_access = hub[f"linli/edge/+/{channel}"]
        assert {edge_access, hub_access} == {Access.READ, Access.WRITE}, channel
        sender = edge_channel_sender(channel)
        assert (edge_access is Access.WRITE) == (sender is Sender.EDGE)


def test_every_device_channel_has_a_sender() -> None:
    assert {device_channel_sender(c) for c in DeviceChannel} == {Sender.DEVICE, Sender.EDGE}


@pytest.mark.parametrize("role", list(Role))
def test_no_rule_is_a_pattern_or_leaves_its_subject(role: Role) -> None:
    identity = Identity(role, "subj-1" if role in (Role.EDGE, Role.DEVICE, Role.SITE_EDGE) else "")
    lines = [x for x in render_acl([identity]).splitlines() if x and not x.startswith("#")]
    assert all(x.startswith(("user ", "topic ")) for x in lines)
    assert all("%" not in x for x in lines)
    for rule in rules_for(identity):
        if role is Role.EDGE and rule.topic.startswith("linli/edge/"):
            assert rule.topic.split("/")[2] == "subj-1"
        if role is Role.DEVICE:
            assert rule.topic.startswith("linli/dev/subj-1/")
        if role is Role.ZIGBEE2MQTT:
            assert rule.topic == "zigbee2mqtt/#"


def test_an_identity_is_a_username_and_ids_cannot_escape_their_level() -> None:
    assert Identity(Role.EDGE, "a").username == "edge-a"
    assert Identity(Role.DEVICE, "a").username == "device-a"
    for bad in ("a/b", "+", "#", "", "a b", "a\nuser hub"):
        with pytest.raises(ValueError, match="not a valid id"):
            _ = Identity(Role.EDGE, bad).username


def test_password_hashes_are_mosquittos_pbkdf2_format() -> None:
    hashed = mosquitto_hash("secret", salt=b"0123456789ab")
    assert re.fullmatch(r"\$7\$101\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]{88}", hashed)
    assert mosquitto_hash("secret") != mosquitto_hash("secret")
