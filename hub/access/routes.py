"""The door access API under ``/api/v1/access``, and the lifespan of the access link.

Routes parse (``hub.access.bodies``), call the repositories (``hub.access.repository``) in a
worker thread, and after a committed change push the new allow-list items to the edge
concerned (``hub.access.link``). A card number or PIN is accepted in two places only (enrolling
a credential, the bulk import), as a secret that no response, error or log line repeats.

The router carries its own lifespan (FastAPI merges it into the app's, inside it, so the
database is migrated by then): it opens the access repositories and, unless the app runs
without MQTT ingest or with ``access_sync`` off, the access link.

An access site is keyed by its edge; it is of the roster site whose ``edge_ids`` list that
edge. A site-scoped caller sees only its sites' access sites, doors, groups, people and log
records; one of another site is not there for it (404), and creating one there is refused
(403). Schedules are shared by every site: anyone may list and create them, a scoped caller
may change one only if no other site's group uses it.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Protocol, TypeVar

from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime

from devices.access import DoorConfig
from hub.access.bodies import (
    CredentialRequest,
    GroupRequest,
    GroupUpdate,
    ImportRequest,
    PersonRequest,
    PersonUpdate,
    ScheduleRequest,
    SiteRequest,
    SiteUpdate,
)
from hub.access.link import AccessSync
from hub.access.people import ImportRejectedError
from hub.access.repository import AccessStore
from hub.access.rules import CREDENTIAL_PATTERNS, ImportProblem, valid_credential
from hub.access.views import (
    AccessEventView,
    AccessLinkStatus,
    CredentialView,
    DoorView,
    GroupView,
    ImportProblemView,
    ImportRejection,
    ImportView,
    PersonView,
    ScheduleView,
    SiteView,
)
from hub.auth.routes import PrincipalDep
from hub.auth.rules import ForbiddenError, Principal
from hub.auth.scoping import covered
from hub.errors import InvalidInputError, NotFoundError
from hub.http.deps import API_PREFIX, MAX_LIMIT, get_store, visible_edges
from hub.http.views import Items
from hub.persistence.engine import create_hub_engine
from hub.settings import HubSettings

K = TypeVar("K", int, str)
V = TypeVar("V")


@contextlib.asynccontextmanager
async def access_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the access repositories and run the access link for the app's lifetime."""
    settings: HubSettings = app.state.settings
    engine = create_hub_engine(settings.resolved_database_url())
    store = AccessStore(engine, clock=app.state.clock)
    sync = (
        AccessSync(settings, store, clock=app.state.clock)
        if settings.start_ingest and settings.access_sync
        else None
    )
    app.state.access_store = store
    app.state.access_sync = sync
    task = asyncio.create_task(sync.run(), name="hub-access-sync") if sync else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        app.state.access_sync = None
        engine.dispose()


access_router = APIRouter(
    prefix=f"{API_PREFIX}/access", tags=["door access"], lifespan=access_lifespan
)


def _store(request: Request) -> AccessStore:
    store: AccessStore = request.app.state.access_store
    return store


async def _edges(request: Request, principal: Principal) -> frozenset[str] | None:
    """Return the edges whose access sites the caller may see (None: all)."""
    return await visible_edges(get_store(request), principal.sites)


def _into(edge_id: str, edges: frozenset[str] | None) -> None:
    """Refuse to create a record at an access site the caller may not see."""
    if edges is not None and edge_id not in edges:
        raise ForbiddenError(f"edge {edge_id} does not serve one of your sites")


def _seen(edge_id: str, edges: frozenset[str] | None, missing: str) -> None:
    """Answer as for a missing record if it is of an access site the caller may not see."""
    if edges is not None and edge_id not in edges:
        raise NotFoundError(missing)


async def _edge_of(
    request: Request, principal: Principal, edge_of: Callable[[K], str], key: K, missing: str
) -> str:
    """Return the edge of a record's site, as for a missing record if the caller may not see it."""
    edge_id = await asyncio.to_thread(edge_of, key)
    _seen(edge_id, await _edges(request, principal), missing)
    return edge_id


async def _hidden_households(
    request: Request, principal: Principal, household_ids: set[int]
) -> set[int]:
    """Return those of ``household_ids`` that do not exist for the caller."""
    if principal.sites is None or not household_ids:
        return set()
    store = get_store(request)
    placed = await asyncio.to_thread(store.households.household_sites)
    return {h for h in household_ids if h in placed and not covered(placed[h], principal.sites)}


class _SiteList(Protocol[V]):
    """A repository's listing of one access site or all, only of the given edges."""

    def __call__(
        self, edge_id: str | None = None, *, edge_ids: frozenset[str] | None = None
    ) -> list[V]: ...


async def _of_sites(
    request: Request, principal: Principal, listing: _SiteList[V], edge_id: str | None
) -> Items[V]:
    """List the records of one access site or all, of those sites the caller may see."""
    edges = await _edges(request, principal)
    return Items(items=await asyncio.to_thread(listing, edge_id, edge_ids=edges))


async def _push(request: Request, edge_id: str) -> None:
    sync: AccessSync | None = request.app.state.access_sync
    if sync is not None:
        await sync.push(edge_id)


@access_router.get("/status")
async def link_status(request: Request) -> AccessLinkStatus:
    """Report the access link: connected or not; sync requests, log records, rejects."""
    sync: AccessSync | None = request.app.state.access_sync
    if sync is None:
        return AccessLinkStatus(connected=False, counters={})
    return AccessLinkStatus(connected=sync.connected, counters=dict(sync.counters))


@access_router.post("/sites", status_code=201)
async def create_site(body: SiteRequest, request: Request, principal: PrincipalDep) -> SiteView:
    """Give an edge's site door access (a time zone and a fresh credential hash key)."""
    _into(body.edge_id, await _edges(request, principal))
    site = await asyncio.to_thread(
        _store(request).sites.create_site, body.edge_id, body.name, body.timezone
    )
    await _push(request, site.edge_id)
    return site


@access_router.get("/sites")
async def list_sites(request: Request, principal: PrincipalDep) -> Items[SiteView]:
    """List the sites with door access and their allow-list versions."""
    edges = await _edges(request, principal)
    return Items(items=await asyncio.to_thread(_store(request).sites.list_sites, edge_ids=edges))


@access_router.put("/sites/{edge_id}")
async def update_site(
    edge_id: str, body: SiteUpdate, request: Request, principal: PrincipalDep
) -> SiteView:
    """Rename a site or change its time zone."""
    _seen(edge_id, await _edges(request, principal), f"no door access site for edge {edge_id}")
    site = await asyncio.to_thread(
        _store(request).sites.update_site, edge_id, body.name, body.timezone
    )
    await _push(request, edge_id)
    return site


@access_router.put(
    "/sites/{edge_id}/doors/{door_id}",
    status_code=201,
    responses={200: {"model": DoorView, "description": "Replaced"}},
)
async def put_door(
    edge_id: str,
    door_id: str,
    door: DoorConfig,
    request: Request,
    response: Response,
    principal: PrincipalDep,
) -> DoorView:
    """Create (201) or replace (200) a door of a site."""
    if door.id != door_id:
        raise InvalidInputError(f"the body names door {door.id}, the path {door_id}")
    sites = _store(request).sites
    edges = await _edges(request, principal)
    _seen(edge_id, edges, f"no door access site for edge {edge_id}")
    if edges is not None:
        try:
            current = await asyncio.to_thread(sites.edge_of_door, door_id)
        except NotFoundError:
            current = edge_id
        if current not in edges:
            # Without naming the other site, which the caller may not know of.
            raise InvalidInputError(f"door {door_id} belongs to another site")
    view, created = await asyncio.to_thread(sites.put_door, edge_id, door)
    if not created:
        response.status_code = 200
    await _push(request, edge_id)
    return view


@access_router.get("/doors")
async def list_doors(
    request: Request, principal: PrincipalDep, edge_id: str | None = None
) -> Items[DoorView]:
    """List doors, of one site or all."""
    return await _of_sites(request, principal, _store(request).sites.list_doors, edge_id)


@access_router.delete("/doors/{door_id}", status_code=204)
async def delete_door(door_id: str, request: Request, principal: PrincipalDep) -> None:
    """Delete a door."""
    sites = _store(request).sites
    edge_id = await _edge_of(request, principal, sites.edge_of_door, door_id, f"no door {door_id}")
    await asyncio.to_thread(sites.delete_door, door_id)
    await _push(request, edge_id)


@access_router.post("/schedules", status_code=201)
async def create_schedule(body: ScheduleRequest, request: Request) -> ScheduleView:
    """Create a named schedule of weekly windows."""
    return await asyncio.to_thread(_store(request).groups.create_schedule, body.name, body.windows)


@access_router.put("/schedules/{schedule_id}")
async def update_schedule(
    schedule_id: int, body: ScheduleRequest, request: Request, principal: PrincipalDep
) -> ScheduleView:
    """Replace a schedule's windows; every site whose groups use it is updated."""
    store = _store(request)
    edges = await _edges(request, principal)
    if (
        edges is not None
        and not await asyncio.to_thread(store.groups.schedule_edges, schedule_id) <= edges
    ):
        raise ForbiddenError(f"schedule {schedule_id} is used by groups of other sites")
    schedule, changed = await asyncio.to_thread(
        store.groups.update_schedule, schedule_id, body.name, body.windows
    )
    for edge_id in changed:
        await _push(request, edge_id)
    return schedule


@access_router.get("/schedules")
async def list_schedules(request: Request) -> Items[ScheduleView]:
    """List schedules."""
    return Items(items=await asyncio.to_thread(_store(request).groups.list_schedules))


@access_router.post("/groups", status_code=201)
async def create_group(body: GroupRequest, request: Request, principal: PrincipalDep) -> GroupView:
    """Create a group: doors of a site, opened always or on a schedule."""
    _into(body.edge_id, await _edges(request, principal))
    group = await asyncio.to_thread(
        _store(request).groups.create_group,
        body.edge_id,
        body.name,
        body.door_ids,
        body.schedule_id,
    )
    await _push(request, body.edge_id)
    return group


async def _group_seen(request: Request, principal: Principal, group_id: int) -> None:
    groups = _store(request).groups
    await _edge_of(request, principal, groups.edge_of_group, group_id, f"no group {group_id}")


@access_router.put("/groups/{group_id}")
async def update_group(
    group_id: int, body: GroupUpdate, request: Request, principal: PrincipalDep
) -> GroupView:
    """Replace a group's name, doors and schedule."""
    await _group_seen(request, principal, group_id)
    group = await asyncio.to_thread(
        _store(request).groups.update_group, group_id, body.name, body.door_ids, body.schedule_id
    )
    await _push(request, group.edge_id)
    return group


@access_router.delete("/groups/{group_id}", status_code=204)
async def delete_group(group_id: int, request: Request, principal: PrincipalDep) -> None:
    """Delete a group; its members lose the doors it opened."""
    await _group_seen(request, principal, group_id)
    edge_id = await asyncio.to_thread(_store(request).groups.delete_group, group_id)
    await _push(request, edge_id)


@access_router.get("/groups")
async def list_groups(
    request: Request, principal: PrincipalDep, edge_id: str | None = None
) -> Items[GroupView]:
    """List groups, of one site or all."""
    return await _of_sites(request, principal, _store(request).groups.list_groups, edge_id)


@access_router.post("/people", status_code=201)
async def create_person(
    body: PersonRequest, request: Request, principal: PrincipalDep
) -> PersonView:
    """Create a person of a site (optionally of a household), in some of its groups."""
    _into(body.edge_id, await _edges(request, principal))
    if body.household_id is not None and await _hidden_households(
        request, principal, {body.household_id}
    ):
        raise NotFoundError(f"no household {body.household_id}")
    person = await asyncio.to_thread(
        _store(request).people.create_person,
        body.edge_id,
        body.name,
        household_id=body.household_id,
        group_ids=body.group_ids,
        valid_from=body.valid_from,
        valid_until=body.valid_until,
    )
    await _push(request, body.edge_id)
    return person


@access_router.get("/people")
async def list_people(
    request: Request, principal: PrincipalDep, edge_id: str | None = None
) -> Items[PersonView]:
    """List people, of one site or all."""
    return await _of_sites(request, principal, _store(request).people.list_people, edge_id)


async def _person_edge(request: Request, principal: Principal, person_id: int) -> str:
    """Return the edge of a person's site, as for a missing person if the caller may not see it."""
    people = _store(request).people
    return await _edge_of(
        request, principal, people.edge_of_person, person_id, f"no person {person_id}"
    )


@access_router.get("/people/{person_id}")
async def get_person(person_id: int, request: Request, principal: PrincipalDep) -> PersonView:
    """Return one person with their groups and credentials (never the secrets)."""
    await _person_edge(request, principal, person_id)
    return await asyncio.to_thread(_store(request).people.get_person, person_id)


@access_router.put("/people/{person_id}")
async def update_person(
    person_id: int, body: PersonUpdate, request: Request, principal: PrincipalDep
) -> PersonView:
    """Replace a person's groups and validity window."""
    await _person_edge(request, principal, person_id)
    person = await asyncio.to_thread(
        _store(request).people.update_person,
        person_id,
        group_ids=body.group_ids,
        valid_from=body.valid_from,
        valid_until=body.valid_until,
    )
    await _push(request, person.edge_id)
    return person


@access_router.delete("/people/{person_id}", status_code=204)
async def delete_person(person_id: int, request: Request, principal: PrincipalDep) -> None:
    """Delete a person and their credentials."""
    edge_id = await _person_edge(request, principal, person_id)
    await asyncio.to_thread(_store(request).people.delete_person, person_id)
    await _push(request, edge_id)


@access_router.post("/people/{person_id}/credentials", status_code=201)
async def add_credential(
    person_id: int, body: CredentialRequest, request: Request, principal: PrincipalDep
) -> CredentialView:
    """Enrol a card or PIN; the hub keeps only its keyed hash."""
    value = body.value.get_secret_value().strip()
    if not valid_credential(body.kind, value):
        # The value itself is not repeated: it is a secret.
        pattern = CREDENTIAL_PATTERNS[body.kind]
        raise InvalidInputError(f"not a valid {body.kind} (expected {pattern})")
    edge_id = await _person_edge(request, principal, person_id)
    credential = await asyncio.to_thread(
        _store(request).people.add_credential,
        person_id,
        body.kind,
        value,
        label=body.label,
        valid_from=body.valid_from,
        valid_until=body.valid_until,
    )
    await _push(request, edge_id)
    return credential


@access_router.post(
    "/import",
    status_code=201,
    response_model=ImportView,
    responses={422: {"model": ImportRejection, "description": "Invalid rows; nothing enrolled"}},
)
async def import_people(
    body: ImportRequest, request: Request, principal: PrincipalDep
) -> ImportView | JSONResponse:
    """Enrol many people and credentials at once: checked first, one transaction, one version."""
    _into(body.edge_id, await _edges(request, principal))
    rows = body.rows()
    hidden = await _hidden_households(
        request, principal, {p.household_id for p in rows if p.household_id is not None}
    )
    try:
        if hidden:
            # Told as the repository tells a household that does not exist.
            raise ImportRejectedError(
                [
                    ImportProblem(i, "household_id", f"no household {p.household_id}")
                    for i, p in enumerate(rows)
                    if p.household_id in hidden
                ]
            )
        result = await asyncio.to_thread(_store(request).people.import_people, body.edge_id, rows)
    except ImportRejectedError as exc:
        rejection = ImportRejection(
            detail=str(exc),
            errors=[
                ImportProblemView(row=p.row, field=p.field, error=p.error) for p in exc.problems
            ],
        )
        return JSONResponse(rejection.model_dump(), status_code=422)
    await _push(request, body.edge_id)
    return result


@access_router.post("/credentials/{credential_id}/revoke")
async def revoke_credential(
    credential_id: int, request: Request, principal: PrincipalDep
) -> CredentialView:
    """Revoke a credential; a connected edge refuses it within moments."""
    people = _store(request).people
    missing = f"no credential {credential_id}"
    await _edge_of(request, principal, people.edge_of_credential, credential_id, missing)
    credential, edge_id = await asyncio.to_thread(people.revoke_credential, credential_id)
    await _push(request, edge_id)
    return credential


@access_router.get("/log")
async def access_log(
    request: Request,
    principal: PrincipalDep,
    door_id: str | None = None,
    person_id: int | None = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 1000,
) -> Items[AccessEventView]:
    """Query the access log by door, person and time range (``since`` ≤ ts < ``until``)."""
    edges = await _edges(request, principal)
    return Items(
        items=await asyncio.to_thread(
            _store(request).log.query_log,
            door_id=door_id,
            person_id=person_id,
            since=since,
            until=until,
            limit=limit,
            edge_ids=edges,
        )
    )
