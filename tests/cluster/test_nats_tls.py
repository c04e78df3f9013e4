"""The TLS of the shipped NATS cluster (deploy/nats/node.conf), attacked on a real cluster.

The routes carry every message and session between the nodes, so a node must not join
without a route certificate of the cluster's own CA (mutual TLS, which nats-server enforces on
routes); the MQTT listener speaks TLS only, and a client that does not trust the broker's CA
learns nothing.

A refusal is shown, not waited out: each refused intruder is followed until every node of the
cluster has logged its handshake being refused, and only then are the routes counted. The same
intruder with a certificate the cluster's CA signed does join (the last test), so a refusal
is the certificate's doing, not a mistake in the intruder's configuration.
"""

import socket
import ssl
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import aiomqtt
import pytest

from devices.mqtt_link import MqttEndpoint
from devices.topics import EdgeChannel, edge_topic
from linli.trust.certificates import (
    Issued,
    new_ca,
    new_route_certificate,
    new_server_certificate,
)
from linli.trust.folder import write_private
from tests.cluster.nats import LOOPBACK_NAMES, NatsCluster, NatsNode, hub_broker, nats_server, now
from tests.conftest import missing
from tests.polling import wait_until
from tests.security.brokers import tls_handshake

pytestmark = [pytest.mark.slow]

EDGE = "e1"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsCluster]:
    """Three nodes of the shipped configuration, shared by this module's attacks."""
    if nats_server() is None:
        missing("nats-server")
    root = tmp_path_factory.mktemp("nats-tls")
    broker = hub_broker(root / "hub-broker", [EDGE], root / "secrets")
    running = NatsCluster(root / "nats", broker)
    try:
        running.start()
        wait_until(lambda: all(n.routes() == 2 for n in running.nodes), what="a full mesh")
        yield running
    finally:
        running.stop()


@pytest.fixture
def intruder(tmp_path: Path) -> Iterator[NatsNode]:
    """A fourth node, to be configured by the test and stopped after it."""
    node = NatsNode("intruder", tmp_path / "intruder")
    try:
        yield node
    finally:
        node.stop()


def _another_ca_route() -> Issued:
    return new_route_certificate(new_ca("someone else", now()), LOOPBACK_NAMES, now())


def _route_hello(cluster: NatsCluster, route: Issued, folder: Path) -> bytes:
    """Open a TLS route connection to node 1 presenting ``route``, trusting the cluster's CA,
    and return the first bytes the node sends (its route INFO), or raise ``ssl.SSLError``."""
    folder.mkdir(exist_ok=True)
    (folder / "ca.crt").write_bytes(cluster.cluster_ca.cert_pem)
    (folder / "route.crt").write_bytes(route.cert_pem)
    write_private(folder / "route.key", route.key_pem)
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=folder / "ca.crt")
    # Unlike Go (below), OpenSSL presents its certificate even when the server's list of
    # acceptable CAs does not name its issuer: the node itself has to refuse it.
    context.load_cert_chain(folder / "route.crt", folder / "route.key")
    address = ("127.0.0.1", cluster.nodes[0].cluster_port)
    with (
        socket.create_connection(address, timeout=30) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        return tls.recv(64)


def _join_refused(cluster: NatsCluster, intruder: NatsNode, refusal: str) -> None:
    """Start ``intruder`` and check every node refuses its route with ``refusal``."""
    logged = [len(n.log()) for n in cluster.nodes]
    intruder.start()
    wait_until(
        lambda: all(refusal in n.log()[at:] for n, at in zip(cluster.nodes, logged, strict=True)),
        what=f"every node to log {refusal!r}",
    )
    assert [n.routes() for n in cluster.nodes] == [2, 2, 2]
    assert intruder.routes() == 0


def test_a_route_certificate_of_another_ca_is_refused(cluster: NatsCluster, tmp_path: Path) -> None:
    logged = len(cluster.nodes[0].log())
    with pytest.raises(ssl.SSLError, match="bad certificate"):
        _route_hello(cluster, _another_ca_route(), tmp_path / "foreign")
    wait_until(
        lambda: "certificate signed by unknown authority" in cluster.nodes[0].log()[logged:],
        what="node 1 to log why",
    )
    # The same connection with a certificate of the cluster's CA is a route: INFO follows.
    genuine = new_route_certificate(cluster.cluster_ca, LOOPBACK_NAMES, now())
    assert _route_hello(cluster, genuine, tmp_path / "genuine").startswith(b"INFO {")


def test_a_node_with_a_route_certificate_of_another_ca_does_not_join(
    cluster: NatsCluster, intruder: NatsNode
) -> None:
    # It trusts the cluster's CA (its certificate is public) and dials every node. Go's TLS
    # client does not even present a certificate the node's CA list does not name.
    cluster.prepare(intruder, _another_ca_route())
    _join_refused(cluster, intruder, "client didn't provide a certificate")


def test_a_node_without_route_tls_does_not_join(cluster: NatsCluster, intruder: NatsNode) -> None:
    intruder.write_plain_route_config([n.cluster_port for n in cluster.nodes])
    _join_refused(cluster, intruder, "first record does not look like a TLS handshake")


def test_a_server_certificate_of_the_clusters_ca_is_no_route_certificate(
    cluster: NatsCluster, intruder: NatsNode
) -> None:
    # Why ``new_route_certificate`` exists: the broker's server certificates (``linli broker
    # init``) have no client-auth usage, and a route's dialling side is a TLS client.
    server_only = new_server_certificate(cluster.cluster_ca, LOOPBACK_NAMES, now())
    cluster.prepare(intruder, server_only)
    _join_refused(cluster, intruder, "incompatible key usage")


async def test_the_mqtt_listener_refuses_plain_and_untrusting_clients(
    cluster: NatsCluster, tmp_path: Path
) -> None:
    other_ca = tmp_path / "other-ca.crt"
    other_ca.write_bytes(new_ca("someone else", now()).cert_pem)
    edge = MqttEndpoint(
        "127.0.0.1",
        cluster.nodes[1].mqtt_port,
        client_id="linli-edge-tls-probe",
        persistent=False,
        credentials_file=cluster.root.parent / "secrets" / "edges" / f"{EDGE}.json",
        tls_ca=cluster.ca_file(),
    )
    with pytest.raises(aiomqtt.MqttError):  # plain MQTT on the TLS port, good credentials
        async with replace(edge, tls_ca=None).client():
            pass
    # A client that trusts another CA: the handshake paho would make fails (tested on the
    # ssl context itself: paho leaves the socket of a failed handshake to the collector).
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        tls_handshake(edge.port, str(other_ca), edge.host)
    with pytest.raises(aiomqtt.MqttCodeError):  # TLS and the right CA, but anonymous
        async with replace(edge, credentials_file=None).client():
            pass
    # The right CA and an identity: connected, and its alert accepted (QoS 1, PUBACK).
    async with edge.client() as client:
        await client.publish(edge_topic(EDGE, EdgeChannel.ALERT), b"{}", qos=1)


def test_a_node_with_a_route_certificate_of_the_clusters_ca_joins(
    cluster: NatsCluster, intruder: NatsNode
) -> None:
    # The control of the refusals above: the same fourth node, with a proper certificate.
    cluster.prepare(intruder, new_route_certificate(cluster.cluster_ca, LOOPBACK_NAMES, now()))
    intruder.start()
    wait_until(
        lambda: [n.routes() for n in [*cluster.nodes, intruder]] == [3, 3, 3, 3],
        what="the fourth node to join",
    )
