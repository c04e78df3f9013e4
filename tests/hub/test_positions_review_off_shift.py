"""Where a responder is, off shift, is none of the control room's business (review gap).

A responder's phone in OwnTracks' Move mode reports wherever it is, shift or no shift. The hub
stored every fix and the map (``GET /api/v1/positions``) showed each responder's latest, so a
community's control room could follow a grid worker home and through the weekend. Now a fix
is stored only while its responder is on call (roster shifts, in the site's zone), or on the
team of an active case (off shift, still going to a call-out); the map shows only those, and
a responder always sees their own. In-process, on SQLite and PostgreSQL, on an injected clock:
scenario 15's night patrols, on call 22:00-06:00 in Shanghai.
"""

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import make_alert
from tests.hub.http import ok
from tests.hub.patrols import NIGHT_NOW, Phones, arrivals, location, report

pytestmark = pytest.mark.fake_clock

NOW = NIGHT_NOW  # 02:00 in Shanghai


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


async def on_the_map(client: httpx.AsyncClient) -> list[str]:
    return [p["responder_id"] for p in (await ok(await client.get("/api/v1/positions")))["items"]]


async def test_off_shift_a_fix_is_not_stored_and_the_last_one_is_not_shown(
    night_patrols: httpx.AsyncClient, phone: Phones, clock: FakeClock
) -> None:
    near, far = phone("patrol-near"), phone("patrol-far")
    await report(near, location(80, clock.now))
    assert await on_the_map(night_patrols) == ["patrol-near"]

    clock.advance(8 * 3600)  # 10:00: both off shift
    assert await on_the_map(night_patrols) == []  # where he was at 02:00: not shown by day
    assert await on_the_map(near) == ["patrol-near"]  # his own, to him
    await report(far, location(3000, clock.now))  # answered as ever
    await report(near, location(5000, clock.now))

    clock.advance(13 * 3600)  # 23:00: on shift again
    # Nothing of the day was stored: the near one's last fix is still the night's, and the
    # far one has none.
    [near_fix] = (await ok(await night_patrols.get("/api/v1/positions")))["items"]
    assert near_fix["responder_id"] == "patrol-near"
    assert near_fix["at"] == NOW.isoformat().replace("+00:00", "Z")


async def test_off_shift_on_a_case_the_responder_is_still_followed_and_arrives(
    app: FastAPI, night_patrols: httpx.AsyncClient, phone: Phones, clock: FakeClock
) -> None:
    store: HubStore = app.state.store
    near = phone("patrol-near")
    clock.advance(3 * 3600 + 50 * 60)  # 05:50
    await report(near, location(80, clock.now))
    [fire] = store.intake.ingest_alerts([make_alert(ts=clock.now)], clock.now).cases_opened
    assert ("patrol", "patrol-near") in [(m.duty, m.responder) for m in fire.team]

    clock.advance(20 * 60)  # 06:10: his shift is over, the fire is not
    assert await on_the_map(night_patrols) == ["patrol-near"]
    await report(near, location(10, clock.now))  # at the door
    assert await arrivals(night_patrols, fire.id) == ["patrol-near"]

    await ok(
        await night_patrols.post(
            f"/api/v1/cases/{fire.id}/resolve", json={"resolution": "real", "note": "out"}
        )
    )
    clock.advance(60)
    assert await on_the_map(night_patrols) == []  # the case resolved, off shift: not shown
    before = (await ok(await near.get("/api/v1/positions")))["items"]
    clock.advance(60)
    await report(near, location(2000, clock.now))  # on his way home: not stored
    assert (await ok(await near.get("/api/v1/positions")))["items"] == before
    assert before[0]["at"] == (NOW + timedelta(hours=4, minutes=10)).isoformat().replace(
        "+00:00", "Z"
    )
