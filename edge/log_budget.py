"""How many log lines one kind of rejection may write a minute (pure: the caller passes the time).

``devices.log_throttle.Throttle`` writes a recurring line once a period per key (a reason and a
topic), so a device that keeps failing the same way costs one line a minute. Keyed by topic,
it does not bound a sender on a new topic each time: anyone on the courtyard's network can
publish to the site broker under thousands of made-up device or reader ids, and each would be
a line at once, on a Raspberry Pi's SD card. ``LogBudget`` bounds the lines of each kind (a
rejection reason: a bounded set) in a period; the next line of the kind after the period says
how many were left out. The counters still count every message.
"""

from collections.abc import Hashable
from dataclasses import dataclass

LINES = 10
"""Lines a kind may write in a period: the first few senders are still named at once."""


@dataclass(slots=True)
class _Spent:
    since: float
    lines: int = 0
    left_out: int = 0


class LogBudget:
    """Per kind, at most ``lines`` log lines in each ``every_s`` (seconds on a clock that does
    not go back)."""

    def __init__(self, lines: int = LINES, every_s: float = 60.0) -> None:
        self._lines = lines
        self._every_s = every_s
        self._spent: dict[Hashable, _Spent] = {}

    def spend(self, kind: Hashable, now: float) -> int | None:
        """Return how many lines of ``kind`` were left out since its last one if a line may be
        written at ``now``; None to leave this one out (and count it)."""
        spent = self._spent.get(kind)
        if spent is None or now - spent.since >= self._every_s:
            left_out = 0 if spent is None else spent.left_out
            self._spent[kind] = _Spent(now, 1)
            return left_out
        if spent.lines >= self._lines:
            spent.left_out += 1
            return None
        spent.lines += 1
        left_out, spent.left_out = spent.left_out, 0
        return left_out
