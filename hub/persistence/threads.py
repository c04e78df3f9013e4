"""Threads for the alarm path, apart from the pool every request shares.

The hub's routes run their database work with ``asyncio.to_thread``, on the event loop's
default pool (min(32, cores + 4) threads: 6 on a 2-core box). The alarm path — taking in
edges' alerts and statuses (``hub.ingest.link``), firing deadlines (``hub.cases.supervisor``),
paging (``hub.cases.notifier``) and telling the resident's button (``hub.cases.feedback``) — ran
there too, so whatever held those threads (residents' photos being re-encoded, about a second
and 300 MB each for a small PNG of many pixels, before they had threads of their own:
``hub.requests.photos``; a slow statistics query; a stalled database call) held up a fire
alarm's intake and its case for as long as it lasted. ``alarm_thread``
runs the alarm path's work on threads of its own instead; they still wait for the database's
write turn like everyone (an alert's turn is urgent: ``hub.persistence.write_turns``).

One pool for the process, started on first use: the threads are shared by every hub served
in it (tests serve many) and idle between alarms.
"""

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

ALARM_THREADS = 4
"""One each for the ingest, the supervisor and the feedback, and one more for the notifier's
side-by-side pages to finish on (each its own short transaction)."""

_pool = ThreadPoolExecutor(max_workers=ALARM_THREADS, thread_name_prefix="linli-alarm")


async def alarm_thread(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run ``fn(*args, **kwargs)`` on the alarm path's threads, as ``asyncio.to_thread`` runs
    it on the shared pool: with the caller's context (the audit trail's acting principal)."""
    call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_pool, call)
