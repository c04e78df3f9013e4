"""The roster over HTTP under ``/api/v1``: sites, their grids and responders.

``PUT`` creates or replaces a record (provisioning scripts can run again harmlessly); the
records are the pure models of ``hub.roster.rules``, strict on input. Dispatching itself is a case
action (``POST /cases/{id}/dispatch`` in ``hub.http.deps``).

A site-scoped caller lists only its sites' records. It may ``PUT`` only into its sites: a
record of another site is not there for it (404), creating one in, or moving one to, another
site is refused (403), and so is a change that would move devices into or out of another
site (``hub.scoping.check_roster_change``). The checks run just before the write, in their
own read; two concurrent roster writes by different sites' staff could still race.
"""

import asyncio

from fastapi import APIRouter

from hub.auth.routes import PrincipalDep
from hub.auth.rules import ForbiddenError
from hub.auth.scoping import (
    Scope,
    check_grid_places,
    check_roster_change,
    check_site_edges,
    covered,
)
from hub.errors import InvalidInputError, NotFoundError
from hub.http.deps import API_PREFIX, StoreDep
from hub.http.views import Items
from hub.roster.rules import Grid, Responder, Site

roster_router = APIRouter(prefix=API_PREFIX)


def _same_id(path_id: str, body_id: str) -> None:
    if path_id != body_id:
        raise InvalidInputError(f"the path names {path_id} but the body names {body_id}")


def _check_write(what: str, record_id: str, was: str | None, to: str, sites: Scope) -> None:
    """Refuse a scoped caller's write of a record now of site ``was`` (None: new) into ``to``."""
    if was is not None and not covered(was, sites):
        raise NotFoundError(f"{what} {record_id} does not exist")
    if not covered(to, sites):
        raise ForbiddenError(f"site {to} is not one of your sites")


@roster_router.put("/sites/{site_id}")
async def put_site(site_id: str, site: Site, store: StoreDep, principal: PrincipalDep) -> Site:
    """Create or replace a site (a community) with the edges that serve it."""
    _same_id(site_id, site.id)
    if principal.sites is not None:
        before = await asyncio.to_thread(store.roster.site_map)
        was = site.id if any(s.id == site.id for s in before.sites) else None
        _check_write("site", site.id, was, site.id, principal.sites)
        check_site_edges(before, site, principal.sites)
        households = await asyncio.to_thread(store.households.household_places)
        check_roster_change(before, before.with_site(site), principal.sites, households)
    return await asyncio.to_thread(store.roster.put_site, site)


@roster_router.get("/sites")
async def list_sites(store: StoreDep, principal: PrincipalDep) -> Items[Site]:
    """List sites (a site-scoped caller: its own)."""
    return Items(items=await asyncio.to_thread(store.roster.list_sites, sites=principal.sites))


@roster_router.put("/grids/{grid_id}")
async def put_grid(grid_id: str, grid: Grid, store: StoreDep, principal: PrincipalDep) -> Grid:
    """Create or replace a grid (网格) of a site, with the places it covers."""
    _same_id(grid_id, grid.id)
    if principal.sites is not None:
        before = await asyncio.to_thread(store.roster.site_map)
        was = next((g.site_id for g in before.grids if g.id == grid.id), None)
        _check_write("grid", grid.id, was, grid.site_id, principal.sites)
        households = await asyncio.to_thread(store.households.household_places)
        check_roster_change(before, before.with_grid(grid), principal.sites, households)
        # Also when nothing is there yet: a place inside another site's grid is that site's.
        check_grid_places(before, grid, principal.sites)
    return await asyncio.to_thread(store.roster.put_grid, grid)


@roster_router.get("/grids")
async def list_grids(
    store: StoreDep, principal: PrincipalDep, site_id: str | None = None
) -> Items[Grid]:
    """List grids, optionally of one site (a site-scoped caller: of its sites)."""
    grids = await asyncio.to_thread(store.roster.list_grids, site_id=site_id, sites=principal.sites)
    return Items(items=grids)


@roster_router.put("/responders/{responder_id}")
async def put_responder(
    responder_id: str, responder: Responder, store: StoreDep, principal: PrincipalDep
) -> Responder:
    """Create or replace a responder: role, grids covered, on-call shifts."""
    _same_id(responder_id, responder.id)
    if principal.sites is not None:
        existing = await asyncio.to_thread(store.roster.list_responders)
        was = next((r.site_id for r in existing if r.id == responder.id), None)
        _check_write("responder", responder.id, was, responder.site_id, principal.sites)
    return await asyncio.to_thread(store.roster.put_responder, responder)


@roster_router.get("/responders")
async def list_responders(
    store: StoreDep, principal: PrincipalDep, site_id: str | None = None
) -> Items[Responder]:
    """List responders, optionally of one site (a site-scoped caller: of its sites)."""
    responders = await asyncio.to_thread(
        store.roster.list_responders, site_id=site_id, sites=principal.sites
    )
    return Items(items=responders)
