"""The street's monthly report (PRODUCT.md scenario 13, second half): a repair nobody finishes
within 48 h climbs to the street, and the street's statistics for the month show it among the
overdue ones, beside its communities' other figures; each level sees its own sites only.
Through the API, on SQLite and PostgreSQL, on an injected clock."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from hub.auth.rules import Role
from hub.store import HubStore
from tests.hub.conftest import FakeClock, app
from tests.hub.http import api_client, ok, token_client
from tests.hub.residents import household

pytestmark = pytest.mark.fake_clock
__all__ = ["app"]  # the hub tests' app fixture, on this module's clock

MONTH = datetime(2026, 3, 1, tzinfo=UTC)
NEXT_MONTH = datetime(2026, 4, 1, tzinfo=UTC)
SITES = {
    # site: (street, district, the place its grid covers)
    "lanyuan": ("Jiaodaokou", "Dongcheng", "Lanyuan"),
    "meiyuan": ("Jiaodaokou", "Dongcheng", "Meiyuan"),
    "heping": ("Dongsi", "Dongcheng", "Heping"),
}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(MONTH + timedelta(days=2, hours=1))


@pytest.fixture
async def admin(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app with three communities of two streets, each with a grid and a plumber."""
    async with api_client(app) as client:
        for site_id, (street, district, place) in SITES.items():
            site = {"id": site_id, "name": place, "street": street, "district": district}
            await ok(await client.put(f"/api/v1/sites/{site_id}", json=site))
            grid = {"id": f"g-{site_id}", "site_id": site_id, "name": place, "places": [place]}
            await ok(await client.put(f"/api/v1/grids/g-{site_id}", json=grid))
            plumber = {
                "id": f"plumber-{site_id}",
                "site_id": site_id,
                "name": "Zhang",
                "role": "maintenance",
            }
            await ok(await client.put(f"/api/v1/responders/plumber-{site_id}", json=plumber))
        yield client


async def request(
    app: FastAPI, client: httpx.AsyncClient, site_id: str, text: str
) -> tuple[str, int, int]:
    """Log a repair for a household of the site, which its plumber accepts; return the
    household's token, the request's id and its case's id."""
    home = await household(client, f"{text} family", f"{SITES[site_id][2]}/Building 1/101")
    body = {"household_id": home["id"], "category": "repair", "text": text}
    opened = await ok(await client.post("/api/v1/requests", json=body), 201)
    case_id = opened["case_id"]
    async with token_client(app, Role.RESPONDER, name=f"plumber-{site_id}") as plumber:
        await ok(await plumber.post(f"/api/v1/cases/{case_id}/accept", json={}))
    return home["token"], opened["request"]["id"], case_id


async def resolve(client: httpx.AsyncClient, case_id: int) -> None:
    body = {"note": "fixed", "resolution": "real"}
    await ok(await client.post(f"/api/v1/cases/{case_id}/resolve", json=body))


async def month_report(client: httpx.AsyncClient, by: str, **query: str) -> Any:
    params = {"start": MONTH.isoformat(), "end": NEXT_MONTH.isoformat(), "by": by, **query}
    return await ok(await client.get("/api/v1/statistics", params=params))


async def test_the_streets_monthly_report_shows_the_repair_nobody_finished(
    app: FastAPI, admin: httpx.AsyncClient, clock: FakeClock
) -> None:
    store: HubStore = app.state.store
    _, _, stuck = await request(app, admin, "lanyuan", "Stair light broken")
    tap_token, tap_request, tap = await request(app, admin, "lanyuan", "Tap drips")
    _, _, pipe = await request(app, admin, "meiyuan", "Pipe knocks")
    _, _, gate = await request(app, admin, "heping", "Gate squeaks")

    clock.advance(2 * 3600)
    await resolve(admin, pipe)  # 2 h
    clock.advance(22 * 3600)
    await resolve(admin, tap)  # 24 h
    await resolve(admin, gate)
    rated = f"/r/{tap_token}/requests/{tap_request}/rating"
    await ok(await admin.post(rated, json={"score": 4}))
    clock.advance(24 * 3600)
    [climbed] = await_fired(store, clock)
    assert (climbed.id, climbed.escalation_level) == (stuck, 1)  # 48 h: to the street

    clock.now = NEXT_MONTH + timedelta(days=1)
    streets = await month_report(admin, "street")
    total = streets["total"]
    assert (total["opened"], total["resolved"], total["active"], total["overdue"]) == (4, 3, 1, 1)
    assert total["overdue_rate"] == 0.25
    assert total["by_category"] == {"request": 4}
    assert total["closure_p50_s"] == 24 * 3600  # 2 h, 24 h, 24 h: the middle one
    assert total["closure_p90_s"] == 24 * 3600
    assert (total["ratings"], total["rating_mean"]) == (1, 4.0)
    assert (total["judged"], total["false_alarm_rate"]) == (3, 0.0)
    by_street = {g["key"]: g["figures"] for g in streets["groups"]}
    assert list(by_street) == ["Dongsi", "Jiaodaokou"]
    assert (by_street["Jiaodaokou"]["opened"], by_street["Jiaodaokou"]["overdue"]) == (3, 1)
    assert (by_street["Dongsi"]["opened"], by_street["Dongsi"]["overdue"]) == (1, 0)
    [overdue] = streets["overdue"]
    assert (overdue["id"], overdue["street"], overdue["site_id"]) == (
        stuck,
        "Jiaodaokou",
        "lanyuan",
    )
    assert (overdue["status"], overdue["escalations"], overdue["escalation_level"]) == (
        "accepted",
        1,
        1,
    )

    # The street's account covers its two communities: it sees them, not Dongsi's.
    jiaodaokou = frozenset({"lanyuan", "meiyuan"})
    async with token_client(app, Role.OPERATOR, sites=jiaodaokou, name="street") as street:
        own = await month_report(street, "site")
        assert [g["key"] for g in own["groups"]] == ["lanyuan", "meiyuan"]
        assert own["total"]["opened"] == 3
        assert [c["id"] for c in own["overdue"]] == [stuck]
    # A community's operator sees its own community's figures only.
    async with token_client(app, Role.OPERATOR, sites=frozenset({"meiyuan"})) as community:
        own = await month_report(community, "grid")
        assert [(g["key"], g["figures"]["opened"]) for g in own["groups"]] == [("g-meiyuan", 1)]
        assert own["overdue"] == []
    # The district narrows to one street; a month before has nothing.
    one_street = await month_report(admin, "site", street="Dongsi")
    assert [g["key"] for g in one_street["groups"]] == ["heping"]
    before = await ok(
        await admin.get(
            "/api/v1/statistics",
            params={"start": (MONTH - timedelta(days=31)).isoformat(), "end": MONTH.isoformat()},
        )
    )
    assert before["total"]["opened"] == 0
    assert before["total"]["overdue_rate"] is None
    assert before["groups"] == []


def await_fired(store: HubStore, clock: FakeClock) -> list[Any]:
    """Fire the deadlines due now, as the hub's supervisor task does."""
    return store.deadlines.fire_due_timers(clock.now)


async def test_a_period_that_ends_before_it_starts_or_spans_years_is_refused(
    admin: httpx.AsyncClient,
) -> None:
    backwards = {"start": NEXT_MONTH.isoformat(), "end": MONTH.isoformat()}
    refused = await admin.get("/api/v1/statistics", params=backwards)
    assert refused.status_code == 422, refused.text
    assert "is not before end" in refused.text
    years = {"start": (MONTH - timedelta(days=800)).isoformat(), "end": MONTH.isoformat()}
    assert (await admin.get("/api/v1/statistics", params=years)).status_code == 422
    naive = {"start": "2026-03-01T00:00:00", "end": NEXT_MONTH.isoformat()}
    assert (await admin.get("/api/v1/statistics", params=naive)).status_code == 422
    unknown = await admin.get("/api/v1/statistics", params={"by": "planet"})
    assert unknown.status_code == 422
    # Instants whose UTC, or whose 30 days before, lie outside the years 1 to 9999.
    for beyond in (
        {"start": "0001-01-01T00:00:00+14:00", "end": "0001-01-02T00:00:00Z"},
        {"start": "9999-12-31T00:00:00Z", "end": "9999-12-31T23:00:00-12:00"},
        {"end": "0001-01-10T00:00:00Z"},
    ):
        refused = await admin.get("/api/v1/statistics", params=beyond)
        assert refused.status_code == 422, (beyond, refused.text)


async def test_a_responder_reads_the_figures_and_an_anonymous_caller_does_not(
    app: FastAPI, admin: httpx.AsyncClient
) -> None:
    async with token_client(app, Role.RESPONDER, sites=frozenset({"heping"})) as responder:
        await ok(await responder.get("/api/v1/statistics"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://hub.test"
    ) as anonymous:
        assert (await anonymous.get("/api/v1/statistics")).status_code == 401
