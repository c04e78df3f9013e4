"""Waiting in a test for what another thread, task or process does: poll, fail after a deadline."""

import asyncio
import time
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


def wait_until(
    probe: Callable[[], T | None], *, timeout: float = 60.0, interval: float = 0.1, what: str = ""
) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or probe}; last={last!r}")
