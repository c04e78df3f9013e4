"""Telling a step of the wall clock from the passing of time (pure: the caller reads the clocks).

A Raspberry Pi has no real-time clock: it boots at the time it shut down (fake-hwclock), hours
or days behind, and NTP later steps the wall clock forward (or back, when a wrong time was
saved). Check-in deadlines are judged on the wall clock (``edge.detection.tick``), so a step
forward of three days would make every device look silent for three days at once, and a step
back would hold every deadline back by as much. Between two readings, the wall clock should
move as the monotonic clock does; when it moved by more than ``STEP_S`` more or less, the wall
clock was stepped, and detection starts watching again from the new time
(``DeviceDetection.tick``).
"""

from dataclasses import dataclass

STEP_S = 60.0
"""A difference between the two clocks' progress above this is a step, not drift (NTP slews
drift at most 0.5 ms per second; it steps the clock only when it is far off)."""


@dataclass(slots=True)
class ClockStepWatch:
    """The wall and monotonic readings of the last look (None: no look yet)."""

    wall: float | None = None
    monotonic: float | None = None

    def look(self, wall: float, monotonic: float) -> float | None:
        """Record a reading of both clocks; return the wall clock's step since the last look
        in seconds (positive: forward), or None when it moved with the monotonic clock."""
        last_wall, last_monotonic = self.wall, self.monotonic
        self.wall, self.monotonic = wall, monotonic
        if last_wall is None or last_monotonic is None:
            return None
        step = (wall - last_wall) - (monotonic - last_monotonic)
        return step if abs(step) > STEP_S else None
