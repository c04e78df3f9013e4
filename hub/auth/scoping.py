"""Site scoping, the pure core: which site a household, a silence or a roster record belongs
to, and whether a caller scoped to some sites may see or change it.

A caller's scope is a set of roster site ids, or ``None`` for every site
(``hub.auth.Principal.sites``). A record of a site outside the scope does not exist for the
caller (the routes answer 404, as for a case); a write that would put something into, or
take something out of, a site outside the scope is refused (403).

* A **device** belongs to its edge's site, else to the site of the grid covering its place
  (``hub.roster.site_of_device``).
  A scoped caller may register a device only if it is of its sites both before (if it is
  registered) and after: moving another site's detector onto one's own edge would make the
  hub refuse that site's edge's alarms about it.
* A **household** belongs to the site of the grid covering its location, else to the site of
  its first SOS button that has one.
* A **silence** belongs to its target's site: the device's, the edge's, or that of the grid
  covering the place. A scoped caller may set one only if every device it silences now is of
  its sites too (a place may hold devices other sites' edges serve).
* A **roster change** by a scoped caller may not move any device into or out of a site
  outside its scope (a site claiming another site's edge, a grid claiming another site's
  places).

Nothing here does I/O: the roster and the devices are passed in as a ``SiteMap``.
"""

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TypeVar

from devices.location import lies_within
from hub.auth.rules import ForbiddenError
from hub.roster.rules import Grid, Site, grid_of_place, site_of_device, site_of_edge
from hub.silences.rules import SilenceScope

K = TypeVar("K")

Scope = frozenset[str] | None
"""The sites a caller may see and act on; ``None``: every site."""


def hidden(placed: Mapping[K, str | None], key: K, sites: Scope) -> bool:
    """Return whether record ``key``, placed in sites by ``placed``, is of a site outside the
    caller's scope (an unknown record is not hidden: the route answers for it)."""
    return key in placed and not covered(placed[key], sites)


def covered(site_id: str | None, sites: Scope) -> bool:
    """Return whether a caller scoped to ``sites`` may see a record of ``site_id``."""
    return sites is None or (site_id is not None and site_id in sites)


def within_scope(sites: Collection[str] | None, scope: frozenset[str] | None) -> bool:
    """Return whether a caller scoped to ``scope`` (None: every site) may grant or manage
    an account or token good for ``sites`` (None: every site).

    A scoped caller changes only its sites (docs/auth.md): it manages exactly the records it
    could have created, those good for some of its sites and no other; a record good for
    every site, or for none, is beyond it.
    """
    if scope is None:
        return True
    return sites is not None and bool(sites) and set(sites) <= scope


@dataclass(frozen=True, slots=True)
class PlacedDevice:
    """A registered device, as far as placing it in a site goes."""

    id: str
    edge_id: str | None
    location: str


@dataclass(frozen=True, slots=True)
class SiteMap:
    """The roster's sites and grids and the registered devices: what places records in sites."""

    sites: tuple[Site, ...] = ()
    grids: tuple[Grid, ...] = ()
    devices: tuple[PlacedDevice, ...] = ()

    def device_sites(self) -> dict[str, str | None]:
        """Return every device's site id (None: no site)."""
        return {
            d.id: site_of_device(self.sites, self.grids, d.edge_id, d.location)
            for d in self.devices
        }

    def site_of_place(self, place: str) -> str | None:
        """Return the site of the grid covering ``place``, if any."""
        grid = grid_of_place(self.grids, place)
        return None if grid is None else grid.site_id

    def with_site(self, site: Site) -> "SiteMap":
        """Return this map with ``site`` created or replaced (in its place)."""
        if all(s.id != site.id for s in self.sites):
            return replace(self, sites=(*self.sites, site))
        return replace(self, sites=tuple(site if s.id == site.id else s for s in self.sites))

    def with_grid(self, grid: Grid) -> "SiteMap":
        """Return this map with ``grid`` created or replaced (in its place)."""
        if all(g.id != grid.id for g in self.grids):
            return replace(self, grids=(*self.grids, grid))
        return replace(self, grids=tuple(grid if g.id == grid.id else g for g in self.grids))


def site_of_household(
    site_map: SiteMap, location: str, device_ids: Iterable[str], device_sites: dict[str, str | None]
) -> str | None:
    """Return a household's site: its location's grid's, else its first placed button's."""
    by_place = site_map.site_of_place(location)
    if by_place is not None:
        return by_place
    return next(
        (site for d in sorted(device_ids) if (site := device_sites.get(d)) is not None), None
    )


def site_of_silence(
    site_map: SiteMap,
    scope: SilenceScope,
    target: str,
    device_sites: dict[str, str | None],
) -> str | None:
    """Return the site a silence belongs to: its device's, its edge's or its place's grid's."""
    match scope:
        case SilenceScope.DEVICE:
            return device_sites.get(target)
        case SilenceScope.EDGE:
            site = site_of_edge(site_map.sites, target)
            return None if site is None else site.id
        case SilenceScope.PLACE:
            return site_map.site_of_place(target)
    raise AssertionError("unreachable")  # pragma: no cover - mypy cannot see the match is total


def silenced_devices(site_map: SiteMap, scope: SilenceScope, target: str) -> list[str]:
    """Return the registered devices a silence of ``scope`` on ``target`` covers."""
    match scope:
        case SilenceScope.DEVICE:
            return [d.id for d in site_map.devices if d.id == target]
        case SilenceScope.EDGE:
            return [d.id for d in site_map.devices if d.edge_id == target]
        case SilenceScope.PLACE:
            return [d.id for d in site_map.devices if lies_within(d.location, target)]
    raise AssertionError("unreachable")  # pragma: no cover - mypy cannot see the match is total


def check_device(
    site_map: SiteMap, current: PlacedDevice | None, wanted: PlacedDevice, sites: Scope
) -> None:
    """Raise ``ForbiddenError`` unless a caller scoped to ``sites`` may register ``wanted``.

    The device registered now (``current``, None if it is new) and the registration wanted
    must both be of the caller's sites. A device with no site is refused too: a scoped
    caller could not see it afterwards, and an unlisted edge may be serving it.
    """
    if sites is None:
        return
    if current is not None and not covered(_site(site_map, current), sites):
        raise ForbiddenError(f"device {wanted.id} is not a device of your sites")
    if not covered(_site(site_map, wanted), sites):
        where = wanted.location if wanted.edge_id is None else f"edge {wanted.edge_id}"
        raise ForbiddenError(f"device {wanted.id} on {where} would not be of your sites")


def _site(site_map: SiteMap, device: PlacedDevice) -> str | None:
    return site_of_device(site_map.sites, site_map.grids, device.edge_id, device.location)


def check_household(
    site_map: SiteMap, location: str, device_ids: Iterable[str], sites: Scope
) -> None:
    """Raise ``ForbiddenError`` unless a caller scoped to ``sites`` may create this household.

    The household's site and every SOS button's site must be the caller's: a button of
    another site (or one that does not exist, which is not told apart) is refused.
    """
    if sites is None:
        return
    device_sites = site_map.device_sites()
    wanted = sorted(set(device_ids))
    foreign = [d for d in wanted if not covered(device_sites.get(d), sites)]
    if foreign:
        raise ForbiddenError(f"devices {', '.join(foreign)} are not of your sites")
    site = site_of_household(site_map, location, wanted, device_sites)
    if not covered(site, sites):
        raise ForbiddenError(f"{location} is not a place of your sites")


def check_silence(site_map: SiteMap, scope: SilenceScope, target: str, sites: Scope) -> None:
    """Raise ``ForbiddenError`` unless a caller scoped to ``sites`` may set this silence.

    Its own site must be the caller's, and so must the site of every device it silences now.
    An unknown target is refused the same way, so the answer tells nothing of other sites.
    A place silence must not take in a place of another site's grid either: no device of
    that site may be there yet, but one put there later would be silenced (found by an
    outside review: a fire in another community raised no case).
    """
    if sites is None:
        return
    device_sites = site_map.device_sites()
    site = site_of_silence(site_map, scope, target, device_sites)
    reached = {device_sites[d] for d in silenced_devices(site_map, scope, target)}
    foreign_places = scope is SilenceScope.PLACE and any(
        lies_within(place, target)
        for grid in site_map.grids
        if not covered(grid.site_id, sites)
        for place in grid.places
    )
    if not covered(site, sites) or any(not covered(s, sites) for s in reached) or foreign_places:
        raise ForbiddenError(f"a silence of {scope} {target} reaches outside your sites")


def check_site_edges(site_map: SiteMap, site: Site, sites: Scope) -> None:
    """Raise ``ForbiddenError`` if ``site`` lists an edge a site outside ``sites`` lists.

    An edge listed by two sites serves whichever comes first, so claiming another site's
    edge is refused outright rather than judged by the devices it would move.
    """
    if sites is None:
        return
    claimed = sorted(
        edge
        for other in site_map.sites
        if other.id != site.id and not covered(other.id, sites)
        for edge in other.edge_ids
        if edge in site.edge_ids
    )
    if claimed:
        raise ForbiddenError(f"edges {', '.join(claimed)} serve other sites")


def check_grid_places(site_map: SiteMap, grid: Grid, sites: Scope) -> None:
    """Raise ``ForbiddenError`` if ``grid`` names a place another site's grid covers.

    A place inside another site's grid is that site's, whether or not anything is there
    yet: a grid of one's own on it would take it (the longest place wins), and with it the
    devices and homes put there later, and the right to silence it (found by an outside
    review). A place no grid covers, or one of the caller's sites' grids covers, is free.
    """
    if sites is None:
        return
    others = [g for g in site_map.grids if g.id != grid.id]
    taken = sorted(
        place
        for place in grid.places
        if (owner := grid_of_place(others, place)) is not None and not covered(owner.site_id, sites)
    )
    if taken:
        raise ForbiddenError(f"places {', '.join(taken)} are of other sites")


def check_roster_change(
    before: SiteMap,
    after: SiteMap,
    sites: Scope,
    households: Mapping[int, tuple[str, list[str]]] | None = None,
) -> None:
    """Raise ``ForbiddenError`` if the change moves a device, or a household (``households``:
    each one's location and buttons), into or out of a site outside ``sites`` (one with no
    site may be taken in: that is how a new edge is put on).

    Households too: a household is placed by the grid covering its place, so a grid of one's
    own site covering another site's household's place would take the household, its care
    contacts and its page's token, into one's scope (found by an outside review)."""
    if sites is None:
        return
    old, new = before.device_sites(), after.device_sites()
    _refuse_moves("devices", old, new, sites)
    if households:
        _refuse_moves(
            "households",
            _household_sites(before, households, old),
            _household_sites(after, households, new),
            sites,
        )


def _household_sites(
    site_map: SiteMap,
    households: Mapping[int, tuple[str, list[str]]],
    device_sites: dict[str, str | None],
) -> dict[str, str | None]:
    return {
        str(household_id): site_of_household(site_map, location, buttons, device_sites)
        for household_id, (location, buttons) in households.items()
    }


def _refuse_moves(
    what: str, old: Mapping[str, str | None], new: Mapping[str, str | None], sites: frozenset[str]
) -> None:
    moved = sorted(
        key
        for key, was in old.items()
        if was != new.get(key)
        and any(s is not None and s not in sites for s in (was, new.get(key)))
    )
    if moved:
        raise ForbiddenError(
            f"the change would move {what} of other sites: {', '.join(moved[:10])}"
            + (f" and {len(moved) - 10} more" if len(moved) > 10 else "")
        )
