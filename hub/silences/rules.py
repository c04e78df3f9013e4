"""Silences, the pure core: maintenance windows and fire drills during which alerts are
recorded (and audited) but open no case and page no one.

A silence covers one device, every device at or under a place (a location prefix such as
``"Building 3"``), or every device an edge serves (a site: one site file, one edge), from
``starts_at`` until ``ends_at``, optionally only for some alert kinds. A life-safety alarm
(``devices.kinds.LIFE_SAFETY``: an SOS, smoke, heat, CO, gas, a camera's fire or smoke) is
never silenced unless the silence names its kind: a resident pressing the button during a
drill may be in real trouble, and a fire during a plumber's visit is a fire (a silence set for
the pipes with no kinds had hidden it for its hours). A fire drill names ``smoke`` and
``heat``. Alerts are judged by their event time, so an alarm raised during a drill but
delivered after it (a replay after an outage) is still silenced.

Nothing here does I/O or reads the clock.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from devices.kinds import LIFE_SAFETY, AlertKind
from devices.location import lies_within


class SilenceScope(StrEnum):
    """What a silence covers."""

    DEVICE = "device"
    PLACE = "place"
    EDGE = "edge"


@dataclass(frozen=True, slots=True)
class Silence:
    """A maintenance window or drill, as the repository stores it."""

    id: int
    scope: SilenceScope
    target: str
    kinds: frozenset[AlertKind]
    """Empty: every kind but the life-safety ones (``LIFE_SAFETY``)."""
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class SilencedAlert:
    """Where an alert comes from, for judging whether a silence covers it."""

    device_id: str
    edge_id: str | None
    location: str
    kind: AlertKind
    ts: datetime


def covers(silence: Silence, alert: SilencedAlert) -> bool:
    """Return whether ``silence`` covers ``alert`` (its place, kind and event time)."""
    if not silence.starts_at <= alert.ts < silence.ends_at:
        return False
    if silence.kinds:
        if alert.kind not in silence.kinds:
            return False
    elif alert.kind in LIFE_SAFETY:
        return False
    match silence.scope:
        case SilenceScope.DEVICE:
            return alert.device_id == silence.target
        case SilenceScope.EDGE:
            return alert.edge_id == silence.target
        case SilenceScope.PLACE:
            return lies_within(alert.location, silence.target)
    raise AssertionError("unreachable")  # pragma: no cover - mypy cannot see the match is total


def silencing(silences: Iterable[Silence], alert: SilencedAlert) -> Silence | None:
    """Return the first silence (lowest id) that covers the alert, if any."""
    return next((s for s in sorted(silences, key=lambda s: s.id) if covers(s, alert)), None)


def is_active(silence: Silence, now: datetime) -> bool:
    """Return whether the silence is in force at ``now``."""
    return silence.starts_at <= now < silence.ends_at
