"""What every HTTP route of the hub shares: its prefix, page limits, and the dependencies
that hand a route the app's settings, clock, repositories, event bus and caller.
"""

import asyncio
from collections.abc import Callable, Mapping
from typing import Annotated, TypeVar

from fastapi import Depends, Query, Request
from pydantic import StringConstraints

from hub.auth.scoping import hidden
from hub.cases.changes import CaseChanges
from hub.errors import NotFoundError
from hub.ingest.link import MqttIngest
from hub.live.events import EventBus
from hub.persistence.transactions import Clock
from hub.settings import HubSettings
from hub.store import HubStore

API_PREFIX = "/api/v1"

K = TypeVar("K")


MAX_LIMIT = 100_000


"""The largest page a list endpoint returns (there is no pagination yet)."""


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


def caller_sites(request: Request) -> frozenset[str] | None:
    """Return the sites the caller is scoped to, or None for every site."""
    sites = getattr(getattr(request.state, "principal", None), "sites", None)
    return sites if isinstance(sites, frozenset) else None


async def visible_devices(store: HubStore, sites: frozenset[str] | None) -> frozenset[str] | None:
    """Return the devices a caller scoped to ``sites`` may see (None: every device)."""
    if sites is None:
        return None
    return await asyncio.to_thread(store.fleet.visible_device_ids, sites)


async def visible_edges(store: HubStore, sites: frozenset[str] | None) -> frozenset[str] | None:
    """Return the edges a caller scoped to ``sites`` may see (None: every edge)."""
    if sites is None:
        return None
    return await asyncio.to_thread(store.fleet.visible_edge_ids, sites)


async def check_in_scope(
    sites: frozenset[str] | None, sites_of: Callable[[], Mapping[K, str | None]], key: K, what: str
) -> None:
    """Refuse record ``key`` of a site outside a caller's ``sites`` as one that does not exist
    (``sites_of``: a repository's map of every such record's site, read in a worker thread)."""
    if sites is not None and hidden(await asyncio.to_thread(sites_of), key, sites):
        raise NotFoundError(f"{what} {key} does not exist")


def get_case_changes(request: Request) -> CaseChanges:
    """Return the one path committed case changes take (``hub.cases.changes``)."""
    changes: CaseChanges = request.app.state.case_changes
    return changes


def get_clock(request: Request) -> Clock:
    """Return the clock the app was created with."""
    clock: Clock = request.app.state.clock
    return clock


SettingsDep = Annotated[HubSettings, Depends(get_settings)]


ClockDep = Annotated[Clock, Depends(get_clock)]


StoreDep = Annotated[HubStore, Depends(get_store)]


ChangesDep = Annotated[CaseChanges, Depends(get_case_changes)]
EventsDep = Annotated[EventBus, Depends(get_events)]


IngestDep = Annotated[MqttIngest | None, Depends(get_ingest)]


ActorDep = Annotated[str | None, Depends(get_actor)]


Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]

OptionalNote = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]
"""A note a request may leave out: left empty or only spaces, it is no note at all (the route
makes it None), as docs/residents.md says; one of nothing visible is still refused there."""


Assignee = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
