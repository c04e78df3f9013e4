"""The live stream over HTTP: ``GET /api/v1/stream`` as Server-Sent Events, scoped to the
caller's sites.
"""

import asyncio
import math
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from hub.http.deps import API_PREFIX, EventsDep, SettingsDep, StoreDep, caller_sites
from hub.live.events import AlertReceived, CaseChanged, EventBus, HubEvent, SubscriptionClosedError
from hub.store import HubStore

router = APIRouter(prefix=API_PREFIX)


_EVENTS_PER_WRITE = 200
"""Most events the stream writes at once (those already queued when it wakes)."""


def sse_message(event: HubEvent) -> str:
    """Format one event as a Server-Sent Events message."""
    return f"event: {event.type}\ndata: {event.model_dump_json()}\n\n"


def visible_to(
    event: HubEvent, sites: frozenset[str] | None, devices: frozenset[str] = frozenset()
) -> bool:
    """Return whether a caller scoped to ``sites`` (None: every site) may see ``event``.

    Case events carry their case's site; an alert is seen if its device is one of
    ``devices``, the devices of the caller's sites.
    """
    if sites is None:
        return True
    match event:
        case CaseChanged(case=case):
            return case.site_id is not None and case.site_id in sites
        case AlertReceived(alert=alert):
            return alert.device_id in devices
        case _:
            return True


class _StreamScope:
    """The devices a scoped stream shows alerts of, looked up again when an alert names a
    device not seen yet (registered since) or the last look is old (a device moved)."""

    REFRESH_UNKNOWN_S = 1.0
    REFRESH_ANYWAY_S = 30.0

    def __init__(self, store: HubStore | None, sites: frozenset[str] | None) -> None:
        self._store = store
        self._sites = sites
        self._devices: frozenset[str] = frozenset()
        self._looked_at: float | None = None

    async def devices_for(self, event: HubEvent) -> frozenset[str]:
        if self._sites is None or self._store is None or not isinstance(event, AlertReceived):
            return self._devices
        now = time.monotonic()
        age = math.inf if self._looked_at is None else now - self._looked_at
        unknown = event.alert.device_id not in self._devices
        if age > self.REFRESH_ANYWAY_S or (unknown and age > self.REFRESH_UNKNOWN_S):
            self._devices = await asyncio.to_thread(
                self._store.fleet.visible_device_ids, self._sites
            )
            self._looked_at = now
        return self._devices


async def _event_stream(
    events: EventBus,
    keepalive_seconds: float,
    sites: frozenset[str] | None = None,
    store: HubStore | None = None,
) -> AsyncIterator[str]:
    scope = _StreamScope(store, sites)
    with events.subscribe() as subscription:
        # Tells the client it is subscribed: every event from here on will reach it.
        yield ": connected\n\n"
        while True:
            try:
                async with asyncio.timeout(keepalive_seconds):
                    event = await subscription.get()
            except TimeoutError:
                yield ": keepalive\n\n"
                continue
            except SubscriptionClosedError:
                return
            # What else is already queued goes out in the same write: in a storm, one send
            # per event cost the hub a tenth of its time; the bytes are the same.
            chunk = [
                sse_message(each)
                for each in [event, *subscription.take_ready(_EVENTS_PER_WRITE - 1)]
                if visible_to(each, sites, await scope.devices_for(each))
            ]
            if chunk:
                yield "".join(chunk)


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream(
    events: EventsDep, settings: SettingsDep, store: StoreDep, request: Request
) -> StreamingResponse:
    """Stream live events (alerts, case changes) as Server-Sent Events (a site-scoped
    caller: its sites' cases and its sites' devices' alerts)."""
    return StreamingResponse(
        _event_stream(events, settings.sse_keepalive_seconds, caller_sites(request), store),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
