"""The NATS accounts `linli broker` writes, and the shipped example (deploy/nats/accounts.conf),
grant what the topic scheme and the Mosquitto ACL say; the hashes are of the issued passwords.
The test cluster runs the shipped node configuration (deploy/nats/node.conf), and that has TLS
on its routes and on its MQTT listener."""

import re
from datetime import UTC, datetime
from pathlib import Path

import bcrypt

from linli.trust.acl import Identity, Role
from linli.trust.folder import BrokerFolder, BrokerKind
from linli.trust.nats import nats_hash, render_accounts, subject
from tests.cluster.nats import SHIPPED_NODE, NatsNode, accounts_config

SHIPPED = Path(__file__).resolve().parents[2] / "deploy" / "nats" / "accounts.conf"


def _settings(text: str) -> str:
    """Return a NATS configuration without its comments."""
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())


def _block(text: str, name: str) -> str:
    """Return the body of the top-level block ``name { ... }`` of a NATS configuration."""
    body = _settings(text)
    start = body.index(f"\n{name} {{") + len(name) + 3
    depth = 1
    for at in range(start, len(body)):
        depth += {"{": 1, "}": -1}.get(body[at], 0)
        if depth == 0:
            return body[start:at]
    raise AssertionError(f"block {name} is not closed")


def _users(text: str) -> dict[str, tuple[str, set[str], set[str]]]:
    """Return each user's (password, publish, subscribe) in an accounts file."""
    users = {}
    for match in re.finditer(
        r'user: "([^"]+)".*?password: "([^"]+)".*?publish: \[(.*?)\].*?subscribe: \[(.*?)\]',
        text,
        re.DOTALL,
    ):
        name, password, publish, subscribe = match.groups()
        users[name] = (
            password,
            set(re.findall(r'"([^"]+)"', publish)),
            set(re.findall(r'"([^"]+)"', subscribe)),
        )
    return users


def _grants(text: str) -> dict[str, tuple[set[str], set[str]]]:
    return {name: (pub, sub) for name, (_, pub, sub) in _users(text).items()}


def test_the_shipped_accounts_match_what_linli_broker_writes() -> None:
    shipped = _grants(SHIPPED.read_text())
    rendered = _grants(accounts_config("secret", {"e1": "secret"}))
    assert set(rendered) == {"hub", "edge-e1"}
    for user in ("hub", "edge-e1"):
        assert shipped[user] == rendered[user], user


def test_an_edge_may_publish_only_on_its_own_uplink() -> None:
    publish, subscribe = _grants(accounts_config("s", {"e1": "s", "e2": "s"}))["edge-e1"]
    assert "linli.edge.e1.alert" in publish
    assert all(s.startswith("linli.edge.e1.") for s in publish)
    assert "linli.edge.e1.ack" in subscribe
    assert "linli.edge.e1.ack" not in publish  # only the hub acknowledges
    assert not any("e2" in s for s in publish | subscribe)


def test_a_phone_publishes_only_its_own_positions_and_the_hub_reads_them() -> None:
    """The shipped example's phone block is what ``linli broker add-phone`` renders, the same
    rules as Mosquitto's ACL: its own owntracks/phone-<id>/ subtree out, its commands in."""
    hub, phone = Identity(Role.HUB), Identity(Role.PHONE, "patrol-li")
    rendered = _grants(render_accounts([(hub, nats_hash("s")), (phone, nats_hash("s"))]))
    assert _grants(SHIPPED.read_text())["phone-patrol-li"] == rendered["phone-patrol-li"]
    publish, subscribe = rendered["phone-patrol-li"]
    assert publish == {"owntracks.phone-patrol-li.>"}
    assert subscribe == {"owntracks.phone-patrol-li.*.cmd", "$MQTT.sub.>"}
    assert "owntracks.*.*" in rendered["hub"][1]


def test_topics_become_subjects() -> None:
    assert subject("linli/edge/+/alert") == "linli.edge.*.alert"
    assert subject("linli/hub/cases/#") == "linli.hub.cases.>"


def test_linli_broker_writes_the_nats_accounts_beside_mosquittos_files(tmp_path: Path) -> None:
    folder = BrokerFolder(tmp_path / "hub-broker")
    now = datetime(2026, 12, 2, tzinfo=UTC)
    first = folder.init(kind=BrokerKind.HUB, hosts=["hub.example"], tls_port=8883, now=now)
    e1 = folder.issue(Identity(Role.EDGE, "e1"))
    e2 = folder.issue(Identity(Role.EDGE, "e2"))
    folder.revoke("e2")
    e1_again = folder.issue(Identity(Role.EDGE, "e1"))  # a rotation
    written = folder.files.nats_accounts.read_text()
    users = _users(written)
    assert set(users) == {"hub", "edge-e1"}
    assert bcrypt.checkpw(first["hub"].encode(), users["hub"][0].encode())
    assert bcrypt.checkpw(e1_again.encode(), users["edge-e1"][0].encode())
    assert not bcrypt.checkpw(e1.encode(), users["edge-e1"][0].encode())
    assert e2 not in written
    assert folder.files.nats_accounts.stat().st_mode & 0o077 == 0  # like the password file
    assert _grants(written) == _grants(accounts_config("s", {"e1": "s"}))


def test_a_site_broker_has_no_nats_accounts(tmp_path: Path) -> None:
    folder = BrokerFolder(tmp_path / "site-broker")
    now = datetime(2026, 12, 2, tzinfo=UTC)
    folder.init(kind=BrokerKind.SITE, hosts=["site"], tls_port=8883, now=now, site_edge_id="e1")
    assert not folder.files.nats_accounts.exists()


def test_the_test_cluster_runs_the_shipped_node_config(tmp_path: Path) -> None:
    nodes = [NatsNode(f"n{i}", tmp_path / f"n{i}") for i in range(1, 4)]
    routes = [n.cluster_port for n in nodes]
    nodes[1].write_config(routes)
    written = nodes[1].config.read_text()
    assert "/etc/nats" not in _settings(written)
    assert "0.0.0.0" not in _settings(written)
    for shipped, here in nodes[1].swaps(routes):
        written = written.replace(here, shipped)
    assert written == SHIPPED_NODE.read_text()  # nothing else differs


def test_the_shipped_node_config_has_tls_on_routes_and_on_mqtt() -> None:
    shipped = SHIPPED_NODE.read_text()
    routes_tls = _block(_block(shipped, "cluster").replace("\n  ", "\n"), "tls")
    assert 'cert_file: "/etc/nats/tls/route.crt"' in routes_tls
    assert 'ca_file:   "/etc/nats/tls/route-ca.crt"' in routes_tls
    assert "verify: true" in routes_tls
    mqtt_tls = _block(_block(shipped, "mqtt").replace("\n  ", "\n"), "tls")
    assert 'cert_file: "/etc/nats/tls/mqtt.crt"' in mqtt_tls
    # Plain listeners are for the host itself only.
    assert "listen: 127.0.0.1:4222" in shipped
    assert "http: 127.0.0.1:8222" in shipped
