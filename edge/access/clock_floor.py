"""The time floor: the latest time this edge has known to be true. Pure.

The edge decides validity windows and schedules against its own clock, and a Raspberry Pi has
no real-time clock: after a power cut it boots at its last saved time (fake-hwclock) or 1970
and runs there until NTP answers, which an edge without network access may not for hours. A
clock behind would let an expired card open again. So decisions use ``max(clock, floor)``:
"now" never goes back below a time the edge already knew.

What the floor takes, and why:

- a trusted time (``trust``: a time the hub stamped) in full;
- a clock reading ahead of the floor, but at most ``CATCH_UP_RATE`` seconds beyond real time
  per second of the monotonic clock since the floor last moved. A correct clock moves with the
  monotonic clock and is taken whole; a clock that jumped ahead (a wrong NTP answer, 2030) is
  not believed at once: the floor gains on real time at most ``CATCH_UP_RATE`` times as long
  as the wrong clock lasted, and once the clock is corrected the floor's lead runs out within
  that time (it is not poisoned for ever). After a long power cut the floor catches the true
  time up at the same rate; until it has, it protects less, never wrongly;
- nothing from a clock before ``SANE_AFTER`` (a clock never set: 1970 plus the uptime).

The floor never advances on its own: were it to follow the monotonic clock while the wall
clock is behind it, a lead it once took from a wrong clock would never run out.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

CATCH_UP_RATE = 1.0
"""How fast the floor may gain on real time towards a clock ahead of it (seconds per second).
1: a floor that lags after a cut of three hours has caught up three hours later; a clock
wrongly ahead for ten minutes leaves the floor at most ten minutes ahead of the truth, for at
most ten minutes after the clock is corrected (expiries and schedules that much early)."""

BEHIND_WARN_S = 60.0
"""A clock further than this behind the floor is reported (warning, ``access.clock_behind``)."""

SAVE_STEP_S = 300.0
"""The floor is written to disk when it has moved this far since it was last written: a
restart loses at most this much of it, and a correct clock costs one write per five minutes."""

SANE_AFTER = datetime(2025, 1, 1, tzinfo=UTC)
"""A clock reading before this is a clock never set; the floor ignores it."""


@dataclass(frozen=True, slots=True)
class TimeFloor:
    """The latest time known true (``at``, None: none yet), and the monotonic time it moved."""

    at: datetime | None
    moved: float

    def now(self, clock: datetime) -> datetime:
        """Return the time decisions use: the clock, or the floor when the clock is behind it."""
        return clock if self.at is None or clock >= self.at else self.at

    def behind_s(self, clock: datetime) -> float:
        """Return how many seconds the clock is behind the floor (0 when it is not)."""
        return 0.0 if self.at is None else max(0.0, (self.at - clock).total_seconds())


def observe(floor: TimeFloor, clock: datetime, monotonic: float) -> TimeFloor:
    """Return the floor after reading the edge's ``clock`` at ``monotonic``."""
    if clock < SANE_AFTER or (floor.at is not None and clock <= floor.at):
        return floor
    if floor.at is None:
        return TimeFloor(clock, monotonic)
    elapsed = max(0.0, monotonic - floor.moved)
    ceiling = floor.at + timedelta(seconds=elapsed * (1.0 + CATCH_UP_RATE))
    return TimeFloor(min(clock, ceiling), monotonic)


def trust(floor: TimeFloor, at: datetime, monotonic: float) -> TimeFloor:
    """Return the floor after learning a time known true (one the hub stamped)."""
    if floor.at is not None and at <= floor.at:
        return floor
    return TimeFloor(at, monotonic)


def due_for_saving(floor: TimeFloor, saved: datetime | None) -> bool:
    """Return whether the floor has moved far enough since ``saved`` to be written again."""
    if floor.at is None:
        return False
    return saved is None or (floor.at - saved).total_seconds() >= SAVE_STEP_S
