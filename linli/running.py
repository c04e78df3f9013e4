"""How a long-running ``linli`` program runs: until SIGINT or SIGTERM, stopping cleanly, and
with its long-lived heap frozen once it has started."""

import asyncio
import gc
import logging
import os
import signal
from collections.abc import Coroutine
from typing import Any

PRIVATE_UMASK = 0o077
"""The hub's database (residents, care profiles, the audit trail), its evidence pictures and
anchor key, the edge's outbox and door log: readable by the program's user only. The systemd
units set the same (``UMask=0077``); run by hand, a hub created ``hub.sqlite3`` 0644 before."""
STOP_REPORT_AFTER = 5.0
"""Seconds after Ctrl-C after which a program still stopping logs what it is waiting for."""


def _awaiting(coro: object) -> str:
    """Return where a suspended coroutine waits, outermost first (``a -> b``: a awaits b)."""
    places: list[str] = []
    while coro is not None and len(places) < 12:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            places.append(f"{frame.f_code.co_name} ({frame.f_code.co_filename}:{frame.f_lineno})")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return " -> ".join(places)


def _report_what_is_still_running() -> None:
    """Log every task not finished yet with where it waits, and cancel each of them again.

    A stop that hangs says why; and a cancellation some await swallowed (CPython 3.11's
    ``asyncio.wait_for`` racing a result, in a library or ours: see
    ``devices.mqtt_link.checkpoint``) is delivered a second time instead of hanging forever.
    """
    current = asyncio.current_task()
    waiting = [t for t in asyncio.all_tasks() if not t.done() and t is not current]
    lines = [f"  {t.get_name()}: {_awaiting(t.get_coro()) or '?'}" for t in waiting]
    logging.getLogger("linli").warning(
        "still stopping after %.0f s; %d tasks have not finished (cancelling them again):\n%s",
        STOP_REPORT_AFTER,
        len(waiting),
        "\n".join(lines),
    )
    for task in waiting:
        task.cancel()


def freeze_long_lived() -> None:
    """Take what the process has built so far out of the cyclic garbage collector's scans.

    A service's modules, app, ORM mappers, pydantic schemas and caches (about 200,000 objects
    in ``linli hub``) live as long as the process, yet every full collection walked them all:
    on the bench machine the hub stopped for 100 ms every 20 s or so, with the alerts that
    arrived meanwhile waiting (issue 17's paced p99). Frozen, a full collection walks only
    what was made since and takes about 3 ms. What is frozen is still freed by reference
    counting; only a cycle among frozen objects would stay, and these live to the end anyway.
    """
    gc.collect()
    gc.freeze()


async def _freeze_when(started: asyncio.Event) -> None:
    await started.wait()
    freeze_long_lived()


def run_until_signalled(
    main: Coroutine[Any, Any, None], *, started: asyncio.Event | None = None
) -> None:
    """Run ``main``; SIGINT or SIGTERM cancels it, so every part shuts down cleanly.

    The long-lived heap is frozen (``freeze_long_lived``) once ``main`` has ``started``, or,
    without such an event, before it runs (what ``main`` needs is built by then). What it
    writes is its user's alone (``PRIVATE_UMASK``).
    """
    os.umask(PRIVATE_UMASK)

    async def supervised() -> None:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()

        def stop() -> None:
            task.cancel()
            loop.call_later(STOP_REPORT_AFTER, _report_what_is_still_running)

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop)
        try:
            if started is None:
                freeze_long_lived()
            freezing = None if started is None else asyncio.create_task(_freeze_when(started))
            try:
                await main
            finally:
                if freezing is not None:
                    freezing.cancel()
        except asyncio.CancelledError:
            logging.getLogger("linli").info("stopped")

    asyncio.run(supervised())
