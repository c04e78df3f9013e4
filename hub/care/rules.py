"""Care for those who live alone (独居老人), the pure core: is a quiet home an alarm?

A household flagged for care has its own sensors (a door contact, a motion sensor, its SOS
buttons). Each sign of life — the door opened, someone moved, a press — resets the clock;
``check_activity`` counts only **waking hours** (default 07:00–22:00 in the site's time zone)
since the last sign, so a night's sleep is never an alarm and a quiet day is. It decides:

* ``away`` — the household said it is away until a date (a trip): no alarm until then, and
  the count starts again from the return;
* ``sensors_silent`` — every sensor that could see a sign of life has stopped reporting (a
  dead battery, an edge cut off): a **fault** (the edge reports the device offline), not "no
  activity" — but nor is it "fine": once nothing has been seen for ``quiet_limit`` waking
  hours it is a wellbeing check as well, because nobody knows how the resident is;
* ``no_activity`` — live sensors have seen nothing for ``quiet_limit`` waking hours: a
  wellbeing check for the grid worker and a message to the family;
* ``fine`` (or ``not_watched``, with no sensor at all).

The count starts again when a wellbeing check ends (``checked_at``): someone saw the resident
then, so a check closed without a new sign of life is not raised again at once.

Nothing here does I/O or reads the clock: ``now`` and every fact are passed in.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

DEFAULT_QUIET_LIMIT = timedelta(hours=6)
"""Waking hours with no sign of life before a wellbeing check (scenario 12: since yesterday
evening's last sign, by mid-morning)."""

MAX_AWAY = timedelta(days=31)
"""The furthest ahead a household may be marked away. A trip or a hospital stay longer than a
month is marked again before this runs out: an end date typed years ahead (or a stay nobody
remembered to end) would otherwise leave a resident unwatched for good, with no alarm at all."""

DEFAULT_WAKING_FROM = time(7, 0)
DEFAULT_WAKING_UNTIL = time(22, 0)


class CareStatus(StrEnum):
    """What the check found."""

    FINE = "fine"
    AWAY = "away"
    NO_ACTIVITY = "no_activity"
    SENSORS_SILENT = "sensors_silent"
    NOT_WATCHED = "not_watched"


@dataclass(frozen=True, slots=True)
class WakingHours:
    """The daily hours in which a home is expected to show signs of life, local time."""

    start: time = DEFAULT_WAKING_FROM
    end: time = DEFAULT_WAKING_UNTIL
    timezone: str = "Asia/Shanghai"


@dataclass(frozen=True, slots=True)
class Sensor:
    """A device of the home that reports signs of life, and when it last reported at all."""

    device_id: str
    last_seen: datetime | None
    checkin: timedelta
    """How long it may stay silent and still count as alive (its class's check-in)."""

    def alive(self, now: datetime) -> bool:
        """Return whether the sensor reported within its check-in deadline."""
        return self.last_seen is not None and now - self.last_seen <= self.checkin


LOOK_BACK = timedelta(days=7)
"""How far back the repository searches readings for the last sign of life; the reading
history keeps at least this much (``hub.telemetry.history``). A week holds the longest quiet
limit (48 waking hours) of a home awake 7 hours a day or more; with 3 days, a home awake 8
hours a day with a 48-hour limit had its last sign of life 4 days ago not found, and its check
raised days early (counted from when it was first watched)."""


@dataclass(frozen=True, slots=True)
class CareFacts:
    """What a care household's check is decided on."""

    last_activity: datetime | None
    watched_since: datetime
    """When care was switched on: the count never starts before it."""
    sensors: Sequence[Sensor]
    away_until: datetime | None = None
    waking: WakingHours = WakingHours()
    quiet_limit: timedelta = DEFAULT_QUIET_LIMIT
    checked_at: datetime | None = None
    """When the last wellbeing check ended (someone saw the resident): the count restarts."""
    searched_from: datetime | None = None
    """From when the readings were searched for ``last_activity`` (None: all of them)."""


@dataclass(frozen=True, slots=True)
class CareCheck:
    """The check's verdict, the waking time counted and from when, and the silent sensors."""

    status: CareStatus
    quiet: timedelta
    since: datetime
    silent: tuple[str, ...] = ()
    wellbeing_check: bool = False
    """Whether someone must check on the resident: nothing seen for the quiet limit, by live
    sensors (``no_activity``) or because they all went silent (``sensors_silent``)."""


def away_problem(until: datetime | None, now: datetime) -> str | None:
    """Return why an away-until cannot be accepted now, or None: it lies more than
    ``MAX_AWAY`` ahead. One already past is accepted (the household is back since then)."""
    if until is None or until - now <= MAX_AWAY:
        return None
    return (
        f"away for at most {MAX_AWAY.days} days from now: mark a longer stay again before it"
        " runs out, so that a household nobody marked back is not left unwatched"
    )


def waking_time_between(start: datetime, end: datetime, waking: WakingHours) -> timedelta:
    """Return how much of [start, end) falls within waking hours, day by day in local time."""
    if end <= start:
        return timedelta(0)
    zone = ZoneInfo(waking.timezone)
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    total = timedelta(0)
    day = start.astimezone(zone).date() - timedelta(days=1)  # a window past midnight: day before
    while day <= end.astimezone(zone).date():
        opens = datetime.combine(day, waking.start, zone)
        closing_day = day + timedelta(days=1) if waking.end <= waking.start else day
        closes = datetime.combine(closing_day, waking.end, zone)
        # Compared and subtracted in UTC: an aware datetime's arithmetic within one zone is
        # wall-clock time, an hour off across a daylight-saving change.
        overlap = min(closes.astimezone(UTC), end) - max(opens.astimezone(UTC), start)
        if overlap > timedelta(0):
            total += overlap
        day += timedelta(days=1)
    return total


def check_activity(facts: CareFacts, now: datetime) -> CareCheck:
    """Return whether a care household's quiet is fine, away, a fault, or a wellbeing check."""
    since = max(facts.last_activity or _silent_since(facts, now), facts.watched_since)
    if facts.checked_at is not None:
        since = max(since, facts.checked_at)
    if facts.away_until is not None:
        if now < facts.away_until:
            return CareCheck(CareStatus.AWAY, timedelta(0), since)
        since = max(since, facts.away_until)
    quiet = waking_time_between(since, now, facts.waking)
    if not facts.sensors:
        return CareCheck(CareStatus.NOT_WATCHED, quiet, since)
    silent = tuple(sorted(s.device_id for s in facts.sensors if not s.alive(now)))
    overdue = quiet >= facts.quiet_limit
    if len(silent) == len(facts.sensors):
        return CareCheck(CareStatus.SENSORS_SILENT, quiet, since, silent, overdue)
    if overdue:
        return CareCheck(CareStatus.NO_ACTIVITY, quiet, since, silent, True)
    return CareCheck(CareStatus.FINE, quiet, since, silent)


def _silent_since(facts: CareFacts, now: datetime) -> datetime:
    """Return from when a home with no sign of life found is counted quiet.

    From the search's start if that alone holds the quiet limit (silent at least since then:
    a check either way, its count not inflated by a history that was never searched); else
    from when it was first watched: a check raised early beats one never raised, which
    counting from a search start sliding with ``now`` would be.
    """
    searched = facts.searched_from
    if searched is not None and waking_time_between(searched, now, facts.waking) >= (
        facts.quiet_limit
    ):
        return searched
    return facts.watched_since


MOTION = "occupancy"
"""A motion sensor's ``occupancy: true`` is a sign of life: someone moved (``RETRIGGER``)."""

RETRIGGER = timedelta(minutes=15)
"""How soon after a motion sensor's last ``occupancy: true`` another one, with no ``false``
between, is still new motion. A PIR that keeps seeing someone re-triggers every minute or two
and clears itself (or Zigbee2MQTT clears it) within its timeout once they stop: 60–120 s
(Aqara, Tuya ``keep_time``), 180 s (IKEA), Zigbee2MQTT's ``occupancy_timeout`` default. A
``true`` repeated later than this is the cached state re-sent with a heartbeat or a battery
or illuminance report (Koenkk/zigbee2mqtt#467, #2297): a sensor stuck on "occupied"
(#16773, #31712) would otherwise be someone moving every hour and hold every check off for
good. Reading such a repeat as no sign only brings a check earlier, never later."""

CHANGES: dict[str, bool] = {"contact": False, "presence": True}
"""Readings whose *change* is a sign of life: a door opened or closed (``contact``), someone
came into or left a radar's view (``presence``). Their repetitions are not: a Zigbee door
contact re-sends its state with every battery report, about hourly (Koenkk/zigbee2mqtt#827,
#4225), so a door left open would otherwise look like someone opening it every hour; a radar
re-sends ``presence: true`` for as long as anyone is in view, a person lying still after a
fall too. The value is what a device's earliest reading in the history must say to count, its
previous one unknown: a door open, someone there."""


@dataclass(frozen=True, slots=True)
class SensorReading:
    """One stored reading of a care household's sensor."""

    device_id: str
    ts: datetime
    readings: Mapping[str, float | bool]


def last_sign_of_life(newest_first: Iterable[SensorReading]) -> datetime | None:
    """Return the time of the last sign of life in the sensors' readings, newest first.

    A motion sensor's ``occupancy: true`` is one unless the same device's reading before it
    said ``true`` too, more than ``RETRIGGER`` before; a ``contact`` or ``presence`` reading is
    one where it differs from the same device's reading before it (``CHANGES``). A device's
    earliest reading counts as if nothing came before it. Reading stops as soon as nothing
    older can change the answer.
    """
    last: datetime | None = None
    newer: dict[tuple[str, str], tuple[bool, datetime]] = {}
    """Per device and reading, the newest reading not yet compared with the one before it."""
    for reading in newest_first:
        if last is not None and all(
            ts <= last for (_, name), (value, ts) in newer.items() if value or name != MOTION
        ):
            return last  # anything older is older than the sign found
        moved = reading.readings.get(MOTION)
        if isinstance(moved, bool):
            slot = (reading.device_id, MOTION)
            after = newer.get(slot)
            if after is not None and after[0] and (not moved or after[1] - reading.ts <= RETRIGGER):
                last = _later(last, after[1])
            newer[slot] = (moved, reading.ts)
        for name in CHANGES:
            value = reading.readings.get(name)
            if not isinstance(value, bool):
                continue
            slot = (reading.device_id, name)
            after = newer.get(slot)
            if after is not None and after[0] != value:
                last = _later(last, after[1])
            newer[slot] = (value, reading.ts)
    for (_, name), (value, ts) in newer.items():
        if value is (True if name == MOTION else CHANGES[name]):
            last = _later(last, ts)
    return last


def _later(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b > a else a
