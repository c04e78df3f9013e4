"""A site broker as `linli broker init --site` configures it: devices speak only for
themselves, the Zigbee2MQTT bridge only under zigbee2mqtt/ (issue 14)."""

import pytest

from devices.topics import CREDENTIAL_CHANNEL, DeviceChannel, device_topic
from tests.security.brokers import ConnectRefusedError, Probe, SecuredBroker, linli
from tests.security.conftest import SITE_EDGE

pytestmark = [pytest.mark.mosquitto]


def _edge(broker: SecuredBroker) -> Probe:
    edge = broker.init["edge"]
    assert edge["username"] == f"edge-{SITE_EDGE}"
    return broker.connect(edge["username"], edge["password"], client_id=f"linli-edge-{SITE_EDGE}")


def _device(broker: SecuredBroker, device_id: str, *, client_id: str = "") -> Probe:
    issued = linli("broker", "add-device", str(broker.folder), device_id)
    return broker.connect(issued["username"], issued["password"], client_id=client_id)


def test_init_prints_the_edge_and_the_bridge(site_broker_secured: SecuredBroker) -> None:
    out = site_broker_secured.init
    assert set(out) == {"port", "tls_port", "ca_file", "edge", "zigbee2mqtt", "site"}
    assert out["zigbee2mqtt"]["username"] == "zigbee2mqtt"


@pytest.mark.parametrize("tls", [True, False], ids=["tls-listener", "loopback-listener"])
def test_anonymous_devices_are_refused(site_broker_secured: SecuredBroker, tls: bool) -> None:
    with pytest.raises(ConnectRefusedError):
        site_broker_secured.connect(None, None, tls=tls, client_id="b3-1201-smoke")


def test_a_device_publishes_only_under_its_own_id(site_broker_secured: SecuredBroker) -> None:
    edge = _edge(site_broker_secured)
    assert edge.subscribe("linli/dev/+/+")
    assert edge.subscribe("zigbee2mqtt/#")
    _device(site_broker_secured, "smoke-1201").close()
    attacker = _device(site_broker_secured, "plug-7", client_id="smoke-1201")
    forged = [
        device_topic("smoke-1201", DeviceChannel.STATE),  # another device's fire
        device_topic("smoke-1201", DeviceChannel.EVENT),
        f"linli/dev/smoke-1201/{CREDENTIAL_CHANNEL}",
        device_topic("door-reader", DeviceChannel.SET),  # open a door
        device_topic("plug-7", DeviceChannel.SET),  # its own commands come from the edge
        "zigbee2mqtt/sos-button",  # a Zigbee button's emergency
        "linli/edge/site-a/alert",
    ]
    for topic in forged:
        assert not attacker.publish(topic, b'{"smoke": true}'), topic
    own = [device_topic("plug-7", c) for c in (DeviceChannel.STATE, DeviceChannel.EVENT)]
    own += [
        device_topic("plug-7", DeviceChannel.AVAILABILITY),
        f"linli/dev/plug-7/{CREDENTIAL_CHANNEL}",
    ]
    for topic in own:
        assert attacker.publish(topic, b"barrier"), topic
        edge.wait_for(topic, b"barrier")
    assert all(payload == b"barrier" for _, payload in edge.snapshot())


def test_a_device_reads_only_its_own_commands(site_broker_secured: SecuredBroker) -> None:
    edge = _edge(site_broker_secured)
    listener = _device(site_broker_secured, "plug-7")
    for topic in ("linli/dev/+/set", "linli/dev/#", "#", "zigbee2mqtt/#"):
        listener.subscribe(topic)
    victim = _device(site_broker_secured, "door-reader")
    assert victim.publish(device_topic("door-reader", DeviceChannel.STATE), b"secret")
    assert edge.publish(device_topic("door-reader", DeviceChannel.SET), b"secret")
    assert edge.publish("zigbee2mqtt/sos-button/set", b"secret")
    assert edge.publish(device_topic("plug-7", DeviceChannel.SET), b"barrier")
    listener.wait_for(device_topic("plug-7", DeviceChannel.SET), b"barrier")
    # One copy per matching subscription; none of anyone else's.
    assert set(listener.snapshot()) == {(device_topic("plug-7", DeviceChannel.SET), b"barrier")}


def test_the_zigbee_bridge_speaks_only_under_its_base(site_broker_secured: SecuredBroker) -> None:
    edge = _edge(site_broker_secured)
    assert edge.subscribe("linli/dev/+/+")
    assert edge.subscribe("zigbee2mqtt/#")
    z2m = site_broker_secured.init["zigbee2mqtt"]
    bridge = site_broker_secured.connect(z2m["username"], z2m["password"])
    assert not bridge.publish(device_topic("smoke-1201", DeviceChannel.STATE), b"forged")
    assert not bridge.publish(device_topic("door-reader", DeviceChannel.SET), b"forged")
    assert bridge.publish("zigbee2mqtt/sos-button", b'{"action": "emergency"}')
    edge.wait_for("zigbee2mqtt/sos-button", b'{"action": "emergency"}')
    # The edge's feedback to a Zigbee button reaches the bridge.
    assert bridge.subscribe("zigbee2mqtt/#")
    assert edge.publish("zigbee2mqtt/sos-button/set", b'{"led": "on"}')
    bridge.wait_for("zigbee2mqtt/sos-button/set", b'{"led": "on"}')
    assert all(payload != b"forged" for _, payload in edge.snapshot())


def test_a_revoked_device_is_cut_off(site_broker_secured: SecuredBroker) -> None:
    issued = linli("broker", "add-device", str(site_broker_secured.folder), "lost-tag")
    device = site_broker_secured.connect(issued["username"], issued["password"])
    out = linli("broker", "revoke", str(site_broker_secured.folder), "lost-tag")
    assert out["revoked"] is True
    assert out["reloaded"] is True
    assert device.disconnected.wait(5)
    with pytest.raises(ConnectRefusedError):
        site_broker_secured.connect(issued["username"], issued["password"])


def test_the_sites_edge_cannot_be_issued_as_a_device(site_broker_secured: SecuredBroker) -> None:
    from typer.testing import CliRunner

    from linli.cli import app

    result = CliRunner().invoke(
        app, ["broker", "add-device", str(site_broker_secured.folder), SITE_EDGE]
    )
    assert result.exit_code == 2
    result = CliRunner().invoke(app, ["broker", "add-edge", str(site_broker_secured.folder), "x"])
    assert result.exit_code == 2
