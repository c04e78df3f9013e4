"""The device link's receive queue: what has arrived from the site broker and is not handled
yet (``FairQueue``, over the pure ``edge.backlog.Backlog``), and what the arrivals say of
floods (``edge.detectors.flooding.FloodWatch``, ``FloodLog``).
"""

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import aiomqtt

from devices.log_throttle import Throttle
from devices.topics import DEVICE_ROOT, SHELLY_GEN1_ROOT, TASMOTA_PREFIXES, Z2M_DEFAULT_BASE
from edge.backlog import Backlog, Dropped
from edge.detectors.flooding import FloodSettings, FloodWatch

logger = logging.getLogger(__name__)

MAX_GROUP = 500
"""Most device messages committed in one outbox transaction. In practice the site broker's
``max_inflight_messages`` (100 in deploy/mosquitto.conf) bounds a group first: it sends no
more QoS 1 messages until the edge acknowledges some."""


class FloodLog:
    """Say which topic floods and what was dropped of it: at once, then once a minute
    (``devices.log_throttle``)."""

    def __init__(self) -> None:
        self._throttle = Throttle()
        """Per flooding topic: when it was last logged, and what was dropped since."""

    def dropped(self, dropped: Dropped, now: float) -> None:
        """Note messages of a topic dropped at ``now`` (monotonic seconds); log them if a
        minute has passed."""
        before = self._throttle.due(dropped.topic, now, dropped.count)
        if before is None:
            return
        logger.warning(
            "%s floods the site broker: %d of its QoS 0 messages dropped so that other"
            " devices' messages are not held up behind it",
            dropped.topic,
            before + dropped.count,
        )

    def unregistered(self, topic: str, settings: FloodSettings, now: float) -> None:
        """Note a flooding topic of no registered device (no alert: no one to raise it for),
        at ``now`` (monotonic seconds)."""
        # In the topic's rhythm; what was dropped of it stays counted for its next drop line.
        if self._throttle.due(topic, now, 0, keep=True) is None:
            return
        logger.warning(
            "%s floods the site broker (>= %d messages in each %gs for %gs) and is no"
            " registered device's topic",
            topic,
            settings.messages,
            settings.window_s,
            settings.windows * settings.window_s,
        )


class FairQueue(asyncio.Queue[aiomqtt.Message]):
    """The device link's messages received and not yet read: a ``Backlog`` (fair between
    topics, bounded), handed out a group at a time.

    It is the client's own queue, so paho's reader adds to it as each message arrives, and a
    message dropped for a flood costs nothing more: reading one message at a time out of a
    plain queue to sort it costs the event loop a task each, and under a flood that reading
    alone left no time to handle anything.
    """

    def __init__(self, arrivals: "Arrivals", maxsize: int = 0) -> None:
        self._arrivals = arrivals
        self._backlog: Backlog[aiomqtt.Message] = Backlog(_lane_of, _qos_of, _size_of)
        self._group: deque[aiomqtt.Message] = deque()
        super().__init__(maxsize)

    def _init(self, maxsize: int) -> None:
        self._queue = _Waiting(self._backlog, self._group)

    def _put(self, item: aiomqtt.Message) -> None:
        arrivals = self._arrivals
        topic = item.topic.value
        if arrivals.watch.seen(topic, arrivals.monotonic()):
            arrivals.on_flooding(topic)
        for dropped in self._backlog.add(item):
            arrivals.on_dropped(dropped)

    def _get(self) -> aiomqtt.Message:
        if not self._group:
            self._group.extend(self._backlog.take(MAX_GROUP))
        return self._group.popleft()


@dataclass(frozen=True, slots=True)
class _Waiting:
    """What ``asyncio.Queue`` counts as its queue: the group being handed out and the rest."""

    backlog: Backlog[aiomqtt.Message]
    group: deque[aiomqtt.Message]

    def __len__(self) -> int:
        return len(self.group) + len(self.backlog)

    def __iter__(self) -> Iterator[aiomqtt.Message]:
        """The group being handed out (``asyncio.Queue``'s repr lists its queue)."""
        return iter(self.group)


@dataclass(frozen=True, slots=True)
class Arrivals:
    """What the receive queue tells of the messages arriving: floods and drops."""

    watch: FloodWatch
    on_flooding: Callable[[str], None]
    """Called with a topic the watch finds flooding (once per window while it lasts)."""
    on_dropped: Callable[[Dropped], None]
    monotonic: Callable[[], float] = time.monotonic


def fair_queue(arrivals: Arrivals) -> type[asyncio.Queue[aiomqtt.Message]]:
    """Return the queue class for a device link (aiomqtt builds its queue with no handler)."""

    class DeviceQueue(FairQueue):
        def __init__(self, maxsize: int = 0) -> None:
            super().__init__(arrivals, maxsize)

    return DeviceQueue


def _lane_of(message: aiomqtt.Message) -> str:
    return lane(message.topic.value)


def lane(topic: str) -> str:
    """Return the queue of the ``Backlog`` a message of ``topic`` waits in: what the backlog is
    fair between, and what it drops from first when over its bounds (the longest queue).

    The topic, where the broker holds the sender to a few topics: a native device (four
    topics, ``linli/dev/<id>/...``) and each Zigbee2MQTT device (the bridge speaks for every
    Zigbee device, one topic each). Where it lets one identity write any number of topics, the
    identity's whole subtree, one queue: a Shelly Gen1 (``shellies/<id>/#``), a Tasmota
    (``tele/<topic>/#`` and ``stat/<topic>/#``: with a Zigbee bridge behind it, its devices
    share it) and a Shelly Gen2+'s statuses (``<prefix>/status/+``). Before, a plug publishing
    one message on each of many topics of its own was that many queues of one message: it
    took as many turns as it had topics, and past the bounds the longest queue (the first of
    those of one message) was the oldest one waiting, another device's fire alarm, dropped
    (``tests/security/test_redteam_topic_flood.py``).
    """
    levels = topic.split("/")
    if len(levels) >= 3:
        root = levels[0]
        if root == SHELLY_GEN1_ROOT:
            return f"{root}/{levels[1]}/#"
        if root in TASMOTA_PREFIXES:
            # One identity writes both: one queue.
            return f"{'|'.join(TASMOTA_PREFIXES)}/{levels[1]}/#"
        if len(levels) == 3 and levels[1] == "status" and root not in _NOT_SHELLY_ROOTS:
            return f"{root}/status/+"
    return topic


_NOT_SHELLY_ROOTS = frozenset({DEVICE_ROOT.split("/")[0], Z2M_DEFAULT_BASE})
"""Roots of topics a ``<prefix>/status/<component>`` never is (``devices.topics``)."""


def _qos_of(message: aiomqtt.Message) -> int:
    return message.qos


def _size_of(message: aiomqtt.Message) -> int:
    payload = message.payload
    return len(payload) if isinstance(payload, bytes | bytearray | str) else 8
