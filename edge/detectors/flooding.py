"""A device that sends far more messages than any device does: broken, stuck in a loop, or
taken over and used to drown the site's alarms.

The edge already keeps such a device from holding up the others (``edge.backlog``: fair
groups per topic, its oldest QoS 0 messages dropped past the bounds). What this adds is that
someone hears of it: a topic whose messages arrive at more than ``messages`` in each
``window_s`` window, ``windows`` windows in a row, is a flood; its registered device gets a
``device_flooding`` fault alert (``edge.detection.flooded``), which clears once no flood has
been seen for ``clear_after_s``.

Counted as messages *arrive* (as the edge's receive queue takes them in), per topic, in fixed
windows of a monotonic clock: the handling may lag behind under a flood, the arrival does not.
The defaults, 300 messages in each 10 s for two minutes, are ten times what the chattiest
real devices send (a mmWave presence radar, a power plug reporting every second: a few a
second), and the two sustained minutes tell a flood from a backlog: after an outage the
broker delivers at once everything it queued for the edge (at most its 100,000 messages,
read here in 10 to 20 s, and a Raspberry Pi reads that in well under two minutes), a chatty
device's hour of readings among them.

Pure: no I/O, no clock of its own; ``FloodWatch`` is given each message's arrival time.
Its counts live in memory only: an edge restarted in a flood sees it again two minutes on.
"""

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class FloodSettings:
    """When a topic's messages are a flood (defaults: 300 in each 10 s for two minutes,
    cleared after 5 minutes without a flood)."""

    messages: int = 300
    window_s: float = 10.0
    windows: int = 12
    """Windows in a row, the current one included, that must each reach ``messages``."""
    clear_after_s: float = 300.0

    def __post_init__(self) -> None:
        if (
            self.messages < 10
            or self.window_s <= 0
            or self.windows < 1
            or self.clear_after_s < self.window_s
        ):
            raise ValueError(
                "need messages >= 10, window_s > 0, windows >= 1 and clear_after_s >= window_s"
            )


MAX_TOPICS = 10_000
"""Topics counted at once; past that the one counted longest ago is forgotten (a flood over
many made-up topics, one message each, cannot exhaust memory, and is no topic's flood)."""


class _Count:
    __slots__ = ("count", "full", "since")

    def __init__(self, since: float) -> None:
        self.since = since
        self.count = 0
        self.full = 0
        """Windows in a row just before the current one that reached the bound."""


class FloodWatch:
    """Counts each topic's messages as they arrive and says when a topic is a flood.

    Times are seconds of a monotonic clock (``time.monotonic`` at the edge): one call per
    message arriving, so it stays cheap.
    """

    def __init__(self, settings: FloodSettings, max_topics: int = MAX_TOPICS) -> None:
        self._settings = settings
        self._max_topics = max_topics
        self._counts: dict[str, _Count] = {}

    @property
    def settings(self) -> FloodSettings:
        """What a flood is."""
        return self._settings

    def seen(self, topic: str, at: float) -> bool:
        """Count one message of ``topic`` arriving at ``at``; return True when it makes the
        topic a flood in this window: once per window while the flood lasts, so that the
        caller reports it again (and keeps the alert from clearing) no more than that."""
        settings = self._settings
        count = self._counts.get(topic)
        if count is None:
            count = self._counts[topic] = _Count(at)
            if len(self._counts) > self._max_topics:
                del self._counts[next(iter(self._counts))]
        elif at - count.since >= settings.window_s:
            windows = int((at - count.since) // settings.window_s)
            # The window that ended extends the streak only if it was full and the next one
            # follows it (a window without a message is one under the bound).
            full = windows == 1 and count.count >= settings.messages
            count.full = count.full + 1 if full else 0
            count.since += settings.window_s * windows
            count.count = 0
        count.count += 1
        return count.count == settings.messages and count.full + 1 >= settings.windows


def calmed(flooded_at: datetime | None, now: datetime, settings: FloodSettings) -> bool:
    """Return whether a device last seen flooding at ``flooded_at`` may be cleared at ``now``."""
    return flooded_at is not None and (now - flooded_at).total_seconds() >= settings.clear_after_s
