"""The hub's HTTP API under ``/api/v1``: devices, alerts, cases, households, edges, health, stream.

Routes parse, call the repository (``hub.store``) in a worker thread and return its views;
they hold no logic of their own. Errors from the hub's hierarchy become HTTP statuses in
``hub.app``: unknown case 404, illegal case action 409, unacceptable input 422.
Committed case actions are reported to the edges through the ingest's ``FeedbackPublisher``
(queued, never awaited). The resident page lives apart, in ``hub.resident_api``.
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import Field, StringConstraints

from devices.kinds import AlertKind
from devices.location import LocationText
from devices.registry import Device, Identifier
from hub.cases import CaseStatus
from hub.events import CaseChanged, EventBus, HubEvent, SubscriptionClosedError
from hub.ingest import MqttIngest
from hub.resident import issue_token, resident_link
from hub.settings import HubSettings
from hub.store import Clock, HubStore
from hub.views import (
    AlertView,
    CaseDetail,
    CaseView,
    DeviceView,
    EdgeView,
    Health,
    HouseholdView,
    IssuedHousehold,
    Items,
    View,
)

API_PREFIX = "/api/v1"
MAX_LIMIT = 100_000
"""The largest page a list endpoint returns (there is no pagination yet)."""

router = APIRouter(prefix=API_PREFIX)


def get_settings(request: Request) -> HubSettings:
    """Return the settings the app was created with."""
    settings: HubSettings = request.app.state.settings
    return settings


def get_store(request: Request) -> HubStore:
    """Return the app's repository (created by the lifespan)."""
    store: HubStore = request.app.state.store
    return store


def get_events(request: Request) -> EventBus:
    """Return the app's live event bus."""
    events: EventBus = request.app.state.events
    return events


def get_ingest(request: Request) -> MqttIngest | None:
    """Return the MQTT ingest, or None when the app runs without one."""
    ingest: MqttIngest | None = request.app.state.ingest
    return ingest


def get_clock(request: Request) -> Clock:
    """Return the clock the app was created with."""
    clock: Clock = request.app.state.clock
    return clock


SettingsDep = Annotated[HubSettings, Depends(get_settings)]
ClockDep = Annotated[Clock, Depends(get_clock)]
StoreDep = Annotated[HubStore, Depends(get_store)]
EventsDep = Annotated[EventBus, Depends(get_events)]
IngestDep = Annotated[MqttIngest | None, Depends(get_ingest)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
HouseholdName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)
]


class AcknowledgeRequest(View):
    """Body of ``POST /cases/{id}/acknowledge``; the note is optional."""

    note: Note | None = None


class ResolveRequest(View):
    """Body of ``POST /cases/{id}/resolve``; saying how it was resolved is required."""

    note: Note


class HouseholdRequest(View):
    """Body of ``POST /households``: a name, a location path, and its SOS buttons if any."""

    name: HouseholdName
    location: LocationText
    device_ids: list[Identifier] = Field(default_factory=list)


@router.post(
    "/devices",
    status_code=201,
    responses={200: {"model": DeviceView, "description": "Already registered (now updated)"}},
)
async def register_device(
    device: Device, response: Response, store: StoreDep, ingest: IngestDep
) -> DeviceView:
    """Register a device (201), or update its registration if the id exists (200).

    The last registration wins, so re-running a provisioning script is harmless and moving
    a device to another edge is one call. The edges concerned get their new DeviceRegistry.
    """
    change = await asyncio.to_thread(store.register_device, device)
    if not change.created:
        response.status_code = 200
    if ingest is not None:
        for edge_id in sorted(change.edges_affected):
            await ingest.publish_registry(edge_id)
    return change.device


@router.get("/devices")
async def list_devices(store: StoreDep, edge_id: str | None = None) -> Items[DeviceView]:
    """List registered devices."""
    return Items(items=await asyncio.to_thread(store.list_devices, edge_id=edge_id))


@router.get("/alerts")
async def list_alerts(
    store: StoreDep,
    device_id: str | None = None,
    kind: AlertKind | None = None,
    case_id: int | None = None,
    limit: Limit = 100,
) -> Items[AlertView]:
    """List alerts, newest event time first."""
    alerts = await asyncio.to_thread(
        store.list_alerts, device_id=device_id, kind=kind, case_id=case_id, limit=limit
    )
    return Items(items=alerts)


@router.get("/cases")
async def list_cases(
    store: StoreDep, status: CaseStatus | None = None, limit: Limit = 100
) -> Items[CaseView]:
    """List cases, most recently updated first."""
    return Items(items=await asyncio.to_thread(store.list_cases, status=status, limit=limit))


@router.get("/cases/{case_id}")
async def get_case(case_id: int, store: StoreDep) -> CaseDetail:
    """Show one case with its alerts and its history."""
    return await asyncio.to_thread(store.get_case, case_id)


@router.post("/cases/{case_id}/acknowledge")
async def acknowledge_case(
    case_id: int,
    store: StoreDep,
    events: EventsDep,
    ingest: IngestDep,
    body: Annotated[AcknowledgeRequest | None, Body()] = None,
) -> CaseView:
    """Acknowledge an open case."""
    note = body.note if body is not None else None
    case = await asyncio.to_thread(store.acknowledge, case_id, note)
    events.publish(CaseChanged(type="case_updated", case=case))
    if ingest is not None:
        ingest.feedback.notify(case)
    return case


@router.post("/cases/{case_id}/resolve")
async def resolve_case(
    case_id: int, body: ResolveRequest, store: StoreDep, events: EventsDep, ingest: IngestDep
) -> CaseView:
    """Resolve an open or acknowledged case, saying how."""
    case = await asyncio.to_thread(store.resolve, case_id, body.note)
    events.publish(CaseChanged(type="case_updated", case=case))
    if ingest is not None:
        ingest.feedback.notify(case)
    return case


@router.post("/households", status_code=201)
async def create_household(body: HouseholdRequest, store: StoreDep) -> IssuedHousehold:
    """Create a household; the response holds its page token and link, shown this once only."""
    token, hashed = issue_token()
    household = await asyncio.to_thread(
        store.create_household, body.name, body.location, body.device_ids, hashed
    )
    return IssuedHousehold(**household.model_dump(), token=token, link=resident_link(token))


@router.get("/households")
async def list_households(store: StoreDep) -> Items[HouseholdView]:
    """List households and their SOS buttons (never their tokens)."""
    return Items(items=await asyncio.to_thread(store.list_households))


@router.post("/households/{household_id}/token")
async def rotate_household_token(household_id: int, store: StoreDep) -> IssuedHousehold:
    """Give a household a new page token; the old link stops working at once."""
    token, hashed = issue_token()
    household = await asyncio.to_thread(store.rotate_household_token, household_id, hashed)
    return IssuedHousehold(**household.model_dump(), token=token, link=resident_link(token))


@router.get("/edges")
async def list_edges(store: StoreDep) -> Items[EdgeView]:
    """List the edges that have reported, with their last status."""
    return Items(items=await asyncio.to_thread(store.list_edges))


@router.get("/health")
async def health(ingest: IngestDep) -> Health:
    """Say the hub is up, whether MQTT is connected, and the ingest counters."""
    if ingest is None:
        return Health(mqtt_connected=False, counters={})
    return Health(mqtt_connected=ingest.connected, counters=dict(ingest.counters))


def sse_message(event: HubEvent) -> str:
    """Format one event as a Server-Sent Events message."""
    return f"event: {event.type}\ndata: {event.model_dump_json()}\n\n"


async def _event_stream(events: EventBus, keepalive_seconds: float) -> AsyncIterator[str]:
    with events.subscribe() as subscription:
        # Tells the client it is subscribed: every event from here on will reach it.
        yield ": connected\n\n"
        while True:
            try:
                async with asyncio.timeout(keepalive_seconds):
                    event = await subscription.get()
            except TimeoutError:
                yield ": keepalive\n\n"
                continue
            except SubscriptionClosedError:
                return
            yield sse_message(event)


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream(events: EventsDep, settings: SettingsDep) -> StreamingResponse:
    """Stream live events (alerts, case changes) as Server-Sent Events."""
    return StreamingResponse(
        _event_stream(events, settings.sse_keepalive_seconds),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
