"""Found by an outside review: the roster takes a map place at 0°, 0° (a placeholder, its
coordinates still to come; the console lists it as not on the map), and dispatch then measured
the responders' distances to the Gulf of Guinea: the patrol farther south went first as
"nearest", and nobody ever showed on site. Such a place has no coordinates: it places nothing."""

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from devices.kinds import AlertKind
from hub.positions.rules import MapPlace, place_coordinates, read_owntracks
from hub.roster.file import load_roster
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import make_alert
from tests.hub.http import ok
from tests.hub.patrols import (
    BUILDING_3,
    NIGHT_NOW,
    Phones,
    arrivals,
    location,
    report,
)

pytestmark = pytest.mark.fake_clock

FLOOR_12_TO_COME = {"place": "Building 3/Floor 12", "lat": 0.0, "lon": 0.0}
"""The smoke detector's floor, its coordinates still to come."""


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NIGHT_NOW)


@pytest.fixture
async def admin(night_patrols: httpx.AsyncClient) -> httpx.AsyncClient:
    """Scenario 15's night, building 3's floor 12 on the map at 0°, 0°."""
    site = await lanyuan(night_patrols)
    with_floor = {**site, "map": [*site["map"], FLOOR_12_TO_COME]}
    await ok(await night_patrols.put("/api/v1/sites/lanyuan", json=with_floor))
    return night_patrols


async def lanyuan(admin: httpx.AsyncClient) -> Any:
    sites = (await ok(await admin.get("/api/v1/sites")))["items"]
    return next(s for s in sites if s["id"] == "lanyuan")


def test_a_place_at_0_0_places_nothing_and_the_equator_still_does() -> None:
    building = MapPlace.model_validate(BUILDING_3)
    floor = MapPlace.model_validate(FLOOR_12_TO_COME)
    assert not floor.located
    assert place_coordinates([building, floor], "Building 3/Floor 12/Unit 1201") == building
    assert place_coordinates([floor], "Building 3/Floor 12/Unit 1201") is None
    quito = MapPlace(place="Quito", lat=0.0, lon=-78.5)
    greenwich = MapPlace(place="Greenwich", lat=51.48, lon=0.0)
    assert place_coordinates([quito, greenwich], "Quito/Gate") == quito
    assert place_coordinates([quito, greenwich], "Greenwich/Gate") == greenwich


async def test_the_roster_keeps_the_placeholder(admin: httpx.AsyncClient) -> None:
    site = await lanyuan(admin)
    assert [p["place"] for p in site["map"]] == ["Building 3", "Building 3/Floor 12"]


async def test_dispatch_never_measures_to_a_place_at_0_0(
    app: FastAPI,
    admin: httpx.AsyncClient,
    phone: Phones,
    clock: FakeClock,
) -> None:
    store: HubStore = app.state.store
    near, far = phone("patrol-near"), phone("patrol-far")
    # 80 m south of building 3 and 600 m north: at 116° E, the farther north is the nearer
    # to 0°, 0°.
    await report(near, location(-80, NIGHT_NOW - timedelta(minutes=2)))
    await report(far, location(600, NIGHT_NOW - timedelta(minutes=1)))
    # A CO alarm is placed at its flat (Building 3/Floor 12/Unit 1201), within the floor.
    co = make_alert(kind=AlertKind.CO, ts=NIGHT_NOW)
    [co_case] = store.intake.ingest_alerts([co], clock.now).cases_opened
    assert co_case.place == "Building 3/Floor 12/Unit 1201"
    assert [(m.duty, m.responder) for m in co_case.team] == [
        ("area", "grid-3"),
        ("patrol", "patrol-near"),
    ]
    clock.advance(90)
    await report(near, location(-15, clock.now))  # at building 3's door
    assert await arrivals(admin, co_case.id) == ["patrol-near"]


def test_a_roster_file_keeps_a_placeholder_and_nothing_reads_it_as_a_place(
    tmp_path: Path,
) -> None:
    roster = tmp_path / "roster.toml"
    roster.write_text(
        '[[sites]]\nid = "lanyuan"\nname = "Lanyuan"\n'
        'map = [{ place = "Main Gate", lat = 0, lon = 0, kind = "key_place" }]\n',
        encoding="utf-8",
    )
    [site] = load_roster(roster).sites
    assert [p.located for p in site.map] == [False]
    assert place_coordinates(site.map, "Main Gate/Guard Hut") is None
    fix = b'{"_type": "location", "lat": 0, "lon": 0, "tst": 1772474400}'
    assert read_owntracks(fix, NIGHT_NOW) is None, "a phone's 0, 0 is no fix either"
