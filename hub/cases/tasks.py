"""The case-management tasks of a hub process: supervision and notifications out.

``CaseTasks.start()`` starts them next to the MQTT ingest (a hub that runs no ingest — tests
of the HTTP API alone — runs none of them); ``stop()`` cancels them and closes their clients.

Each runs under ``supervised``: a task that ends or dies is logged, counted and started again
after a jittered exponential backoff, so a bug in one round can cost a few seconds of pages,
never all of them. The counts (``<task>_restarts``) and the notifier's counters go into the
ingest's counters, which ``GET /api/v1/health`` and ``/metrics`` show; ``health()`` says
whether each task is running now.
"""

import asyncio
import contextlib
import logging
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx

from hub.cases.changes import CaseChanges
from hub.cases.notifier import Notifier
from hub.cases.supervisor import Supervisor
from hub.fleet.supervision import EdgeRhythm
from hub.ingest.link import MqttIngest
from hub.persistence.transactions import Clock
from hub.settings import HubSettings
from hub.store import HubStore

logger = logging.getLogger(__name__)

FIRST_RESTART_S = 1.0
LONGEST_RESTART_S = 60.0


async def supervised(
    name: str,
    run: Callable[[], Awaitable[None]],
    counters: Counter[str],
    *,
    first_delay: float = FIRST_RESTART_S,
    longest_delay: float = LONGEST_RESTART_S,
    running: dict[str, bool] | None = None,
) -> None:
    """Run ``run()`` until cancelled, starting it again whenever it ends or raises (logged,
    counted as ``<name>_restarts``), after a jittered exponential backoff; a run that lasted
    longer than the longest delay starts the backoff afresh."""
    loop = asyncio.get_running_loop()
    delay = first_delay
    state = {} if running is None else running
    while True:
        started = loop.time()
        state[name] = True
        try:
            await run()
        except Exception:
            logger.exception("hub task %s died; starting it again", name)
        else:
            logger.error("hub task %s ended on its own; starting it again", name)
        state[name] = False
        counters[f"{name}_restarts"] += 1
        if loop.time() - started > longest_delay:
            delay = first_delay
        await asyncio.sleep(delay * random.uniform(0.5, 1.0))
        delay = min(delay * 2, longest_delay)


class CaseTasks:
    """Owns the supervisor and the notifier of one hub process."""

    def __init__(
        self,
        settings: HubSettings,
        store: HubStore,
        changes: CaseChanges,
        ingest: MqttIngest | None,
        *,
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._http = httpx.AsyncClient()
        self.counters: Counter[str] = Counter() if ingest is None else ingest.counters
        self.supervisor = Supervisor(
            store,
            changes,
            clock=clock,
            interval=settings.supervision_interval_s,
            edge_rhythm=EdgeRhythm(
                default=timedelta(seconds=settings.edge_silent_after_s),
                missed=settings.edge_missed_heartbeats,
                floor=timedelta(seconds=settings.edge_silent_floor_s),
                heartbeat_cap=timedelta(seconds=settings.edge_heartbeat_max_s),
            ),
            edge_offline_grace=timedelta(seconds=settings.edge_offline_grace_s),
            listening=(lambda: False) if ingest is None else (lambda: ingest.connected),
            edge_counters=self.counters,
        )
        self.notifier = Notifier(
            store,
            clock=clock,
            http=self._http,
            mqtt=(lambda: None) if ingest is None else ingest.client,
            interval=settings.notify_interval_s,
            webhook_secret=(
                None
                if settings.notify_webhook_secret is None
                else settings.notify_webhook_secret.get_secret_value().encode()
            ),
            counters=self.counters,
        )
        self._running: dict[str, bool] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start supervising and notifying (only where ingest runs too)."""
        if not self._settings.start_ingest:
            return
        self._tasks = [
            asyncio.create_task(
                supervised(name, run, self.counters, running=self._running), name=f"hub-{name}"
            )
            for name, run in (
                ("supervision", self.supervisor.run),
                ("notifications", self.notifier.run),
            )
        ]

    def health(self) -> dict[str, bool]:
        """Return whether each case task is running now (False: it died and waits to be
        started again)."""
        return dict(self._running)

    async def stop(self) -> None:
        """Stop the tasks and close the HTTP client."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self._http.aclose()
