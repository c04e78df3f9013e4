"""The hub's HTTP API under ``/api/v1``: devices, alerts, cases, households, edges, health, stream,
audit trail.

Routes parse, call the repository (``hub.store``) in a worker thread and return its views;
they hold no logic of their own. Errors from the hub's hierarchy become HTTP statuses in
``hub.app``: unknown case 404, illegal case action 409, unacceptable input 422.
Committed case actions are reported to the edges through the ingest's ``FeedbackPublisher``
(queued, never awaited). The resident page lives apart, in ``hub.resident_api``.
"""

import asyncio
import math
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime, Field, StringConstraints

from devices.kinds import AlertKind
from devices.location import LocationText, normalise_location
from devices.registry import Device, Identifier
from hub.audit.views import AuditEntryView, AuditVerdictView
from hub.auth.scoping import check_household, check_silence, hidden
from hub.cases.rules import CaseAction, CaseStatus, Resolution
from hub.cases.views import AlertView, CaseDetail, CaseView
from hub.errors import InvalidInputError, NotFoundError
from hub.fleet.views import DeviceView, EdgeView
from hub.http.views import Health, Items, View
from hub.ingest.link import MqttIngest
from hub.live.events import AlertReceived, CaseChanged, EventBus, HubEvent, SubscriptionClosedError
from hub.residents.rules import issue_token, resident_link
from hub.residents.views import HouseholdView, IssuedHousehold
from hub.settings import HubSettings
from hub.silences.rules import SilenceScope
from hub.silences.views import SilenceView
from hub.store import Clock, HubStore

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


def get_actor(request: Request) -> str | None:
    """Return who is acting: the name of the principal authentication left on the request."""
    # Looked up by attribute so that this module does not depend on how auth is built.
    name = getattr(getattr(request.state, "principal", None), "name", None)
    return name if isinstance(name, str) else None


def _scope(request: Request) -> frozenset[str] | None:
    """Return the sites the caller is scoped to, or None for every site."""
    sites = getattr(getattr(request.state, "principal", None), "sites", None)
    return sites if isinstance(sites, frozenset) else None


def get_clock(request: Request) -> Clock:
    """Return the clock the app was created with."""
    clock: Clock = request.app.state.clock
    return clock


SettingsDep = Annotated[HubSettings, Depends(get_settings)]
ClockDep = Annotated[Clock, Depends(get_clock)]
StoreDep = Annotated[HubStore, Depends(get_store)]
EventsDep = Annotated[EventBus, Depends(get_events)]
IngestDep = Annotated[MqttIngest | None, Depends(get_ingest)]
ActorDep = Annotated[str | None, Depends(get_actor)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
Assignee = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
HouseholdName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)
]


class AcknowledgeRequest(View):
    """Body of ``POST /cases/{id}/acknowledge``; the note is optional."""

    note: Note | None = None


class ResolveRequest(View):
    """Body of ``POST /cases/{id}/resolve``: the resolution code and a note saying how."""

    note: Note
    resolution: Resolution


class DispatchRequest(View):
    """Body of ``POST /cases/{id}/dispatch`` and ``/hand_over``: the responder it goes to (by
    id; for a dispatch, leave it out to let the dispatch rules choose) and a note."""

    assignee: Assignee | None = None
    note: Note | None = None


class SilenceRequest(View):
    """Body of ``POST /silences``: what to silence, until when, and why."""

    scope: SilenceScope
    target: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)]
    """A device id, a place (location prefix, e.g. ``Building 3``) or an edge id."""
    kinds: list[AlertKind] = Field(default_factory=list)
    """Only these kinds; empty: every kind but ``sos``."""
    starts_at: AwareDatetime | None = None
    """Default: now."""
    ends_at: AwareDatetime
    reason: Note


class ActionRequest(View):
    """Body of the other case actions (accept, decline, start, close, reopen): a note."""

    note: Note | None = None


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
async def list_devices(
    store: StoreDep, request: Request, edge_id: str | None = None
) -> Items[DeviceView]:
    """List registered devices (a site-scoped caller sees its sites' only)."""
    sites = _scope(request)
    return Items(items=await asyncio.to_thread(store.list_devices, edge_id=edge_id, sites=sites))


@router.get("/devices/{device_id}")
async def get_device(device_id: str, store: StoreDep, request: Request) -> DeviceView:
    """Show one device, with how its cases were resolved and its nuisance rate."""
    sites = _scope(request)
    if sites is not None and device_id not in await asyncio.to_thread(
        store.visible_device_ids, sites
    ):
        raise NotFoundError(f"device {device_id} is not registered")
    return await asyncio.to_thread(store.get_device, device_id)


@router.get("/alerts")
async def list_alerts(
    store: StoreDep,
    device_id: str | None = None,
    kind: AlertKind | None = None,
    case_id: int | None = None,
    limit: Limit = 100,
    *,
    request: Request,
) -> Items[AlertView]:
    """List alerts, newest event time first (a site-scoped caller sees its sites' only)."""
    sites = _scope(request)
    device_ids = None if sites is None else await asyncio.to_thread(store.visible_device_ids, sites)
    alerts = await asyncio.to_thread(
        store.list_alerts,
        device_id=device_id,
        kind=kind,
        case_id=case_id,
        limit=limit,
        device_ids=device_ids,
    )
    return Items(items=alerts)


@router.get("/cases")
async def list_cases(
    store: StoreDep, request: Request, status: CaseStatus | None = None, limit: Limit = 100
) -> Items[CaseView]:
    """List cases, most recently updated first (a site-scoped caller sees its sites' only)."""
    sites = _scope(request)
    return Items(
        items=await asyncio.to_thread(store.list_cases, status=status, limit=limit, sites=sites)
    )


@router.get("/cases/{case_id}")
async def get_case(case_id: int, store: StoreDep) -> CaseDetail:
    """Show one case with its alerts and its history."""
    return await asyncio.to_thread(store.get_case, case_id)


async def _act(
    case_id: int,
    action: CaseAction,
    store: HubStore,
    events: EventBus,
    ingest: MqttIngest | None,
    *,
    actor: str | None,
    note: str | None = None,
    resolution: Resolution | None = None,
    assignee: str | None = None,
) -> CaseView:
    case = await asyncio.to_thread(
        store.act,
        case_id,
        action,
        note=note,
        actor=actor,
        resolution=resolution,
        assignee=assignee,
    )
    events.publish(CaseChanged(type="case_updated", case=case))
    if ingest is not None:
        ingest.feedback.notify(case)
    return case


@router.post("/cases/{case_id}/acknowledge")
async def acknowledge_case(
    case_id: int,
    store: StoreDep,
    events: EventsDep,
    ingest: IngestDep,
    actor: ActorDep,
    body: Annotated[AcknowledgeRequest | None, Body()] = None,
) -> CaseView:
    """Acknowledge an open case (409 naming its status otherwise)."""
    note = body.note if body is not None else None
    return await _act(
        case_id, CaseAction.ACKNOWLEDGE, store, events, ingest, actor=actor, note=note
    )


@router.post("/cases/{case_id}/dispatch")
async def dispatch_case(
    case_id: int,
    body: DispatchRequest,
    store: StoreDep,
    events: EventsDep,
    ingest: IngestDep,
    actor: ActorDep,
) -> CaseView:
    """Send an open, acknowledged or dispatched case to a responder (派单)."""
    return await _act(
        case_id,
        CaseAction.DISPATCH,
        store,
        events,
        ingest,
        actor=actor,
        note=body.note,
        assignee=body.assignee,
    )


@router.post("/cases/{case_id}/hand_over")
async def hand_over_case(
    case_id: int,
    body: DispatchRequest,
    store: StoreDep,
    events: EventsDep,
    ingest: IngestDep,
    actor: ActorDep,
) -> CaseView:
    """Hand an accepted case over to another responder, who has to accept it in turn."""
    return await _act(
        case_id,
        CaseAction.HAND_OVER,
        store,
        events,
        ingest,
        actor=actor,
        note=body.note,
        assignee=body.assignee,
    )


def _simple_action(action: CaseAction, summary: str) -> None:
    async def endpoint(
        case_id: int,
        store: StoreDep,
        events: EventsDep,
        ingest: IngestDep,
        actor: ActorDep,
        body: Annotated[ActionRequest | None, Body()] = None,
    ) -> CaseView:
        note = body.note if body is not None else None
        return await _act(case_id, action, store, events, ingest, actor=actor, note=note)

    endpoint.__doc__ = summary
    router.add_api_route(
        f"/cases/{{case_id}}/{action.value}",
        endpoint,
        methods=["POST"],
        name=f"{action.value}_case",
    )


_simple_action(CaseAction.ACCEPT, "Accept a case dispatched to you (接单).")
_simple_action(
    CaseAction.DECLINE, "Decline a dispatched case: it goes back to be dispatched again."
)
_simple_action(CaseAction.START, "Say that work on an accepted case has started on site.")
_simple_action(CaseAction.CLOSE, "Close a resolved case for good: it will not reopen.")
_simple_action(CaseAction.REOPEN, "Reopen a resolved case.")


class CommentRequest(View):
    """Body of ``POST /cases/{id}/comment``."""

    note: Note


@router.post("/cases/{case_id}/comment")
async def comment_on_case(
    case_id: int, body: CommentRequest, store: StoreDep, events: EventsDep, actor: ActorDep
) -> CaseView:
    """Add a note to a case's record, at any point in its life, without changing its status."""
    case = await asyncio.to_thread(
        store.act, case_id, CaseAction.COMMENT, note=body.note, actor=actor
    )
    events.publish(CaseChanged(type="case_updated", case=case))
    return case


@router.post("/cases/{case_id}/resolve")
async def resolve_case(
    case_id: int,
    body: ResolveRequest,
    store: StoreDep,
    events: EventsDep,
    ingest: IngestDep,
    actor: ActorDep,
) -> CaseView:
    """Resolve an active case with a resolution code and a note saying how."""
    return await _act(
        case_id,
        CaseAction.RESOLVE,
        store,
        events,
        ingest,
        actor=actor,
        note=body.note,
        resolution=body.resolution,
    )


@router.post("/silences", status_code=201)
async def create_silence(
    body: SilenceRequest, store: StoreDep, actor: ActorDep, request: Request
) -> SilenceView:
    """Silence a device, a place or an edge's site for a while: alerts recorded, no case.

    A site-scoped caller may silence only what is of its sites (403 otherwise).
    """
    target = body.target
    if body.scope is SilenceScope.PLACE:
        try:
            target = normalise_location(target)
        except ValueError as exc:
            raise InvalidInputError(str(exc)) from exc
    sites = _scope(request)
    if sites is not None:
        check_silence(await asyncio.to_thread(store.site_map), body.scope, target, sites)
    return await asyncio.to_thread(
        store.create_silence,
        body.scope,
        target,
        ends_at=body.ends_at,
        reason=body.reason,
        starts_at=body.starts_at,
        kinds=body.kinds,
        actor=actor,
    )


@router.get("/silences")
async def list_silences(
    store: StoreDep, clock: ClockDep, request: Request, active: bool = False
) -> Items[SilenceView]:
    """List silences, newest first; ``active=true`` for those in force now (a site-scoped
    caller sees its sites' only)."""
    active_at = clock() if active else None
    return Items(
        items=await asyncio.to_thread(
            store.list_silences, active_at=active_at, sites=_scope(request)
        )
    )


@router.post("/silences/{silence_id}/end")
async def end_silence(
    silence_id: int, store: StoreDep, actor: ActorDep, request: Request
) -> SilenceView:
    """End a silence now."""
    sites = _scope(request)
    if sites is not None and hidden(
        await asyncio.to_thread(store.silence_sites), silence_id, sites
    ):
        raise NotFoundError(f"silence {silence_id} does not exist")
    return await asyncio.to_thread(store.end_silence, silence_id, actor=actor)


@router.get("/audit")
async def list_audit(
    store: StoreDep,
    request: Request,
    after_seq: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> Items[AuditEntryView]:
    """List the audit trail oldest first; page with ``after_seq`` = the last ``seq`` seen.

    A site-scoped caller sees only entries about its sites' cases and alerts.
    """
    entries = await asyncio.to_thread(
        store.list_audit, after_seq=after_seq, limit=limit, sites=_scope(request)
    )
    return Items(items=entries)


@router.get("/audit/verify")
async def verify_audit(store: StoreDep) -> AuditVerdictView:
    """Check the audit hash chain; name the first broken link if anyone edited the records.

    The whole chain, for every caller: only intact-or-not and a sequence number come back.
    """
    verdict = await asyncio.to_thread(store.verify_audit)
    return AuditVerdictView(
        intact=verdict.intact,
        checked=verdict.checked,
        broken_seq=verdict.broken_seq,
        reason=verdict.reason,
    )


@router.post("/households", status_code=201)
async def create_household(
    body: HouseholdRequest, store: StoreDep, request: Request
) -> IssuedHousehold:
    """Create a household; the response holds its page token and link, shown this once only.

    A site-scoped caller may create one only at a place, and with buttons, of its sites.
    """
    sites = _scope(request)
    if sites is not None:
        site_map = await asyncio.to_thread(store.site_map)
        check_household(site_map, body.location, body.device_ids, sites)
    token, hashed = issue_token()
    household = await asyncio.to_thread(
        store.create_household, body.name, body.location, body.device_ids, hashed
    )
    return IssuedHousehold(**household.model_dump(), token=token, link=resident_link(token))


@router.get("/households")
async def list_households(store: StoreDep, request: Request) -> Items[HouseholdView]:
    """List households and their SOS buttons, never their tokens (scoped: its sites' only)."""
    return Items(items=await asyncio.to_thread(store.list_households, sites=_scope(request)))


@router.post("/households/{household_id}/token")
async def rotate_household_token(
    household_id: int, store: StoreDep, request: Request
) -> IssuedHousehold:
    """Give a household a new page token; the old link stops working at once."""
    sites = _scope(request)
    if sites is not None and hidden(
        await asyncio.to_thread(store.household_sites), household_id, sites
    ):
        raise NotFoundError(f"household {household_id} does not exist")
    token, hashed = issue_token()
    household = await asyncio.to_thread(store.rotate_household_token, household_id, hashed)
    return IssuedHousehold(**household.model_dump(), token=token, link=resident_link(token))


@router.get("/edges")
async def list_edges(store: StoreDep, request: Request) -> Items[EdgeView]:
    """List the edges that have reported, with their last status (scoped: its sites' only)."""
    sites = _scope(request)
    edge_ids = None if sites is None else await asyncio.to_thread(store.visible_edge_ids, sites)
    return Items(items=await asyncio.to_thread(store.list_edges, edge_ids=edge_ids))


@router.get("/health")
async def health(ingest: IngestDep) -> Health:
    """Say the hub is up, whether MQTT is connected, and the ingest counters."""
    if ingest is None:
        return Health(mqtt_connected=False, counters={})
    return Health(mqtt_connected=ingest.connected, counters=dict(ingest.counters))


def sse_message(event: HubEvent) -> str:
    """Format one event as a Server-Sent Events message."""
    return f"event: {event.type}\ndata: {event.model_dump_json()}\n\n"


def visible_to(
    event: HubEvent, sites: frozenset[str] | None, devices: frozenset[str] = frozenset()
) -> bool:
    """Return whether a caller scoped to ``sites`` (None: every site) may see ``event``.

    Case events carry their case's site; an alert is seen if its device is one of
    ``devices``, the devices of the caller's sites.
    """
    if sites is None:
        return True
    match event:
        case CaseChanged(case=case):
            return case.site_id is not None and case.site_id in sites
        case AlertReceived(alert=alert):
            return alert.device_id in devices
        case _:
            return True


class _StreamScope:
    """The devices a scoped stream shows alerts of, looked up again when an alert names a
    device not seen yet (registered since) or the last look is old (a device moved)."""

    REFRESH_UNKNOWN_S = 1.0
    REFRESH_ANYWAY_S = 30.0

    def __init__(self, store: HubStore | None, sites: frozenset[str] | None) -> None:
        self._store = store
        self._sites = sites
        self._devices: frozenset[str] = frozenset()
        self._looked_at: float | None = None

    async def devices_for(self, event: HubEvent) -> frozenset[str]:
        if self._sites is None or self._store is None or not isinstance(event, AlertReceived):
            return self._devices
        now = time.monotonic()
        age = math.inf if self._looked_at is None else now - self._looked_at
        unknown = event.alert.device_id not in self._devices
        if age > self.REFRESH_ANYWAY_S or (unknown and age > self.REFRESH_UNKNOWN_S):
            self._devices = await asyncio.to_thread(self._store.visible_device_ids, self._sites)
            self._looked_at = now
        return self._devices


async def _event_stream(
    events: EventBus,
    keepalive_seconds: float,
    sites: frozenset[str] | None = None,
    store: HubStore | None = None,
) -> AsyncIterator[str]:
    scope = _StreamScope(store, sites)
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
            if visible_to(event, sites, await scope.devices_for(event)):
                yield sse_message(event)


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream(
    events: EventsDep, settings: SettingsDep, store: StoreDep, request: Request
) -> StreamingResponse:
    """Stream live events (alerts, case changes) as Server-Sent Events (a site-scoped
    caller: its sites' cases and its sites' devices' alerts)."""
    return StreamingResponse(
        _event_stream(events, settings.sse_keepalive_seconds, _scope(request), store),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
