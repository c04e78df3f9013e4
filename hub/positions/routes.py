"""Responders' positions over HTTP: OwnTracks' HTTP mode in, the latest positions out.

``POST /api/v1/owntracks`` is the endpoint an OwnTracks app is configured with, unchanged
(https://owntracks.org/booklet/tech/http/): HTTP Basic authentication, the responder's roster
id as the user and an API token of theirs as the password; a JSON message a request. A
location is stored (``hub.positions``); every other message type, and the empty message the
apps send when a friend is deleted, is answered and ignored. The answer is the JSON array the
apps expect (no friends' positions are shared back). ``GET /api/v1/positions`` lists the
latest position of each responder of the caller's sites (a responder's own only).
"""

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, Request

from hub.auth.routes import PrincipalDep
from hub.auth.rules import Principal, Role
from hub.errors import InvalidInputError, NotFoundError
from hub.http.deps import API_PREFIX, ChangesDep, ClockDep, StoreDep
from hub.http.views import Items
from hub.positions.repository import PositionView
from hub.positions.rules import read_owntracks
from hub.store import HubStore

logger = logging.getLogger(__name__)
router = APIRouter(prefix=API_PREFIX)


@router.post("/owntracks")
async def owntracks(
    request: Request,
    store: StoreDep,
    changes: ChangesDep,
    clock: ClockDep,
    principal: PrincipalDep,
) -> list[Any]:
    """Take a message of a responder's OwnTracks app; a location moves them on the map and
    may put them on site at their cases. Answers ``[]``."""
    try:
        location = read_owntracks(await request.body(), clock())
    except InvalidInputError as exc:
        logger.warning("owntracks: refused a message of %s: %s", principal.name, exc)
        raise
    if location is not None:
        await _check_own_site(store, principal)
        arrived = await asyncio.to_thread(
            store.positions.report, principal.name, location.position()
        )
        changes.cases_changed(arrived, resident_sees=False)
    return []


async def _check_own_site(store: HubStore, principal: Principal) -> None:
    """Refuse (404, as for someone not on the roster) a report by a principal scoped to some
    sites for a responder of another: a token is named freely (a phone's after its roster id),
    so a community's admin could otherwise name one after another community's responder and
    move them on its map, on site at its cases (found by an outside review)."""
    if principal.sites is None:
        return
    ours = await asyncio.to_thread(store.roster.list_responders, sites=principal.sites)
    if all(responder.id != principal.name for responder in ours):
        raise NotFoundError(f"responder {principal.name} is not on the roster")


@router.get("/positions")
async def positions(store: StoreDep, principal: PrincipalDep) -> Items[PositionView]:
    """List the latest position of each responder (of the caller's sites), by id; a
    responder sees their own only (their phone's token must not track their colleagues)."""
    own = principal.name if principal.role is Role.RESPONDER else None
    found = await asyncio.to_thread(store.positions.positions, sites=principal.sites, responder=own)
    return Items(items=found)
