"""An outside review of responders' positions against the roster: a responder taken off it
(``active`` false: left the team, or off the community's books) is no longer tracked. Before,
the control room's map kept showing where their phone last was, and their phone, still set
up, went on moving them on it (and storing where they went) for as long as it reported.
In-process, on SQLite and PostgreSQL, on an injected clock."""

from datetime import timedelta

import httpx
import pytest

from tests.hub.conftest import FakeClock
from tests.hub.http import ok
from tests.hub.patrols import NIGHT, NIGHT_NOW, Phones, location, report

pytestmark = pytest.mark.fake_clock

NOW = NIGHT_NOW


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


async def _take_off_the_roster(admin: httpx.AsyncClient, responder_id: str) -> None:
    body = {"id": responder_id, "site_id": "lanyuan", "name": responder_id, "role": "security",
            "shifts": [NIGHT], "active": False}  # fmt: skip
    await ok(await admin.put(f"/api/v1/responders/{responder_id}", json=body))


async def _listed(admin: httpx.AsyncClient) -> list[str]:
    return [p["responder_id"] for p in (await ok(await admin.get("/api/v1/positions")))["items"]]


async def test_a_responder_taken_off_the_roster_is_no_longer_shown_nor_tracked(
    night_patrols: httpx.AsyncClient, phone: Phones, clock: FakeClock
) -> None:
    near, far = phone("patrol-near"), phone("patrol-far")
    await report(near, location(80, NOW - timedelta(minutes=1)))
    await report(far, location(-600, NOW - timedelta(minutes=1)))
    assert await _listed(night_patrols) == ["patrol-far", "patrol-near"]

    await _take_off_the_roster(night_patrols, "patrol-near")
    # The map no longer shows where he last was.
    assert await _listed(night_patrols) == ["patrol-far"]
    # His phone, still set up, is refused as someone not on the roster, and stores nothing.
    clock.advance(60)
    refused = await near.post("/api/v1/owntracks", json=location(3_000, clock.now))
    assert refused.status_code == 404, refused.text
    assert "not on the roster" in refused.text

    # Back on the roster: tracked again from his next fix.
    body = {"id": "patrol-near", "site_id": "lanyuan", "name": "patrol-near", "role": "security",
            "shifts": [NIGHT]}  # fmt: skip
    await ok(await night_patrols.put("/api/v1/responders/patrol-near", json=body))
    await report(near, location(10, clock.now))
    [where] = [
        p
        for p in (await ok(await night_patrols.get("/api/v1/positions")))["items"]
        if p["responder_id"] == "patrol-near"
    ]
    assert where["at"] == clock.now.isoformat().replace("+00:00", "Z")
