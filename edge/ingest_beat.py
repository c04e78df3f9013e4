"""The device ingest's reading loop, beating (``edge.liveness``) even while no device speaks.

An idle site sends nothing for minutes: a loop that beat only per message would look stuck.
So the loop's wait for its next message wakes every ``period_s`` and beats, then waits on.
A beat still means the loop that handles messages ran: it beats only while it is waiting
for a message (or taking one), so a group whose handling hangs stops the beats.

The wait for the next message is never cancelled at a wake: it is one task, awaited again.
Cancelling aiomqtt's wait when a message arrived at that very moment would drop the message
(taken from the queue, never handed over) until the next connection.
"""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Self

import aiomqtt

from devices.mqtt_link import SessionMessages, checkpoint
from edge.liveness import Part


class BeatingMessages:
    """A session's device messages, read so that the reading loop beats while it waits."""

    def __init__(self, messages: SessionMessages, part: Part) -> None:
        self._messages = messages
        self._part = part
        self._next: asyncio.Task[aiomqtt.Message] | None = None

    def __aiter__(self) -> Self:
        return self

    def __len__(self) -> int:
        """How many messages are waiting already."""
        return len(self._messages)

    async def __anext__(self) -> aiomqtt.Message:
        checkpoint()
        self._part.beat()
        if self._next is None and len(self._messages) > 0:
            return await anext(self._messages)  # one is waiting: no wake needed
        while True:
            if self._next is None:
                self._next = asyncio.create_task(_next_of(self._messages))
            done, _ = await asyncio.wait({self._next}, timeout=self._part.period_s)
            checkpoint()
            self._part.beat()
            if done:
                taken, self._next = self._next, None
                return taken.result()

    def close(self) -> None:
        """Stop waiting for a message; the part rests until the next session."""
        self._part.rest()
        waiting, self._next = self._next, None
        if waiting is None:
            return
        if not waiting.done():
            waiting.cancel()
        elif not waiting.cancelled():
            waiting.exception()  # retrieved: the session ends anyway (a disconnect)


@contextmanager
def beating(messages: SessionMessages, part: Part) -> Iterator[BeatingMessages]:
    """Read ``messages`` beating ``part`` until the block ends."""
    reading = BeatingMessages(messages, part)
    part.beat()
    try:
        yield reading
    finally:
        reading.close()


async def _next_of(messages: SessionMessages) -> aiomqtt.Message:
    return await anext(messages)
