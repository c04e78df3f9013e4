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
from hub.auth.rules import Role
from hub.errors import InvalidInputError
from hub.http.deps import API_PREFIX, ChangesDep, ClockDep, StoreDep
from hub.http.views import Items
from hub.positions.repository import PositionView
from hub.positions.rules import read_owntracks

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
        arrived = await asyncio.to_thread(
            store.positions.report, principal.name, location.position()
        )
        changes.cases_changed(arrived, resident_sees=False)
    return []


@router.get("/positions")
async def positions(store: StoreDep, principal: PrincipalDep) -> Items[PositionView]:
    """List the latest position of each responder (of the caller's sites), by id; a
    responder sees their own only (their phone's token must not track their colleagues)."""
    own = principal.name if principal.role is Role.RESPONDER else None
    found = await asyncio.to_thread(store.positions.positions, sites=principal.sites, responder=own)
    return Items(items=found)
