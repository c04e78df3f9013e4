"""Notices, the pure core: which households a notice goes to.

A notice goes to a whole **site** (every household placed there), a **building** (every
household whose home lies in that place, within the site if one is named), or a list of
**households**. The list is fixed when the notice is sent: a household that moves in later
does not get an old water shut-off, and each recipient's read receipt is its own row.

Nothing here does I/O.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from devices.location import Location
from hub.errors import InvalidInputError


class NoticeScope(StrEnum):
    """Who a notice is for."""

    SITE = "site"
    BUILDING = "building"
    HOUSEHOLDS = "households"


class NoticeCategory(StrEnum):
    """What a notice is about (the page shows it with its own colour)."""

    GENERAL = "general"
    WATER_SHUTOFF = "water_shutoff"
    POWER_CUT = "power_cut"
    FIRE_DRILL = "fire_drill"
    EVACUATION = "evacuation"


URGENT: frozenset[NoticeCategory] = frozenset({NoticeCategory.EVACUATION})
"""Notices a household must not miss: shown first and in red."""


@dataclass(frozen=True, slots=True)
class Home:
    """A household as a notice's audience is chosen from."""

    id: int
    location: str
    site_id: str | None


def audience(
    homes: Iterable[Home],
    scope: NoticeScope,
    *,
    site_id: str | None = None,
    building: str | None = None,
    household_ids: Iterable[int] = (),
) -> list[int]:
    """Return the households a notice goes to, by id; refuse a scope without its target."""
    homes = list(homes)
    match scope:
        case NoticeScope.SITE:
            if site_id is None:
                raise InvalidInputError("a notice to a site needs its site_id")
            chosen = [h.id for h in homes if h.site_id == site_id]
        case NoticeScope.BUILDING:
            if building is None:
                raise InvalidInputError("a notice to a building needs the building's place")
            place = Location.parse(building)
            chosen = [
                h.id
                for h in homes
                if Location.parse(h.location).within(place)
                and (site_id is None or h.site_id == site_id)
            ]
        case NoticeScope.HOUSEHOLDS:
            wanted = set(household_ids)
            if not wanted:
                raise InvalidInputError("a notice to households needs their ids")
            known = {h.id for h in homes}
            unknown = sorted(wanted - known)
            if unknown:
                raise InvalidInputError(f"no such households: {', '.join(map(str, unknown))}")
            chosen = sorted(wanted)
    if not chosen:
        raise InvalidInputError("no household would get this notice")
    return sorted(chosen)
