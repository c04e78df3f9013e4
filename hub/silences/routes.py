"""Silences over HTTP under ``/api/v1/silences``."""

import asyncio
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import AwareDatetime, Field, StringConstraints

from devices.kinds import AlertKind
from devices.location import normalise_location
from hub.auth.scoping import check_silence
from hub.errors import InvalidInputError
from hub.http.deps import (
    API_PREFIX,
    ActorDep,
    ClockDep,
    EventsDep,
    Note,
    StoreDep,
    caller_sites,
    check_in_scope,
)
from hub.http.text import visible_text
from hub.http.views import Items, View
from hub.live.events import SilenceChanged
from hub.silences.rules import SilenceScope
from hub.silences.views import SilenceView

router = APIRouter(prefix=API_PREFIX)


class SilenceRequest(View):
    """Body of ``POST /silences``: what to silence, until when, and why."""

    scope: SilenceScope
    target: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)]
    """A device id, a place (location prefix, e.g. ``Building 3``) or an edge id."""
    kinds: list[AlertKind] = Field(default_factory=list)
    """Only these kinds; empty: every kind but the life-safety ones (an SOS, smoke, heat, CO, gas,
    a camera's fire or smoke), which a silence covers only when it names them."""
    starts_at: AwareDatetime | None = None
    """Default: now."""
    ends_at: AwareDatetime
    reason: Note


REASON_SHOWS_NOTHING = "the reason shows nothing: only spaces or invisible characters"


@router.post("/silences", status_code=201)
async def create_silence(
    body: SilenceRequest, store: StoreDep, actor: ActorDep, request: Request, events: EventsDep
) -> SilenceView:
    """Silence a device, a place or an edge's site for a while: alerts recorded, no case.

    A site-scoped caller may silence only what is of its sites (403 otherwise).
    """
    target = body.target
    # Silencing alarms needs a reason the trail can show: one of invisible characters is none.
    reason = visible_text(body.reason, REASON_SHOWS_NOTHING)
    if body.scope is SilenceScope.PLACE:
        try:
            target = normalise_location(target)
        except ValueError as exc:
            raise InvalidInputError(str(exc)) from exc
    sites = caller_sites(request)
    if sites is not None:
        check_silence(await asyncio.to_thread(store.roster.site_map), body.scope, target, sites)
    silence = await asyncio.to_thread(
        store.silences.create_silence,
        body.scope,
        target,
        ends_at=body.ends_at,
        reason=reason,
        starts_at=body.starts_at,
        kinds=body.kinds,
        actor=actor,
    )
    events.publish(SilenceChanged(silence=silence))  # other desks at once, not at their poll
    return silence


@router.get("/silences")
async def list_silences(
    store: StoreDep, clock: ClockDep, request: Request, active: bool = False
) -> Items[SilenceView]:
    """List silences, newest first; ``active=true`` for those in force now (a site-scoped
    caller sees its sites' only)."""
    active_at = clock() if active else None
    return Items(
        items=await asyncio.to_thread(
            store.silences.list_silences, active_at=active_at, sites=caller_sites(request)
        )
    )


@router.post("/silences/{silence_id}/end")
async def end_silence(
    silence_id: int, store: StoreDep, actor: ActorDep, request: Request, events: EventsDep
) -> SilenceView:
    """End a silence now, or cancel one not started yet."""
    sites = caller_sites(request)
    await check_in_scope(sites, store.silences.silence_sites, silence_id, "silence")
    silence = await asyncio.to_thread(store.silences.end_silence, silence_id, actor=actor)
    events.publish(SilenceChanged(silence=silence))
    return silence
