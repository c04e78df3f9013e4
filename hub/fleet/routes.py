"""Devices and edges over HTTP under ``/api/v1``: registering, listing and retiring devices,
edges' last statuses.
"""

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from devices.registry import Device
from hub.errors import NotFoundError
from hub.fleet.views import DeviceView, EdgeView
from hub.http.deps import (
    API_PREFIX,
    ActorDep,
    IngestDep,
    StoreDep,
    caller_sites,
    visible_edges,
)
from hub.http.views import Items

router = APIRouter(prefix=API_PREFIX)


@router.post(
    "/devices",
    status_code=201,
    responses={200: {"model": DeviceView, "description": "Already registered (now updated)"}},
)
async def register_device(
    device: Device, response: Response, store: StoreDep, ingest: IngestDep, request: Request
) -> DeviceView:
    """Register a device (201), or update its registration if the id exists (200).

    The last registration wins, so re-running a provisioning script is harmless and moving
    a device to another edge is one call. The edges concerned get their new DeviceRegistry.
    A site-scoped caller may register only devices of its sites, before and after (403).
    """
    sites = caller_sites(request)
    change = await asyncio.to_thread(store.fleet.register_device, device, sites=sites)
    if not change.created:
        response.status_code = 200
    if ingest is not None:
        for edge_id in sorted(change.edges_affected):
            await ingest.publish_registry(edge_id)
    return change.device


@router.get("/devices")
async def list_devices(
    store: StoreDep, request: Request, edge_id: str | None = None, retired: bool = False
) -> Items[DeviceView]:
    """List the devices in service, or with ``retired=true`` those retired (a site-scoped
    caller sees its sites' only)."""
    sites = caller_sites(request)
    return Items(
        items=await asyncio.to_thread(
            store.fleet.list_devices, edge_id=edge_id, sites=sites, retired=retired
        )
    )


@router.delete("/devices/{device_id}")
async def retire_device(
    device_id: str,
    store: StoreDep,
    ingest: IngestDep,
    actor: ActorDep,
    request: Request,
    reason: Annotated[str | None, Query(max_length=500)] = None,
) -> DeviceView:
    """Retire a device: out of the lists, the site plan and its edge's registry, its history
    kept (``hub.fleet.retirement``). 409 while an unfinished case or a household needs it;
    retiring it again changes nothing. An alert from it, or registering it again, brings it
    back. A site-scoped caller may retire only its sites' devices (404 otherwise)."""
    change = await asyncio.to_thread(
        store.fleet.retire_device,
        device_id,
        actor=actor,
        reason=reason,
        sites=caller_sites(request),
    )
    if ingest is not None:
        for edge_id in sorted(change.edges_affected):
            await ingest.publish_registry(edge_id)
    return change.device


@router.get("/devices/{device_id}")
async def get_device(device_id: str, store: StoreDep, request: Request) -> DeviceView:
    """Show one device, with how its cases were resolved and its nuisance rate."""
    sites = caller_sites(request)
    if sites is not None and device_id not in await asyncio.to_thread(
        store.fleet.visible_device_ids, sites
    ):
        raise NotFoundError(f"device {device_id} is not registered")
    return await asyncio.to_thread(store.fleet.get_device, device_id)


@router.get("/edges")
async def list_edges(store: StoreDep, request: Request) -> Items[EdgeView]:
    """List the edges that have reported, with their last status (scoped: its sites' only)."""
    edge_ids = await visible_edges(store, caller_sites(request))
    return Items(items=await asyncio.to_thread(store.fleet.list_edges, edge_ids=edge_ids))
