"""A Linli stack in real processes: `linli hub` and `linli edge` against real Mosquitto brokers.

Processes, not tasks, so tests can SIGKILL them mid-burst and start them again on the same
data, exactly as a power cut or an OOM kill would.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from devices.registry import Device
from hub.auth.rules import new_secret
from linli.brokers import MosquittoProcess, free_port, site_tuning
from tests.polling import wait_until

HUB_BOOT_TIMEOUT = 180.0
"""How long a hub process may take to answer HTTP at all (see ``Stack.wait_for_hub``)."""


@dataclass
class LinliProcess:
    """One `linli <command>` child process with its log in a file."""

    name: str
    args: list[str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)
    """Extra environment of the child (e.g. the hub's bootstrap token)."""

    def start(self) -> None:
        """Start the process (again)."""
        # PYTHONFAULTHANDLER: a child that will not stop is sent SIGABRT, and prints every
        # thread's stack into its log before it dies (see ``stop``).
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1", **self.env}
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "linli", *self.args], stdout=log, stderr=log, env=env
            )

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, like a power cut."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self, timeout: float = 20.0) -> int:
        """SIGINT (Ctrl-C) and wait for a clean exit; return the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGABRT)  # every thread's stack into the log
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            log = self.log()
            report = log.rfind("still stopping after")  # what it waited for (linli.cli)
            shown = log[max(0, report - 300) :][:12000] if report >= 0 else log[-6000:]
            raise AssertionError(
                f"{self.name} did not stop within {timeout}s; its log ends:\n{shown}"
            ) from None

    @property
    def alive(self) -> bool:
        """Return whether the process is running."""
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        """Return everything the process wrote so far."""
        return self.log_path.read_text(errors="replace")

    def answers_http(self, port: int) -> bool:
        """Return whether this `linli hub` process answers HTTP on ``port`` (it must be alive)."""
        assert self.alive, self.log()[-3000:]
        try:
            return httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status_code < 500
        except httpx.TransportError:
            return False

    def hub_connected(self) -> bool:
        """Return whether this `linli hub` process answers and its MQTT ingest is connected."""
        health = self._hub_health()
        return health is not None and bool(health.get("mqtt_connected"))

    def hub_counters(self) -> dict[str, int]:
        """Return this `linli hub` process's own counters (empty while it does not answer)."""
        health = self._hub_health()
        counters: dict[str, int] = health.get("counters", {}) if health else {}
        return counters

    def _hub_health(self) -> dict[str, Any] | None:
        """Return this hub's /health, read with its ``--http-port`` and bootstrap token."""
        assert self.alive, self.log()[-3000:]
        port = self.args[self.args.index("--http-port") + 1]
        token = self.env["LINLI_HUB_BOOTSTRAP_TOKEN"]
        try:
            health = httpx.get(
                f"http://127.0.0.1:{port}/api/v1/health",
                headers={"authorization": f"Bearer {token}"},
                timeout=5,
            )
        except httpx.TransportError:
            return None
        if health.status_code != 200:
            return None
        body: dict[str, Any] = health.json()
        return body


@dataclass
class Stack:
    """Brokers, a hub and an edge for one test; the site's devices are given by the test."""

    root: Path
    devices: list[Device]
    database_url: str
    edge_id: str = "edge-e2e"
    separate_hub_broker: bool = False
    hub_broker_defaults: bool = False
    """Run the hub's broker on Mosquitto's defaults instead of the shipped site settings."""
    trust_device_time: bool = False
    """Run the edge with ``LINLI_EDGE_TRUST_DEVICE_TIME``: for simulations that stamp readings
    in accelerated simulated time (``linli simulate --speed``), ahead of the edge's clock."""
    hub_env: dict[str, str] = field(default_factory=dict)
    """More of the hub's settings, as ``LINLI_HUB_*`` variables."""
    local_broker: MosquittoProcess = field(init=False)
    hub_broker: MosquittoProcess = field(init=False)
    hub: LinliProcess = field(init=False)
    edge: LinliProcess = field(init=False)
    http_port: int = field(default_factory=free_port)
    token: str = field(default_factory=new_secret)
    """The hub's bootstrap (admin) token, which ``api`` sends."""

    def __post_init__(self) -> None:
        # Brokers run the shipped site configuration, as a real site does (deploy/).
        self.local_broker = MosquittoProcess(self.root / "mq-local", config_extra=site_tuning())
        self.hub_broker = (
            MosquittoProcess(
                self.root / "mq-hub",
                config_extra="" if self.hub_broker_defaults else site_tuning(),
            )
            if self.separate_hub_broker
            else self.local_broker
        )
        site = self.root / "site.toml"
        lines = [f'[site]\nname = "E2E"\nedge_id = "{self.edge_id}"\n']
        for d in self.devices:
            lines.append(
                f'[[devices]]\nid = "{d.id}"\nkind = "{d.kind}"\nlocation = "{d.location}"\n'
            )
            if d.zigbee_name:
                lines.append(f'zigbee_name = "{d.zigbee_name}"\n')
        site.write_text("".join(lines))
        self.hub = LinliProcess(
            "hub",
            [
                "hub",
                "--data-dir", str(self.root / "hub"),
                "--database-url", self.database_url,
                "--mqtt", f"127.0.0.1:{self.hub_broker.port}",
                "--http-port", str(self.http_port),
            ],
            self.root / "hub.log",
            env={"LINLI_HUB_BOOTSTRAP_TOKEN": self.token, **self.hub_env},
        )  # fmt: skip
        self.edge = LinliProcess(
            "edge",
            [
                "edge",
                "--site", str(site),
                "--data-dir", str(self.root / "edge"),
                "--local-mqtt", f"127.0.0.1:{self.local_broker.port}",
                "--hub-mqtt", f"127.0.0.1:{self.hub_broker.port}",
                "--resend-after", "1",
                "--heartbeat", "0.5",
            ],
            self.root / "edge.log",
            env={"LINLI_EDGE_TRUST_DEVICE_TIME": "true"} if self.trust_device_time else {},
        )  # fmt: skip
        self.api = httpx.Client(
            base_url=f"http://127.0.0.1:{self.http_port}/api/v1",
            timeout=10,
            headers={"authorization": f"Bearer {self.token}"},
        )

    def start(self) -> None:
        """Start brokers, hub and edge, and wait until the edge reported its devices."""
        self.start_hub()
        self.edge.start()
        wait_until(self.edge_online, what="the edge to report online with its devices")

    def start_hub(self) -> None:
        """Start the brokers and the hub, not the edge, and wait until the hub is connected."""
        self.local_broker.start()
        if self.separate_hub_broker:
            self.hub_broker.start()
        self.hub.start()
        self.wait_for_hub()

    @contextlib.contextmanager
    def started(self) -> Iterator["Stack"]:
        """Start the whole stack for a block; close it when the block ends, or starting fails."""
        try:
            self.start()
            yield self
        finally:
            self.close()

    def wait_for_hub(self) -> None:
        """Wait until the hub answers, then until its ingest is connected.

        Two waits, because they wait for different things: booting (imports, migrations) is
        CPU work that a loaded CI machine stretches far beyond its usual seconds (a hub seen
        taking 54 s to log its first line under xdist with a load of 27 on two cores, then
        connecting 8 s later), while the connection to a running broker is not. A hub that
        exits fails at once, with its log, instead of after the timeout.
        """
        wait_until(self._hub_answers, timeout=HUB_BOOT_TIMEOUT, what="the hub to answer HTTP")
        wait_until(self._hub_connected, what="the hub to connect to its broker")

    def _hub_health(self) -> httpx.Response | None:
        if not self.hub.alive:
            raise AssertionError(
                f"the hub exited while starting; its log:\n{self.hub.log()[-3000:]}"
            )
        try:
            return self.api.get("/health")
        except httpx.TransportError:
            return None

    def _hub_answers(self) -> bool:
        return self._hub_health() is not None

    def _hub_connected(self) -> bool:
        health = self._hub_health()
        return (
            health is not None
            and health.status_code == 200
            and bool(health.json().get("mqtt_connected"))
        )

    def edge_online(self) -> bool:
        """Return whether the hub sees the edge online with every site device registered."""
        edges = {e["id"]: e for e in self.get("/edges")}
        known = {d["id"] for d in self.get("/devices")}
        edge = edges.get(self.edge_id)
        return bool(edge and edge["state"] == "online" and {d.id for d in self.devices} <= known)

    def get(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """GET a list endpoint and return its items."""
        response = self.api.get(path, params=params)
        response.raise_for_status()
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    def edge_counters(self) -> dict[str, int]:
        """Return the counters the edge last reported in its status."""
        edges = {e["id"]: e for e in self.get("/edges")}
        counters: dict[str, int] = edges.get(self.edge_id, {}).get("counters") or {}
        return counters

    def edge_outbox_depth(self) -> int:
        """Return the outbox depth the edge last reported, -1 before its first report."""
        edges = {e["id"]: e for e in self.get("/edges")}
        depth: int = edges.get(self.edge_id, {}).get("outbox_depth", -1)
        return depth

    def close(self) -> None:
        """Stop everything, whatever state it is in."""
        for proc in (self.edge, self.hub):
            if proc.alive:
                with contextlib.suppress(AssertionError):
                    proc.stop()
        self.api.close()
        self.local_broker.stop()
        if self.separate_hub_broker:
            self.hub_broker.stop()


def mosquitto_pub(
    port: int, topic: str, message: bytes | str, *, retain: bool = False, qos: int = 1
) -> None:
    """Publish one message with the real `mosquitto_pub` client (a third-party device)."""
    data = message.encode() if isinstance(message, str) else message
    args = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", str(qos), "-t", topic, "-s"]
    if retain:
        args.append("-r")
    subprocess.run(args, input=data, check=True, timeout=30)


@contextlib.contextmanager
def publisher(port: int) -> Iterator[mqtt.Client]:
    """A plain paho client, connected, for publishing bursts at QoS 1."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.max_inflight_messages_set(100)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        yield client
    finally:
        client.disconnect()
        client.loop_stop()


def dumps(data: dict[str, Any]) -> str:
    """JSON-encode a payload compactly."""
    return json.dumps(data, separators=(",", ":"))
