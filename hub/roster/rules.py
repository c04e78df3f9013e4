"""Sites, grids and responders, the pure core: who works where and when.

A **site** is a community (小区): its devices reach the hub through its edges, so a device's
site is the site listing the device's edge. A site is divided into **grids** (网格), each a set
of places (location prefixes: buildings, areas, ``"Building 3"``, ``"Courtyard"``); a device's
grid is the grid whose place is the longest prefix of the device's location. **Responders**
(grid workers, property staff, security patrol, maintenance) belong to a site, cover some of
its grids (or all of them) and are on call by a weekly schedule in the site's time zone.

Nothing here does I/O or reads the clock.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime, time
from enum import StrEnum
from typing import Annotated, Self
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

from devices.location import Location, LocationText
from devices.registry import Identifier
from devices.timezone import TimeZoneName
from hub.positions.rules import MapPlace


class Roster(BaseModel):
    """Base of the roster models: strict, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Site(Roster):
    """A community, with the edges that bring its devices' alerts."""

    id: Identifier
    name: Annotated[str, Field(min_length=1, max_length=128)]
    timezone: TimeZoneName = "Asia/Shanghai"
    edge_ids: list[Identifier] = Field(default_factory=list)
    street: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    """The street (街道) that supervises this community: its statistics climb there."""
    district: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    """The district (区) of that street."""
    map: Annotated[list[MapPlace], Field(max_length=1000)] = Field(default_factory=list)
    """Where its buildings, hazard sources and key places are (``hub.positions``): what
    dispatch measures responders' distances to."""


class Grid(Roster):
    """A grid (网格) of a site: the places it covers."""

    id: Identifier
    site_id: Identifier
    name: Annotated[str, Field(min_length=1, max_length=128)]
    places: Annotated[list[LocationText], Field(min_length=1)]


class ResponderRole(StrEnum):
    """What a responder does."""

    GRID_WORKER = "grid_worker"
    PROPERTY = "property"
    SECURITY = "security"
    MAINTENANCE = "maintenance"
    VOLUNTEER = "volunteer"
    """A resident volunteer (邻里守望): wellbeing checks; elsewhere only as extra help."""


class Shift(Roster):
    """A weekly on-call window in the site's time zone; ``end`` before ``start`` runs past
    midnight into the next day."""

    days: Annotated[list[Annotated[int, Field(ge=0, le=6)]], Field(min_length=1)]
    """0 = Monday … 6 = Sunday: the days the shift starts on."""
    start: time
    end: time

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.start == self.end:
            raise ValueError("a shift must not start and end at the same time")
        return self


class Responder(Roster):
    """A person cases can be dispatched to."""

    id: Identifier
    site_id: Identifier
    name: Annotated[str, Field(min_length=1, max_length=128)]
    role: ResponderRole
    grid_ids: list[Identifier] = Field(default_factory=list)
    """The grids covered; empty: the whole site."""
    shifts: list[Shift] = Field(default_factory=list)
    """When on call; empty: always."""
    active: bool = True


def on_call(responder: Responder, now: datetime, timezone: str) -> bool:
    """Return whether ``responder`` is on call at ``now`` (an aware time)."""
    if not responder.active:
        return False
    if not responder.shifts:
        return True
    local = now.astimezone(ZoneInfo(timezone))
    today, clock = local.weekday(), local.time()
    yesterday = (today - 1) % 7
    for shift in responder.shifts:
        if shift.start < shift.end:
            if today in shift.days and shift.start <= clock < shift.end:
                return True
        elif (today in shift.days and clock >= shift.start) or (
            yesterday in shift.days and clock < shift.end
        ):
            return True
    return False


def site_of_edge(sites: Iterable[Site], edge_id: str | None) -> Site | None:
    """Return the site an edge serves, if any."""
    if edge_id is None:
        return None
    return next((site for site in sites if edge_id in site.edge_ids), None)


def grid_of_place(grids: Iterable[Grid], location: str) -> Grid | None:
    """Return the grid whose place is the longest prefix of ``location`` (ties: lowest id)."""
    try:
        here = Location.parse(location)
    except ValueError:
        return None
    best: tuple[int, str, Grid] | None = None
    for grid in grids:
        for place in grid.places:
            prefix = Location.parse(place)
            if here.within(prefix):
                candidate = (-len(prefix.parts), grid.id, grid)
                if best is None or candidate[:2] < best[:2]:
                    best = candidate
    return None if best is None else best[2]


def site_of_device(
    sites: Sequence[Site], grids: Sequence[Grid], edge_id: str | None, location: str
) -> str | None:
    """Return the id of the site a device belongs to: its edge's, else its grid's by place."""
    site = site_of_edge(sites, edge_id)
    if site is not None:
        return site.id
    grid = grid_of_place(grids, location)
    return None if grid is None else grid.site_id
