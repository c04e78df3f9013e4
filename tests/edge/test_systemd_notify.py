"""systemd's notify protocol (``edge.systemd_notify``) on a real AF_UNIX datagram socket."""

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.systemd_notify import SystemdNotifier
from tests.background import running
from tests.edge.conftest import eventually


class NotifySocket:
    """What systemd listens on: an AF_UNIX datagram socket; each message one datagram."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self._sock.setblocking(False)
        self.received: list[str] = []

    def drain(self) -> list[str]:
        """Read every datagram waiting; return them (and keep them in ``received``)."""
        new = []
        while True:
            try:
                new.append(self._sock.recv(4096).decode())
            except BlockingIOError:
                break
        self.received.extend(new)
        return new

    def close(self) -> None:
        self._sock.close()


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[NotifySocket]:
    listener = NotifySocket(str(tmp_path / "notify"))
    yield listener
    listener.close()


def test_outside_systemd_nothing_is_sent() -> None:
    assert SystemdNotifier.from_environ({}) is None


def test_the_watchdog_is_for_the_process_systemd_named(notify_socket: NotifySocket) -> None:
    here = {"NOTIFY_SOCKET": notify_socket.address, "WATCHDOG_USEC": "90000000"}
    notifier = SystemdNotifier.from_environ({**here, "WATCHDOG_PID": str(os.getpid())})
    assert notifier is not None
    assert notifier.watchdog_s == 90.0
    # A child that inherited its parent's environment is not the watched process.
    child = SystemdNotifier.from_environ({**here, "WATCHDOG_PID": "1"})
    assert child is not None
    assert child.watchdog_s is None
    unwatched = SystemdNotifier.from_environ({"NOTIFY_SOCKET": notify_socket.address})
    assert unwatched is not None
    assert unwatched.watchdog_s is None


def test_a_message_is_one_datagram_on_a_path_or_an_abstract_socket(
    notify_socket: NotifySocket,
) -> None:
    notifier = SystemdNotifier.from_environ({"NOTIFY_SOCKET": notify_socket.address})
    assert notifier is not None
    assert notifier.notify("READY=1")
    assert notify_socket.drain() == ["READY=1"]

    abstract = NotifySocket(f"@linli-test-{uuid.uuid4().hex}")
    try:
        notifier = SystemdNotifier.from_environ({"NOTIFY_SOCKET": abstract.address})
        assert notifier is not None
        assert notifier.notify("WATCHDOG=1")
        assert abstract.drain() == ["WATCHDOG=1"]
    finally:
        abstract.close()


def test_systemd_gone_is_reported_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = SystemdNotifier.from_environ({"NOTIFY_SOCKET": str(tmp_path / "nobody")})
    assert notifier is not None
    assert not notifier.notify("WATCHDOG=1")
    assert not notifier.notify("WATCHDOG=1")
    assert len([r for r in caplog.records if "notify socket" in r.getMessage()]) == 1


async def test_ready_then_watchdog_pings_only_while_alive(notify_socket: NotifySocket) -> None:
    # 100 ms: a ping every 50 ms (half, as sd_watchdog_enabled(3) asks).
    notifier = SystemdNotifier.from_environ(
        {"NOTIFY_SOCKET": notify_socket.address, "WATCHDOG_USEC": "100000"}
    )
    assert notifier is not None
    alive = True
    asked = 0

    def vouch() -> bool:
        nonlocal asked
        asked += 1
        return alive

    async with running(notifier.serve(vouch), name="watchdog"):
        await eventually(lambda: asked >= 3, "a few looks")
        # Each look and its ping are one step of the task: every ping is in the socket now.
        assert notify_socket.drain()[:4] == ["READY=1", "WATCHDOG=1", "WATCHDOG=1", "WATCHDOG=1"]

        alive = False
        notify_socket.drain()
        stuck_from = asked
        await eventually(lambda: asked >= stuck_from + 3, "looks while stuck")
        assert notify_socket.drain() == [], "no ping while a loop is stuck"

        alive = True
        await eventually(lambda: "WATCHDOG=1" in notify_socket.drain(), "pings again")
