"""When a recurring log line is written: at once, then at most once a period per key.

A sender that keeps failing the same way would otherwise fill the log with one line per
message: a device nobody registered that reports every few seconds (a smart plug paired with
the site's Zigbee network) on a Raspberry Pi's SD card, a topic or an edge that floods its
broker. Their counters still count everything; the log names each at once, then once a
period with what was left out meanwhile. Shared by the edge and the hub.
"""

from collections.abc import Hashable


class Throttle:
    """Decide, per key, whether a log line is due now (pure: the caller passes the time, in
    seconds on any clock that does not go back)."""

    def __init__(self, every_s: float = 60.0, max_keys: int = 1000) -> None:
        self._every_s = every_s
        self._max_keys = max_keys
        self._last: dict[Hashable, tuple[float, int]] = {}
        """Per key: when it was last logged, and how much was left out since."""

    def due(self, key: Hashable, now: float, weight: int = 1, *, keep: bool = False) -> int | None:
        """Return how much of ``key`` was left out since it was last logged (0 the first time)
        if a line is due at ``now``; None to leave this one out, adding ``weight`` (a line, or
        the messages it is about) to what is left out. ``keep``: what was left out stays
        counted for the key's next line (a line about something else, due in the same rhythm)."""
        logged, left_out = self._last.get(key, (None, 0))
        if logged is not None and now - logged < self._every_s:
            self._last[key] = (logged, left_out + weight)
            return None
        if logged is None and len(self._last) >= self._max_keys:
            # Forget the keys whose period is over (logged at once again when they recur).
            self._last = {k: v for k, v in self._last.items() if now - v[0] < self._every_s}
            if len(self._last) >= self._max_keys:
                return 0  # this many different lines a period: each is logged, none kept
        self._last[key] = (now, left_out if keep else 0)
        return left_out
