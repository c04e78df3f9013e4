"""What the hub has read from its broker and not handled yet, a queue per edge: pure.

Every edge's uplink reaches the hub through one session, in the order the broker took it in.
Taken in that order, one edge's flood of alerts (a compromised edge, or one draining a long
outbox after an outage) held up another edge's SOS behind all of its own: an SOS sent behind
5,000 alerts of another edge was stored after all 5,000 (``tests/hub/test_ingest_fairness.py``;
now after 150).

So the ingest keeps what it has read in an ``UplinkBacklog`` and takes from it (``take``, up to
``ingest_batch_max`` alerts' weight, as ``hub.ingest.lanes.take_weight`` counts it):

- while everything waiting fits in one take, all of it, in arrival order: the usual case, in
  which nothing is ever reordered;
- otherwise fair between edges, by weight (deficit round robin, as RFC 8290's FQ-CoDel
  schedules flows): each edge's turn takes up to a ``quantum`` of weight (the heaviest
  message, a full ``AlertBatch``) plus what its last turn left over, and the take is then
  put back in arrival order. An edge that had nothing waiting (a *new* edge: one SOS) is
  served before the edges already behind (FQ-CoDel's new-flows list): its first quantum goes
  into the very next take however many alerts other edges have queued, as long as fewer than
  ``budget / quantum`` edges start waiting at once; then it queues behind them like any other.
  (FQ-CoDel also keeps an emptied new flow on the old list for a round, so that a flow cannot
  be new over and over; here that would win an edge one quantum per take at most, and the
  simpler rule is kept.)

An edge's own messages always stay in order (the edge sends them in its own order: most urgent
device first, a device's alerts in order); messages of different edges are reordered only
while the hub is behind. The statuses and telemetry of an edge are in its queue too, weighing
one each, and handled as ``hub.ingest.lanes`` plans a take.

The edge solved the same problem between its devices (``edge.backlog.Backlog``), but its
rules do not fit here: it keeps every QoS 1 message in one queue in arrival order (its
redelivery check needs that; every uplink message is QoS 1), it counts messages where a take
counts weight, and its rounds start over with each group, so with more edges waiting than a
take holds turns, those whose oldest message is oldest would win every take. (And the hub
does not import the edge.) The shell around it is the same: the session's receive queue.

Bounded, so that a flood cannot exhaust the hub's memory, and no tighter than the broker
itself queues for one client (``max_queued_messages`` 100,000 and ``max_queued_bytes`` 64 MiB
in deploy/mosquitto.conf): past either bound the edge with the most messages waiting loses its
newest tenth, as the broker drops what comes past its own limit. Nothing is lost for good: the
dropped alerts were never acknowledged, so their edge sends them again (``resend_after_s``), a
status comes again with the next heartbeat (and is retained); only telemetry is gone.
"""

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

TOTAL = 100_000
"""Messages all edges together may have waiting: the broker's own ``max_queued_messages``."""
TOTAL_BYTES = 64 * 1024 * 1024
"""Payload bytes all edges together may have waiting: the broker's ``max_queued_bytes``."""


@dataclass(frozen=True, slots=True)
class _Waiting(Generic[T]):
    seq: int
    weight: int
    size: int
    item: T


@dataclass(frozen=True, slots=True)
class Dropped:
    """Messages of one edge dropped to keep the backlog bounded."""

    edge: str
    count: int


class UplinkBacklog(Generic[T]):
    """Messages read and not handled yet: a queue per edge, takes fair between edges."""

    def __init__(
        self,
        edge_of: Callable[[T], str],
        weight_of: Callable[[T], int],
        size_of: Callable[[T], int],
        *,
        quantum: int,
        total: int = TOTAL,
        total_bytes: int = TOTAL_BYTES,
    ) -> None:
        if quantum < 1 or total < 1 or total_bytes < 1:
            raise ValueError("need quantum, total and total_bytes >= 1")
        self._edge_of = edge_of
        self._weight_of = weight_of
        self._size_of = size_of
        self._quantum = quantum
        self._total = total
        self._total_bytes = total_bytes
        self._queues: dict[str, deque[_Waiting[T]]] = {}
        self._deficit: dict[str, int] = {}
        """What each waiting edge may still take in its turn (granted when it joins a list)."""
        self._new: deque[str] = deque()
        """Edges that had nothing waiting when their first message came: served first."""
        self._old: deque[str] = deque()
        """Edges served a turn and still waiting, round robin; the first one's turn is on."""
        self._seq = 0
        self._size = 0
        self._weight = 0
        self._bytes = 0

    def __len__(self) -> int:
        return self._size

    @property
    def weight(self) -> int:
        """The weight of every message waiting (what a take's budget counts)."""
        return self._weight

    @property
    def payload_bytes(self) -> int:
        """Payload bytes of every message waiting (what the byte bound counts)."""
        return self._bytes

    def add(self, item: T) -> list[Dropped]:
        """Keep ``item`` for a later take; return what had to go to stay within bounds."""
        edge = self._edge_of(item)
        queue = self._queues.get(edge)
        if queue is None:
            queue = self._queues[edge] = deque()
            self._deficit[edge] = self._quantum
            self._new.append(edge)
        self._seq += 1
        waiting = _Waiting(self._seq, max(1, self._weight_of(item)), self._size_of(item), item)
        queue.append(waiting)
        self._size += 1
        self._weight += waiting.weight
        self._bytes += waiting.size
        if self._size <= self._total and self._bytes <= self._total_bytes:
            return []
        dropped: list[Dropped] = []
        while self._size > self._total or self._bytes > self._total_bytes:
            longest = max(self._queues, key=lambda name: len(self._queues[name]))
            dropped.append(self._drop_newest(longest, max(1, len(self._queues[longest]) // 10)))
        return dropped

    def take(self, budget: int) -> list[T]:
        """Return waiting messages, at least one, until their weight reaches ``budget`` (at
        most one message past it): fairly between edges, in arrival order."""
        if self._weight <= budget:
            every = [w for queue in self._queues.values() for w in queue]
            if len(self._queues) > 1:
                every.sort(key=lambda w: w.seq)
            self._queues.clear()
            self._deficit.clear()
            self._new.clear()
            self._old.clear()
            self._size = self._weight = self._bytes = 0
            return [w.item for w in every]
        chosen: list[_Waiting[T]] = []
        taken = 0
        # More than the budget waits, so the lists hold an edge until the budget is reached.
        while taken < budget:
            lane = self._new if self._new else self._old
            edge = lane[0]
            queue = self._queues[edge]
            head = queue[0]
            if head.weight > self._deficit[edge]:
                # Its turn is over: to the back of the round, with the next turn's quantum.
                lane.popleft()
                self._old.append(edge)
                self._deficit[edge] += self._quantum
                continue
            queue.popleft()
            self._deficit[edge] -= head.weight
            chosen.append(head)
            taken += head.weight
            if not queue:
                lane.popleft()
                del self._queues[edge], self._deficit[edge]
        self._size -= len(chosen)
        self._weight -= taken
        self._bytes -= sum(w.size for w in chosen)
        chosen.sort(key=lambda w: w.seq)
        return [w.item for w in chosen]

    def _drop_newest(self, edge: str, count: int) -> Dropped:
        """Drop ``count`` of an edge's newest messages."""
        queue = self._queues[edge]
        for _ in range(count):
            waiting = queue.pop()
            self._weight -= waiting.weight
            self._bytes -= waiting.size
        self._size -= count
        if not queue:
            del self._queues[edge], self._deficit[edge]
            (self._new if edge in self._new else self._old).remove(edge)
        return Dropped(edge, count)
