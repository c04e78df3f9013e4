"""Responders' live positions, the pure core: where a place is, how far a responder is from a
case, who is near enough to count, and OwnTracks' location message.

PRODUCT.md asks for responders' live positions (实时定位) "so the nearest goes first", and for
the case to show "on site" when the responder arrives (scenario 15: a fire at night, the
on-duty patrol member 80 m away is dispatched before the one 600 m away). Three pieces:

* **places on the map**: a site lists the coordinates of its buildings, hazard sources and key
  places (``MapPlace``, on the roster's site); a case or device is where the longest of those
  place paths containing its location is (``place_coordinates``). A place at 0°, 0° has no
  coordinates yet (``MapPlace.located``: a roster's placeholder, a blank spreadsheet cell,
  never a community's place; the console lists it as not on the map): it places nothing,
  so dispatch never measures responders' distances to the Gulf of Guinea;
* **positions**: what a responder's phone reports through OwnTracks, unchanged
  (``OwnTracksLocation``: ``_type`` ``location``, ``lat``, ``lon``, ``tst``, ``acc``). A
  position counts for dispatch while it is ``FRESH_FOR`` old at most (a phone left in a locker
  overnight must not win every fire); an older one is ignored, as a responder who never
  reported is;
* **distance**: the great-circle distance (``distance_m``); for ranking, a fix's distance
  plus its reported accuracy (``distances``); and ``on_site``: within ``ON_SITE_M`` of the
  place, its reported accuracy allowed up to ``ON_SITE_M`` more, by a fix accurate to
  ``ON_SITE_MAX_ACCURACY_M`` at worst;
* **the message**: ``read_owntracks``, what an OwnTracks app posts (HTTP mode) or publishes
  (MQTT mode, ``hub.ingest.positions``), read or refused: ``InvalidInputError``, or its
  ``FixAheadError`` for a fix stamped in the future.

Nothing here does I/O or reads the clock.
"""

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from devices.location import Location, LocationText
from hub.errors import InvalidInputError

EARTH_RADIUS_M = 6_371_008.8
"""The mean Earth radius (IUGG), for great-circle distances."""
FRESH_FOR = timedelta(minutes=10)
"""How old a position may be and still place its responder for dispatch."""
ON_SITE_M = 50.0
"""How near a case's place a responder must be to count as on site (plus the position's
reported accuracy, up to as much again)."""
ON_SITE_MAX_ACCURACY_M = 2 * ON_SITE_M
"""The vaguest fix that may put a responder on site: one reported accurate to a few hundred
metres (a cell tower's, a phone indoors without GPS) cannot tell the door from the next street."""
MAX_CLOCK_AHEAD = timedelta(minutes=5)
"""How far in the future a phone's timestamp may lie (clock skew) before it is refused."""


class FixAheadError(InvalidInputError):
    """An OwnTracks location whose fix is stamped further ahead than ``MAX_CLOCK_AHEAD``."""


class MapPlaceKind(StrEnum):
    """What a place on a site's map is (PRODUCT.md, "The map")."""

    BUILDING = "building"
    HAZARD_SOURCE = "hazard_source"
    """A boiler room, a gas store (危险源)."""
    KEY_PLACE = "key_place"
    """A kindergarten, a care home, the main gate (重点场所)."""


Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]


def at_null_island(lat: float, lon: float) -> bool:
    """Return whether ``lat``, ``lon`` is 0°, 0°: what a roster's placeholder, a blank cell of
    a spreadsheet or a phone without a fix gives, never a place of a community."""
    return lat == 0 and lon == 0


class MapPlace(BaseModel):
    """A place of a site's map: a location path and where it is."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    place: LocationText
    lat: Latitude
    lon: Longitude
    kind: MapPlaceKind = MapPlaceKind.BUILDING

    @property
    def located(self) -> bool:
        """Whether the place has coordinates: 0°, 0° is a placeholder (``at_null_island``)."""
        return not at_null_island(self.lat, self.lon)


@dataclass(frozen=True, slots=True)
class Position:
    """Where a responder's phone said it was, and when."""

    lat: float
    lon: float
    at: datetime
    accuracy_m: float | None = None


class OwnTracksLocation(BaseModel):
    """An OwnTracks location message (https://owntracks.org/booklet/tech/json/), as its apps
    send it in HTTP mode: the fields Linli reads; the others are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    type: Literal["location"] = Field(alias="_type")
    lat: Latitude
    lon: Longitude
    tst: Annotated[int, Field(ge=0, le=32_503_680_000)]
    """When the phone took the fix: UNIX epoch seconds (at most the year 3000)."""
    acc: Annotated[float, Field(ge=0, le=100_000, allow_inf_nan=False)] | None = None
    """The fix's accuracy radius, metres."""

    def position(self) -> Position:
        """Return the position this message reports."""
        return Position(self.lat, self.lon, datetime.fromtimestamp(self.tst, UTC), self.acc)


def parse_map(stored: Iterable[Mapping[str, object]] | None) -> list[MapPlace]:
    """Return a site's map as stored (its JSON column)."""
    return [MapPlace.model_validate(place) for place in stored or []]


def distance_m(a_lat: float, a_lon: float, b_lat: float, b_lon: float) -> float:
    """Return the great-circle distance between two points, metres (haversine)."""
    phi_a, phi_b = math.radians(a_lat), math.radians(b_lat)
    d_phi, d_lambda = phi_b - phi_a, math.radians(b_lon - a_lon)
    h = math.sin(d_phi / 2) ** 2 + math.cos(phi_a) * math.cos(phi_b) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def place_coordinates(places: Iterable[MapPlace], location: str) -> MapPlace | None:
    """Return the map place whose path is the longest one containing ``location``, or None;
    of the places with coordinates (``MapPlace.located``): a floor at 0°, 0° is where its
    building is, a building at 0°, 0° is nowhere on the map."""
    try:
        here = Location.parse(location)
    except ValueError:
        return None
    best: MapPlace | None = None
    depth = 0
    for place in places:
        if not place.located:
            continue
        prefix = Location.parse(place.place)
        if here.within(prefix) and len(prefix.parts) > depth:
            best, depth = place, len(prefix.parts)
    return best


def fresh(position: Position, now: datetime) -> bool:
    """Return whether ``position`` may place its responder at ``now``."""
    return now - FRESH_FOR <= position.at <= now + MAX_CLOCK_AHEAD


def distances(
    target: MapPlace, positions: Mapping[str, Position], now: datetime
) -> dict[str, float]:
    """Return how far from ``target`` each responder with a fresh position may be, metres: the
    fix's distance plus its reported accuracy, so a vague fix (a cell tower's, accurate to a
    kilometre) does not outrank a precise one that is a little farther."""
    return {
        responder: distance_m(p.lat, p.lon, target.lat, target.lon) + (p.accuracy_m or 0.0)
        for responder, p in positions.items()
        if fresh(p, now)
    }


def on_site(position: Position, target: MapPlace) -> bool:
    """Return whether ``position`` puts its responder at ``target``: near enough, by a fix
    accurate enough to tell (``ON_SITE_MAX_ACCURACY_M``)."""
    if (position.accuracy_m or 0.0) > ON_SITE_MAX_ACCURACY_M:
        return False
    slack = min(position.accuracy_m or 0.0, ON_SITE_M)
    return distance_m(position.lat, position.lon, target.lat, target.lon) <= ON_SITE_M + slack


MAX_MESSAGE_BYTES = 64 * 1024
"""The largest OwnTracks message read (a location is a few hundred bytes; a card with its
face image is the largest the apps send)."""


def read_owntracks(body: bytes, now: datetime) -> OwnTracksLocation | None:
    """Return the location ``body`` reports, None for any other OwnTracks message (or an empty
    one, or a location at 0°, 0°: a phone's "no fix", not a responder in the Gulf of Guinea);
    raise ``InvalidInputError`` for what is not an OwnTracks message, an encrypted one (the
    hub holds no key), or a location that is wrong (out of range, missing, or stamped in the
    future)."""
    if not body.strip():
        return None
    if len(body) > MAX_MESSAGE_BYTES:
        raise InvalidInputError(f"an OwnTracks message of at most {MAX_MESSAGE_BYTES} bytes")
    try:
        message: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"not JSON: {exc}") from None
    except RecursionError:
        raise InvalidInputError("not JSON: nested too deeply") from None
    if not isinstance(message, dict) or not isinstance(message.get("_type"), str):
        raise InvalidInputError("an OwnTracks message is a JSON object with a '_type'")
    if message["_type"] == "encrypted":
        # The app's payload encryption (its "secret encryption key" setting): the hub holds no
        # key, and answering [] would leave the responder off the map with nobody told why.
        raise InvalidInputError(
            "an encrypted OwnTracks message: clear the app's encryption key (the connection "
            "to the hub is TLS already)"
        )
    if message["_type"] != "location":
        return None
    try:
        location = OwnTracksLocation.model_validate(message)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InvalidInputError(f"not an OwnTracks location: {problems}") from None
    if location.position().at > now + MAX_CLOCK_AHEAD:
        raise FixAheadError(f"the fix's time {location.tst} lies ahead of the hub's clock")
    if at_null_island(location.lat, location.lon):
        return None
    return location
