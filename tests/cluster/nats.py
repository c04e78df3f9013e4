"""A NATS JetStream cluster with its MQTT gateway, on loopback, for tests (deploy/nats).

``NatsCluster`` writes one configuration per node — the shipped ``deploy/nats/node.conf``
settings with loopback addresses, free ports and temporary JetStream store folders — and the
accounts file ``linli broker`` writes (``linli.trust.nats``, bcrypt hashes and all): one user
per identity, each allowed exactly the subjects its Mosquitto ACL allows
(``linli.trust.acl``), plus the ``$MQTT.sub.>`` delivery subjects of its QoS 1 subscriptions.
"""

import contextlib
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from linli.brokers import free_port
from linli.trust.acl import Identity, Role
from linli.trust.nats import nats_hash, render_accounts

NATS_SERVER_PATHS = ("nats-server", "/usr/sbin/nats-server", "/usr/bin/nats-server")


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

    def write_config(self, routes: list[int], accounts: Path) -> None:
        """Write the node's configuration: ``routes`` are every node's cluster port."""
        self.folder.mkdir(parents=True, exist_ok=True)
        route_urls = ", ".join(f"nats-route://127.0.0.1:{p}" for p in routes)
        self.config.write_text(
            f'server_name: "{self.name}"\n'
            f"listen: 127.0.0.1:{self.client_port}\n"
            f"http: 127.0.0.1:{self.http_port}\n"
            f'jetstream {{ store_dir: "{self.folder / "jetstream"}" }}\n'
            f'cluster {{ name: "linli", listen: 127.0.0.1:{self.cluster_port}, '
            f"routes: [{route_urls}] }}\n"
            f"mqtt {{ listen: 127.0.0.1:{self.mqtt_port}, stream_replicas: 3, "
            f'ack_wait: "10s" }}\n'
            f'include "{accounts.name}"\n'
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
                [executable, "-c", str(self.config)], stdout=log, stderr=log
            )

    def kill(self) -> None:
        """SIGKILL the node: no clean shutdown, like a power cut."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        """Stop the node if it runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def healthy(self) -> bool:
        """Return whether the node answers its health check with JetStream ready."""
        if self.proc is None or self.proc.poll() is not None:
            raise AssertionError(f"nats node {self.name} exited:\n{self.log()[-3000:]}")
        try:
            response = httpx.get(f"http://127.0.0.1:{self.http_port}/healthz", timeout=2)
        except httpx.TransportError:
            return False
        return response.status_code == 200

    def log(self) -> str:
        """Return what the node logged."""
        path = self.folder / f"{self.name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


@dataclass
class NatsCluster:
    """Three nodes on loopback, their JetStream stores in ``root``."""

    root: Path
    hub_password: str
    edges: dict[str, str]
    nodes: list[NatsNode] = field(init=False)

    def __post_init__(self) -> None:
        self.nodes = [NatsNode(f"n{i}", self.root / f"n{i}") for i in range(1, 4)]
        routes = [n.cluster_port for n in self.nodes]
        for node in self.nodes:
            node.folder.mkdir(parents=True, exist_ok=True)
            accounts = node.folder / "accounts.conf"
            accounts.write_text(accounts_config(self.hub_password, self.edges))
            node.write_config(routes, accounts)

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
