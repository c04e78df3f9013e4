"""A care household is marked away for at most a month ahead (``hub.care.rules.MAX_AWAY``).

An end date typed years ahead, or a hospital stay that nobody marked over, left the resident
unwatched for good: no wellbeing check, no family message, whatever happened at home.
"""

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine, update

from hub.care.rules import MAX_AWAY, away_problem
from hub.persistence.community import CareProfileRow
from tests.hub.conftest import FakeClock

pytestmark = pytest.mark.fake_clock

HOME = "Building 2/Floor 3/Unit 301"


async def _care_household(client: httpx.AsyncClient) -> str:
    motion = {"id": "b2-301-motion", "kind": "motion", "location": HOME}
    assert (await client.post("/api/v1/devices", json=motion)).status_code == 201
    household = (
        await client.post("/api/v1/households", json={"name": "Grandma Zhao", "location": HOME})
    ).json()
    url = f"/api/v1/households/{household['id']}/care"
    body = {"consent": {"by": "Zhao Min (daughter)"}, "device_ids": ["b2-301-motion"]}
    assert (await client.put(url, json=body)).status_code == 200
    return url


async def test_an_away_years_ahead_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    url = await _care_household(client)
    years = (clock.now + timedelta(days=3650)).isoformat()
    refused = await client.post(f"{url}/away", json={"until": years})
    assert refused.status_code == 422
    assert "31 days" in refused.text
    assert (await client.get(url)).json()["away_until"] is None
    trail = (await client.get("/api/v1/audit", params={"limit": 1000})).json()["items"]
    assert len([e for e in trail if e["action"] == "care_changed"]) == 1  # the PUT alone

    # The same through the settings: refused, the household as it was.
    settings = (await client.get(url)).json()
    put = {
        "consent": {"by": "Zhao Min (daughter)"},
        "device_ids": settings["device_ids"],
        "away_until": years,
    }
    assert (await client.put(url, json=put)).status_code == 422
    assert (await client.get(url)).json()["away_until"] is None


async def test_a_month_away_is_accepted_and_the_check_comes_back_after_it(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    url = await _care_household(client)
    month = clock.now + MAX_AWAY
    away = await client.post(f"{url}/away", json={"until": month.isoformat()})
    assert away.status_code == 200, away.text
    assert away.json()["status"] == "away"


def test_the_bound_counts_from_now_and_lets_a_past_end_through() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 12, 7, 9, tzinfo=UTC)
    assert away_problem(None, now) is None
    assert away_problem(now - timedelta(days=400), now) is None  # back since then
    assert away_problem(now + MAX_AWAY, now) is None
    assert away_problem(now + MAX_AWAY + timedelta(seconds=1), now) is not None


async def test_a_trip_stored_before_the_bound_survives_other_settings_sent_back_unchanged(
    client: httpx.AsyncClient, clock: FakeClock, engine: Engine
) -> None:
    # The console sends the whole profile back, its trip included: changing the quiet hours of a
    # household whose trip was stored (before the bound) years ahead must not be refused.
    url = await _care_household(client)
    years = clock.now + timedelta(days=3650)
    with engine.begin() as connection:
        connection.execute(update(CareProfileRow).values(away_until=years))
    stored = (await client.get(url)).json()
    assert stored["status"] == "away"
    put = {
        "consent": {"by": "Zhao Min (daughter)"},
        "device_ids": stored["device_ids"],
        "quiet_hours": 10,
        "away_until": stored["away_until"],
    }
    changed = await client.put(url, json=put)
    assert changed.status_code == 200, changed.text
    assert changed.json()["quiet_hours"] == 10
    assert changed.json()["away_until"] == stored["away_until"]
