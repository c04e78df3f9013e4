"""The roster over HTTP under ``/api/v1``: sites, their grids and responders.

``PUT`` creates or replaces a record (provisioning scripts can run again harmlessly); the
records are the pure models of ``hub.roster``, strict on input. Dispatching itself is a case
action (``POST /cases/{id}/dispatch`` in ``hub.api``).
"""

import asyncio

from fastapi import APIRouter

from hub.api import API_PREFIX, StoreDep
from hub.errors import InvalidInputError
from hub.roster import Grid, Responder, Site
from hub.views import Items

roster_router = APIRouter(prefix=API_PREFIX)


def _same_id(path_id: str, body_id: str) -> None:
    if path_id != body_id:
        raise InvalidInputError(f"the path names {path_id} but the body names {body_id}")


@roster_router.put("/sites/{site_id}")
async def put_site(site_id: str, site: Site, store: StoreDep) -> Site:
    """Create or replace a site (a community) with the edges that serve it."""
    _same_id(site_id, site.id)
    return await asyncio.to_thread(store.put_site, site)


@roster_router.get("/sites")
async def list_sites(store: StoreDep) -> Items[Site]:
    """List sites."""
    return Items(items=await asyncio.to_thread(store.list_sites))


@roster_router.put("/grids/{grid_id}")
async def put_grid(grid_id: str, grid: Grid, store: StoreDep) -> Grid:
    """Create or replace a grid (网格) of a site, with the places it covers."""
    _same_id(grid_id, grid.id)
    return await asyncio.to_thread(store.put_grid, grid)


@roster_router.get("/grids")
async def list_grids(store: StoreDep, site_id: str | None = None) -> Items[Grid]:
    """List grids, optionally of one site."""
    return Items(items=await asyncio.to_thread(store.list_grids, site_id=site_id))


@roster_router.put("/responders/{responder_id}")
async def put_responder(responder_id: str, responder: Responder, store: StoreDep) -> Responder:
    """Create or replace a responder: role, grids covered, on-call shifts."""
    _same_id(responder_id, responder.id)
    return await asyncio.to_thread(store.put_responder, responder)


@roster_router.get("/responders")
async def list_responders(store: StoreDep, site_id: str | None = None) -> Items[Responder]:
    """List responders, optionally of one site."""
    return Items(items=await asyncio.to_thread(store.list_responders, site_id=site_id))
