"""Waiting, in an async test, for what another task or process does: poll, fail after a deadline."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def until(
    check: Callable[[], Awaitable[T | None]],
    what: str,
    *,
    timeout_s: float = 15.0,
    interval_s: float = 0.05,
) -> T:
    """Await ``check()`` until it returns something truthy and return that; fail after a deadline.

    The failure is an ``AssertionError``, so a test may catch it to try again.
    """
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                if result := await check():
                    return result
                await asyncio.sleep(interval_s)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for: {what}") from None
