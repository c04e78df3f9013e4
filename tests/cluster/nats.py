"""A NATS JetStream cluster with its MQTT gateway, on loopback, for tests (deploy/nats).

``NatsCluster`` runs the shipped ``deploy/nats/node.conf`` itself on each node: ``node_config``
changes only its addresses (loopback, free ports), its JetStream store and its TLS file paths,
and refuses to run if any of those lines is not there once. So the routes run mutual TLS with a
cluster CA of their own and the MQTT listener runs TLS, as deployed. Throwaway certificates:
the MQTT listener's comes from a hub broker folder (``linli broker init``, ``hub_broker``),
whose CA the hub and the edges verify it against, and whose ``nats-accounts.conf`` every node
includes as ``accounts.conf``; the route certificates are ``new_route_certificate``'s.
"""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from linli.brokers import free_port, stop_process
from linli.trust.acl import Identity, Role
from linli.trust.certificates import Issued, new_ca, new_route_certificate
from linli.trust.folder import BrokerFolder, BrokerKind, issued_pems, write_private
from linli.trust.nats import nats_hash, render_accounts

SHIPPED_NODE = Path(__file__).resolve().parents[2] / "deploy" / "nats" / "node.conf"
SHIPPED_TLS = "/etc/nats/tls"
TLS_FILES = ("route-ca.crt", "route.crt", "route.key", "mqtt.crt", "mqtt.key")
LOOPBACK_NAMES = ["127.0.0.1", "localhost"]
"""What the test's certificates are for: clients connect to 127.0.0.1, as do the routes."""
NATS_SERVER_PATHS = ("nats-server", "/usr/sbin/nats-server", "/usr/bin/nats-server")


def now() -> datetime:
    """Return the wall clock the throwaway certificates are valid from."""
    return datetime.now(UTC)


def nats_server() -> str | None:
    """Return the nats-server executable, or None when it is not installed."""
    for candidate in NATS_SERVER_PATHS:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def accounts_config(hub_password: str, edges: dict[str, str]) -> str:
    """Render the LINLI account as ``linli broker`` does (``linli.trust.nats``): the hub and
    one user per edge (id → password), with bcrypt hashes of the passwords."""
    users = [(Identity(Role.HUB), nats_hash(hub_password))]
    users += [(Identity(Role.EDGE, edge_id), nats_hash(pw)) for edge_id, pw in edges.items()]
    return render_accounts(users)


@dataclass
class NatsNode:
    """One nats-server of the cluster."""

    name: str
    folder: Path
    client_port: int = field(default_factory=free_port)
    cluster_port: int = field(default_factory=free_port)
    mqtt_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def config(self) -> Path:
        """Return the node's configuration file."""
        return self.folder / f"{self.name}.conf"

    @property
    def tls(self) -> Path:
        """Return the folder of the node's certificates (``/etc/nats/tls`` when deployed)."""
        return self.folder / "tls"

    def install_tls(self, cluster_ca: bytes, route: Issued, mqtt: Issued) -> None:
        """Give the node the cluster's CA certificate, its route certificate and the MQTT
        listener's certificate, where its configuration names them."""
        self.tls.mkdir(parents=True, exist_ok=True)
        pems = (cluster_ca, route.cert_pem, route.key_pem, mqtt.cert_pem, mqtt.key_pem)
        for name, pem in zip(TLS_FILES, pems, strict=True):
            write_private(self.tls / name, pem)

    def write_config(self, routes: list[int]) -> None:
        """Write the shipped configuration for this node (``node_config``) beside the
        ``accounts.conf`` it includes; ``routes`` are the three nodes' cluster ports."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.config.write_text(node_config(SHIPPED_NODE.read_text(), self.swaps(routes)))

    def swaps(self, routes: list[int]) -> list[tuple[str, str]]:
        """Return what changes in the shipped node.conf for this node, as (shipped, here)."""
        swaps = [
            ("listen: 127.0.0.1:4222", f"listen: 127.0.0.1:{self.client_port}"),
            ("http: 127.0.0.1:8222", f"http: 127.0.0.1:{self.http_port}"),
            ('"/var/lib/nats/jetstream"', f'"{self.folder / "jetstream"}"'),
            ("listen: 0.0.0.0:6222", f"listen: 127.0.0.1:{self.cluster_port}"),
            ("listen: 0.0.0.0:8883", f"listen: 127.0.0.1:{self.mqtt_port}"),
        ]
        swaps += [
            (f"nats-route://nats-{i}.linli.example:6222", f"nats-route://127.0.0.1:{port}")
            for i, port in enumerate(routes, start=1)
        ]
        swaps += [(f'"{SHIPPED_TLS}/{name}"', f'"{self.tls / name}"') for name in TLS_FILES]
        return swaps

    def write_plain_route_config(self, routes: list[int]) -> None:
        """Write the configuration of a node that dials ``routes`` without TLS (an intruder)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        route_urls = ", ".join(f"nats-route://127.0.0.1:{p}" for p in routes)
        self.config.write_text(
            f"listen: 127.0.0.1:{self.client_port}\n"
            f"http: 127.0.0.1:{self.http_port}\n"
            f'cluster {{ name: "linli", listen: 127.0.0.1:{self.cluster_port}, '
            f"routes: [{route_urls}] }}\n"
        )

    def write_single_config(self) -> None:
        """Write the configuration of a lone node with anonymous MQTT (protocol probes)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.config.write_text(
            f'server_name: "{self.name}"\n'
            f"listen: 127.0.0.1:{self.client_port}\n"
            f"http: 127.0.0.1:{self.http_port}\n"
            f'jetstream {{ store_dir: "{self.folder / "jetstream"}" }}\n'
            f"mqtt {{ listen: 127.0.0.1:{self.mqtt_port} }}\n"
        )

    def start(self) -> None:
        """Start the node (again, on the same store)."""
        executable = nats_server()
        assert executable is not None
        log = (self.folder / f"{self.name}.log").open("ab")
        with log:
            self.proc = subprocess.Popen(
                [executable, "-c", str(self.config)],
                stdout=log,
                stderr=log,
                env={**os.environ, "NODE_NAME": self.name},  # node.conf's server_name
            )

    def kill(self) -> None:
        """SIGKILL the node: no clean shutdown, like a power cut."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        """Stop the node if it runs."""
        if self.proc is not None and self.proc.poll() is None:
            stop_process(self.proc)

    def healthy(self) -> bool:
        """Return whether the node answers its health check with JetStream ready."""
        if self.proc is None or self.proc.poll() is not None:
            raise AssertionError(f"nats node {self.name} exited:\n{self.log()[-3000:]}")
        try:
            response = httpx.get(f"http://127.0.0.1:{self.http_port}/healthz", timeout=2)
        except httpx.TransportError:
            return False
        return response.status_code == 200

    def routes(self) -> int:
        """Return how many route connections the node has (its ``/routez``)."""
        response = httpx.get(f"http://127.0.0.1:{self.http_port}/routez", timeout=5)
        response.raise_for_status()
        count: int = response.json()["num_routes"]
        return count

    def log(self) -> str:
        """Return what the node logged."""
        path = self.folder / f"{self.name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


@dataclass
class NatsCluster:
    """Three nodes on loopback, their JetStream stores in ``root``, running the shipped
    ``node.conf`` with the MQTT certificate and accounts of the hub broker folder ``broker``."""

    root: Path
    broker: BrokerFolder
    nodes: list[NatsNode] = field(init=False)
    cluster_ca: Issued = field(init=False)
    """The CA of the routes, the cluster's own: only its three nodes hold certificates of it."""

    def __post_init__(self) -> None:
        self.cluster_ca = new_ca("Linli NATS cluster CA (test)", now())
        self.nodes = [NatsNode(f"n{i}", self.root / f"n{i}") for i in range(1, 4)]
        for node in self.nodes:
            self.prepare(node, new_route_certificate(self.cluster_ca, LOOPBACK_NAMES, now()))

    def prepare(self, node: NatsNode, route: Issued) -> None:
        """Write ``node``'s files as a node of this cluster, with ``route`` as its route
        certificate and the three nodes as its routes."""
        node.folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.broker.files.nats_accounts, node.folder / "accounts.conf")
        mqtt = issued_pems(self.broker.files.server_cert, self.broker.files.server_key)
        node.install_tls(self.cluster_ca.cert_pem, route, mqtt)
        node.write_config([n.cluster_port for n in self.nodes])

    def start(self, timeout: float = 60.0) -> None:
        """Start every node and wait until each reports itself healthy."""
        for node in self.nodes:
            node.start()
        deadline = time.monotonic() + timeout
        while not all(n.healthy() for n in self.nodes):
            if time.monotonic() > deadline:
                raise AssertionError("the NATS cluster did not become healthy")
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop every node."""
        for node in self.nodes:
            with contextlib.suppress(Exception):
                node.stop()

    def mqtt(self) -> list[tuple[str, int]]:
        """Return every node's MQTT address."""
        return [("127.0.0.1", n.mqtt_port) for n in self.nodes]

    def ca_file(self) -> Path:
        """Return the CA the MQTT clients verify the nodes against (the broker folder's)."""
        return Path(self.broker.ca_file())


def node_config(shipped: str, swaps: list[tuple[str, str]]) -> str:
    """Return ``shipped`` with each (shipped, here) swap made; raise if a shipped text is not
    there exactly once, so the tests never run a configuration the file no longer matches."""
    text = shipped
    for old, new in swaps:
        if text.count(old) != 1:
            raise AssertionError(f"deploy/nats/node.conf has {old!r} {text.count(old)} times")
        text = text.replace(old, new)
    return text


def hub_broker(folder: Path, edge_ids: list[str], secrets: Path) -> BrokerFolder:
    """Set up a hub broker folder as `linli broker init` and `add-edge` do, its certificate
    for loopback, and write the credentials files they print: ``secrets/hub.json`` and
    ``secrets/edges/<edge_id>.json`` (``LoadTarget.credentials_dir``)."""
    broker = BrokerFolder(folder)
    passwords = broker.init(kind=BrokerKind.HUB, hosts=LOOPBACK_NAMES, tls_port=8883, now=now())
    secrets.mkdir(mode=0o700)
    (secrets / "edges").mkdir(mode=0o700)
    hub = Identity(Role.HUB).username
    credentials_file(secrets / "hub.json", hub, passwords[hub])
    for edge_id in edge_ids:
        identity = Identity(Role.EDGE, edge_id)
        password = broker.issue(identity)
        credentials_file(secrets / "edges" / f"{edge_id}.json", identity.username, password)
    return broker


def credentials_file(path: Path, username: str, password: str) -> None:
    """Write a program's credentials file (``LINLI_*_MQTT_CREDENTIALS_FILE``), mode 0600."""
    write_private(path, json.dumps({"username": username, "password": password}))
