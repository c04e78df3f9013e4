"""The hub's live events, published in-process after each commit.

Usage (inside the hub's event loop)::

    bus: EventBus = app.state.events
    with bus.subscribe() as subscription:
        async for event in subscription:
            match event:
                case AlertReceived(alert=alert): ...
                case CaseChanged(type="case_opened", case=case): ...
                case SilenceChanged(silence=silence): ...  # set, or ended early
                case EventsDropped(count=n): ...  # this subscriber fell behind

Publishing never waits: each subscriber has a bounded buffer, and a subscriber that falls
behind loses its oldest events and then receives one ``EventsDropped`` saying how many.
Everything here runs on the event loop; call ``publish`` from it, not from worker threads.

Several hub workers on one PostgreSQL: ``hub.live.relay`` attaches itself with ``relay_through``.
``publish`` then hands each event to the relay, which carries it to every worker's bus (this
one included) and ``deliver``s it there, so every console sees every worker's events, in one
order. Without a relay (SQLite, one process) ``publish`` delivers at once, as it always did.
"""

import asyncio
from collections import deque
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Annotated, Literal

from pydantic import Field

from hub.cases.results import IngestResult
from hub.cases.views import AlertView, CaseView
from hub.http.views import View
from hub.silences.views import SilenceView

DEFAULT_MAX_QUEUED = 1000


class AlertReceived(View):
    """A new alert was committed."""

    type: Literal["alert"] = "alert"
    alert: AlertView


class CaseChanged(View):
    """A case was opened, or changed (an alert joined it, an operator acted on it)."""

    type: Literal["case_opened", "case_updated"]
    case: CaseView


class SilenceChanged(View):
    """A silence was set, or ended (or cancelled) before its time: every desk redraws its
    Silences page and its board's "On test" banner at once."""

    type: Literal["silence_changed"] = "silence_changed"
    silence: SilenceView


class EventsDropped(View):
    """This subscriber fell behind and lost ``count`` events."""

    type: Literal["dropped"] = "dropped"
    count: int


HubEvent = Annotated[
    AlertReceived | CaseChanged | SilenceChanged | EventsDropped, Field(discriminator="type")
]


def events_of(result: IngestResult) -> list[HubEvent]:
    """Return the events one committed ingest batch produced, alerts first."""
    events: list[HubEvent] = [AlertReceived(alert=alert) for alert in result.new]
    events += [CaseChanged(type="case_opened", case=case) for case in result.cases_opened]
    events += [CaseChanged(type="case_updated", case=case) for case in result.cases_updated]
    return events


class SubscriptionClosedError(Exception):
    """The bus was closed: no more events will come."""


class Subscription:
    """One subscriber's bounded buffer of events; iterate it, or ``await get()``."""

    def __init__(self, bus: "EventBus", max_queued: int) -> None:
        if max_queued < 1:
            raise ValueError("a subscription must be able to hold at least one event")
        self._bus = bus
        self._buffer: deque[HubEvent] = deque()
        self._max_queued = max_queued
        self._ready = asyncio.Event()
        self._dropped = 0
        self._closed = False

    @property
    def dropped(self) -> int:
        """Return how many events were lost and not yet reported."""
        return self._dropped

    def offer(self, event: HubEvent) -> None:
        """Queue an event without waiting, dropping the oldest one if the buffer is full."""
        if self._closed:
            return
        if len(self._buffer) >= self._max_queued:
            self._buffer.popleft()
            self._dropped += 1
        self._buffer.append(event)
        self._ready.set()

    def lost(self, count: int) -> None:
        """Count events this subscriber will never see (the relay lost touch for a while)."""
        if self._closed:
            return
        self._dropped += count
        self._ready.set()

    def close(self) -> None:
        """End the subscription: ``get`` drains what is queued, then raises."""
        self._closed = True
        self._ready.set()

    def take_ready(self, most: int) -> list[HubEvent]:
        """Return up to ``most`` events already queued, without waiting; a ``dropped`` notice
        (how many this subscriber lost) comes first."""
        ready: list[HubEvent] = []
        if self._dropped and most > 0:
            count, self._dropped = self._dropped, 0
            ready.append(EventsDropped(count=count))
        while self._buffer and len(ready) < most:
            ready.append(self._buffer.popleft())
        return ready

    async def get(self) -> HubEvent:
        """Return the next event, or raise ``SubscriptionClosedError`` once closed and empty."""
        while True:
            if ready := self.take_ready(1):
                return ready[0]
            if self._closed:
                raise SubscriptionClosedError("the event bus was closed")
            self._ready.clear()
            await self._ready.wait()

    def __aiter__(self) -> "Subscription":
        return self

    async def __anext__(self) -> HubEvent:
        try:
            return await self.get()
        except SubscriptionClosedError:
            raise StopAsyncIteration from None

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._bus.unsubscribe(self)


class EventBus:
    """In-process publish/subscribe of hub events; publishing never blocks."""

    def __init__(self, *, max_queued: int = DEFAULT_MAX_QUEUED) -> None:
        self._max_queued = max_queued
        self._subscriptions: set[Subscription] = set()
        self._relay: Callable[[HubEvent], None] | None = None

    def relay_through(self, send: Callable[[HubEvent], None] | None) -> None:
        """Hand published events to ``send`` (which must ``deliver`` them back), or, with None,
        deliver them here at once again."""
        self._relay = send

    @property
    def subscriber_count(self) -> int:
        """Return the number of current subscriptions."""
        return len(self._subscriptions)

    def subscribe(self, *, max_queued: int | None = None) -> Subscription:
        """Start receiving events published from now on; use as a ``with`` block."""
        subscription = Subscription(self, max_queued or self._max_queued)
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop delivering to a subscription."""
        self._subscriptions.discard(subscription)
        subscription.close()

    def publish(self, event: HubEvent) -> None:
        """Deliver an event to every subscriber (of every worker, through the relay)."""
        if self._relay is not None:
            self._relay(event)
            return
        self.deliver(event)

    def deliver(self, event: HubEvent) -> None:
        """Deliver an event to this bus's subscribers now."""
        for subscription in self._subscriptions:
            subscription.offer(event)

    def report_lost(self, count: int = 1) -> None:
        """Tell every subscriber it missed at least ``count`` events."""
        for subscription in self._subscriptions:
            subscription.lost(count)

    def publish_all(self, events: Iterable[HubEvent]) -> None:
        """Deliver events in order."""
        for event in events:
            self.publish(event)

    def close(self) -> None:
        """End every current subscription (the hub is shutting down)."""
        for subscription in list(self._subscriptions):
            self.unsubscribe(subscription)
