"""The helper that runs a task beside a test ends it even when the task swallowed its first
cancellation (as a reconnect loop does when aiomqtt's ``__aexit__`` replaces the cancellation
with a disconnect error): before, the test hung until its 300 s timeout (a CI run failed so)."""

import asyncio

from tests.background import running


async def test_a_task_that_swallows_its_first_cancellation_is_still_ended() -> None:
    cancellations: list[int] = []

    async def reconnecting() -> None:
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                cancellations.append(1)
                if len(cancellations) > 1:
                    raise
                # the first one lost, as the fake hub's except MqttError: pass lost it

    async def block() -> asyncio.Task[None]:
        async with running(reconnecting(), name="stubborn") as task:
            await asyncio.sleep(0)
        return task

    # Waited on from outside, so that nothing cancels the block's own wait.
    ending = asyncio.create_task(block())
    done, _ = await asyncio.wait({ending}, timeout=10)
    assert done, "the block did not end: its task swallowed the cancellation and ran on"
    assert ending.result().cancelled()
    assert len(cancellations) == 2
