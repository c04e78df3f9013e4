"""The ACL, on plain values: derived from the topic scheme, bound to usernames only."""

import re

import pytest
from paho.mqtt.client import topic_matches_sub

from devices.owntracks import owntracks_subscriptions
from devices.topics import (
    DeviceChannel,
    EdgeChannel,
    Sender,
    device_channel_sender,
    device_subscriptions,
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


BOUND_TO: dict[Role, tuple[str, ...]] = {
    Role.EDGE: ("linli/edge/subj-1/",),
    Role.DEVICE: ("linli/dev/subj-1/",),
    Role.TASMOTA: ("tele/subj-1/", "stat/subj-1/", "cmnd/subj-1/", "cmnd/tasmotas/"),
    Role.SHELLY_GEN1: ("shellies/subj-1/", "shellies/command"),
    Role.SHELLY_GEN2: ("subj-1/",),
    Role.PHONE: ("owntracks/phone-subj-1/",),
}


@pytest.mark.parametrize("role", list(Role))
def test_no_rule_is_a_pattern_or_leaves_its_subject(role: Role) -> None:
    identity = Identity(role, "" if role in (Role.HUB, Role.ZIGBEE2MQTT) else "subj-1")
    lines = [x for x in render_acl([identity]).splitlines() if x and not x.startswith("#")]
    assert all(x.startswith(("user ", "topic ")) for x in lines)
    assert all("%" not in x for x in lines)
    for rule in rules_for(identity):
        if role is Role.EDGE and rule.topic.startswith("linli/edge/"):
            assert rule.topic.split("/")[2] == "subj-1"
        if role in (Role.DEVICE, Role.TASMOTA, Role.SHELLY_GEN1, Role.SHELLY_GEN2, Role.PHONE):
            assert rule.topic.startswith(BOUND_TO[role]), rule
        if role is Role.ZIGBEE2MQTT:
            assert rule.topic == "zigbee2mqtt/#"
        if role is Role.SWEEPER:  # the revoked edge's uplink, write only
            assert rule.access is Access.WRITE, rule
            assert rule.topic.startswith("linli/edge/subj-1/"), rule
            assert edge_channel_sender(EdgeChannel(rule.topic.split("/")[-1])) is Sender.EDGE


def test_an_identity_is_a_username_and_ids_cannot_escape_their_level() -> None:
    assert Identity(Role.EDGE, "a").username == "edge-a"
    assert Identity(Role.DEVICE, "a").username == "device-a"
    for bad in ("a/b", "+", "#", "", "a b", "a\nuser hub"):
        with pytest.raises(ValueError, match="not a valid id"):
            _ = Identity(Role.EDGE, bad).username


def test_third_party_identities_are_bound_to_one_topic_level() -> None:
    assert Identity(Role.TASMOTA, "tasmota_A1B2C3").username == "tasmota-tasmota_A1B2C3"
    assert Identity(Role.SHELLY_GEN1, "shellyflood-4455").username == "shelly-gen1-shellyflood-4455"
    assert Identity(Role.SHELLY_GEN2, "shellies/plus-1").username == "shelly-gen2-shellies/plus-1"
    bad = {
        Role.TASMOTA: ["a/b", "+", "#", ""],
        Role.SHELLY_GEN1: ["a/b", "+", "#", ""],
        # Only prefixes the edge subscribes to, and none that is another device family's root.
        Role.SHELLY_GEN2: ["a/b", "shellies/a/b", "shellies/+", "#", "", "tele", "stat", "cmnd"],
    }
    for role, subjects in bad.items():
        for subject in subjects:
            with pytest.raises(ValueError, match=r"not a|root of other"):
                _ = Identity(role, subject).username
    for root in ("zigbee2mqtt", "linli", "shellies"):
        with pytest.raises(ValueError, match="root of other"):
            _ = Identity(Role.SHELLY_GEN2, root).username


def test_a_phone_is_bound_to_its_responder_and_the_hub_reads_what_it_subscribes_to() -> None:
    assert Identity(Role.PHONE, "patrol-li").username == "phone-patrol-li"
    for bad in ("a/b", "+", "#", "", "a b", "a\nuser hub"):
        with pytest.raises(ValueError, match="not a valid id"):
            _ = Identity(Role.PHONE, bad).username
    phone = {(r.access, r.topic) for r in rules_for(Identity(Role.PHONE, "patrol-li"))}
    assert phone == {
        (Access.WRITE, "owntracks/phone-patrol-li/#"),
        (Access.READ, "owntracks/phone-patrol-li/+/cmd"),
    }
    hub_reads = [r.topic for r in rules_for(Identity(Role.HUB)) if r.access != "write"]
    assert set(owntracks_subscriptions()) <= set(hub_reads)
    assert any(topic_matches_sub(f, "owntracks/phone-patrol-li/phone") for f in hub_reads)
    # The hub reads a phone's locations (and wills), none of its events, cards or commands.
    for other in ("owntracks/phone-patrol-li/phone/event", "owntracks/phone-patrol-li/phone/info",
                  "owntracks/phone-patrol-li/phone/cmd"):  # fmt: skip
        assert not any(topic_matches_sub(f, other) for f in hub_reads), other


def test_the_sites_edge_may_read_whatever_it_subscribes_to() -> None:
    reads = [r.topic for r in rules_for(Identity(Role.SITE_EDGE, "e1")) if r.access != "write"]
    examples = [
        "linli/dev/b3-smoke/state",
        "zigbee2mqtt/kitchen smoke",
        "tele/boiler/SENSOR",
        "tele/SonoffZigbeeBridge/898E/SENSOR",
        "stat/boiler/STATUS8",
        "shellies/shellysmoke-a1b2c3/sensor/smoke",
        "shellies/shellyplusht-c049ef8bc088/events/rpc",
        "shellyplusht-c049ef8bc088/events/rpc",
        "shellyplusht-c049ef8bc088/status/temperature:0",
        "shellyplusht-c049ef8bc088/online",
    ]
    for topic in examples:
        assert any(topic_matches_sub(f, topic) for f in device_subscriptions()), topic
        assert any(topic_matches_sub(f, topic) for f in reads), topic
    assert set(device_subscriptions()) <= set(reads)


def test_password_hashes_are_mosquittos_pbkdf2_format() -> None:
    hashed = mosquitto_hash("secret", salt=b"0123456789ab")
    assert re.fullmatch(r"\$7\$101\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]{88}", hashed)
    assert mosquitto_hash("secret") != mosquitto_hash("secret")
