"""The resident's one-touch page, outside ``/api/v1``: ``/r/<token>``.

Four routes, all opened by the household's secret token (an unknown or rotated token is a
bare 404): the page itself, the SOS press, its take-back ("it was a mistake",
``hub.residents.withdrawal``: the case stays open) and the status the page polls. A press becomes an
``Alert`` ingested through the same repository method as an edge's alerts, so it opens or
joins the household's case exactly as a button press does; the decisions (stage, throttle,
the alert itself) live in ``hub.residents.rules``. The token never reaches a log line from here.
The page carries the household's community time zone (``<body data-zone>``): it tells every
time, and reckons its visit windows, in it, never in the phone's own.
"""

import asyncio
import re
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse

from hub.auth.scoping import SiteMap, site_of_household
from hub.http.deps import ChangesDep, ClockDep, StoreDep, get_store
from hub.http.security import content_security_policy, inline_hash
from hub.requests.phone import render_phone_page
from hub.residents.rules import (
    RESIDENT_PREFIX,
    ResidentStage,
    SosThrottle,
    token_hash,
    web_sos_alert,
)
from hub.residents.views import HouseholdView, ResidentStatus
from hub.residents.withdrawals import SosWithdrawals
from hub.roster.rules import Site

resident_router = APIRouter(prefix=RESIDENT_PREFIX, tags=["resident"])

NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
"""The page and its answers are private to the household: never cached, never referred."""

STAGE_TEXT: dict[ResidentStage, tuple[str, str, str]] = {
    ResidentStage.NONE: ("按下按钮求助", "Press the button for help", "#5b6770"),
    ResidentStage.RECEIVED: (
        "求助已发出，等待工作人员",
        "Help called: waiting for staff",
        "#9a5b00",
    ),
    ResidentStage.CASE_OPENED: (
        "求助已发出，已通知工作人员",
        "Help called: staff alerted",
        "#c62828",
    ),
    ResidentStage.ACKNOWLEDGED: ("有人正在赶来", "Someone is coming", "#1565c0"),
    ResidentStage.RESOLVED: ("已处理", "Resolved", "#2e7d32"),
    ResidentStage.WITHDRAWN: (
        "已告知工作人员：您说是误按。工作人员可能仍会打电话确认。",
        "Staff told: you say it was a mistake. They may still phone you to check.",
        "#37474f",
    ),
}
"""What each stage reads, in Chinese and English, and its colour."""


DEFAULT_ZONE: str = Site.model_fields["timezone"].default
"""The zone of a household no site holds: the roster's default for a site (Asia/Shanghai)."""


def household_zone(site_map: SiteMap, household: HouseholdView) -> str:
    """Return the time zone of the household's community (its site's, ``hub.auth.scoping``):
    the page tells every time, and reckons "tomorrow morning", in it, whatever the phone's."""
    site_id = site_of_household(
        site_map, household.location, household.device_ids, site_map.device_sites()
    )
    return next((site.timezone for site in site_map.sites if site.id == site_id), DEFAULT_ZONE)


def get_throttle(request: Request) -> SosThrottle:
    """Return the app's SOS press throttle."""
    throttle: SosThrottle = request.app.state.sos_throttle
    return throttle


async def get_household(token: str, request: Request) -> HouseholdView:
    """Return the household the path's token opens, or raise NotFoundError (404)."""
    store = get_store(request)
    household: HouseholdView = await asyncio.to_thread(
        store.households.household_by_token, token_hash(token)
    )
    return household


HouseholdDep = Annotated[HouseholdView, Depends(get_household)]
CaseIdPath = Annotated[int, Path(ge=1, le=2**31 - 1)]
"""A case id in a resident's path: one no database column could hold is a 422, not a 500."""
ThrottleDep = Annotated[SosThrottle, Depends(get_throttle)]


@resident_router.get("/{token}", response_class=HTMLResponse, include_in_schema=False)
async def resident_page(household: HouseholdDep, store: StoreDep) -> HTMLResponse:
    """Serve the household's phone page: the SOS button and its status, and the household's
    requests (``hub.requests.phone``: report, follow, rate)."""
    status = await asyncio.to_thread(store.households.household_status, household)
    site_map = await asyncio.to_thread(store.roster.site_map)
    page = render_phone_page(
        household.name,
        status.stage.value,
        STAGE_TEXT[status.stage],
        status.case_id,
        zone=household_zone(site_map, household),
    )
    return HTMLResponse(page, headers={**NO_STORE, "Content-Security-Policy": page_policy(page)})


@resident_router.post("/{token}/sos", include_in_schema=False)
async def resident_sos(
    household: HouseholdDep,
    store: StoreDep,
    changes: ChangesDep,
    throttle: ThrottleDep,
    clock: ClockDep,
) -> ResidentStatus:
    """Raise an SOS for the household (at most one alert per 2 s) and return its status."""
    now = clock()
    if throttle.admit(household.id, now):
        device = await asyncio.to_thread(store.households.household_sos_device, household)
        alert = web_sos_alert(uuid.uuid4().hex, device.id, device.location, now)
        result = await asyncio.to_thread(store.intake.ingest_alerts, [alert], now)
        changes.alerts_stored(result)
    return await asyncio.to_thread(store.households.household_status, household)


@resident_router.post("/{token}/sos/{case_id}/withdraw", include_in_schema=False)
async def resident_sos_withdraw(
    case_id: CaseIdPath, household: HouseholdDep, store: StoreDep, changes: ChangesDep
) -> ResidentStatus:
    """Tell the staff the household's SOS was a mistake and return its status: a line on
    the case, which stays open for the operator to call back; a repeat changes nothing.
    Another household's case is a 404, a resolved one a 409."""
    withdrawals = SosWithdrawals(store.db, store.cases)
    changed = await asyncio.to_thread(withdrawals.withdraw, household, case_id)
    if changed is not None:
        # On the live stream at once; the button's LED has nothing new to show.
        changes.case_changed(changed, resident_sees=False)
    return await asyncio.to_thread(store.households.household_status, household)


@resident_router.get("/{token}/status", include_in_schema=False)
async def resident_status(household: HouseholdDep, store: StoreDep) -> ResidentStatus:
    """Return the stage of the household's most recent SOS case."""
    return await asyncio.to_thread(store.households.household_status, household)


def page_policy(page: str) -> str:
    """Return the page's Content-Security-Policy: 'self' plus the hashes of exactly its own
    inline style and script (``hub.http.security``)."""
    styles = re.findall(r"<style>(.*?)</style>", page, flags=re.DOTALL)
    scripts = re.findall(r"<script>(.*?)</script>", page, flags=re.DOTALL)
    return content_security_policy(
        script_hashes=[inline_hash(s) for s in scripts],
        style_hashes=[inline_hash(s) for s in styles],
    )
