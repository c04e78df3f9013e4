"""Tasks a test runs beside itself: started for a block, cancelled and awaited when it ends."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

RECANCEL_S = 1.0
"""How long a cancelled task has to end before it is cancelled again."""


@contextlib.asynccontextmanager
async def running(
    work: Coroutine[Any, Any, T], name: str | None = None
) -> AsyncIterator["asyncio.Task[T]"]:
    """Run ``work`` as a task (called ``name``) for the block; then cancel it and wait until it
    has ended.

    A task that failed meanwhile raises its error here, so a test does not pass over it. A
    task that swallowed its cancellation (aiomqtt's ``__aexit__`` can replace one with a
    disconnect error, which a reconnect loop catches) is cancelled again every second rather
    than waited on until the test's timeout.
    """
    task = asyncio.create_task(work, name=name)
    try:
        yield task
    finally:
        task.cancel()
        while not (await asyncio.wait({task}, timeout=RECANCEL_S))[0]:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
