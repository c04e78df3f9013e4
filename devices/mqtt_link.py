"""Persistent MQTT sessions: read from CONNACK on, subscribed at the SUBACK or the first message.

Every broker link of the edge and the hub keeps its session (``clean_session=False``), so a
broker that kept it delivers what was queued while the client was away straight after
CONNACK, before the SUBACK of the re-subscription. On the shipped site settings Mosquitto 2.0
queues QoS 0 messages too (``queue_qos0_messages``: Zigbee2MQTT publishes at QoS 0) and writes
that whole QoS 0 backlog ahead of the SUBACK, dropping each message from its queue as it goes
out; a QoS 1 backlog goes out ``max_inflight_messages`` at a time, each window only once the
last is acknowledged; a backlog the client handles slowly (the hub's ingest) holds the SUBACK
back too. A client that waited for the SUBACK under a deadline before reading anything gave
the connection up whenever the backlog took longer than the deadline: the edge lost every
QoS 0 message already delivered to it (tests/edge/test_session_backlog.py: an SOS pressed
during the outage never became an alert), and the hub, after a long outage, never came back
(tests/hub/test_ingest_backlog.py).

So a ``ConsumingSession`` starts its reader the moment the connection is up and counts the
link as subscribed at the SUBACK or at the first message, whichever comes first (a message of
the session proves its subscriptions stand), bounded by the MQTT timeout. A SUBACK that comes
later is still checked: a refused subscription ends the connection. Messages are handed to the
reader as they are; one that acknowledges by hand (``edge.ingest``) still acks each only after
handling it.

Around the session, the rest of the one way every Linli program talks to a broker:

- ``MqttEndpoint``: the connect options, in one place (host, port, client id, keepalive,
  persistent session, bounded waits; username, password and a TLS CA for the brokers that
  ask for them). ``endpoint.client()`` builds the ``aiomqtt.Client``.
- ``Backoff``: the jittered exponential delay between reconnect attempts.
- ``MqttLink``: one supervised connection: connect, run the caller's session body, and on
  any failure back off and connect again, forever; the backoff starts over once a session
  is subscribed. ``link.session(...)`` is the body's ``ConsumingSession``.
- ``payload_bytes`` and ``checkpoint`` (a cancellation that aiomqtt swallowed).

What reaches under aiomqtt into paho (manual acknowledgement, a publish nobody awaits, a write
now, and the socket watches every client here gets) is ``devices.mqtt_paho``.
"""

import asyncio
import logging
import math
import random
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn, Protocol, Self

import aiomqtt
from aiomqtt.types import SocketOption

from devices.credentials import load_credentials, session_client_id
from devices.mqtt_paho import keep_cancellations, use_manual_ack, watch_sockets

logger = logging.getLogger(__name__)

MQTT_TIMEOUT_S = 10.0
"""Default for how long one exchange with a broker (CONNACK, PUBACK, or the SUBACK or first
message that shows a session's subscriptions stand) may take before the link is tried again."""

LOW_LATENCY: tuple[SocketOption, ...] = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)
"""Socket options for every Linli MQTT client.

Neither paho nor aiomqtt disables Nagle's algorithm. MQTT sends many small packets (a
PUBACK, then the next PUBLISH), so Nagle holds the second until the broker's delayed TCP ACK
(up to 40 ms on Linux): measured here as 40-600 ms between an edge's decision and the hub.
"""


async def cancel_and_wait(task: "asyncio.Task[Any]") -> None:
    """Cancel a helper task and wait for it to end, whatever it ends with.

    ``asyncio.wait`` neither raises the task's outcome nor swallows a cancellation of the
    caller, as awaiting the task under ``suppress(CancelledError)`` would.
    """
    task.cancel()
    await asyncio.wait({task})
    if not task.cancelled():
        task.exception()  # retrieved: it is the connection's end, handled by the caller


def refused(code: object) -> bool:
    """Return whether a SUBACK return code refuses the subscription."""
    # MQTT 3.1.1 grants a QoS (0-2) or refuses with 0x80; paho may hand either form over.
    value = getattr(code, "value", code)
    return isinstance(value, int) and value >= 0x80


class SessionMessages:
    """The client's messages, noting that one has arrived."""

    def __init__(self, messages: AsyncIterator[aiomqtt.Message], arrived: asyncio.Event) -> None:
        self._messages = messages
        self._arrived = arrived

    def __aiter__(self) -> Self:
        return self

    def __len__(self) -> int:
        """How many messages are waiting already (for readers that take them in batches)."""
        waiting = getattr(self._messages, "__len__", None)
        return int(waiting()) if callable(waiting) else 0

    async def __anext__(self) -> aiomqtt.Message:
        # A reader asked to stop while it handled the last message (its acknowledgement's
        # publish may have swallowed the cancellation, see ``checkpoint``) stops here instead of
        # waiting for a next message for ever.
        checkpoint()
        message = await anext(self._messages)
        self._arrived.set()
        return message


Reader = Callable[[SessionMessages], Coroutine[Any, Any, None]]
"""Reads a link's messages until the connection ends."""


class ConsumingSession:
    """One connection of a persistent session whose reader runs from CONNACK on.

    ``async with ConsumingSession(client, filters, read, ...) as session:`` returns once the
    link is subscribed (raising ``MqttError`` if it is not within the timeout, and calling
    ``on_subscribed`` if it is); then
    ``await session.serve(...)`` runs the link's other tasks beside the reader until the
    connection ends. Leaving the block stops the reader and the SUBACK's wait.
    """

    def __init__(
        self,
        client: aiomqtt.Client,
        filters: Sequence[str],
        read: Reader,
        *,
        timeout: float,
        name: str,
        qos: int = 1,
        on_subscribed: Callable[[], None] | None = None,
    ) -> None:
        self._client = client
        self._on_subscribed = on_subscribed
        self._filters = list(filters)
        self._read = read
        self._timeout = timeout
        self._name = name
        self._qos = qos
        self._arrived = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self._suback: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        messages = SessionMessages(aiter(self._client.messages), self._arrived)
        # The backlog of a kept session arrives now, subscribed or not: read it at once.
        self._reader = asyncio.create_task(self._read(messages), name=f"{self._name}-read")
        try:
            await self._subscribe(self._reader)
        except BaseException:
            await self._close()
            raise
        if self._on_subscribed is not None:
            self._on_subscribed()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._close()

    async def _close(self) -> None:
        for task in (self._reader, self._suback):
            if task is not None:
                await cancel_and_wait(task)

    async def _subscribe(self, reader: "asyncio.Task[None]") -> None:
        # No deadline of aiomqtt's own: the wait below bounds it, and leaving the session
        # cancels a SUBACK still queued behind the backlog.
        suback = asyncio.create_task(self._subscribed(), name=f"{self._name}-subscribe")
        self._suback = suback
        arrival = asyncio.create_task(self._arrived.wait(), name=f"{self._name}-first-message")
        try:
            done, _ = await asyncio.wait(
                {suback, reader, arrival},
                timeout=self._timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if reader in done:
                reader.result()  # raises what ended the connection
                raise aiomqtt.MqttError("the connection ended while subscribing")
            if suback in done:
                suback.result()
            elif arrival not in done:
                raise aiomqtt.MqttError(f"no SUBACK and no message within {self._timeout:.1f} s")
        finally:
            await cancel_and_wait(arrival)

    async def _subscribed(self) -> None:
        granted = await self._client.subscribe(
            [(f, self._qos) for f in self._filters], timeout=math.inf
        )
        refusals = [f for f, code in zip(self._filters, granted, strict=True) if refused(code)]
        if refusals:
            raise aiomqtt.MqttError(f"broker refused the subscriptions {refusals}")

    async def serve(self, *others: Coroutine[Any, Any, None]) -> NoReturn:
        """Run ``others`` beside the reader until any ends; raise what ended the connection."""
        if self._reader is None or self._suback is None:
            raise RuntimeError("serve() needs the session entered first")
        tasks = [
            asyncio.create_task(other, name=f"{self._name}-{i}") for i, other in enumerate(others)
        ]
        watched: set[asyncio.Task[None]] = {self._reader, self._suback, *tasks}
        try:
            while True:
                checkpoint()  # asked to stop while subscribing or connecting: stop now
                done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
                if done == {self._suback} and self._suback.exception() is None:
                    watched.discard(self._suback)  # granted, late: nothing more to watch
                    continue
                break
        finally:
            for task in tasks:
                await cancel_and_wait(task)
        for task in done:
            if not task.cancelled() and (error := task.exception()) is not None:
                raise error
        raise aiomqtt.MqttError(f"{self._name}: the connection's tasks stopped")


# --- connect options -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MqttEndpoint:
    """Where and how one client connects: every option of every Linli broker link."""

    host: str
    port: int = 1883
    client_id: str | None = None
    keepalive_s: int = 60
    persistent: bool = True
    """Keep the session across connections (``clean_session=False``): what was queued while
    the client was away is delivered after the CONNACK (see ``ConsumingSession``)."""
    timeout_s: float = MQTT_TIMEOUT_S
    """Bound of each exchange with the broker (CONNACK, PUBACK, SUBACK or first message)."""
    username: str | None = None
    password: str | None = None
    tls_ca: Path | None = None
    """CA bundle that signs the broker's certificate; None: plain TCP."""
    credentials_file: Path | None = None
    """A file with the username and password (``devices.credentials``), read at every
    connection so a rotated password is picked up; it overrides ``username``/``password``,
    and the client id gets a tag only the password's holder can compute
    (``session_client_id``: no other identity can take the session over)."""
    alternates: tuple[tuple[str, int], ...] = ()
    """Other nodes of a clustered broker (``deploy/nats``), as (host, port): after a failed
    connection ``MqttLink`` tries the next address in turn, so a client whose node died
    carries on through another. Empty for a single broker (Mosquitto)."""

    def named(self, client_id: str) -> "MqttEndpoint":
        """Return the same endpoint under another client id (one per session of a program)."""
        return replace(self, client_id=client_id)

    def addresses(self) -> list[tuple[str, int]]:
        """Return every address to try, this endpoint's own first."""
        return [(self.host, self.port), *self.alternates]

    def at(self, attempt: int) -> "MqttEndpoint":
        """Return the endpoint for connection attempt ``attempt``: its addresses in turn."""
        if not self.alternates:
            return self
        host, port = self.addresses()[attempt % (len(self.alternates) + 1)]
        return replace(self, host=host, port=port)

    def client(
        self,
        *,
        will: aiomqtt.Will | None = None,
        manual_ack: bool = False,
        queue_type: "type[asyncio.Queue[aiomqtt.Message]] | None" = None,
    ) -> aiomqtt.Client:
        """Build a client for one connection (aiomqtt clients are not reusable).

        ``queue_type``: what holds the messages received and not yet read (aiomqtt's
        default is a FIFO ``asyncio.Queue``).
        """
        username, password, client_id = self.username, self.password, self.client_id
        if self.credentials_file is not None:
            credentials = load_credentials(self.credentials_file)
            username = credentials.username
            password = credentials.password.get_secret_value()
            if client_id:
                client_id = session_client_id(client_id, password)
        client = aiomqtt.Client(
            self.host,
            self.port,
            identifier=client_id,
            username=username,
            password=password,
            keepalive=self.keepalive_s,
            clean_session=not self.persistent,
            will=will,
            timeout=self.timeout_s,
            socket_options=LOW_LATENCY,
            tls_params=None if self.tls_ca is None else aiomqtt.TLSParameters(str(self.tls_ca)),
            queue_type=queue_type,
        )
        watch_sockets(client)
        keep_cancellations(client)
        if manual_ack:
            use_manual_ack(client)
        return client


def parse_alternates(text: str) -> tuple[tuple[str, int], ...]:
    """Parse ``"host:port,host:port"`` (a clustered broker's other nodes), or raise ValueError."""
    nodes = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"broker node {item!r} is not HOST:PORT")
        nodes.append((host, int(port)))
    return tuple(nodes)


def payload_bytes(payload: object) -> bytes | None:
    """Return an MQTT payload as bytes, or None if it is neither text nor bytes."""
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    if isinstance(payload, str):
        return payload.encode()
    return None


def checkpoint() -> None:
    """Raise CancelledError if this task was asked to stop, even if an await swallowed it.

    On CPython 3.11 ``asyncio.wait_for`` swallows a cancellation that races with its result
    (aiomqtt's own exchanges no longer use it: ``keep_cancellations``, but other awaits may),
    and aiomqtt's ``__aexit__`` can replace a cancellation with a disconnect timeout that a
    reconnect loop catches. Either would keep a cancelled program running forever, so every
    loop calls this once per turn.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


# --- reconnecting ----------------------------------------------------------------------------


class Delay(Protocol):
    """A reconnect backoff (``Backoff``, or a test's fixed delay)."""

    def next_delay(self) -> float:
        """Return how long to wait before the next attempt."""
        ...

    def reset(self) -> None:
        """Start again from the shortest delay."""
        ...


class Backoff:
    """Jittered exponential delays between attempts: 0.5 s doubling up to 10 s by default."""

    def __init__(
        self,
        initial: float = 0.5,
        maximum: float = 10.0,
        *,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.initial = initial
        self.maximum = maximum
        self._rng = rng
        self._attempt = 0

    def next_delay(self) -> float:
        """Return how long to wait before the next attempt, and count the attempt."""
        ceiling: float = min(self.maximum, self.initial * 2.0**self._attempt)
        self._attempt = min(self._attempt + 1, 32)
        # "Equal jitter": between half and all of the ceiling, so clients that lost the same
        # broker do not all come back in the same instant.
        return ceiling * (0.5 + self._rng() / 2)

    def reset(self) -> None:
        """Start again from the shortest delay (after a healthy connection)."""
        self._attempt = 0


SessionBody = Callable[[aiomqtt.Client], Awaitable[None]]
"""Serves one connection of a link until it ends (by raising)."""


class MqttLink:
    """One supervised broker connection of a program, reconnecting forever.

    ``await link.run(body)`` connects, awaits ``body(client)`` and, whatever ends the
    connection (an ``MqttError``, ``OSError`` or a bug in the body), logs it, waits the
    backoff's next delay and connects again; only a cancellation ends it. The body enters
    ``link.session(client, filters, read)``: once that session is subscribed the connection
    counts as healthy and the backoff starts over.
    """

    def __init__(
        self,
        endpoint: MqttEndpoint,
        *,
        name: str,
        backoff: Delay | None = None,
        will: aiomqtt.Will | None = None,
        manual_ack: bool = False,
        max_pending_calls: int | None = None,
        on_error: Callable[[Exception], None] | None = None,
        queue_type: "type[asyncio.Queue[aiomqtt.Message]] | None" = None,
    ) -> None:
        self.endpoint = endpoint
        self._queue_type = queue_type
        self.name = name
        self.backoff: Delay = backoff or Backoff()
        self._will = will
        self._manual_ack = manual_ack
        self._max_pending_calls = max_pending_calls
        self._on_error = on_error
        self.current: MqttEndpoint = endpoint
        """The address of the connection being made or served (one of the alternates, or
        the endpoint itself): what a "connected to" log line should name."""

    def session(
        self,
        client: aiomqtt.Client,
        filters: Sequence[str],
        read: Reader,
        *,
        qos: int = 1,
    ) -> ConsumingSession:
        """Return the consuming session of one connection; subscribed, it resets the backoff."""
        return ConsumingSession(
            client,
            filters,
            read,
            timeout=self.endpoint.timeout_s,
            name=self.name,
            qos=qos,
            on_subscribed=self.backoff.reset,
        )

    async def run(self, body: SessionBody) -> NoReturn:
        """Serve ``body`` on one connection after another until cancelled."""
        attempt = 0
        while True:
            endpoint = self.current = self.endpoint.at(attempt)
            attempt += 1
            where = f"{endpoint.host}:{endpoint.port}"
            try:
                # Inside: a credentials file that turned unreadable is retried, loudly.
                client = endpoint.client(
                    will=self._will, manual_ack=self._manual_ack, queue_type=self._queue_type
                )
                if self._max_pending_calls is not None:
                    client.pending_calls_threshold = self._max_pending_calls
                async with client:
                    checkpoint()  # a cancellation that raced the CONNACK (see checkpoint)
                    await body(client)
            except (aiomqtt.MqttError, OSError) as exc:
                self._failed(exc)
                logger.warning("%s: broker %s: %s; reconnecting", self.name, where, exc)
            except Exception as exc:
                # A bug, a full disk: log it loudly and start over, never end the link.
                self._failed(exc)
                logger.exception("%s failed; reconnecting to %s", self.name, where)
            checkpoint()
            delay = self.backoff.next_delay()
            logger.debug("%s: reconnecting in %.2f s", self.name, delay)
            await asyncio.sleep(delay)

    def _failed(self, exc: Exception) -> None:
        if self._on_error is not None:
            self._on_error(exc)
