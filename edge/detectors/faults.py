"""Device faults that take more than one reading to see: a falling battery, a stuck sensor.

Both are maintenance matters (``battery_declining``, ``sensor_stuck``), never alarms.

- **Battery trend**: the battery level sampled at most every ``window / 96`` over a sliding
  window, the slope fitted with the Theil-Sen estimator (the median of the pairwise slopes)
  rather than least squares: real Zigbee buttons sometimes report one absurd level (``battery:
  0`` beside 80 % in Koenkk/zigbee2mqtt#31821) and one such sample must not tip the
  projection. The trend is judged only once the samples span ``min_span_days``. A rise of
  ``replacement_jump_pct`` points is a new battery: the history starts again.
- **Flat line**: an analog quantity that normally wanders (temperature, humidity) reporting
  the bit-identical value ``min_readings`` times over ``after_s``. CO and gas are exempt:
  clean air legitimately reads a constant 0 ppm or 0 %LEL for months.
"""

import statistics
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import combinations

DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class BatteryTrendSettings:
    """When a battery's trend is worth a visit (defaults: empty within 30 days, 14-day fit)."""

    window_days: float = 14.0
    horizon_days: float = 30.0
    min_span_days: float = 2.0
    replacement_jump_pct: float = 20.0
    clear_factor: float = 1.5
    """Clears once the projection is this many horizons away (hysteresis)."""
    min_samples: int = 6

    def __post_init__(self) -> None:
        if self.min_span_days > self.window_days:
            raise ValueError("battery_trend min_span_days must not exceed window_days")

    @property
    def sample_every_s(self) -> float:
        """Return the spacing of kept samples: 96 per window, enough for a robust fit."""
        return self.window_days * DAY_S / 96


@dataclass(frozen=True, slots=True)
class BatteryProjection:
    """The fitted trend: the slope, the level now, and the days until it reaches 0 %."""

    slope_pct_per_day: float
    level_pct: float
    days_to_empty: float | None
    """None when the level is not falling."""


@dataclass(frozen=True, slots=True)
class BatteryHistory:
    """Sampled battery levels of one device, oldest first (event times)."""

    samples: tuple[tuple[datetime, float], ...] = ()

    def read(
        self, pct: float, at: datetime, settings: BatteryTrendSettings
    ) -> tuple["BatteryHistory", bool]:
        """Add a reading; return the new history and whether the battery was replaced."""
        if not self.samples:
            return BatteryHistory(((at, pct),)), False
        last_at, last_pct = self.samples[-1]
        if at <= last_at:
            return self, False  # out of order or repeated
        if pct >= last_pct + settings.replacement_jump_pct:
            return BatteryHistory(((at, pct),)), True
        if (at - last_at).total_seconds() < settings.sample_every_s:
            return self, False
        horizon = at - timedelta(days=settings.window_days)
        kept = tuple(s for s in self.samples if s[0] >= horizon)
        return BatteryHistory((*kept, (at, pct))), False

    def projection(self, settings: BatteryTrendSettings) -> BatteryProjection | None:
        """Return the fitted trend, or None while there is too little history."""
        samples = self.samples
        if len(samples) < settings.min_samples:
            return None
        origin = samples[0][0]
        points = [((at - origin).total_seconds() / DAY_S, pct) for at, pct in samples]
        if points[-1][0] - points[0][0] < settings.min_span_days:
            return None
        slope = statistics.median(
            (b[1] - a[1]) / (b[0] - a[0]) for a, b in combinations(points, 2) if b[0] > a[0]
        )
        intercept = statistics.median(pct - slope * t for t, pct in points)
        level = max(intercept + slope * points[-1][0], 0.0)
        days = level / -slope if slope < 0 else None
        return BatteryProjection(slope, level, days)


@dataclass(frozen=True, slots=True)
class StuckSettings:
    """How long an analog value may stay bit-identical (defaults: 24 readings over 24 h).

    A day, not a few hours: a sensor with 1 % humidity steps in a closed basement can honestly
    repeat itself through a quiet night, and a false "stuck" is a wasted maintenance visit.
    """

    after_s: float = 24 * 3600.0
    min_readings: int = 24


@dataclass(frozen=True, slots=True)
class FlatLine:
    """The value an analog quantity has repeated, since when, and how many times."""

    value: float | None = None
    since: datetime | None = None
    count: int = 0

    def read(self, value: float, at: datetime) -> "FlatLine":
        """Count a repeat of the same value, or start again at a new one."""
        if self.since is not None and at < self.since:
            return self  # out of order
        if self.value is not None and value == self.value:
            return replace(self, count=self.count + 1)
        return FlatLine(value, at, 1)

    def stuck(self, at: datetime, settings: StuckSettings) -> bool:
        """Return whether the value has been identical for long enough, often enough."""
        return (
            self.since is not None
            and self.count >= settings.min_readings
            and (at - self.since).total_seconds() >= settings.after_s
        )
