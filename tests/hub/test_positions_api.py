"""A fire at night: the on-duty patrol member 80 m away is dispatched before the one 600 m
away, and the case shows him on site when he arrives (PRODUCT.md scenario 15). Their phones
report through OwnTracks' HTTP mode, as the apps send it (Basic authentication, a JSON message
a request). In-process, on SQLite and PostgreSQL, on an injected clock."""

import base64
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from hub.auth.rules import Role
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import make_alert
from tests.hub.http import ok, token_client
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


async def test_the_nearest_patrol_goes_first_and_shows_on_site_when_he_arrives(
    app: FastAPI, night_patrols: httpx.AsyncClient, phone: Phones, clock: FakeClock
) -> None:
    store: HubStore = app.state.store
    near, far = phone("patrol-near"), phone("patrol-far")
    await report(near, location(80, NOW - timedelta(minutes=2)))
    await report(far, location(-600, NOW - timedelta(minutes=1)))

    [fire] = store.intake.ingest_alerts([make_alert(ts=NOW)], clock.now).cases_opened
    assert [(m.duty, m.responder) for m in fire.team] == [
        ("area", "grid-3"),
        ("patrol", "patrol-near"),
    ]

    clock.advance(90)
    await report(near, location(15, clock.now))  # at the door
    case = await ok(await night_patrols.get(f"/api/v1/cases/{fire.id}"))
    [arrived] = [e for e in case["events"] if e["action"] == "on_site"]
    assert arrived["actor"] == "patrol-near"
    assert "patrol-near on site: 15 m from Building 3" in arrived["note"]
    # Still there a minute later: on site once, not again at every fix.
    clock.advance(60)
    await report(near, location(5, clock.now))
    assert await arrivals(night_patrols, fire.id) == ["patrol-near"]
    # The far one is not on the team: passing by puts nobody on site.
    await report(far, location(0, clock.now))
    assert await arrivals(night_patrols, fire.id) == ["patrol-near"]

    positions = (await ok(await night_patrols.get("/api/v1/positions")))["items"]
    assert [(p["responder_id"], p["site_id"]) for p in positions] == [
        ("patrol-far", "lanyuan"),
        ("patrol-near", "lanyuan"),
    ]


async def test_a_stale_or_missing_position_does_not_place_a_responder(
    app: FastAPI, night_patrols: httpx.AsyncClient, phone: Phones, clock: FakeClock
) -> None:
    store: HubStore = app.state.store
    near, far = phone("patrol-near"), phone("patrol-far")
    # The one with the lower id (who wins without positions) left his phone in a locker by
    # the building half an hour ago; the other's phone is fresh, 600 m away.
    await report(far, location(20, NOW - timedelta(minutes=30)))
    await report(near, location(-600, NOW - timedelta(minutes=1)))
    [fire] = store.intake.ingest_alerts([make_alert(ts=NOW)], clock.now).cases_opened
    assert ("patrol", "patrol-near") in [(m.duty, m.responder) for m in fire.team]


async def test_an_older_fix_does_not_move_a_responder_back(
    night_patrols: httpx.AsyncClient, phone: Phones
) -> None:
    near = phone("patrol-near")
    await report(near, location(80, NOW - timedelta(minutes=1)))
    await report(near, location(900, NOW - timedelta(minutes=5)))  # queued while offline
    [where] = (await ok(await night_patrols.get("/api/v1/positions")))["items"]
    assert where["lat"] == pytest.approx(BUILDING_3["lat"] + 80 * METRE_LAT)  # type: ignore[operator]
    assert where["at"] == (NOW - timedelta(minutes=1)).isoformat().replace("+00:00", "Z")


async def test_what_the_owntracks_endpoint_refuses_or_lets_pass(
    app: FastAPI, night_patrols: httpx.AsyncClient, phone: Phones, caplog: pytest.LogCaptureFixture
) -> None:
    near = phone("patrol-near")
    # Other message types and the empty message are answered and ignored.
    await report(near, b"")
    await report(near, {"_type": "transition", "event": "enter", "tst": 1})
    # A wrong location is refused with its reason, and stores nothing.
    wrong = await near.post("/api/v1/owntracks", json=location(0, NOW, lat=91))
    assert wrong.status_code == 422, wrong.text
    assert "lat" in wrong.text
    assert "owntracks: refused a message of patrol-near: not an OwnTracks location" in caplog.text
    ahead = await near.post("/api/v1/owntracks", json=location(0, NOW + timedelta(hours=1)))
    assert ahead.status_code == 422
    assert (await ok(await night_patrols.get("/api/v1/positions")))["items"] == []
    # The user must be whom the token is for; a wrong or missing password is refused.
    token = near.headers["authorization"].split()[1]
    _, secret = base64.b64decode(token).decode().split(":", 1)
    for credential in (f"patrol-far:{secret}", "patrol-near:lnl_wrong", "patrol-near:", "garbage"):
        encoded = base64.b64encode(credential.encode()).decode()
        refused = await near.post(
            "/api/v1/owntracks",
            json=location(0, NOW),
            headers={"authorization": f"Basic {encoded}"},
        )
        assert refused.status_code == 401, (credential, refused.text)
    # Someone not on the roster has no position to report.
    ghost = phone("ghost")
    assert (await ghost.post("/api/v1/owntracks", json=location(0, NOW))).status_code == 404
    # An operator's reading is of their sites only.
    async with token_client(app, Role.OPERATOR, sites=frozenset({"meiyuan"})) as other_site:
        await report(near, location(0, NOW))
        assert (await ok(await other_site.get("/api/v1/positions")))["items"] == []


async def test_a_fix_from_the_phones_queue_does_not_put_anyone_on_site(
    app: FastAPI, night_patrols: httpx.AsyncClient, phone: Phones, clock: FakeClock
) -> None:
    store: HubStore = app.state.store
    near = phone("patrol-near")
    await report(near, location(80, NOW - timedelta(minutes=2)))
    [fire] = store.intake.ingest_alerts([make_alert(ts=NOW)], clock.now).cases_opened
    clock.advance(3600)
    # Sent now, taken 20 min ago at the door (the phone was offline): he moves on the map...
    await report(near, location(5, clock.now - timedelta(minutes=20)))
    [where] = (await ok(await night_patrols.get("/api/v1/positions")))["items"]
    assert where["at"] == (clock.now - timedelta(minutes=20)).isoformat().replace("+00:00", "Z")
    # ...but is not on site by it; a fix taken now is.
    assert await arrivals(night_patrols, fire.id) == []
    await report(near, location(5, clock.now))
    assert await arrivals(night_patrols, fire.id) == ["patrol-near"]
