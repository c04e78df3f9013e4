"""Carbon-monoxide exposure: a dose model after UL 2034 and EN 50291.

A CO alarm must not sound for a brief whiff and must sound for a long moderate exposure, so
neither a plain threshold nor a plain average will do. Both standards give a table of
(concentration, alarm time) points; we read it as "a steady ``c`` ppm must alarm after
``T(c)`` minutes" and accumulate a normalised dose ``d += dt / T(c)``. At ``d >= 1`` the
exposure is an alarm. For a steady concentration that alarms exactly at ``T(c)``; for a
varying one it adds up the fractions of the alarm time spent at each level, which is how the
standards' "varying concentration" tests are usually met.

Between table points ``T`` is interpolated on log-log axes (the standards' curves are close
to straight lines there); beyond the ends the nearest segment is extended. At or below the
standard's floor nothing accumulates and the dose decays, so intermittent exposures add up
while they overlap and are forgotten once the air has been clean for a while.

Each reading's concentration is held until the next reading, but for at most ``max_hold_s``
(by default the CO detector's check-in deadline, 2 h): a detector reporting on change sends
nothing while a steady 70 ppm stands, and its last reading is the best there is until it
speaks again or is reported offline; past that, one old reading must not become a huge dose.
A reading at or below the floor decays the dose for as long as it stands: a dose is never
kept for ever because the air stayed clean and the detector had nothing new to say.
The dose reaches the alarm between readings too: the edge's periodic tick raises it at the
instant the standing reading brings it to 1 (``alarm_by``), not at the next report, which a
detector reporting every quarter of an hour would send long after UL 2034's 15 min at
400 ppm. It clears between readings the same way (``cleared_by``): a detector reporting on
change says nothing more once the air is clean, and its alarm must not stand until its next
report, hours on.
"""

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import pairwise

from devices.observations import DEVICE_CLOCK_AHEAD_S
from edge.detectors import CLOCK_JUMP_S


@dataclass(frozen=True, slots=True)
class CoStandard:
    """One standard's alarm curve: (ppm, target alarm minutes) points and a floor."""

    name: str
    points: tuple[tuple[float, float], ...]
    """(concentration in ppm, target alarm time in minutes), by rising concentration."""
    floor_ppm: float
    """At or below this concentration nothing accumulates and the dose decays."""
    shortest_min: float = 1.0
    """No concentration alarms faster than this (beyond the table, extrapolation flattens)."""

    def __post_init__(self) -> None:
        if len(self.points) < 2 or any(
            a[0] >= b[0] or a[1] <= b[1] for a, b in pairwise(self.points)
        ):
            raise ValueError("points must rise in ppm and fall in minutes, at least two")

    def target_s(self, ppm: float) -> float | None:
        """Return how long a steady ``ppm`` may last before the alarm; None below the floor."""
        if ppm <= self.floor_ppm:
            return None
        points = self.points
        # The segment that contains ppm, or the nearest end segment to extend.
        index = 0
        while index < len(points) - 2 and ppm > points[index + 1][0]:
            index += 1
        (c0, t0), (c1, t1) = points[index], points[index + 1]
        slope = math.log(t1 / t0) / math.log(c1 / c0)
        minutes: float = t0 * (ppm / c0) ** slope
        return max(minutes, self.shortest_min) * 60.0


# UL 2034 (2017) sensitivity table: must not alarm before / must alarm by
#   70 ppm: 60 / 240 min;  150 ppm: 10 / 50 min;  400 ppm: 4 / 15 min;  30 ppm: never (30 days).
# Targets sit well inside each window, nearer the "must alarm" side than the midpoint on the
# log scale (a missed exposure is worse than an early alarm) yet far from the "not before"
# bound (a cooking spike must not alarm). The floor of 35 ppm keeps the 30 ppm / 30 days
# false-alarm point safe against about ±5 ppm of sensor noise and drift.
UL_2034 = CoStandard("ul2034", ((70.0, 100.0), (150.0, 25.0), (400.0, 8.0)), floor_ppm=35.0)

# EN 50291-1: 30 ppm no alarm before 120 min; 50 ppm alarm between 60 and 90 min; 100 ppm
# between 10 and 40 min; 300 ppm within 3 min. The 300 ppm target leaves a reading interval
# of margin (1.5 min) under the 3 min limit. The 25 ppm floor makes a long 30 ppm exposure
# alarm after about 3.3 h (T(30) ≈ 199 min), after the 120 min the standard protects.
EN_50291 = CoStandard("en50291", ((50.0, 75.0), (100.0, 20.0), (300.0, 1.5)), floor_ppm=25.0)

STANDARDS: dict[str, CoStandard] = {s.name: s for s in (UL_2034, EN_50291)}


@dataclass(frozen=True, slots=True)
class CoSettings:
    """How the dose model integrates, decays and clears; the curve is the standard's."""

    standard: CoStandard = UL_2034
    max_hold_s: float = 7200.0
    """A reading stands for at most this long: a longer gap counts only this much. The CO
    detector's default check-in deadline (``edge.detectors.liveness``): a detector silent
    longer is reported offline."""
    decay_half_life_s: float = 3600.0
    """Half-life of the dose while the air is below the floor. Shorter than carboxyhaemoglobin's
    4-5 h on room air, so an alarm can clear within about an hour of clean air; long enough
    that exposures repeated within the hour (a generator cycling, a blocked flue that draws
    in gusts) still add up."""
    dose_cap: float = 1.5
    """The dose stops growing here, so clearing never waits for hours of decay."""
    clean_ppm: float = 15.0
    """Clear only once readings stay below this …"""
    clean_for_s: float = 600.0
    """… for this long of event time …"""
    clear_dose: float = 0.5
    """… and the dose has decayed to this (hysteresis against the alarm at 1.0)."""


@dataclass(frozen=True, slots=True)
class CoExposure:
    """The dose accumulated so far and the reading that currently stands."""

    dose: float = 0.0
    ppm: float | None = None
    at: datetime | None = None
    """Event time of the standing reading."""
    until: datetime | None = None
    """The dose is integrated up to here (between ``at`` and ``at + max_hold_s``)."""
    clean_since: datetime | None = None
    """Since when every reading has been below ``clean_ppm``; None if the last was not."""

    def advance(self, now: datetime, settings: CoSettings) -> "CoExposure":
        """Integrate the standing reading up to ``now`` (at most ``max_hold_s`` past it)."""
        if self.ppm is None or self.at is None or self.until is None:
            return self
        target = settings.standard.target_s(self.ppm)
        # Clean air stands for as long as nothing else is said: holding it never raises the
        # dose, and a dose kept past the hold made a day-old exposure count again (a detector
        # reporting on change sends nothing more while the air stays clean).
        end = now if target is None else min(now, self.at + timedelta(seconds=settings.max_hold_s))
        dt = (end - self.until).total_seconds()
        if dt <= 0:
            return self
        if target is None:
            dose = self.dose * 0.5 ** (dt / settings.decay_half_life_s)
            dose = 0.0 if dose < 1e-3 else dose  # settle, so a clean sensor's state is stable
        else:
            dose = min(self.dose + dt / target, settings.dose_cap)
        return replace(self, dose=dose, until=end)

    def read(self, ppm: float, at: datetime, settings: CoSettings) -> "CoExposure":
        """Integrate up to a new reading taken at ``at``, then let it stand. A reading not
        newer than the standing one changes nothing: what an older one means (late, or the
        device's clock went back) is judged with the edge's clock (``late_reading``)."""
        if self.at is not None and at <= self.at:
            return self
        advanced = self.advance(at, settings)
        clean_since = None
        if ppm < settings.clean_ppm:
            clean_since = advanced.clean_since or at
        return replace(advanced, ppm=ppm, at=at, until=at, clean_since=clean_since)

    def restart(self, ppm: float, at: datetime, settings: CoSettings) -> "CoExposure":
        """Let a reading taken before the standing one stand from ``at``: the device's clock
        went back after running ahead. The dose so far stays; the time since is not counted
        twice, or every reading until that future time would be dropped."""
        return replace(self, ppm=None, at=None, until=None).read(ppm, at, settings)

    def alarm_by(self, horizon: datetime, settings: CoSettings) -> datetime | None:
        """Return the instant the standing reading, held up to ``horizon``, brings the dose to
        the alarm; None if it does not by then, if it already has, or if nothing stands."""
        if self.ppm is None or self.at is None or self.until is None or self.alarming:
            return None
        target = settings.standard.target_s(self.ppm)
        if target is None:
            return None
        end = min(horizon, self.at + timedelta(seconds=settings.max_hold_s))
        reached = self.until + timedelta(seconds=(1.0 - self.dose) * target)
        return reached if reached <= end else None

    def cleared_by(self, horizon: datetime, settings: CoSettings) -> datetime | None:
        """Return the instant the standing clean reading, held up to ``horizon``, has stood
        ``clean_for_s`` and the dose has decayed to ``clear_dose`` (as ``clean`` judges a
        reading); None if not by then, or if the standing reading is not clean."""
        if self.ppm is None or self.until is None or self.clean_since is None:
            return None
        if settings.standard.target_s(self.ppm) is not None:
            return None  # a clean level above the floor (a site's odd settings) adds dose
        decayed = self.until
        if self.dose > settings.clear_dose:
            halvings = math.log2(self.dose / settings.clear_dose)
            decayed += timedelta(seconds=settings.decay_half_life_s * halvings)
        cleared = max(decayed, self.clean_since + timedelta(seconds=settings.clean_for_s))
        return cleared if cleared <= horizon else None

    @property
    def alarming(self) -> bool:
        """Return whether the accumulated dose is an alarm."""
        # A steady exposure sums dt / T(c) in steps; the tolerance absorbs the rounding.
        return self.dose >= 1.0 - 1e-9

    def clean(self, now: datetime, settings: CoSettings) -> bool:
        """Return whether the air has been clean long enough and the dose has decayed."""
        return (
            self.clean_since is not None
            and (now - self.clean_since).total_seconds() >= settings.clean_for_s
            and self.dose <= settings.clear_dose
        )


def late_reading(
    exposure: CoExposure,
    ppm: float,
    at: datetime,
    settings: CoSettings,
    *,
    came: datetime | None,
    seen: datetime | None,
    late_before: bool,
) -> tuple[CoExposure, bool]:
    """Read a CO reading taken at ``at``, before the standing one; return the exposure and
    whether the device's clock still lags the standing reading.

    ``came`` is when the edge received the standing reading and ``seen`` this one, both by
    the edge's clock. With the device's time bounded by the edge's
    (``devices.observations.observed_at``), an older reading is late: it came after a newer
    one, and it never replaces it (taken for a clock set back, one late reading of clean air
    wiped the exposure since, and repeated, 150 ppm never alarmed). A second older reading in
    a row is the device's clock gone back: it stands from when it came, timed on the edge's
    clock from the standing one, so no reading is dropped and no time counted twice. Only a
    standing reading stamped ahead of when it came (a device's time trusted ahead, in an
    accelerated simulation) may restart from a time far before it, as the clock set right.
    """
    standing = exposure.at
    if standing is None or at > standing:
        return exposure.read(ppm, at, settings), False
    if at == standing:
        return exposure, late_before  # the standing reading again (a retry, its own time)
    ahead = came is not None and standing > came + timedelta(seconds=DEVICE_CLOCK_AHEAD_S)
    if ahead and (standing - at).total_seconds() > CLOCK_JUMP_S:
        return exposure.restart(ppm, at, settings), False
    if not late_before or came is None or seen is None or seen <= came:
        return exposure, True
    return exposure.read(ppm, standing + (seen - came), settings), True
