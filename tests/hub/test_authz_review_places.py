"""A community's operator must not take a place inside another community's grid with a grid
of its own: the place is the other community's, devices there or not. Taken while empty, it
let the operator silence that floor for good (a later smoke detector of the other community
there raised no case) and left the other community unable to add a home there (found by an
outside review)."""

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from hub.store import HubStore
from tests.hub.factories import T0, make_alert
from tests.hub.http import ok
from tests.hub.test_scoping_more import admin  # noqa: F401 - the two-site fixture

pytestmark = pytest.mark.fake_clock

API = "/api/v1"
FLOOR = "Building 3/Floor 5"
"""Inside Lanyuan's grid (``Building 3``), with no device or home yet."""


async def test_an_operator_cannot_claim_an_empty_place_inside_another_communitys_grid(
    app: FastAPI,
    admin: httpx.AsyncClient,  # noqa: F811
    operator: httpx.AsyncClient,
) -> None:
    grid = {"id": "g-mei-annex", "site_id": "meiyuan", "name": "Annex", "places": [FLOOR]}
    claimed = await operator.put(f"{API}/grids/g-mei-annex", json=grid)
    assert claimed.status_code == 403, claimed.text

    # So the floor stays Lanyuan's: Meiyuan cannot silence it, and a fire there opens a case.
    until = (T0 + timedelta(days=30)).isoformat()
    quiet = {"scope": "place", "target": FLOOR, "ends_at": until, "reason": "works"}
    assert (await operator.post(f"{API}/silences", json=quiet)).status_code == 403
    smoke = {"id": "lan-smoke-5", "kind": "smoke", "location": f"{FLOOR}/Unit 501",
             "edge_id": "edge-lan"}  # fmt: skip
    await ok(await admin.post(f"{API}/devices", json=smoke), 201)
    store: HubStore = app.state.store
    fire = make_alert(device_id="lan-smoke-5", edge_id="edge-lan", ts=T0 + timedelta(minutes=1))
    result = store.intake.ingest_alerts([fire], T0 + timedelta(minutes=1))
    assert (len(result.cases_opened), result.silenced) == (1, [])


async def test_an_operator_may_still_add_grids_inside_its_own_places(
    admin: httpx.AsyncClient,  # noqa: F811
    operator: httpx.AsyncClient,
) -> None:
    grid = {"id": "g-mei-east", "site_id": "meiyuan", "name": "East", "places": ["Building 9/East"]}
    await ok(await operator.put(f"{API}/grids/g-mei-east", json=grid))
    fresh = {"id": "g-mei-new", "site_id": "meiyuan", "name": "New", "places": ["Building 12"]}
    await ok(await operator.put(f"{API}/grids/g-mei-new", json=fresh))


async def test_an_operators_place_silence_cannot_take_in_another_communitys_grid(
    app: FastAPI,
    admin: httpx.AsyncClient,  # noqa: F811
    operator: httpx.AsyncClient,
) -> None:
    """Building 12 is Meiyuan's but its garage is Lanyuan's, with no device there yet: a
    silence of the whole building would silence Lanyuan's garage detector once it is put in."""
    for grid_id, site, place in (
        ("g-mei-12", "meiyuan", "Building 12"),
        ("g-lan-12", "lanyuan", "Building 12/Garage"),
    ):
        grid = {"id": grid_id, "site_id": site, "name": place, "places": [place]}
        await ok(await admin.put(f"{API}/grids/{grid_id}", json=grid))
    until = (T0 + timedelta(days=30)).isoformat()
    quiet = {"scope": "place", "target": "Building 12", "ends_at": until, "reason": "works"}
    refused = await operator.post(f"{API}/silences", json=quiet)
    assert refused.status_code == 403, refused.text

    smoke = {"id": "lan-garage-smoke", "kind": "smoke", "location": "Building 12/Garage",
             "edge_id": "edge-lan"}  # fmt: skip
    await ok(await admin.post(f"{API}/devices", json=smoke), 201)
    store: HubStore = app.state.store
    fire = make_alert(device_id="lan-garage-smoke", edge_id="edge-lan", ts=T0 + timedelta(hours=1))
    result = store.intake.ingest_alerts([fire], T0 + timedelta(hours=1))
    assert (len(result.cases_opened), result.silenced) == (1, [])
    # Its own floors it silences as before.
    floor = {**quiet, "target": "Building 12/Floor 1"}
    await ok(await operator.post(f"{API}/silences", json=floor), 201)
