"""What a responder's position may be trusted for (scenario 15's night, PRODUCT.md): a vague
fix, a phone's "no fix" at 0°, 0°, and a fix taken before the case opened. Through OwnTracks'
HTTP mode, in-process, on SQLite and PostgreSQL, on an injected clock."""

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from hub.errors import InvalidInputError
from hub.positions.rules import MapPlace, Position, distance_m, on_site, read_owntracks
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import make_alert
from tests.hub.http import ok
from tests.hub.patrols import (
    BUILDING_3,
    METRE_LAT,
    NIGHT_NOW,
    Phones,
    arrivals,
    location,
    report,
)

pytestmark = pytest.mark.fake_clock

NOW = NIGHT_NOW


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


def test_distances_hold_across_the_antimeridian_and_at_the_poles() -> None:
    assert distance_m(0, 179.9999, 0, -179.9999) == pytest.approx(22.24, rel=1e-3)
    assert distance_m(89.9999, 0, 89.9999, 180) == pytest.approx(22.24, rel=1e-3)
    assert distance_m(-90, 0, 90, 0) == pytest.approx(20_015_087, rel=1e-4)


def test_an_encrypted_message_is_refused_not_silently_dropped() -> None:
    body = b'{"_type":"encrypted","data":"kTxzTVb1Fq+VjlM7fWnQbDpwEvV9ftdlgi9lAA=="}'
    with pytest.raises(InvalidInputError, match="encrypted"):
        read_owntracks(body, NOW)


def test_a_fix_too_vague_to_tell_puts_nobody_on_site() -> None:
    building = MapPlace.model_validate(BUILDING_3)
    lat = building.lat + 60 * METRE_LAT
    assert on_site(Position(lat, building.lon, NOW, accuracy_m=20), building)
    # A cell tower's fix, accurate to 2 km, 60 m from the door: it could be anywhere around.
    assert not on_site(Position(lat, building.lon, NOW, accuracy_m=2000), building)
    assert not on_site(Position(building.lat, building.lon, NOW, accuracy_m=500), building)


async def test_a_vague_fix_does_not_outrank_a_precise_one_nor_mark_on_site(
    app: FastAPI, night_patrols: httpx.AsyncClient, phone: Phones, clock: FakeClock
) -> None:
    store: HubStore = app.state.store
    near, far = phone("patrol-near"), phone("patrol-far")
    # patrol-far's phone has only a cell tower's fix, 30 m from building 3 give or take 1.5 km;
    # patrol-near's GPS puts him 200 m away, to 10 m.
    await report(far, location(30, NOW - timedelta(minutes=1), acc=1500))
    await report(near, location(-200, NOW - timedelta(minutes=1), acc=10))
    [fire] = store.intake.ingest_alerts([make_alert(ts=NOW)], clock.now).cases_opened
    assert ("patrol", "patrol-near") in [(m.duty, m.responder) for m in fire.team]
    # Another vague fix near the door does not say he has arrived; a precise one does.
    clock.advance(60)
    await report(near, location(40, clock.now, acc=800))
    assert await arrivals(night_patrols, fire.id) == []
    await report(near, location(40, clock.now, acc=8))
    assert await arrivals(night_patrols, fire.id) == ["patrol-near"]


async def test_a_phone_sending_encrypted_messages_is_told(
    night_patrols: httpx.AsyncClient, phone: Phones
) -> None:
    near = phone("patrol-near")
    refused = await near.post("/api/v1/owntracks", json={"_type": "encrypted", "data": "AAAA"})
    assert refused.status_code == 422
    assert "encryption key" in refused.text


async def test_a_phones_no_fix_at_zero_zero_is_not_a_position(
    app: FastAPI, night_patrols: httpx.AsyncClient, phone: Phones, clock: FakeClock
) -> None:
    store: HubStore = app.state.store
    near = phone("patrol-near")
    await report(near, location(80, NOW - timedelta(minutes=2)))
    # The phone lost its fix and reports 0°, 0° (a later one): he stays where he was.
    await report(near, {**location(0, NOW - timedelta(minutes=1)), "lat": 0, "lon": 0})
    [where] = (await ok(await night_patrols.get("/api/v1/positions")))["items"]
    assert where["lat"] == pytest.approx(BUILDING_3["lat"] + 80 * METRE_LAT)  # type: ignore[operator]
    [fire] = store.intake.ingest_alerts([make_alert(ts=NOW)], clock.now).cases_opened
    assert ("patrol", "patrol-near") in [(m.duty, m.responder) for m in fire.team]


async def test_a_fix_taken_before_the_case_opened_does_not_put_anyone_on_site(
    app: FastAPI, night_patrols: httpx.AsyncClient, phone: Phones, clock: FakeClock
) -> None:
    store: HubStore = app.state.store
    near = phone("patrol-near")
    await report(near, location(80, NOW - timedelta(minutes=3)))
    [fire] = store.intake.ingest_alerts([make_alert(ts=NOW)], clock.now).cases_opened
    assert ("patrol", "patrol-near") in [(m.duty, m.responder) for m in fire.team]
    clock.advance(30)
    # Delivered late (the phone's queue): he passed the door a minute before the alarm...
    await report(near, location(5, NOW - timedelta(minutes=1)))
    assert await arrivals(night_patrols, fire.id) == []
    # ...and comes back to it now.
    await report(near, location(5, clock.now))
    assert await arrivals(night_patrols, fire.id) == ["patrol-near"]


async def test_a_responders_token_reads_their_own_position_only(
    night_patrols: httpx.AsyncClient, phone: Phones
) -> None:
    near, far = phone("patrol-near"), phone("patrol-far")
    await report(near, location(80, NOW))
    await report(far, location(-600, NOW))
    # The token on patrol-near's phone does not show where patrol-far is (off duty, at home).
    mine = (await ok(await near.get("/api/v1/positions")))["items"]
    assert [p["responder_id"] for p in mine] == ["patrol-near"]
    everyone = (await ok(await night_patrols.get("/api/v1/positions")))["items"]
    assert [p["responder_id"] for p in everyone] == ["patrol-far", "patrol-near"]
