"""Heat: a fixed temperature and a sustained rate of rise (EN 54-5 class A1R).

EN 54-5 class A1 detectors have a static response temperature between 54 and 65 °C; the R
suffix adds a rate-of-rise response. US practice (NFPA 72 / UL 521) puts rate-of-rise at
15 °F/min ≈ 8.3 °C/min. A point detector does this with a thermal mass; an IoT sensor gives
us samples, some of them implausible, so both rules need evidence from more than one sample:

- fixed: two consecutive readings at or above the fixed temperature, or one that nothing
  followed for ``fixed_hold_s`` (a sensor destroyed by the fire, or reporting on change only:
  the edge's tick confirms it, ``edge.detection.heat_tick``);
- rate of rise: the rise over at least ``ror_window_s`` of event time and at least two
  intervals reaches the rate, AND every part of it at least a third of the window long
  (every interval, where the sensor reports less often) rises at half the rate or more.
  A warm afternoon (a few °C per hour) never gets there; one wild sample cannot either,
  because the part before it (or after it) does not rise; ±1 °C of sensor noise cannot make
  a 20 s part of a 10 K/min rise a pause, as it did a 7.5 s interval.

Samples are kept at least ``sample_spacing_s`` apart (a newer reading replaces the newest
sample while that one is closer than this to the one before it), and an interval shorter
than that, the newest one, is left out of the every-interval check: a sensor reporting every
second still spans the window with the samples remembered. At least two intervals are
judged: a reading published twice (Zigbee2MQTT) leaves the window one interval and a copy,
and the interval before the window is judged with it.

A doubtful reading (a DS18B20's 85.0 °C power-on reset, ``StateUpdate.doubtful``) is kept
as a sample but is never one of the rate of rise's, nor confirmed on its own: it confirms the
fixed level only together with a reading that is not doubtful, before or after it; a standing
doubtful reading is not confirmed by the hold, and two doubtful readings do not pair.

It clears with hysteresis: below the fixed temperature minus ``clear_margin_c``, not rising,
for ``clear_after_s`` of event time.
"""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import pairwise

from edge.detectors import CLOCK_JUMP_S


@dataclass(frozen=True, slots=True)
class HeatSettings:
    """Heat detector parameters (defaults: EN 54-5 A1R with the US rate of rise)."""

    fixed_c: float = 57.0
    ror_c_per_min: float = 8.3
    ror_window_s: float = 60.0
    clear_margin_c: float = 7.0
    clear_after_s: float = 300.0
    keep_s: float = 600.0
    """A rise must be this recent to count."""
    keep_samples: int = 16
    """Samples remembered (and persisted) per device."""
    sample_spacing_s: float = 7.5
    """The shortest interval kept between remembered samples (the newest aside)."""
    fixed_hold_s: float = 60.0
    """A reading at or above ``fixed_c`` that no other reading follows for this long (edge's
    clock) is confirmed. EN 54-5 class A1 leaves 1.9 min between reaching 57 °C from 25 °C and
    the upper response limit at 5 K/min (6.4 of 8 min 20 s), about 1.5 min just under the
    8.3 K/min rate of rise, 68 s at 10 K/min (where the rate of rise alarms first); 60 s plus
    a 5 s tick fits them. Long enough that a sensor reporting at least every minute sends its
    next reading first: one spurious spike followed by a normal reading raises nothing."""

    def __post_init__(self) -> None:
        # EN 54-5 class A1: static response temperature between 54 and 65 °C.
        if not 54.0 <= self.fixed_c <= 65.0:
            raise ValueError(f"fixed_c {self.fixed_c} outside EN 54-5 class A1's 54-65 °C")
        if self.keep_samples < 4 or self.sample_spacing_s * (self.keep_samples - 2) < (
            self.ror_window_s
        ):
            raise ValueError(
                f"{self.keep_samples} samples {self.sample_spacing_s} s apart cannot span"
                f" the {self.ror_window_s} s rate-of-rise window"
            )


@dataclass(frozen=True, slots=True)
class HeatTrend:
    """Recent temperature samples and since when the temperature has been cool."""

    samples: tuple[tuple[datetime, float], ...] = ()
    cool_since: datetime | None = None
    doubtful: tuple[datetime, ...] = ()
    """Times of the samples that are doubtful readings (a DS18B20's power-on 85.0 °C)."""

    def read(
        self, celsius: float, at: datetime, settings: HeatSettings, *, doubtful: bool = False
    ) -> "HeatTrend":
        """Add a reading (an out-of-order one is ignored) and forget old samples."""
        if self.samples and at <= self.samples[-1][0]:
            if (self.samples[-1][0] - at).total_seconds() <= CLOCK_JUMP_S:
                return self  # a late copy: the newer readings stand
            # The device's clock went back (set right after running ahead): the trend starts
            # again from here, or every reading until that future time would be dropped.
            return HeatTrend().read(celsius, at, settings, doubtful=doubtful)
        kept = self.samples[-(settings.keep_samples - 1) :]
        if len(kept) >= 2 and _seconds(kept[-2], kept[-1]) < settings.sample_spacing_s:
            kept = kept[:-1]  # the newest was too close to the one before: this replaces it
        times = {t for t, _ in kept}
        marked = tuple(t for t in self.doubtful if t in times) + ((at,) if doubtful else ())
        trend = replace(self, samples=(*kept, (at, celsius)), doubtful=marked)
        cool = celsius < settings.fixed_c - settings.clear_margin_c and not trend.rising(settings)
        return replace(trend, cool_since=(self.cool_since or at) if cool else None)

    def fixed_exceeded(self, settings: HeatSettings) -> bool:
        """Return whether the last two readings are both at or above the fixed temperature,
        one of them at least not doubtful."""
        last = self.samples[-2:]
        return (
            len(last) == 2
            and all(c >= settings.fixed_c for _, c in last)
            and any(t not in self.doubtful for t, _ in last)
        )

    def standing_hot(self, settings: HeatSettings) -> tuple[datetime, float] | None:
        """Return the newest reading if it is at or above the fixed temperature and not
        doubtful (the one a hold may confirm), else None."""
        if not self.samples:
            return None
        at, celsius = self.samples[-1]
        return (at, celsius) if celsius >= settings.fixed_c and at not in self.doubtful else None

    def _measured(self) -> list[tuple[datetime, float]]:
        """Return the samples that are measurements (no doubtful reading)."""
        return [s for s in self.samples if s[0] not in self.doubtful]

    def rate_of_rise(self, settings: HeatSettings) -> float | None:
        """Return the sustained rise in °C/min if it reaches the threshold, else None."""
        measured = self._measured()
        now = measured[-1][0] if measured else None
        horizon = now - timedelta(seconds=settings.keep_s) if now else None
        samples = [s for s in measured if horizon is not None and s[0] >= horizon]
        if now is None or len(samples) < 3:
            return None
        # The newest sample at least ror_window_s old that still leaves two intervals.
        start = None
        for i in range(len(samples) - 3, -1, -1):
            if (now - samples[i][0]).total_seconds() >= settings.ror_window_s:
                start = i
                break
        if start is None:
            return None
        # Every part must rise too, over at least two intervals, the newest shorter one
        # aside: Zigbee2MQTT publishing one wild reading twice, a second apart, left one
        # interval to judge, and the wild reading made a rate of rise alone.
        judged = samples[start:]
        if _seconds(judged[-2], judged[-1]) < settings.sample_spacing_s:
            judged = samples[max(start - 1, 0) : -1] if len(judged) == 3 else judged[:-1]
            if len(judged) < 3:
                return None
        parts = _parts(judged, settings)
        if not all(_rate(a, b) >= settings.ror_c_per_min / 2 for a, b in pairwise(parts)):
            return None
        rate = _rate(samples[start], samples[-1])
        return rate if rate >= settings.ror_c_per_min else None

    def rising(self, settings: HeatSettings) -> bool:
        """Return whether the temperature rises at half the rate-of-rise threshold or more
        over the last ``ror_window_s`` (from the newest sample at least that old, else the
        oldest).

        Judged over the window, not the last interval: a sensor jittering by ±1 °C read as
        rising at every other 10 s report, and raised heat never cleared (nor, at ±0.5 °C,
        for 45 min). Readings closer than ``sample_spacing_s`` (one group of messages,
        ``edge.device_detection.arrival_instants``, microseconds apart) are no rate."""
        measured = self._measured()
        if len(measured) < 2:
            return False
        newest = measured[-1]
        start = next(
            (s for s in reversed(measured[:-1]) if _seconds(s, newest) >= settings.ror_window_s),
            measured[0],
        )
        if _seconds(start, newest) < settings.sample_spacing_s:
            return False
        return _rate(start, newest) >= settings.ror_c_per_min / 2

    def cooled_at(self, settings: HeatSettings) -> datetime | None:
        """Return when the standing reading, if it is cool and steady, has been so for
        ``clear_after_s``: a sensor reporting on change says nothing more once the room is
        steady again, and heat must clear then, not at its next report an hour on."""
        if self.cool_since is None:
            return None
        return self.cool_since + timedelta(seconds=settings.clear_after_s)

    def cooled(self, now: datetime, settings: HeatSettings) -> bool:
        """Return whether the temperature has been low and steady long enough to clear."""
        return (
            self.cool_since is not None
            and (now - self.cool_since).total_seconds() >= settings.clear_after_s
        )


def _parts(
    samples: list[tuple[datetime, float]], settings: HeatSettings
) -> list[tuple[datetime, float]]:
    """Return the samples that cut ``samples`` into parts at least a third of the window
    long, the first and the last kept; the samples themselves if that makes fewer than two
    parts. A sensor jittering by ±1 °C reads as a pause in a 10 K/min rise over 7.5 s
    (1.25 °C), never over 20 s (3.3 °C); a wild sample still makes one part rise and the
    part beside it fall or stay flat."""
    part_s = settings.ror_window_s / 3
    cut = [samples[0]]
    for sample in samples[1:-1]:
        if _seconds(cut[-1], sample) >= part_s and _seconds(sample, samples[-1]) >= part_s:
            cut.append(sample)
    return [*cut, samples[-1]] if len(cut) >= 2 else samples


def _seconds(a: tuple[datetime, float], b: tuple[datetime, float]) -> float:
    """Return the seconds from sample a to sample b."""
    return (b[0] - a[0]).total_seconds()


def _rate(a: tuple[datetime, float], b: tuple[datetime, float]) -> float:
    """Return the rise from sample a to sample b in °C per minute."""
    seconds = _seconds(a, b)
    return (b[1] - a[1]) * 60.0 / seconds if seconds > 0 else 0.0
