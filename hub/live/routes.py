"""The live stream over HTTP: ``GET /api/v1/stream`` as Server-Sent Events, scoped to the
caller's sites.

A stream outlives the request that opened it: the caller's session is checked again every
keepalive interval, and a stream whose session was revoked or expired, whose account was
disabled, or whose role or sites changed ends (a client reconnects and is told, or gets its
new scope). ``?heartbeat_s=<n>`` asks for a ``heartbeat`` event at least every n seconds (and
one at once), which a page can see, unlike the keepalive comments: a client that hears
nothing for a few of them knows its stream is dead (a connection a laptop lid or a proxy left
half-open shows nothing else).
"""

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.exc import SQLAlchemyError

from hub.auth.routes import authenticate
from hub.auth.rules import AuthError, ForbiddenError, Principal
from hub.http.deps import API_PREFIX, EventsDep, SettingsDep, StoreDep, caller_sites
from hub.live.events import (
    AlertReceived,
    CaseChanged,
    EventBus,
    HubEvent,
    SilenceChanged,
    SubscriptionClosedError,
)
from hub.store import HubStore

logger = logging.getLogger(__name__)

router = APIRouter(prefix=API_PREFIX)

HEARTBEAT = 'event: heartbeat\ndata: {"type":"heartbeat"}\n\n'
"""What a stream that asked for heartbeats gets when it would get a keepalive comment."""
HEARTBEAT_MIN_S = 1.0


_EVENTS_PER_WRITE = 200
"""Most events the stream writes at once (those already queued when it wakes)."""


def sse_message(event: HubEvent) -> str:
    """Format one event as a Server-Sent Events message."""
    return f"event: {event.type}\ndata: {event.model_dump_json()}\n\n"


def visible_to(
    event: HubEvent, sites: frozenset[str] | None, devices: frozenset[str] = frozenset()
) -> bool:
    """Return whether a caller scoped to ``sites`` (None: every site) may see ``event``.

    Case events carry their case's site, silence events their silence's; an alert is seen if
    its device is one of ``devices``, the devices of the caller's sites.
    """
    if sites is None:
        return True
    match event:
        case CaseChanged(case=case):
            return case.site_id is not None and case.site_id in sites
        case AlertReceived(alert=alert):
            return alert.device_id in devices
        case SilenceChanged(silence=silence):
            # As ``GET /silences`` lists them for the caller: its sites' only (a silence of no
            # site, or of another, and its reason are not theirs to read).
            return silence.site_id is not None and silence.site_id in sites
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
        self._theirs: set[str] = set()
        """Devices looked for and not found among ours: another site's, so far."""
        self._looked_at: float | None = None

    async def devices_for(self, events: list[HubEvent]) -> frozenset[str]:
        """Return the devices of the stream's sites, looked up again if ``events`` name one
        never looked for (a device registered a moment ago: looked up at once, whenever the
        last look was), or one of another site and the last look is a second old."""
        if self._sites is None or self._store is None:
            return self._devices
        named = {event.alert.device_id for event in events if isinstance(event, AlertReceived)}
        unknown = named - self._devices
        now = time.monotonic()
        age = math.inf if self._looked_at is None else now - self._looked_at
        if (
            age > self.REFRESH_ANYWAY_S
            or (unknown and age > self.REFRESH_UNKNOWN_S)
            or not unknown <= self._theirs
        ):
            self._devices = await asyncio.to_thread(
                self._store.fleet.visible_device_ids, self._sites
            )
            self._theirs = (self._theirs | unknown) - self._devices
            self._looked_at = now
        return self._devices


StillAllowed = Callable[[], Awaitable[bool]]


def session_check(request: Request) -> StillAllowed | None:
    """Return a check of whether the caller that opened this stream may still read it as it
    could then (None: the hub has no accounts, nothing to check)."""
    opened_as: Principal | None = getattr(request.state, "principal", None)
    if opened_as is None:
        return None

    async def still_allowed() -> bool:
        try:
            now = await authenticate(request)
        except (AuthError, ForbiddenError):
            return False
        except SQLAlchemyError as exc:  # the database, not the caller: keep streaming
            logger.warning("live stream: could not check the caller's session again: %s", exc)
            return True
        return now.role is opened_as.role and now.sites == opened_as.sites

    return still_allowed


async def _event_stream(
    events: EventBus,
    keepalive_seconds: float,
    sites: frozenset[str] | None = None,
    store: HubStore | None = None,
    *,
    heartbeat_s: float | None = None,
    still_allowed: StillAllowed | None = None,
) -> AsyncIterator[str]:
    scope = _StreamScope(store, sites)
    idle = keepalive_seconds if heartbeat_s is None else min(keepalive_seconds, heartbeat_s)
    quiet = ": keepalive\n\n" if heartbeat_s is None else HEARTBEAT
    check_at = time.monotonic() + keepalive_seconds
    with events.subscribe() as subscription:
        # Tells the client it is subscribed: every event from here on will reach it.
        yield ": connected\n\n"
        if heartbeat_s is not None:
            yield HEARTBEAT
        # Quiet is measured from the last write, not the last event: a scoped stream during
        # another site's storm hears many events and writes none of them.
        written_at = time.monotonic()
        while True:
            try:
                async with asyncio.timeout(max(0.0, written_at + idle - time.monotonic())):
                    event = await subscription.get()
            except TimeoutError:
                event = None
            except SubscriptionClosedError:
                return
            if still_allowed is not None and time.monotonic() >= check_at:
                if not await still_allowed():
                    return  # revoked, expired, disabled or rescoped: the client must ask again
                check_at = time.monotonic() + keepalive_seconds
            if event is None:
                yield quiet
                written_at = time.monotonic()
                continue
            # What else is already queued goes out in the same write: in a storm, one send
            # per event cost the hub a tenth of its time; the bytes are the same.
            ready = [event, *subscription.take_ready(_EVENTS_PER_WRITE - 1)]
            devices = await scope.devices_for(ready)
            chunk = [sse_message(each) for each in ready if visible_to(each, sites, devices)]
            if chunk:
                yield "".join(chunk)
                written_at = time.monotonic()
            elif time.monotonic() - written_at >= idle:
                yield quiet
                written_at = time.monotonic()


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream(
    events: EventsDep,
    settings: SettingsDep,
    store: StoreDep,
    request: Request,
    heartbeat_s: Annotated[float | None, Query(ge=HEARTBEAT_MIN_S, le=3600)] = None,
) -> StreamingResponse:
    """Stream live events (alerts, case changes) as Server-Sent Events (a site-scoped
    caller: its sites' cases and its sites' devices' alerts). ``heartbeat_s``: also a
    ``heartbeat`` event at least this often, and one at once. The stream ends when the
    caller's session does (checked every keepalive interval)."""
    return StreamingResponse(
        _event_stream(
            events,
            settings.sse_keepalive_seconds,
            caller_sites(request),
            store,
            heartbeat_s=heartbeat_s,
            still_allowed=session_check(request),
        ),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
