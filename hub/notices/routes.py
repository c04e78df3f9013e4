"""Notices over HTTP: operators send them (``/api/v1/notices``) and see who read them; a
household reads its own on its page's path (``/r/<token>/notices``)."""

import asyncio

from fastapi import APIRouter, Request

from hub.http.deps import API_PREFIX, ActorDep, Limit, StoreDep, caller_sites
from hub.http.text import visible_text
from hub.http.views import Items
from hub.notices.views import HouseholdNotice, NewNotice, NoticeView
from hub.residents.page import HouseholdDep
from hub.residents.rules import RESIDENT_PREFIX

TITLE_SHOWS_NOTHING = "the notice's title shows nothing: only spaces or invisible characters"
BODY_SHOWS_NOTHING = "the notice's body shows nothing: only spaces or invisible characters"

router = APIRouter(prefix=API_PREFIX)
resident_notices_router = APIRouter(prefix=RESIDENT_PREFIX, tags=["resident"])


@router.post("/notices", status_code=201)
async def send_notice(
    body: NewNotice, store: StoreDep, actor: ActorDep, request: Request
) -> NoticeView:
    """Send a notice to a site, a building or some households (a scoped caller: its sites').
    A title or body that shows nothing is refused; bidi controls are dropped from both."""
    body = body.model_copy(
        update={
            "title": visible_text(body.title, TITLE_SHOWS_NOTHING),
            "body": visible_text(body.body, BODY_SHOWS_NOTHING),
        }
    )
    return await asyncio.to_thread(
        store.resident_notices.send, body, actor, sites=caller_sites(request)
    )


@router.get("/notices")
async def list_notices(store: StoreDep, request: Request, limit: Limit = 100) -> Items[NoticeView]:
    """List notices, newest first, with how many households got and read each."""
    return Items(
        items=await asyncio.to_thread(
            store.resident_notices.list_notices, sites=caller_sites(request), limit=limit
        )
    )


@router.get("/notices/{notice_id}")
async def get_notice(notice_id: int, store: StoreDep, request: Request) -> NoticeView:
    """Show one notice with each household's read receipt (scoped: of its sites' homes)."""
    return await asyncio.to_thread(
        store.resident_notices.get_notice, notice_id, sites=caller_sites(request)
    )


@resident_notices_router.get("/{token}/notices", include_in_schema=False)
async def own_notices(household: HouseholdDep, store: StoreDep) -> Items[HouseholdNotice]:
    """List the notices the household got, urgent and unread first."""
    return Items(
        items=await asyncio.to_thread(store.resident_notices.household_notices, household.id)
    )


@resident_notices_router.post("/{token}/notices/{notice_id}/read", include_in_schema=False)
async def read_notice(notice_id: int, household: HouseholdDep, store: StoreDep) -> HouseholdNotice:
    """Record that the household read a notice."""
    return await asyncio.to_thread(store.resident_notices.mark_read, household.id, notice_id)
