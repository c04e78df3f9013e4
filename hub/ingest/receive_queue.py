"""The ingest's receive queue: what the hub has read from its broker and not handled yet
(``UplinkQueue``, over the pure ``hub.ingest.backlog.UplinkBacklog``), handed out a take at a
time, fair between edges.

How much is held here is not this module's choice, and could not be made smaller without
losing the fairness. The hub's session does not acknowledge by hand: paho sends the PUBACK of
a QoS 1 message as soon as it has read it (after handing it to aiomqtt, which puts it in this
queue). So Mosquitto's in-flight window (``max_inflight_messages``: 100 in
deploy/mosquitto.conf, 20 by default) hardly fills, and the broker writes every edge's
messages to a connected hub as they come: they wait here. Its queue for the hub
(``max_queued_messages``) fills only while the hub is away or does not read its socket.
What bounds the read-ahead is how fast paho reads (a packet per turn of the event loop:
quickly, since the ingest waits on its database thread most of the time) against how fast
the edges publish: a well-behaved edge keeps at most ``max_in_flight`` (1,000) alerts
unacknowledged, so only a compromised edge (or very many at once) can fill it.

Holding back to bound it would not help: acknowledging each message only once it is taken
(paho's manual ack) would make the broker's in-flight window the read-ahead, and the rest
would wait in the broker's queue for the hub, one queue in arrival order across every edge,
the SOS behind the flood again. aiomqtt's own bound (``max_queued_incoming_messages``) drops
whatever arrives once full, whoever sent it: another edge's SOS with it. So everything read
is kept here, up to the broker's own per-client limits (100,000 messages, 64 MiB of
payload); past them the edge with the most waiting loses its newest messages, counted as
``uplink_dropped`` and named in a warning (at once, then once a minute). Its alerts were not
acknowledged, so the edge sends them again; what was held here when a connection ends is
gone the same way (the edges send again what no ``AlertAck`` named).

The queue is the client's own (aiomqtt builds it with each client, ``queue_type``), so each
message goes into its edge's queue as paho reads it, at no cost of a task each; the ingest
awaits the first message of a take through the session's iterator and takes the rest at once
(``UplinkQueues.take``).
"""

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import aiomqtt

from devices.log_throttle import Throttle
from devices.mqtt_link import SessionMessages
from devices.owntracks import OWNTRACKS_ROOT
from hub.ingest.backlog import Dropped, UplinkBacklog
from hub.ingest.lanes import take_weight

logger = logging.getLogger(__name__)

LOG_EVERY_S = 60.0
"""How often an edge whose messages are dropped is named again in the log."""


class UplinkQueue(asyncio.Queue[aiomqtt.Message]):
    """One connection's messages read and not yet handled: an ``UplinkBacklog`` handed out a
    take at a time (up to ``budget`` alerts' weight)."""

    def __init__(
        self,
        backlog: UplinkBacklog[aiomqtt.Message],
        budget: int,
        on_dropped: Callable[[Dropped], None],
        maxsize: int = 0,
    ) -> None:
        self._backlog = backlog
        self._budget = budget
        self._on_dropped = on_dropped
        self._take: deque[aiomqtt.Message] = deque()
        super().__init__(maxsize)

    def _init(self, maxsize: int) -> None:
        self._queue = _Waiting(self._backlog, self._take)

    def _put(self, item: aiomqtt.Message) -> None:
        for dropped in self._backlog.add(item):
            self._on_dropped(dropped)

    def _get(self) -> aiomqtt.Message:
        if not self._take:
            self._take.extend(self._backlog.take(self._budget))
        return self._take.popleft()

    def rest_of_take(self) -> list[aiomqtt.Message]:
        """Remove and return what is left of the take whose first message was just read."""
        rest = list(self._take)
        self._take.clear()
        return rest

    def take_more(self, budget: int) -> list[aiomqtt.Message]:
        """Remove and return more of what waits, up to ``budget`` weight (none if nothing)."""
        more = [*self._take, *(self._backlog.take(budget) if len(self._backlog) else ())]
        self._take.clear()
        return more


@dataclass(frozen=True, slots=True)
class _Waiting:
    """What ``asyncio.Queue`` counts as its queue: the take being handed out and the rest."""

    backlog: UplinkBacklog[aiomqtt.Message]
    take: deque[aiomqtt.Message]

    def __len__(self) -> int:
        return len(self.take) + len(self.backlog)

    def __iter__(self) -> Iterator[aiomqtt.Message]:
        """The take being handed out (``asyncio.Queue``'s repr lists its queue)."""
        return iter(self.take)


class UplinkQueues:
    """Builds the receive queue of each connection of the ingest and keeps the current one."""

    def __init__(
        self,
        *,
        budget: int,
        alert_batch_max: int,
        counters: Counter[str],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._budget = budget
        self._alert_batch_max = alert_batch_max
        self._counters = counters
        self._monotonic = monotonic
        self._logged = Throttle(LOG_EVERY_S)
        """Per edge whose messages were dropped: when it was last logged, and drops since."""
        self.current: UplinkQueue | None = None
        """The queue of the connection being served (aiomqtt builds one with each client)."""

    def queue_type(self) -> type[asyncio.Queue[aiomqtt.Message]]:
        """Return the queue class to give aiomqtt (it builds its queue with no arguments)."""
        queues = self

        class IngestQueue(UplinkQueue):
            def __init__(self, maxsize: int = 0) -> None:
                super().__init__(queues.backlog(), queues._budget, queues.dropped, maxsize)
                queues.current = self

        return IngestQueue

    def backlog(self) -> UplinkBacklog[aiomqtt.Message]:
        """Return an empty backlog, weighing messages as a take counts them."""
        batch_max = self._alert_batch_max

        def weight(message: aiomqtt.Message) -> int:
            return take_weight(message.topic.value, batch_max)

        # The quantum is the heaviest message (a full ``AlertBatch``): a turn takes one at least.
        return UplinkBacklog(_edge_of, weight, _size_of, quantum=max(1, batch_max))

    def rest_of_take(self) -> list[aiomqtt.Message]:
        """Return the rest of the take whose first message the ingest just read."""
        return [] if self.current is None else self.current.rest_of_take()

    async def take(self, messages: SessionMessages) -> list[aiomqtt.Message]:
        """Await the next take: its first message from ``messages``, the rest at once, and
        what arrives while it grows, up to the budget.

        paho reads a packet per turn of the event loop, so the take lets the loop turn and
        takes what came meanwhile until a turn brings nothing: a burst is stored in takes as
        large as when they were read a message (and a turn) at a time, not in many small
        ones (each a transaction).
        """
        take = [await anext(messages), *self.rest_of_take()]
        weight = sum(map(self._weight, take))
        while weight < self._budget and self.current is not None:
            await asyncio.sleep(0)
            more = self.current.take_more(self._budget - weight)
            if not more:
                break
            take += more
            weight += sum(map(self._weight, more))
        return take

    def _weight(self, message: aiomqtt.Message) -> int:
        return take_weight(message.topic.value, self._alert_batch_max)

    def dropped(self, dropped: Dropped) -> None:
        """Count an edge's dropped messages; name the edge at once, then once a minute."""
        self._counters["uplink_dropped"] += dropped.count
        before = self._logged.due(dropped.edge, self._monotonic(), dropped.count)
        if before is None:
            return
        logger.warning(
            "edge %s floods the hub: %d of its messages dropped so that other edges' messages"
            " are not held up behind them (its alerts come again: none was acknowledged)",
            dropped.edge,
            before + dropped.count,
        )


def _edge_of(message: aiomqtt.Message) -> str:
    # linli/edge/<edge_id>/<channel>: what the hub subscribes to (``hub_subscriptions``); a
    # phone's owntracks/phone-<responder_id>/<device> is a sender of its own, apart from any edge.
    levels = message.topic.value.split("/", 3)
    if levels[0] == OWNTRACKS_ROOT and len(levels) > 1:
        return f"{OWNTRACKS_ROOT}/{levels[1]}"
    return levels[2] if len(levels) > 2 else message.topic.value


def _size_of(message: aiomqtt.Message) -> int:
    payload = message.payload
    return len(payload) if isinstance(payload, bytes | bytearray | str) else 8
