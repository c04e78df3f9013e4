"""Say where an async test hangs before pytest-timeout ends it.

pytest-timeout prints every thread's stack, which for an async test is the event loop's
``select``: it does not say which await never returned. Shortly before the timeout this
prints every task of the test's event loop with its coroutine stack, from inside the loop.
"""

import asyncio
import io
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

WARN_BEFORE_S = 15.0
"""How long before the test's timeout the tasks are printed."""


def _timeout_s(item: pytest.Item) -> float | None:
    marker = item.get_closest_marker("timeout")
    value: Any = marker.args[0] if marker is not None and marker.args else None
    if value is None:
        try:
            value = item.config.getini("timeout")
        except ValueError:  # pytest-timeout not loaded
            return None
    try:
        return float(value) if value else None
    except (TypeError, ValueError):
        return None


def _running_loop(thread: threading.Thread) -> asyncio.AbstractEventLoop | None:
    """The event loop ``thread`` is running now, found on its stack (from another thread)."""
    frame = sys._current_frames().get(thread.ident or -1)
    while frame is not None:
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, asyncio.AbstractEventLoop):
            return candidate
        frame = frame.f_back
    return None


def _await_chain(awaitable: object) -> list[str]:
    """Where a suspended coroutine waits: each frame down its chain of awaits."""
    chain: list[str] = []
    while awaitable is not None and len(chain) < 40:
        frame = _first(awaitable, ("cr_frame", "gi_frame", "ag_frame"))
        if frame is not None:
            chain.append(f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}")
        awaitable = _first(awaitable, ("cr_await", "gi_yieldfrom", "ag_await"))
    if awaitable is not None:
        chain.append(repr(awaitable)[:200])
    return chain


def _first(awaitable: object, names: tuple[str, ...]) -> Any:
    """The first of ``names`` a coroutine, generator or async generator has (None: none)."""
    return next((getattr(awaitable, n) for n in names if hasattr(awaitable, n)), None)


def _print_tasks(loop: asyncio.AbstractEventLoop, nodeid: str) -> None:
    out = io.StringIO()
    tasks = asyncio.all_tasks(loop)
    out.write(f"\n+++ {nodeid}: still running near its timeout; {len(tasks)} tasks +++\n")
    for task in tasks:
        out.write(f"task {task.get_name()}:\n")
        for where in _await_chain(task.get_coro()):
            out.write(f"    {where}\n")
    sys.stderr.write(out.getvalue())
    sys.stderr.flush()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    timeout = _timeout_s(item)
    timer: threading.Timer | None = None
    if timeout is not None and timeout > 2 * WARN_BEFORE_S:
        caller = threading.current_thread()

        def warn() -> None:
            loop = _running_loop(caller)
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(_print_tasks, loop, item.nodeid)

        timer = threading.Timer(timeout - WARN_BEFORE_S, warn)
        timer.daemon = True
        timer.start()
    try:
        yield
    finally:
        if timer is not None:
            timer.cancel()
