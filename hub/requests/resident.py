"""A household's own requests, on its page's secret path ``/r/<token>/requests``.

The household reports a problem (category, text, up to three photos, a preferred visit
window), lists and follows its own requests, sees its photos and the responders' notes and
after-photos, and rates the work once it is done; "not fixed" within seven days reopens the
case. Another household's request is a 404, as is an unknown token.
"""

import asyncio
from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import Response
from pydantic import Field, StringConstraints

from hub.http.deps import ChangesDep, ClockDep, StoreDep
from hub.http.text import visible_or_none, visible_text
from hub.http.times import StorableDatetime
from hub.http.views import Items, View
from hub.requests.repository import NewRequest
from hub.requests.routes import PHOTO_HEADERS, read_photos
from hub.requests.rules import (
    COMMENT_SHOWS_NOTHING,
    MAX_TEXT,
    NOTHING_VISIBLE,
    SUBMISSION_ID,
    Feedback,
    RequestCategory,
    RequestSource,
    check_window,
    submission_key,
)
from hub.requests.views import ResidentRequestView
from hub.residents.page import NO_STORE, HouseholdDep
from hub.residents.rules import RESIDENT_PREFIX

resident_requests_router = APIRouter(prefix=RESIDENT_PREFIX, tags=["resident"])


class RatingRequest(View):
    """Body of ``POST /r/<token>/requests/<id>/rating``: 1–5, a comment, fixed or not."""

    score: Annotated[int, Field(ge=1, le=5)]
    comment: Annotated[
        str | None, StringConstraints(strip_whitespace=True, max_length=MAX_TEXT)
    ] = None
    fixed: bool = True


@resident_requests_router.post("/{token}/requests", status_code=201, include_in_schema=False)
async def report(
    response: Response,
    household: HouseholdDep,
    store: StoreDep,
    changes: ChangesDep,
    clock: ClockDep,
    category: Annotated[RequestCategory, Form()],
    text: Annotated[str, Form(min_length=1, max_length=MAX_TEXT)],
    preferred_from: Annotated[StorableDatetime | None, Form()] = None,
    preferred_until: Annotated[StorableDatetime | None, Form()] = None,
    photos: Annotated[list[UploadFile] | None, File()] = None,
    submission_id: Annotated[str | None, Form(pattern=SUBMISSION_ID)] = None,
) -> ResidentRequestView:
    """Report a problem with up to three photos; it becomes a case dispatched at once. The
    same ``submission_id`` again (a retried or doubled send) is the same request (200)."""
    new = NewRequest(
        household_id=household.id,
        category=category,
        text=visible_text(text, NOTHING_VISIBLE, "need_text"),
        source=RequestSource.PAGE,
        created_by=f"household-{household.id}",
        external_id=submission_key(household.id, submission_id),
    )
    opened = await asyncio.to_thread(store.requests.repeat_of, new)
    if opened is None:
        window = check_window(preferred_from, preferred_until, clock())
        processed = await read_photos(photos or [])
        new = replace(new, preferred=window)
        opened = await asyncio.to_thread(store.requests.open_request, new, processed)
    if opened.new:
        changes.case_changed(opened.case, resident_sees=False)
    else:
        response.status_code = 200
    return await asyncio.to_thread(
        store.requests.household_request, household.id, opened.request.id
    )


@resident_requests_router.get("/{token}/requests", include_in_schema=False)
async def own_requests(household: HouseholdDep, store: StoreDep) -> Items[ResidentRequestView]:
    """List the household's own requests, newest first."""
    return Items(items=await asyncio.to_thread(store.requests.household_requests, household.id))


@resident_requests_router.get("/{token}/requests/{request_id}", include_in_schema=False)
async def own_request(
    request_id: int, household: HouseholdDep, store: StoreDep
) -> ResidentRequestView:
    """Follow one of the household's requests."""
    return await asyncio.to_thread(store.requests.household_request, household.id, request_id)


@resident_requests_router.post("/{token}/requests/{request_id}/rating", include_in_schema=False)
async def rate(
    request_id: int,
    body: RatingRequest,
    household: HouseholdDep,
    store: StoreDep,
    changes: ChangesDep,
) -> ResidentRequestView:
    """Rate the work on a request that is done; "not fixed" within 7 days reopens it."""
    comment = visible_or_none(body.comment, COMMENT_SHOWS_NOTHING, "comment_empty")
    feedback = Feedback(score=body.score, comment=comment, fixed=body.fixed)
    view, reopened = await asyncio.to_thread(
        store.requests.rate, household.id, request_id, feedback
    )
    if reopened is not None:
        changes.case_changed(reopened, resident_sees=False)
    return view


@resident_requests_router.get(
    "/{token}/requests/{request_id}/photos/{photo_id}", include_in_schema=False
)
async def own_photo(
    request_id: int,
    photo_id: int,
    household: HouseholdDep,
    store: StoreDep,
    thumbnail: Annotated[bool, Query()] = False,
) -> Response:
    """Return a photo of one of the household's own requests."""
    sha = await asyncio.to_thread(
        store.requests.photo_sha,
        request_id,
        photo_id,
        thumbnail=thumbnail,
        household_id=household.id,
    )
    data = await asyncio.to_thread(store.requests.photos.read, sha)
    return Response(data, media_type="image/jpeg", headers={**PHOTO_HEADERS, **NO_STORE})
