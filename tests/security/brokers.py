"""A Mosquitto started with the configuration ``linli broker init`` generates, and a small
synchronous MQTT probe (paho) to try things against it.

Ports: the TLS listener binds 127.0.0.1 (``--bind``) so the tests never listen beyond loopback;
everything else is the generated configuration as it is.
"""

import json
import os
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from typer.testing import CliRunner

from linli.brokers import MosquittoProcess, free_port, wait_for_port
from linli.cli import app

TIMEOUT = 5.0
QUIET = 0.3
"""How long a probe waits for a message that must NOT come, after its barrier arrived."""


def linli(*args: str) -> dict[str, Any]:
    """Run a ``linli`` command in-process and return the JSON object it printed."""
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    value: dict[str, Any] = json.loads(result.stdout)
    return value


@dataclass
class SecuredBroker:
    """A broker folder made by ``linli broker init`` and a Mosquitto running on it."""

    folder: Path
    tls_port: int
    port: int
    init: dict[str, Any]
    host: str = "localhost"
    _proc: subprocess.Popen[bytes] | None = None

    @property
    def ca_file(self) -> str:
        """The CA clients trust."""
        path: str = self.init["ca_file"]
        return path

    def start(self) -> None:
        """Start ``mosquitto -c DIR/mosquitto.conf``."""
        binary = MosquittoProcess.executable()
        assert binary is not None
        with (self.folder / "mosquitto.log").open("ab") as log:
            self._proc = subprocess.Popen(
                [binary, "-c", str(self.folder / "mosquitto.conf")], stdout=log, stderr=log
            )
        wait_for_port("127.0.0.1", self.tls_port)
        wait_for_port("127.0.0.1", self.port)

    def stop(self) -> None:
        """Stop it."""
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=10)
            self._proc = None

    def log(self) -> str:
        """Return what Mosquitto logged."""
        return (self.folder / "mosquitto.log").read_text(errors="replace")

    def connect(
        self,
        username: str | None,
        password: str | None,
        *,
        client_id: str = "",
        tls: bool = True,
        ca_file: str | None = None,
        server_name: str | None = None,
    ) -> "Probe":
        """Connect a probe (MQTT 5, so refusals come back with their reason codes)."""
        return Probe.open(
            "127.0.0.1",
            self.tls_port if tls else self.port,
            username=username,
            password=password,
            client_id=client_id or f"probe-{time.monotonic_ns()}",
            ca_file=(ca_file or self.ca_file) if tls else None,
            server_name=server_name or self.host,
        )


@contextmanager
def running_broker(folder: Path, *extra: str) -> Iterator[SecuredBroker]:
    """``linli broker init`` a folder with ``extra`` options, start Mosquitto on it."""
    tls_port, port = free_port(), free_port()
    init = linli(
        "broker",
        "init",
        str(folder),
        "--host",
        "localhost",
        "--tls-port",
        str(tls_port),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        *extra,
    )
    broker = SecuredBroker(folder, tls_port, port, init)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def phone(broker: SecuredBroker, responder: str) -> "Probe":
    """Issue a responder's phone its identity (``linli broker add-phone``) and connect it."""
    issued = linli("broker", "add-phone", str(broker.folder), responder)
    return broker.connect(issued["username"], issued["password"], client_id=f"{responder}-phone")


def write_credentials(path: Path, entry: dict[str, Any]) -> Path:
    """Write a credentials file (an ``init`` or ``add-*`` entry) as an operator would, mode
    0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(entry, f)
    return path


class ConnectRefusedError(Exception):
    """The broker (or TLS) refused the connection."""


@dataclass
class Probe:
    """One MQTT 5 client, driven synchronously."""

    client: mqtt.Client
    connack: ReasonCode | None = None
    messages: list[tuple[str, bytes]] = field(default_factory=list)
    disconnected: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _connected: threading.Event = field(default_factory=threading.Event)
    _acks: dict[int, Any] = field(default_factory=dict)
    _acked: threading.Condition = field(default_factory=threading.Condition)

    @classmethod
    def open(
        cls,
        host: str,
        port: int,
        *,
        username: str | None,
        password: str | None,
        client_id: str,
        ca_file: str | None,
        server_name: str,
    ) -> "Probe":
        """Connect, or raise ``ConnectRefusedError`` (bad credentials, untrusted server)."""
        # No automatic reconnect: a probe reports what the broker did to it, and paho's reconnect
        # leaks its TLS socket when a handshake fails (``_ssl_wrap_socket`` does not close it),
        # which the collector then reports in whichever test is running.
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            reconnect_on_failure=False,
        )
        probe = cls(client)
        if username is not None:
            client.username_pw_set(username, password)
        if ca_file is not None:
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file)
            client.tls_set_context(context)
        client.on_connect = probe._on_connect
        client.on_disconnect = probe._on_disconnect
        client.on_message = probe._on_message
        client.on_subscribe = probe._on_ack
        client.on_publish = probe._on_publish
        try:
            # Over TLS, connect by the name to verify (it resolves to loopback).
            client.connect(server_name if ca_file is not None else host, port, keepalive=30)
        except (OSError, ssl.SSLError) as exc:
            sock = client.socket()
            if sock is not None:
                sock.close()
            raise ConnectRefusedError(repr(exc)) from exc
        client.loop_start()
        if not probe._connected.wait(TIMEOUT) or probe.connack is None or probe.connack.is_failure:
            probe.close()
            raise ConnectRefusedError(f"CONNACK {probe.connack}")
        return probe

    # paho callbacks (its network thread)
    def _on_connect(self, c: Any, u: Any, f: Any, rc: ReasonCode, p: Any) -> None:
        self.connack = rc
        self._connected.set()

    def _on_disconnect(self, c: Any, u: Any, f: Any, rc: ReasonCode, p: Any) -> None:
        self._connected.set()
        self.disconnected.set()

    def _on_message(self, c: Any, u: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((message.topic, bytes(message.payload)))

    def _on_ack(self, c: Any, u: Any, mid: int, codes: Any, p: Any) -> None:
        with self._acked:
            self._acks[mid] = codes
            self._acked.notify_all()

    def _on_publish(self, c: Any, u: Any, mid: int, rc: ReasonCode, p: Properties) -> None:
        self._on_ack(c, u, mid, rc, p)

    def _wait_ack(self, mid: int) -> Any:
        with self._acked:
            assert self._acked.wait_for(lambda: mid in self._acks, TIMEOUT), "no ack"
            return self._acks.pop(mid)

    def subscribe(self, topic: str) -> bool:
        """Subscribe at QoS 1; return whether the broker granted it."""
        _, mid = self.client.subscribe(topic, qos=1)
        assert mid is not None
        codes: list[ReasonCode] = self._wait_ack(mid)
        return not codes[0].is_failure

    def publish(self, topic: str, payload: bytes | str, *, retain: bool = False) -> bool:
        """Publish at QoS 1; return whether the broker accepted it (MQTT 5 PUBACK)."""
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        code: ReasonCode = self._wait_ack(info.mid)
        return not code.is_failure

    def publish_qos0(self, topic: str, payload: bytes | str) -> None:
        """Publish at QoS 0, as Zigbee2MQTT does by default: sent, never acknowledged."""
        self.client.publish(topic, payload, qos=0).wait_for_publish(TIMEOUT)

    def received(self, topic: str) -> list[bytes]:
        """Return the payloads received on ``topic`` so far."""
        with self._lock:
            return [p for t, p in self.messages if t == topic]

    def wait_for(self, topic: str, payload: bytes) -> None:
        """Wait until ``payload`` arrived on ``topic``."""
        deadline = time.monotonic() + TIMEOUT
        while (topic, payload) not in self.snapshot():
            assert time.monotonic() < deadline, f"{payload!r} on {topic} never arrived"
            time.sleep(0.02)

    def snapshot(self) -> list[tuple[str, bytes]]:
        """Return every message received so far."""
        with self._lock:
            return list(self.messages)

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


def tls_handshake(port: int, ca_file: str, server_name: str) -> None:
    """Open a TLS connection as an MQTT client would (paho uses this same ``ssl`` context)
    and close it; raise ``ssl.SSLError`` if the server cannot be verified."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw,
        context.wrap_socket(raw, server_hostname=server_name),
    ):
        pass


def private(path: Path) -> bool:
    """Return whether nobody but the owner may read or write ``path``."""
    return os.stat(path).st_mode & 0o077 == 0
