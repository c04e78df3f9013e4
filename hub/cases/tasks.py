"""The case-management tasks of a hub process: supervision and notifications out.

``CaseTasks.start()`` starts them next to the MQTT ingest (a hub that runs no ingest — tests
of the HTTP API alone — runs none of them); ``stop()`` cancels them and closes their clients.
"""

import asyncio
import contextlib

import httpx

from hub.cases.changes import CaseChanges
from hub.cases.notifier import Notifier
from hub.cases.supervisor import Supervisor
from hub.ingest.link import MqttIngest
from hub.persistence.transactions import Clock
from hub.settings import HubSettings
from hub.store import HubStore


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
        self.supervisor = Supervisor(
            store, changes, clock=clock, interval=settings.supervision_interval_s
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
        )
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start supervising and notifying (only where ingest runs too)."""
        if not self._settings.start_ingest:
            return
        self._tasks = [
            asyncio.create_task(self.supervisor.run(), name="hub-supervision"),
            asyncio.create_task(self.notifier.run(), name="hub-notifications"),
        ]

    async def stop(self) -> None:
        """Stop the tasks and close the HTTP client."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self._http.aclose()
