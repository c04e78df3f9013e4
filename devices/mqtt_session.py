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
reader as they are; one that acknowledges by hand (``edge.agent``) still acks each only after
handling it.
"""

import asyncio
import math
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from types import TracebackType
from typing import Any, NoReturn, Self

import aiomqtt

MQTT_TIMEOUT_S = 10.0
"""Default for how long one exchange with a broker (CONNACK, PUBACK, or the SUBACK or first
message that shows a session's subscriptions stand) may take before the link is tried again."""


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
        message = await anext(self._messages)
        self._arrived.set()
        return message


Reader = Callable[[SessionMessages], Coroutine[Any, Any, None]]
"""Reads a link's messages until the connection ends."""


class ConsumingSession:
    """One connection of a persistent session whose reader runs from CONNACK on.

    ``async with ConsumingSession(client, filters, read, ...) as session:`` returns once the
    link is subscribed (raising ``MqttError`` if it is not within the timeout); then
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
    ) -> None:
        self._client = client
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
