"""One connection of a kept (persistent) MQTT session, served so a backlog cannot lock it out.

The hub's MQTT clients (ingest, door-access sync, evidence) keep their sessions
(``clean_session=False``) so that nothing sent while they were away is lost. A broker that
kept such a session delivers its backlog straight after CONNACK, and Mosquitto sends the
SUBACK of the client's re-subscription only *behind* that whole backlog. A client that waits
for the SUBACK (under a deadline) before reading anything therefore gives the connection up
whenever the backlog takes longer to arrive than the deadline — throwing away what had
arrived, which the broker already counts as delivered — and after a long outage never comes
back at all.

So a ``KeptSession`` runs its consumer from the moment the connection is up, and counts the
client subscribed at the SUBACK or at the first message, whichever comes first: a message
from the session proves its subscriptions stand. Every wait is bounded by the MQTT timeout,
and a cancellation of the caller is never swallowed.
"""

import asyncio
import math
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self

import aiomqtt

MQTT_TIMEOUT_S = 10.0
"""How long one exchange with the broker (CONNACK, PUBACK, SUBACK or a first message) may
take before the connection is given up and tried again."""


async def cancel_and_wait(task: "asyncio.Task[object]") -> None:
    """Cancel a helper task and wait for it to end, whatever it ends with.

    ``asyncio.wait`` neither raises the task's outcome nor swallows a cancellation of the
    caller, as awaiting the task under ``suppress(CancelledError)`` would.
    """
    task.cancel()
    await asyncio.wait({task})
    if not task.cancelled():
        task.exception()  # retrieved: it is the connection's end, already handled


class KeptSession:
    """Serve one connection of a persistent session::

        async with KeptSession(client, consume, timeout=10, name="hub-ingest") as session:
            await session.subscribe(filters)   # returns once subscribed (or raises)
            ...                                # e.g. say online
            await session.run()                # until the connection ends

    ``consume(session)`` reads ``client.messages`` until the connection ends and calls
    ``session.arrived()`` as messages come in.
    """

    def __init__(
        self,
        client: aiomqtt.Client,
        consume: Callable[["KeptSession"], Awaitable[None]],
        *,
        timeout: float,
        name: str,
    ) -> None:
        self._client = client
        self._consume = consume
        self._timeout = timeout
        self._name = name
        self._arrived = asyncio.Event()
        self._consumer: asyncio.Task[None] | None = None
        self._suback: asyncio.Task[object] | None = None

    @property
    def client(self) -> aiomqtt.Client:
        """The connection this session serves."""
        return self._client

    def arrived(self) -> None:
        """Note that a message came in on this connection."""
        self._arrived.set()

    async def __aenter__(self) -> Self:
        async def consume() -> None:
            await self._consume(self)

        self._consumer = asyncio.create_task(consume(), name=f"{self._name}-consume")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._consumer is not None:
            await cancel_and_wait(self._consumer)
        if self._suback is not None:
            await cancel_and_wait(self._suback)

    async def subscribe(self, filters: list[tuple[str, int]]) -> None:
        """Subscribe; return once the SUBACK or a first message shows the subscriptions stand.

        Raises ``MqttError`` if neither comes within the timeout, or whatever ended the
        connection meanwhile. The SUBACK, if a message came first, is left to come in its own
        time (it is queued behind the backlog).
        """
        consumer = self._consumer
        assert consumer is not None, "enter the session first"
        # No deadline of aiomqtt's own: the wait below bounds it, and leaving the session
        # cancels the subscription's wait with the connection.
        self._suback = suback = asyncio.create_task(
            self._client.subscribe(filters, timeout=math.inf), name=f"{self._name}-subscribe"
        )
        arrival = asyncio.create_task(self._arrived.wait(), name=f"{self._name}-first-message")
        try:
            done, _ = await asyncio.wait(
                {suback, consumer, arrival},
                timeout=self._timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if consumer in done:
                consumer.result()  # raises what ended the connection
                raise aiomqtt.MqttError("the connection ended while subscribing")
            if suback in done:
                suback.result()
            elif arrival not in done:
                raise aiomqtt.MqttError(f"no SUBACK and no message within {self._timeout:.1f} s")
        finally:
            await cancel_and_wait(arrival)

    async def run(self) -> None:
        """Wait until the consumer ends, raising what ended it."""
        assert self._consumer is not None, "enter the session first"
        await self._consumer
