"""Responders' positions over HTTP: OwnTracks' HTTP mode in, the latest positions out.

``POST /api/v1/owntracks`` is the endpoint an OwnTracks app is configured with, unchanged
(https://owntracks.org/booklet/tech/http/): HTTP Basic authentication, the responder's roster
id as the user and an API token of theirs as the password; a JSON message a request. A
location is stored (``hub.positions``); every other message type, and the empty message the
apps send when a friend is deleted, is answered and ignored. The answer is the JSON array the
apps expect (no friends' positions are shared back). ``GET /api/v1/positions`` lists the
latest position of each responder of the caller's sites.
"""

import asyncio
import json
import logging
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError

from hub.auth.routes import PrincipalDep
from hub.errors import InvalidInputError
from hub.http.deps import API_PREFIX, ChangesDep, ClockDep, StoreDep
from hub.http.views import Items
from hub.positions.repository import PositionView
from hub.positions.rules import MAX_CLOCK_AHEAD, OwnTracksLocation

logger = logging.getLogger(__name__)
router = APIRouter(prefix=API_PREFIX)

MAX_MESSAGE_BYTES = 64 * 1024
"""The largest OwnTracks message read (a location is a few hundred bytes; a card with its
face image is the largest the apps send)."""


def owntracks_location(body: bytes, now: datetime) -> OwnTracksLocation | None:
    """Return the location ``body`` reports, None for any other OwnTracks message (or an empty
    one); raise ``InvalidInputError`` for what is not an OwnTracks message, or a location
    that is wrong (out of range, missing, or stamped in the future)."""
    if not body.strip():
        return None
    if len(body) > MAX_MESSAGE_BYTES:
        raise InvalidInputError(f"an OwnTracks message of at most {MAX_MESSAGE_BYTES} bytes")
    try:
        message: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"not JSON: {exc}") from None
    if not isinstance(message, dict) or not isinstance(message.get("_type"), str):
        raise InvalidInputError("an OwnTracks message is a JSON object with a '_type'")
    if message["_type"] != "location":
        return None
    try:
        location = OwnTracksLocation.model_validate(message)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InvalidInputError(f"not an OwnTracks location: {problems}") from None
    if location.position().at > now + MAX_CLOCK_AHEAD:
        raise InvalidInputError(f"the fix's time {location.tst} lies ahead of the hub's clock")
    return location


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
        location = owntracks_location(await request.body(), clock())
    except InvalidInputError as exc:
        logger.warning("owntracks: refused a message of %s: %s", principal.name, exc)
        raise
    if location is not None:
        reported = await asyncio.to_thread(
            store.positions.report, principal.name, location.position()
        )
        changes.cases_changed(reported.arrived, resident_sees=False)
    return []


@router.get("/positions")
async def positions(store: StoreDep, principal: PrincipalDep) -> Items[PositionView]:
    """List the latest position of each responder (of the caller's sites), by id."""
    return Items(items=await asyncio.to_thread(store.positions.positions, sites=principal.sites))
