"""Residents' requests over HTTP under ``/api/v1``: an operator logs a call or a walk-in for a
household, lists and reads requests; a responder posts notes, the planned visit and
after-photos; ratings per responder. The household's own routes are ``hub.requests.resident``.
"""

import asyncio
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import StringConstraints

from devices.location import LocationText
from hub.auth.routes import PrincipalDep
from hub.auth.rules import ForbiddenError, Role
from hub.errors import InvalidInputError, NotFoundError
from hub.http.deps import API_PREFIX, ActorDep, ChangesDep, ClockDep, Limit, StoreDep, caller_sites
from hub.http.text import visible_or_none, visible_text
from hub.http.times import StorableDatetime
from hub.http.views import Items, View
from hub.requests.photos import (
    MAX_UPLOAD_BYTES,
    PhotoRejectedError,
    ProcessedPhoto,
    reencode_photo,
)
from hub.requests.repository import NewRequest
from hub.requests.rules import (
    MAX_PHOTOS,
    MAX_TEXT,
    NOTE_SHOWS_NOTHING,
    NOTHING_VISIBLE,
    RequestCategory,
    RequestSource,
    check_visit,
    check_window,
)
from hub.requests.views import RequestView, ResponderScore
from hub.store import HubStore

router = APIRouter(prefix=API_PREFIX)

RequestText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT)
]

PHOTO_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
"""A photo shows the inside of a household's home: no cache keeps it, not even the browser's
own ("private" would leave it on a shared console PC's disk for the next person at it)."""


class OperatorRequest(View):
    """Body of ``POST /requests``: a call or walk-in logged for a household."""

    household_id: int
    category: RequestCategory
    text: RequestText
    place: LocationText | None = None
    preferred_from: StorableDatetime | None = None
    preferred_until: StorableDatetime | None = None
    volunteers: bool | None = None
    """A resident volunteer may help (sanitation, other by default; never a hazard, elevator
    or utilities request); None: the category's default."""


class OpenedRequest(View):
    """What ``POST /requests`` answers: the request and its case's id."""

    request: RequestView
    case_id: int


async def read_photos(uploads: list[UploadFile]) -> list[ProcessedPhoto]:
    """Return the uploaded photos re-encoded, or raise InvalidInputError saying which is bad."""
    uploads = [u for u in uploads if u.filename or u.size]
    if len(uploads) > MAX_PHOTOS:
        raise InvalidInputError(f"at most {MAX_PHOTOS} photos", code="too_many_photos")
    photos: list[ProcessedPhoto] = []
    for number, upload in enumerate(uploads, start=1):
        data = await upload.read(MAX_UPLOAD_BYTES + 1)
        try:
            photos.append(await reencode_photo(data))
        except PhotoRejectedError as exc:
            raise InvalidInputError(f"photo {number}: {exc}", code="bad_photo") from exc
    return photos


async def _visible(store: HubStore, request: Request, request_id: int) -> None:
    """Refuse (404) a request of a site the caller may not see."""
    sites = caller_sites(request)
    if sites is None:
        return
    _case_id, site_id, _team = await asyncio.to_thread(store.requests.case_of, request_id)
    if site_id is None or site_id not in sites:
        raise NotFoundError(f"request {request_id} does not exist")


@router.post("/requests", status_code=201)
async def create_request(
    body: OperatorRequest,
    store: StoreDep,
    changes: ChangesDep,
    clock: ClockDep,
    actor: ActorDep,
    request: Request,
) -> OpenedRequest:
    """Log a request on behalf of a household (a phone call, a walk-in); its case is
    dispatched by the roster at once."""
    sites = caller_sites(request)
    if sites is not None:
        placed = await asyncio.to_thread(store.households.household_sites)
        if placed.get(body.household_id) not in sites:
            raise NotFoundError(f"household {body.household_id} does not exist")
    window = check_window(body.preferred_from, body.preferred_until, clock())
    new = NewRequest(
        household_id=body.household_id,
        category=body.category,
        text=visible_text(body.text, NOTHING_VISIBLE),
        source=RequestSource.OPERATOR,
        place=body.place,
        preferred=window,
        created_by=actor,
        volunteers=body.volunteers,
    )
    opened = await asyncio.to_thread(store.requests.open_request, new, [])
    changes.case_changed(opened.case, resident_sees=False)
    return OpenedRequest(request=opened.request, case_id=opened.case.id)


@router.get("/requests")
async def list_requests(
    store: StoreDep, request: Request, household_id: int | None = None, limit: Limit = 100
) -> Items[RequestView]:
    """List requests, newest first (a site-scoped caller sees its sites' only)."""
    return Items(
        items=await asyncio.to_thread(
            store.requests.list_requests,
            sites=caller_sites(request),
            household_id=household_id,
            limit=limit,
        )
    )


@router.get("/requests/{request_id}")
async def get_request(request_id: int, store: StoreDep, request: Request) -> RequestView:
    """Show one request with its photos, updates and ratings."""
    await _visible(store, request, request_id)
    return await asyncio.to_thread(store.requests.get_request, request_id)


@router.post("/requests/{request_id}/updates", status_code=201)
async def add_update(
    request_id: int,
    store: StoreDep,
    principal: PrincipalDep,
    request: Request,
    clock: ClockDep,
    note: Annotated[str | None, Form(max_length=MAX_TEXT)] = None,
    visit_at: Annotated[StorableDatetime | None, Form()] = None,
    photos: Annotated[list[UploadFile] | None, File()] = None,
) -> RequestView:
    """Tell the household what was done or when someone comes, with after-photos; a
    responder only on a request whose case they are on."""
    await _visible(store, request, request_id)
    if principal.role is Role.RESPONDER:
        _case_id, _site, team = await asyncio.to_thread(store.requests.case_of, request_id)
        if principal.name not in team:
            raise ForbiddenError(f"request {request_id} is not assigned to {principal.name}")
    note = visible_or_none(note, NOTE_SHOWS_NOTHING)
    visit_at = check_visit(visit_at, clock())
    processed = await read_photos(photos or [])
    return await asyncio.to_thread(
        store.requests.add_update,
        request_id,
        actor=principal.name,
        note=note,
        visit_at=visit_at,
        photos=processed,
    )


@router.get("/requests/{request_id}/photos/{photo_id}")
async def request_photo(
    request_id: int,
    photo_id: int,
    store: StoreDep,
    request: Request,
    thumbnail: Annotated[bool, Query()] = False,
) -> Response:
    """Return a request's photo (``?thumbnail=1``: its thumbnail), re-encoded JPEG."""
    await _visible(store, request, request_id)
    sha = await asyncio.to_thread(
        store.requests.photo_sha, request_id, photo_id, thumbnail=thumbnail
    )
    data = await asyncio.to_thread(store.requests.photos.read, sha)
    return Response(data, media_type="image/jpeg", headers=PHOTO_HEADERS)


@router.get("/ratings/responders")
async def responder_ratings(
    store: StoreDep, request: Request, responder_id: str | None = None
) -> Items[ResponderScore]:
    """List each responder's ratings from households: count, average, "not fixed" count (a
    site-scoped caller: its sites' responders only)."""
    scores = await asyncio.to_thread(
        store.requests.responder_scores, responder_id, sites=caller_sites(request)
    )
    return Items(items=scores)
