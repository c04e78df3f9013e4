"""The live relay's connections to PostgreSQL left half-open: a worker whose listening
connection a network forgot notices, comes back and tells its consoles.

A real PostgreSQL, reached through a TCP proxy the test freezes (``FreezingProxy``): the
connections it carries stop carrying anything and stay open, as a NAT, a firewall or a network
blip leave them. Once thawed, a frozen connection that sends is cut (the database has forgotten
it), one that only listens hears nothing, ever: nothing tells it it is dead.
"""

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import make_url

from hub.live.events import AlertReceived, EventsDropped
from tests.hub.test_events import alert_view
from tests.scale.test_live_relay import relayed

WAIT_S = 15.0


class FreezingProxy:
    """A TCP proxy to a local port. ``freeze``: the connections it carries stop carrying
    anything, and new ones wait; ``thaw``: the waiting ones go through, and those that were
    frozen are cut at once (``cut_on_thaw``) or when their client next sends (else)."""

    def __init__(self, port: int, *, cut_on_thaw: bool = True) -> None:
        self._port = port
        self._cut_on_thaw = cut_on_thaw
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._lock = threading.Lock()
        self._thawed = threading.Event()
        self._thawed.set()
        self._generation = 0
        self._open: list[tuple[int, socket.socket]] = []
        self._closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def freeze(self) -> None:
        with self._lock:
            self._generation += 1
            self._thawed.clear()

    def thaw(self) -> None:
        with self._lock:
            stale = [sock for generation, sock in self._open if generation < self._generation]
            self._open = [(g, sock) for g, sock in self._open if g >= self._generation]
            self._thawed.set()
        if self._cut_on_thaw:
            for sock in stale:
                _cut(sock)

    def close(self) -> None:
        self._closing = True
        self._listener.close()
        with self._lock:
            everything, self._open = self._open, []
            self._thawed.set()
        for _, sock in everything:
            _cut(sock)

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._carry, args=(client,), daemon=True).start()

    def _carry(self, client: socket.socket) -> None:
        self._thawed.wait()
        try:
            upstream = socket.create_connection(("127.0.0.1", self._port))
        except OSError:
            _cut(client)
            return
        with self._lock:
            generation = self._generation
            self._open += [(generation, client), (generation, upstream)]
        threading.Thread(
            target=self._pump, args=(client, upstream, generation, True), daemon=True
        ).start()
        threading.Thread(
            target=self._pump, args=(upstream, client, generation, False), daemon=True
        ).start()

    def _pump(
        self, source: socket.socket, target: socket.socket, generation: int, from_client: bool
    ) -> None:
        try:
            while data := source.recv(65536):
                if generation == self._generation:
                    target.sendall(data)
                elif from_client and self._thawed.is_set():
                    break  # a forgotten connection that speaks is told so
                # else: frozen, or heard from a database that has forgotten it: lost
        except OSError:
            pass
        _cut(source)
        _cut(target)


def _cut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[FreezingProxy]:
    port = make_url(postgres_url).port or 5432
    running = FreezingProxy(port, cut_on_thaw=False)
    try:
        yield running
    finally:
        running.close()


async def test_a_listening_connection_a_network_forgot_is_found_dead_and_replaced(
    postgres_url: str, proxy: FreezingProxy
) -> None:
    through_proxy = make_url(postgres_url).set(host="127.0.0.1", port=proxy.port)
    url = through_proxy.render_as_string(hide_password=False)
    async with relayed(url, "a", probe_every_s=0.3, probe_timeout_s=1.0) as (bus, relay):
        with bus.subscribe() as console:
            bus.publish(AlertReceived(alert=alert_view(1)))
            async with asyncio.timeout(WAIT_S):
                assert await console.get() == AlertReceived(alert=alert_view(1))

            proxy.freeze()
            await asyncio.sleep(0.5)
            bus.publish(AlertReceived(alert=alert_view(2)))  # an SOS while the network is out
            await asyncio.sleep(0.5)
            proxy.thaw()

            started = time.monotonic()
            seen = []
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(WAIT_S):
                    while AlertReceived(alert=alert_view(2)) not in seen:
                        seen.append(await console.get())
            # The console heard it (and that it may have missed others), within seconds.
            assert AlertReceived(alert=alert_view(2)) in seen, (seen, relay.counters)
            assert any(isinstance(event, EventsDropped) for event in seen)
            assert time.monotonic() - started < WAIT_S
            assert relay.counters["gaps"] >= 1
