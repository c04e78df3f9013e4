"""Camera evidence and camera commands over HTTP, and the lifespan of the evidence reader.

| method and path | what |
|---|---|
| ``GET /api/v1/alerts/{alert_id}/evidence`` | the alert's pictures (``{"items": [...]}``) |
| ``GET /api/v1/cases/{case_id}/evidence`` | the pictures of every alert of the case |
| ``GET /api/v1/evidence/status`` | the reader's connection and counters, retention's counters |
| ``GET /api/v1/evidence/usage`` | each edge's picture bytes held, the quota, the free disk |
| ``GET /api/v1/evidence/{evidence_id}`` | the picture itself, ``image/jpeg`` |
| ``POST /api/v1/cameras/{device_id}/rebaseline`` | a camera re-aimed on purpose: re-baseline |

For a caller scoped to sites, a picture is of the site of its alert's device (of its own
camera's until the alert arrives): an alert or picture of another site answers 404, as a
missing one does. A case's pictures go with the case (``hub.auth.routes`` checks it).
``/evidence/status`` holds hub-wide counters only (no id, no site), like ``/metrics``: every
reader sees it. ``/evidence/usage`` lists a scoped caller's own sites' edges only.

The router carries its own lifespan (FastAPI runs it inside the app's, so the database is
migrated by then): it opens the evidence repository and, with ``start_ingest`` and
``evidence_ingest`` on, runs the evidence reader (``hub.evidence.link``); with ``start_ingest`` and
a non-zero ``evidence_retention_interval_s``, the evidence retention.
"""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

import aiomqtt
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Request
from fastapi.responses import FileResponse

from devices.camera import CameraCommand
from devices.topics import EdgeChannel, edge_topic
from hub.auth.routes import PrincipalDep
from hub.errors import NotFoundError
from hub.evidence.commands import command_edge, command_record, rebaseline
from hub.evidence.link import EvidenceIngest, EvidenceRetention
from hub.evidence.repository import EvidenceStore, EvidenceView
from hub.http.deps import API_PREFIX, ActorDep, ClockDep, IngestDep, visible_devices, visible_edges
from hub.http.deps import StoreDep as HubStoreDep
from hub.http.views import Items, View
from hub.persistence.engine import create_hub_engine
from hub.settings import HubSettings

COMMAND_PUBLISH_TIMEOUT_S = 5.0

EvidenceId = Annotated[str, Path(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


@contextlib.asynccontextmanager
async def evidence_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the evidence repository and run the evidence reader for the app's lifetime."""
    settings: HubSettings = app.state.settings
    engine = create_hub_engine(settings.resolved_database_url())
    store = EvidenceStore(engine, settings.resolved_evidence_dir())
    reader = (
        EvidenceIngest(settings, store, clock=app.state.clock)
        if settings.start_ingest and settings.evidence_ingest
        else None
    )
    retention = (
        EvidenceRetention(settings, store, clock=app.state.clock)
        if settings.start_ingest and settings.evidence_retention_interval_s > 0
        else None
    )
    app.state.evidence_store = store
    app.state.evidence_ingest = reader
    app.state.evidence_retention = retention
    tasks = []
    if reader is not None:
        tasks.append(asyncio.create_task(reader.run(), name="hub-evidence"))
    if retention is not None:
        tasks.append(asyncio.create_task(retention.run(), name="hub-evidence-retention"))
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        app.state.evidence_ingest = None
        app.state.evidence_retention = None
        engine.dispose()


evidence_router = APIRouter(prefix=API_PREFIX, tags=["camera evidence"], lifespan=evidence_lifespan)


def get_evidence_store(request: Request) -> EvidenceStore:
    """Return the app's evidence repository (created by the lifespan)."""
    store: EvidenceStore = request.app.state.evidence_store
    return store


StoreDep = Annotated[EvidenceStore, Depends(get_evidence_store)]


@evidence_router.get("/alerts/{alert_id}/evidence")
async def alert_evidence(
    alert_id: EvidenceId, store: StoreDep, hub: HubStoreDep, principal: PrincipalDep
) -> Items[EvidenceView]:
    """List an alert's pictures (clean and annotated); another site's alert is not found."""
    device_ids = await visible_devices(hub, principal.sites)
    return Items(items=await asyncio.to_thread(store.for_alert, alert_id, device_ids=device_ids))


@evidence_router.get("/cases/{case_id}/evidence")
async def case_evidence(case_id: int, store: StoreDep) -> Items[EvidenceView]:
    """List the pictures of every alert of a case."""
    return Items(items=await asyncio.to_thread(store.for_case, case_id))


class EvidenceStatus(View):
    """The evidence reader's connection and counters, and the retention's counters."""

    connected: bool
    counters: dict[str, int]


@evidence_router.get("/evidence/status")
async def evidence_status(request: Request) -> EvidenceStatus:
    """Report evidence intake and retention: connected or not; stored, rejected, pruned."""
    reader: EvidenceIngest | None = request.app.state.evidence_ingest
    retention: EvidenceRetention | None = request.app.state.evidence_retention
    counters: dict[str, int] = {}
    if reader is not None:
        counters.update(reader.counters)
    if retention is not None:
        counters.update(retention.counters)
    return EvidenceStatus(connected=reader is not None and reader.connected, counters=counters)


class EdgePictureUsage(View):
    """The bytes one edge's pictures take on the hub (``hub.evidence.quota``)."""

    edge_id: str
    held_bytes: int


class PictureUsage(View):
    """What each edge's pictures take, against the quota, and the disk they are on."""

    edge_quota_bytes: int
    life_safety_reserve_bytes: int
    free_disk_bytes: int
    min_free_disk_bytes: int
    items: list[EdgePictureUsage]


@evidence_router.get("/evidence/usage")
async def evidence_usage(
    request: Request, store: StoreDep, hub: HubStoreDep, principal: PrincipalDep
) -> PictureUsage:
    """Report each edge's picture bytes held against its quota (scoped: its sites' edges)."""
    settings: HubSettings = request.app.state.settings
    edges = await visible_edges(hub, principal.sites)
    usage = await asyncio.to_thread(store.usage)
    return PictureUsage(
        edge_quota_bytes=settings.evidence_edge_quota_bytes,
        life_safety_reserve_bytes=settings.evidence_life_safety_reserve_bytes,
        free_disk_bytes=await asyncio.to_thread(store.free_disk_bytes),
        min_free_disk_bytes=settings.evidence_min_free_disk_bytes,
        items=[
            EdgePictureUsage(edge_id=edge_id, held_bytes=held)
            for edge_id, held in sorted(usage.items())
            if edges is None or edge_id in edges
        ],
    )


# Declared after /evidence/status and /evidence/usage, which it would otherwise shadow.
@evidence_router.get(
    "/evidence/{evidence_id}",
    response_class=FileResponse,
    responses={200: {"content": {"image/jpeg": {}}}},
)
async def evidence_picture(
    evidence_id: EvidenceId, store: StoreDep, hub: HubStoreDep, principal: PrincipalDep
) -> FileResponse:
    """Return one picture as image/jpeg; another site's picture is not found."""
    device_ids = await visible_devices(hub, principal.sites)
    view, path = await asyncio.to_thread(store.get, evidence_id, device_ids=device_ids)
    return FileResponse(
        path,
        media_type=view.content_type,
        # No cache keeps it: a courtyard's picture on a shared console PC's disk would outlast
        # the operator's session and scope (as residents' photos, hub.requests.routes).
        headers={"ETag": f'"{view.sha256}"', "Cache-Control": "no-store"},
    )


@evidence_router.post("/cameras/{device_id}/rebaseline", status_code=202)
async def rebaseline_camera(
    device_id: str,
    hub: HubStoreDep,
    principal: PrincipalDep,
    actor: ActorDep,
    ingest: IngestDep,
    clock: ClockDep,
) -> CameraCommand:
    """Tell a camera's edge to take its current view as the reference: an operator re-aimed
    the camera on purpose (an open ``camera_tamper`` then clears by the usual rule)."""
    device_ids = await visible_devices(hub, principal.sites)
    if device_ids is not None and device_id not in device_ids:
        raise NotFoundError(f"device {device_id} is not registered")
    device = await asyncio.to_thread(hub.fleet.get_device, device_id)
    edge_id = command_edge(device_id, device.kind, device.edge_id)
    command = rebaseline(uuid.uuid4().hex, device_id, actor)
    client = None if ingest is None else ingest.client()
    if client is None:
        raise HTTPException(503, "the hub is not connected to its MQTT broker: try again")
    try:
        await client.publish(
            edge_topic(edge_id, EdgeChannel.CAMERA_COMMAND),
            command.model_dump_json(),
            qos=1,
            timeout=COMMAND_PUBLISH_TIMEOUT_S,
        )
    except (aiomqtt.MqttError, TimeoutError) as exc:
        raise HTTPException(503, f"the command could not be sent: {exc}") from exc
    record = command_record(command, edge_id, clock())
    await asyncio.to_thread(hub.audit.append, record)
    return command
