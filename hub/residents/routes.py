"""Households over HTTP under ``/api/v1/households``: created with their page token, listed,
given a new token. The resident's own page is ``hub.residents.page``.
"""

import asyncio
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import Field, StringConstraints

from devices.location import LocationText
from devices.registry import Identifier
from hub.auth.scoping import check_household
from hub.http.deps import API_PREFIX, StoreDep, caller_sites, check_in_scope
from hub.http.views import Items, View
from hub.residents.rules import issue_token, resident_link
from hub.residents.views import HouseholdView, IssuedHousehold

HouseholdName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)
]


router = APIRouter(prefix=API_PREFIX)


class HouseholdRequest(View):
    """Body of ``POST /households``: a name, a location path, and its SOS buttons if any."""

    name: HouseholdName
    location: LocationText
    device_ids: list[Identifier] = Field(default_factory=list)


@router.post("/households", status_code=201)
async def create_household(
    body: HouseholdRequest, store: StoreDep, request: Request
) -> IssuedHousehold:
    """Create a household; the response holds its page token and link, shown this once only.

    A site-scoped caller may create one only at a place, and with buttons, of its sites.
    """
    sites = caller_sites(request)
    if sites is not None:
        site_map = await asyncio.to_thread(store.roster.site_map)
        check_household(site_map, body.location, body.device_ids, sites)
    token, hashed = issue_token()
    household = await asyncio.to_thread(
        store.households.create_household, body.name, body.location, body.device_ids, hashed
    )
    return IssuedHousehold(**household.model_dump(), token=token, link=resident_link(token))


@router.get("/households")
async def list_households(store: StoreDep, request: Request) -> Items[HouseholdView]:
    """List households and their SOS buttons, never their tokens (scoped: its sites' only)."""
    return Items(
        items=await asyncio.to_thread(store.households.list_households, sites=caller_sites(request))
    )


@router.post("/households/{household_id}/token")
async def rotate_household_token(
    household_id: int, store: StoreDep, request: Request
) -> IssuedHousehold:
    """Give a household a new page token; the old link stops working at once."""
    sites = caller_sites(request)
    await check_in_scope(sites, store.households.household_sites, household_id, "household")
    token, hashed = issue_token()
    household = await asyncio.to_thread(
        store.households.rotate_household_token, household_id, hashed
    )
    return IssuedHousehold(**household.model_dump(), token=token, link=resident_link(token))
