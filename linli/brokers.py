"""MQTT brokers Linli can start by itself: amqtt in-process (the demo), Mosquitto as a process.

Production sites run their own Mosquitto (see ``deploy/mosquitto.conf``); these launchers are
for ``linli demo``, the test suite and the benchmarks.
"""

import collections
import logging
import os
import random
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


SITE_CONFIG = Path(__file__).resolve().parents[1] / "deploy" / "mosquitto.conf"
"""The Mosquitto configuration shipped for a real site."""

SET_BY_LAUNCHER = frozenset(
    {
        "listener",
        "persistence",
        "persistence_location",
        "log_dest",
        "allow_anonymous",
        "password_file",
        "acl_file",
    }
)
"""Directives MosquittoProcess writes itself, or that would lock a private broker out."""


def site_tuning(config: Path = SITE_CONFIG) -> str:
    """Return the shipped site configuration's tuning lines, without what the launcher sets."""
    return "\n".join(
        line
        for line in config.read_text().splitlines()
        if line.strip()
        and not line.lstrip().startswith("#")
        and line.split()[0] not in SET_BY_LAUNCHER
    )


class BrokerError(Exception):
    """A broker could not be started."""


_LOWEST_PICKED_PORT = 10_000
_PORT_TRIES = 100
_BROWSERS_REFUSE = frozenset({10_080})
"""Ports in the picked range that Chromium and Firefox refuse to load a page from
(``net::ERR_UNSAFE_PORT``: Chromium's restricted ports above 10,000): a console test whose hub
was given one failed to open its page."""
# Its own generator: the module's global one may be seeded by a test (hypothesis does), and
# two test workers would then pick the same ports.
_PORT_PICKS = random.Random()
# The ports this process handed out lately: one not bound yet looks free, and a NATS cluster
# picks its twelve ports before it starts any node (two nodes were once given one port).
_PICKED_LATELY: collections.deque[int] = collections.deque(maxlen=1_000)


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` right now, for a listener started soon.

    Picked below the kernel's ephemeral range when it can be. A port the kernel hands out for
    ``bind(…, 0)`` is one of the ephemeral ports every outgoing connection takes its local
    port from, so another process's connection could take it before the listener binds it (a
    NATS node failed to start so: "address already in use"); outgoing connections never take
    a port below that range.
    """
    low, _high = _ephemeral_range()
    if low - _LOWEST_PICKED_PORT >= 1_000:
        for _ in range(_PORT_TRIES):
            port = _PORT_PICKS.randrange(_LOWEST_PICKED_PORT, low)
            taken = port in _PICKED_LATELY or port in _BROWSERS_REFUSE
            if not taken and port_is_free(port, host):
                _PICKED_LATELY.append(port)
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        picked: int = sock.getsockname()[1]
        return picked


def _ephemeral_range() -> tuple[int, int]:
    """Return the kernel's range of local ports for outgoing connections (Linux's default if
    it cannot be read)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Return whether ``port`` can be bound on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Terminate ``proc`` and wait for it; kill it if it is still there after ``timeout`` s."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_for_port(host: str, port: int, timeout: float = 10.0) -> None:
    """Block until something accepts TCP connections on ``host:port``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise BrokerError(f"nothing listens on {host}:{port} after {timeout}s") from exc
            time.sleep(0.05)


class EmbeddedBroker:
    """An amqtt broker running inside the current event loop (demo only: no persistence)."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = (
            port if port is not None else (1883 if port_is_free(1883, host) else free_port(host))
        )
        self._broker: Any = None

    async def start(self) -> None:
        """Start listening."""
        from amqtt.broker import Broker

        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
            },
        }
        self._broker = Broker(config)
        await self._broker.start()
        logger.info("embedded MQTT broker listening on %s:%s", self.host, self.port)

    async def stop(self) -> None:
        """Stop the broker."""
        if self._broker is not None:
            await self._broker.shutdown()
            self._broker = None


@dataclass
class MosquittoProcess:
    """A private Mosquitto instance on a free loopback port, in its own folder.

    ``config_extra`` lines are appended to the generated configuration, so a test can run the
    shipped ``deploy/mosquitto.conf`` settings or Mosquitto's defaults side by side.
    """

    workdir: Path
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    config_extra: str = ""
    persistence: bool = True
    _proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def executable() -> str | None:
        """Return the path of the mosquitto binary, if installed."""
        return shutil.which("mosquitto") or (
            "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
        )

    def start(self) -> None:
        """Start Mosquitto and wait until it accepts connections."""
        binary = self.executable()
        if binary is None:
            raise BrokerError("mosquitto is not installed")
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "mosquitto.conf"
        lines = [
            f"listener {self.port} {self.host}",
            "allow_anonymous true",
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {self.workdir}/",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            # Run as root, Mosquitto drops to user "mosquitto", which cannot write our folder.
            "user root" if os.geteuid() == 0 else "",
            self.config_extra,
        ]
        conf.write_text("\n".join(lines) + "\n")
        # The child inherits the log's descriptor; the parent's copy is closed straight away.
        with (self.workdir / "mosquitto.log").open("ab") as log:
            self._proc = subprocess.Popen([binary, "-c", str(conf)], stdout=log, stderr=log)
        try:
            wait_for_port(self.host, self.port)
        except BrokerError:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop Mosquitto (it saves its persistent sessions on a clean stop)."""
        if self._proc is not None:
            stop_process(self._proc)
            self._proc = None

    def restart(self) -> None:
        """Stop and start again on the same port."""
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        """Return whether the process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The broker's process id while it runs (benchmarks read its CPU time)."""
        return self._proc.pid if self.running and self._proc is not None else None
