"""The hub's broker as `linli broker init` configures it, attacked for real (issue 14).

Each test is one attack from docs/security.md against a real Mosquitto; the barrier pattern
makes a "nothing arrived" deterministic: the attacker's forged message is followed by one it
may send, on the same connection, and Mosquitto handles one client's packets in order.
"""

import json
import ssl
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devices.messages import AlertAck
from devices.topics import HUB_STATUS_TOPIC, EdgeChannel, Sender, edge_channel_sender, edge_topic
from hub.settings import DEFAULT_WORKER_GROUP, HubSettings
from linli.trust.certificates import new_ca
from tests.security.brokers import (
    QUIET,
    ConnectRefusedError,
    Probe,
    SecuredBroker,
    linli,
    private,
    tls_handshake,
)

pytestmark = [pytest.mark.mosquitto]

UPLINK = [c for c in EdgeChannel if edge_channel_sender(c) is Sender.EDGE]
DOWNLINK = [c for c in EdgeChannel if edge_channel_sender(c) is Sender.HUB]


def _hub(broker: SecuredBroker) -> Probe:
    hub = broker.init["hub"]
    return broker.connect(hub["username"], hub["password"], client_id="linli-hub")


def _edge(broker: SecuredBroker, edge_id: str, *, client_id: str = "") -> Probe:
    issued = linli("broker", "add-edge", str(broker.folder), edge_id)
    return broker.connect(issued["username"], issued["password"], client_id=client_id)


def _ten_alerts_past(
    broker: SecuredBroker, *, hub_filter: str, attacker_filter: str
) -> tuple[Probe, Probe]:
    """Subscribe the hub and an attacking edge as given, let a victim edge publish ten alerts,
    and return the hub and the attacker."""
    hub = _hub(broker)
    assert hub.subscribe(hub_filter)
    attacker = _edge(broker, "attacker")
    attacker.subscribe(attacker_filter)
    victim = _edge(broker, "victim")
    for i in range(10):
        assert victim.publish(edge_topic("victim", EdgeChannel.ALERT), str(i).encode())
    return hub, attacker


def test_files_are_private_and_the_config_has_no_anonymous_door(hub_broker: SecuredBroker) -> None:
    for path in hub_broker.folder.iterdir():
        if path.is_file() and path.name not in ("mosquitto.log", "mosquitto.pid"):
            assert private(path), path
    config = (hub_broker.folder / "mosquitto.conf").read_text()
    assert "allow_anonymous false" in config
    assert "allow_anonymous true" not in config
    assert "%c" not in (hub_broker.folder / "acl").read_text()
    assert hub_broker.init["tls_port"] == hub_broker.tls_port
    assert set(hub_broker.init) == {"port", "tls_port", "ca_file", "hub"}


def test_init_never_overwrites_a_broker_folder(hub_broker: SecuredBroker) -> None:
    from typer.testing import CliRunner

    from linli.cli import app

    ca_before = (hub_broker.folder / "ca.key").read_bytes()
    result = CliRunner().invoke(app, ["broker", "init", str(hub_broker.folder)])
    assert result.exit_code == 2
    assert (hub_broker.folder / "ca.key").read_bytes() == ca_before


@pytest.mark.parametrize("tls", [True, False], ids=["tls-listener", "loopback-listener"])
def test_anonymous_and_wrong_passwords_are_refused_on_every_listener(
    hub_broker: SecuredBroker, tls: bool
) -> None:
    with pytest.raises(ConnectRefusedError):
        hub_broker.connect(None, None, tls=tls)
    with pytest.raises(ConnectRefusedError):
        hub_broker.connect("hub", "not-the-password", tls=tls)
    with pytest.raises(ConnectRefusedError):
        hub_broker.connect("edge-nobody", "x", tls=tls)


def test_a_stranger_cannot_raise_a_fire_nor_acknowledge_one(hub_broker: SecuredBroker) -> None:
    """Scenario 14: the courtyard-Wi-Fi stranger has no account; the broker refuses both."""
    for tls in (True, False):
        with pytest.raises(ConnectRefusedError):
            hub_broker.connect(None, None, tls=tls, client_id="linli-edge-site-a")


def test_an_edge_publishes_only_its_own_uplink(hub_broker: SecuredBroker) -> None:
    hub = _hub(hub_broker)
    assert hub.subscribe("linli/edge/+/+")
    assert hub.subscribe(HUB_STATUS_TOPIC)
    _edge(hub_broker, "victim").close()
    attacker = _edge(hub_broker, "attacker")
    forged = [edge_topic("victim", c) for c in UPLINK]  # as another edge
    forged += [edge_topic("attacker", c) for c in DOWNLINK]  # the hub's own topics
    forged += [edge_topic("victim", c) for c in DOWNLINK]
    forged += [HUB_STATUS_TOPIC, "linli/hub/cases/1/opened", "linli/edge/victim", "other/x"]
    for topic in forged:
        assert not attacker.publish(topic, b"forged", retain=True), topic
    for channel in UPLINK:
        own = edge_topic("attacker", channel)
        assert attacker.publish(own, b"barrier")
        hub.wait_for(own, b"barrier")
    assert all(payload != b"forged" for _, payload in hub.snapshot())
    # Nothing retained either: a new subscriber sees no forged registry or status.
    late = _hub(hub_broker)
    assert late.subscribe("linli/#")
    time.sleep(QUIET)
    assert all(payload != b"forged" for _, payload in late.snapshot())


def test_an_edge_reads_only_its_own_downlink(hub_broker: SecuredBroker) -> None:
    """Whatever it subscribes to, only its own downlink and the hub's status reach it.

    Mosquitto 2.0's acl_file grants every SUBSCRIBE and checks read access per message as it
    delivers it, so this checks what arrives, not the SUBACK.
    """
    hub = _hub(hub_broker)
    victim = _edge(hub_broker, "victim")
    attacker = _edge(hub_broker, "attacker")
    for topic in [
        *(edge_topic("victim", c) for c in EdgeChannel),
        "linli/edge/+/ack",
        "linli/edge/#",
        "linli/#",
        "#",
        "$SYS/#",
        "$share/g/linli/edge/+/alert",
    ]:
        attacker.subscribe(topic)
    for channel in UPLINK:
        assert victim.publish(edge_topic("victim", channel), b"secret")
    for channel in DOWNLINK:
        assert hub.publish(edge_topic("victim", channel), b"secret")
    for channel in DOWNLINK:
        assert hub.publish(edge_topic("attacker", channel), b"barrier")
        attacker.wait_for(edge_topic("attacker", channel), b"barrier")
    assert hub.publish(HUB_STATUS_TOPIC, b"barrier")
    attacker.wait_for(HUB_STATUS_TOPIC, b"barrier")
    leaked = [(t, p) for t, p in attacker.snapshot() if p != b"barrier"]
    assert leaked == []
    assert {t for t, _ in attacker.snapshot()} == {
        *(edge_topic("attacker", c) for c in DOWNLINK),
        HUB_STATUS_TOPIC,
    }


def test_a_shared_subscription_of_an_edge_steals_nothing_from_the_hub(
    hub_broker: SecuredBroker,
) -> None:
    """The hub subscribes plainly by default (mqtt_shared_group unset): an edge that opens a
    ``$share`` group of its own on the alert topics takes no alert away from the hub."""
    hub, attacker = _ten_alerts_past(
        hub_broker,
        hub_filter="linli/edge/+/alert",
        attacker_filter="$share/linli/linli/edge/+/alert",
    )
    hub.wait_for(edge_topic("victim", EdgeChannel.ALERT), b"9")
    assert len(hub.received(edge_topic("victim", EdgeChannel.ALERT))) == 10
    assert attacker.snapshot() == []


def test_hub_workers_share_a_group_no_edge_can_name(
    hub_broker: SecuredBroker, tmp_path: Path
) -> None:
    """Workers of a hub with credentials subscribe through a group named with a tag of the
    hub's password (``HubSettings.mqtt_group``): an edge that joins the group the code names
    (``linli-hubs``) is in another group, and takes nothing from them."""
    credentials = tmp_path / "hub-credentials.json"
    credentials.write_text(json.dumps(hub_broker.init["hub"]))
    credentials.chmod(0o600)
    workers = [
        HubSettings(data_dir=tmp_path, worker_id=n, mqtt_credentials_file=credentials)
        for n in ("1", "2")
    ]
    [group] = {worker.mqtt_group() for worker in workers}  # the same for every worker
    assert group is not None
    assert group.startswith(f"{DEFAULT_WORKER_GROUP}-")
    hub, attacker = _ten_alerts_past(
        hub_broker,
        hub_filter=f"$share/{group}/linli/edge/+/alert",
        attacker_filter=f"$share/{DEFAULT_WORKER_GROUP}/linli/edge/+/alert",
    )
    hub.wait_for(edge_topic("victim", EdgeChannel.ALERT), b"9")
    assert len(hub.received(edge_topic("victim", EdgeChannel.ALERT))) == 10
    assert attacker.snapshot() == []


@pytest.mark.xfail(
    strict=True,
    reason="open (docs/security.md): Mosquitto 2.0's acl_file cannot refuse a SUBSCRIBE, so an "
    "edge that learns the hub's group name (tagged with the hub's password: a leak) takes its "
    "round-robin turns and the broker drops them at the read check; edges re-send "
    "unacknowledged alerts, but late",
)
def test_an_edge_cannot_join_the_hubs_shared_group(hub_broker: SecuredBroker) -> None:
    shared = "$share/workers/linli/edge/+/alert"
    hub, _attacker = _ten_alerts_past(hub_broker, hub_filter=shared, attacker_filter=shared)
    time.sleep(QUIET * 3)
    assert len(hub.received(edge_topic("victim", EdgeChannel.ALERT))) == 10


def test_a_client_id_does_not_make_an_identity(hub_broker: SecuredBroker) -> None:
    """Connecting with the victim's or the hub's client id gives none of their rights."""
    hub = _hub(hub_broker)
    assert hub.subscribe("linli/edge/+/alert")
    _edge(hub_broker, "victim").close()
    for client_id in ("linli-edge-victim", "linli-hub-access", "hub", "edge-victim"):
        attacker = _edge(hub_broker, "attacker", client_id=client_id)
        assert not attacker.publish(edge_topic("victim", EdgeChannel.ALERT), b"forged")
        assert not attacker.publish(edge_topic("victim", EdgeChannel.ACK), b"forged")
        assert attacker.publish(edge_topic("attacker", EdgeChannel.ALERT), client_id.encode())
        hub.wait_for(edge_topic("attacker", EdgeChannel.ALERT), client_id.encode())
        attacker.close()
    assert b"forged" not in [p for _, p in hub.snapshot()]


def test_a_forged_ack_cannot_make_an_edge_drop_its_alerts(hub_broker: SecuredBroker) -> None:
    """Another edge publishing AlertAck on the victim's ack topic is refused."""
    victim = _edge(hub_broker, "victim")
    assert victim.subscribe(edge_topic("victim", EdgeChannel.ACK))
    attacker = _edge(hub_broker, "attacker")
    ack = AlertAck(ids=["victim-1"]).model_dump_json()
    assert not attacker.publish(edge_topic("victim", EdgeChannel.ACK), ack)
    hub = _hub(hub_broker)
    assert hub.publish(edge_topic("victim", EdgeChannel.ACK), b"barrier")
    victim.wait_for(edge_topic("victim", EdgeChannel.ACK), b"barrier")
    assert victim.received(edge_topic("victim", EdgeChannel.ACK)) == [b"barrier"]


def test_a_revoked_edge_is_cut_off_at_once_without_a_restart(hub_broker: SecuredBroker) -> None:
    hub = _hub(hub_broker)
    assert hub.subscribe("linli/edge/+/alert")
    issued = linli("broker", "add-edge", str(hub_broker.folder), "gone")
    kept = _edge(hub_broker, "kept")
    gone = hub_broker.connect(issued["username"], issued["password"])
    revoked = linli("broker", "revoke", str(hub_broker.folder), "gone")
    assert revoked == {"revoked": True, "id": "gone", "reloaded": True, "cleared": True}
    # Mosquitto re-checks connected clients on SIGHUP: the session is closed.
    assert gone.disconnected.wait(5), "a revoked edge stayed connected"
    with pytest.raises(ConnectRefusedError):
        hub_broker.connect(issued["username"], issued["password"])
    # Everyone else carries on, on the same broker process.
    assert kept.publish(edge_topic("kept", EdgeChannel.ALERT), b"still here")
    hub.wait_for(edge_topic("kept", EdgeChannel.ALERT), b"still here")
    assert not hub.disconnected.is_set()


def test_a_rotated_password_replaces_the_old_one(hub_broker: SecuredBroker) -> None:
    hub = _hub(hub_broker)
    assert hub.subscribe("linli/edge/+/alert")
    old = linli("broker", "add-edge", str(hub_broker.folder), "rot")
    session = hub_broker.connect(old["username"], old["password"])
    new = linli("broker", "add-edge", str(hub_broker.folder), "rot")
    assert new["password"] != old["password"]
    assert new["reloaded"] is True
    assert session.disconnected.wait(5)
    with pytest.raises(ConnectRefusedError):
        hub_broker.connect(old["username"], old["password"])
    again = hub_broker.connect(new["username"], new["password"])
    assert again.publish(edge_topic("rot", EdgeChannel.ALERT), b"reconnected")
    hub.wait_for(edge_topic("rot", EdgeChannel.ALERT), b"reconnected")


def test_tls_refuses_an_untrusted_server_and_a_wrong_name(
    hub_broker: SecuredBroker, tmp_path: Path
) -> None:
    other_ca = tmp_path / "other-ca.crt"
    other_ca.write_bytes(new_ca("someone else", datetime.now(UTC)).cert_pem)
    port = hub_broker.tls_port
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        tls_handshake(port, str(other_ca), "localhost")
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        tls_handshake(port, hub_broker.ca_file, "127.0.0.1")
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        tls_handshake(port, hub_broker.ca_file, "broker.example.org")
    # The right CA and name: the handshake holds and an MQTT client connects.
    tls_handshake(port, hub_broker.ca_file, "localhost")
    hub = hub_broker.init["hub"]
    hub_broker.connect(hub["username"], hub["password"]).close()
