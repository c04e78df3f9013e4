"""When a recurring log line is written: at once, then at most once a period per key.

A device nobody registered that reports every few seconds (a smart plug paired with the site's
Zigbee network) is refused at every message; a warning for each would fill a Raspberry Pi's SD
card with one line. Its counter still counts every message; the log names it at once, then once
a minute with how many were left out meanwhile.
"""

from collections.abc import Hashable
from datetime import datetime, timedelta


class Throttle:
    """Decide, per key, whether a log line is due now (pure: the caller passes the time)."""

    def __init__(self, every: timedelta = timedelta(minutes=1), max_keys: int = 1000) -> None:
        self._every = every
        self._max_keys = max_keys
        self._last: dict[Hashable, tuple[datetime, int]] = {}
        """Per key: when it was last logged, and how many lines were left out since."""

    def due(self, key: Hashable, now: datetime) -> int | None:
        """Return how many lines of ``key`` were left out since it was last logged (0 the first
        time) if one is due at ``now``; None to leave this one out."""
        logged, left_out = self._last.get(key, (None, 0))
        if logged is not None and now - logged < self._every:
            self._last[key] = (logged, left_out + 1)
            return None
        if logged is None and len(self._last) >= self._max_keys:
            # Forget the keys whose period is over (logged at once again when they recur).
            self._last = {k: v for k, v in self._last.items() if now - v[0] < self._every}
            if len(self._last) >= self._max_keys:
                return 0  # this many different lines a minute: each is logged, none kept
        self._last[key] = (now, 0)
        return left_out
