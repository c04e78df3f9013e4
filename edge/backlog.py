"""What the site broker has delivered and the edge has not handled yet, fair between topics.

Every device's messages reach the edge through one session, in the order the broker took
them in. One device publishing as fast as it can (a compromised one, a broken one, a bridge
stuck in a loop) would put every other device's messages behind its flood: measured, a gas
alarm sent 6 s into a 300,000-message QoS 0 flood from another device reached the hub 25 s
after it was sent, behind 130,000 flood messages already read (docs/security.md).

So the edge takes what has been delivered into a ``Backlog``, a queue per topic, and hands
out groups (``take``):

- while everything waiting fits in one group, all of it, in arrival order: the usual case,
  in which no message is ever reordered;
- otherwise round by round, one message of each waiting topic a round, oldest first, and the
  group in arrival order: a topic with a thousand messages waiting gets no bigger share of a
  group than one with a single message. A topic's own messages stay in order; messages of
  different topics are reordered only while the edge is behind.

QoS 1 and 2 messages are one queue of their own, in arrival order, whatever their topics: the
broker sends its unacknowledged messages again in the order it first sent them, and the
ingest knows a redelivery of a committed group only if the committed ones come first
(``edge.redelivery``). A QoS 1 flood cannot be outrun here anyway: the broker sends no more
than its in-flight window (``max_inflight_messages``) until the edge acknowledges, and keeps the
rest queued, in order. A device that mixes QoS levels on one topic may see those reordered.

The topic is the unit, not the MQTT client: Zigbee2MQTT speaks for every device through one
client (a topic each), and the broker's ACL keeps a device to its own topics. It costs no
parsing, which matters when a hundred thousand messages are waiting.

Bounded, so that a sustained flood cannot exhaust the box's memory, and no tighter than the
site broker itself queues for an absent edge (``max_queued_messages`` 100,000 and
``max_queued_bytes`` 64 MiB in deploy/mosquitto.conf): the backlog of an edge coming back
after an outage, read far faster than it is handled, must all be handled.

- a topic keeps at most ``per_topic`` messages waiting; past that its oldest QoS 0 message
  goes (a device's newest state is worth more than an old one);
- all topics together keep at most ``total`` QoS 0 messages and ``total_bytes`` of their
  payload; past that the longest topic loses its oldest QoS 0 messages (a tenth of them at a
  time, so many flooding topics cost no scan each).

Only QoS 0 messages are dropped: the device's own "at most once". A QoS 1 message is never
dropped here, and does not count toward the bounds either: the broker's in-flight window
bounds how many of those can be waiting, and QoS 1 messages waiting must never cost another
device's QoS 0 alarm its place. A topic loses its newest message only when every topic
waiting has just one (more topics than ``total``).
"""

import heapq
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

PER_TOPIC = 100_000
"""Messages one topic may have waiting before its oldest QoS 0 ones are dropped: as many as the
site broker queues for the edge in all."""
TOTAL = 150_000
"""Messages all topics together may have waiting (about 60 MB of small payloads, measured)."""
TOTAL_BYTES = 64 * 1024 * 1024
"""Payload bytes all topics together may have waiting."""
AT_LEAST_ONCE = "\0qos>0"
"""The queue of every QoS 1 and 2 message (no MQTT topic holds a NUL character)."""


@dataclass(frozen=True, slots=True)
class _Waiting(Generic[T]):
    seq: int
    size: int
    item: T


@dataclass(frozen=True, slots=True)
class Dropped:
    """Messages of one topic dropped to keep the backlog bounded."""

    topic: str
    count: int


class Backlog(Generic[T]):
    """Delivered messages not handled yet: a queue per topic, groups fair between topics."""

    def __init__(
        self,
        topic_of: Callable[[T], str],
        qos_of: Callable[[T], int],
        size_of: Callable[[T], int],
        *,
        per_topic: int = PER_TOPIC,
        total: int = TOTAL,
        total_bytes: int = TOTAL_BYTES,
    ) -> None:
        if per_topic < 1 or total < per_topic or total_bytes < 1:
            raise ValueError("need 1 <= per_topic <= total and total_bytes >= 1")
        self._topic_of = topic_of
        self._qos_of = qos_of
        self._size_of = size_of
        self._per_topic = per_topic
        self._total = total
        self._total_bytes = total_bytes
        self._queues: dict[str, deque[_Waiting[T]]] = {}
        self._seq = 0
        self._size = 0
        self._lossy = 0
        """QoS 0 messages waiting: what the bounds count."""
        self._bytes = 0
        """Payload bytes of the QoS 0 messages waiting."""

    def __len__(self) -> int:
        return self._size

    def add(self, item: T) -> list[Dropped]:
        """Keep ``item`` for a later group; return what had to go to stay within bounds."""
        qos = self._qos_of(item)
        topic = self._topic_of(item) if qos == 0 else AT_LEAST_ONCE
        queue = self._queues.get(topic)
        if queue is None:
            queue = self._queues[topic] = deque()
        self._seq += 1
        # A QoS 1 message's size is not counted (0): only QoS 0 payloads are bounded.
        waiting = _Waiting(self._seq, self._size_of(item) if qos == 0 else 0, item)
        queue.append(waiting)
        self._size += 1
        if qos > 0:
            return []
        self._lossy += 1
        self._bytes += waiting.size
        dropped: list[Dropped] = []
        if len(queue) > self._per_topic:
            dropped.append(self._drop_oldest(topic, 1))
        while self._lossy > self._total or self._bytes > self._total_bytes:
            longest = max(
                (name for name in self._queues if name != AT_LEAST_ONCE),
                key=lambda name: len(self._queues[name]),
                default=None,
            )
            if longest is None:
                break
            dropped.append(self._drop_oldest(longest, max(1, len(self._queues[longest]) // 10)))
        return dropped

    @property
    def payload_bytes(self) -> int:
        """Payload bytes of the QoS 0 messages waiting (what the byte bound counts)."""
        return self._bytes

    def take(self, most: int) -> list[T]:
        """Return up to ``most`` waiting messages, fairly between topics, in arrival order."""
        if self._size <= most:
            every = [w for queue in self._queues.values() for w in queue]
            self._queues.clear()
            self._size = self._lossy = self._bytes = 0
            return [w.item for w in sorted(every, key=lambda w: w.seq)]
        # Round by round: (round, arrival of the topic's oldest waiting message, topic).
        rounds = [(0, queue[0].seq, topic) for topic, queue in self._queues.items()]
        heapq.heapify(rounds)
        chosen: list[_Waiting[T]] = []
        from_lane = 0
        while len(chosen) < most:
            done, _, topic = heapq.heappop(rounds)
            queue = self._queues[topic]
            chosen.append(queue.popleft())
            from_lane += topic == AT_LEAST_ONCE
            if queue:
                heapq.heappush(rounds, (done + 1, queue[0].seq, topic))
            else:
                del self._queues[topic]
        self._size -= len(chosen)
        self._lossy -= len(chosen) - from_lane
        self._bytes -= sum(w.size for w in chosen)
        chosen.sort(key=lambda w: w.seq)
        return [w.item for w in chosen]

    def _drop_oldest(self, topic: str, count: int) -> Dropped:
        """Drop ``count`` of a QoS 0 topic's oldest messages."""
        queue = self._queues[topic]
        for _ in range(count):
            self._bytes -= queue.popleft().size
        self._size -= count
        self._lossy -= count
        if not queue:
            del self._queues[topic]
        return Dropped(topic, count)
