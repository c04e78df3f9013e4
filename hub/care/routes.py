"""Care households over HTTP under ``/api/v1``: flag a household for care (consent, family
contacts, sensors, waking hours), mark it away for a trip, list what each home shows now.
"""

import asyncio

from fastapi import APIRouter, Request

from hub.care.views import AwayRequest, CareSettings, CareView
from hub.http.deps import API_PREFIX, ActorDep, StoreDep, caller_sites, check_in_scope
from hub.http.views import Items
from hub.store import HubStore

router = APIRouter(prefix=API_PREFIX)


async def _visible(store: HubStore, request: Request, household_id: int) -> None:
    sites = caller_sites(request)
    await check_in_scope(sites, store.households.household_sites, household_id, "household")


@router.put("/households/{household_id}/care")
async def put_care(
    household_id: int, body: CareSettings, store: StoreDep, actor: ActorDep, request: Request
) -> CareView:
    """Flag a household for care (or change it, or end it with ``enabled: false``); a scoped
    caller names only its sites' sensors."""
    await _visible(store, request, household_id)
    sites = caller_sites(request)
    return await asyncio.to_thread(store.care.put_care, household_id, body, actor, sites=sites)


@router.get("/households/{household_id}/care")
async def get_care(household_id: int, store: StoreDep, request: Request) -> CareView:
    """Show a care household and what its home shows now."""
    await _visible(store, request, household_id)
    return await asyncio.to_thread(store.care.get_care, household_id)


@router.post("/households/{household_id}/care/away")
async def set_away(
    household_id: int, body: AwayRequest, store: StoreDep, actor: ActorDep, request: Request
) -> CareView:
    """Mark a care household away until a time (a trip: no alarm), or back (``null``)."""
    await _visible(store, request, household_id)
    return await asyncio.to_thread(store.care.set_away, household_id, body.until, actor)


@router.get("/care")
async def list_care(store: StoreDep, request: Request) -> Items[CareView]:
    """List care households with their status now (scoped: their sites' only)."""
    return Items(items=await asyncio.to_thread(store.care.list_care, sites=caller_sites(request)))
