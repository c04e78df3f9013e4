"""Scenario 15's night (PRODUCT.md): a site whose map places building 3, its grid worker and
two patrol members on the night shift, and building 3's smoke detector, put through the API as
an admin would; and the OwnTracks location a phone reports near building 3. Shared by the
HTTP-mode tests (tests/hub/test_positions_api.py, test_positions_trust.py) and the MQTT-mode
ones (tests/security/test_phone_positions.py); and what the HTTP mode's phones send."""

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.hub.factories import make_device
from tests.hub.http import ok

NIGHT_NOW = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)  # Tuesday 02:00 in Shanghai: the night shift
BUILDING_3 = {"place": "Building 3", "lat": 39.93900, "lon": 116.40600}
METRE_LAT = 1 / 111_195
NIGHT = {"days": [0, 1, 2, 3, 4, 5, 6], "start": "22:00", "end": "06:00"}
SMOKE = "b3-1201-smoke"


async def put_night_patrols(admin: httpx.AsyncClient) -> None:
    """Put the site ``lanyuan`` (edge ``e1``) with building 3 on its map, the grid ``g-b3``,
    its worker ``grid-3``, the patrols ``patrol-far`` and ``patrol-near`` on the night shift,
    and building 3's smoke detector."""
    site = {"id": "lanyuan", "name": "Lanyuan", "edge_ids": ["e1"], "map": [BUILDING_3]}
    await ok(await admin.put("/api/v1/sites/lanyuan", json=site))
    grid = {"id": "g-b3", "site_id": "lanyuan", "name": "B3", "places": ["Building 3"]}
    await ok(await admin.put("/api/v1/grids/g-b3", json=grid))
    for person, role in (("grid-3", "grid_worker"), ("patrol-far", "security"),
                         ("patrol-near", "security")):  # fmt: skip
        body = {"id": person, "site_id": "lanyuan", "name": person, "role": role}
        await ok(await admin.put(f"/api/v1/responders/{person}", json={**body, "shifts": [NIGHT]}))
    device = make_device(SMOKE).model_dump(mode="json")
    await ok(await admin.post("/api/v1/devices", json=device), 201)


def location(metres_north: float, at: datetime, **more: Any) -> dict[str, Any]:
    """An OwnTracks location ``metres_north`` of building 3, its fix taken at ``at``."""
    lat = BUILDING_3["lat"] + metres_north * METRE_LAT  # type: ignore[operator]
    return {"_type": "location", "lat": lat, "lon": BUILDING_3["lon"], "tst": int(at.timestamp()),
            "acc": 10, "tid": "PT", "batt": 80, "conn": "m", **more}  # fmt: skip


def android_location(metres_north: float, at: datetime) -> bytes:
    """A location ``metres_north`` of building 3 as OwnTracks for Android publishes it in MQTT
    mode (https://owntracks.org/booklet/tech/json/: its ``_id``, ``bs``, ``m``, ``created_at``
    besides the HTTP mode's fields)."""
    message = location(metres_north, at, _id="5d1e04f2", alt=46, bs=1, cog=0, m=1, t="u", vac=3,
                       vel=0, created_at=int(at.timestamp()))  # fmt: skip
    return json.dumps(message).encode()


Phones = Callable[[str], httpx.AsyncClient]
"""Opens a responder's phone: an OwnTracks app's HTTP client (the hub tests' ``phone``)."""


async def report(phone: httpx.AsyncClient, message: dict[str, Any] | bytes) -> None:
    """Send an OwnTracks message (JSON, or a raw body) from ``phone``; check that the hub took
    it and answered with no commands for the phone."""
    body = message if isinstance(message, bytes) else None
    response = await phone.post(
        "/api/v1/owntracks", content=body, json=None if body is not None else message
    )
    assert await ok(response) == []


async def arrivals(admin: httpx.AsyncClient, case_id: int) -> list[str]:
    """Return who the case's history says arrived on site, in order."""
    case = await ok(await admin.get(f"/api/v1/cases/{case_id}"))
    return [e["actor"] for e in case["events"] if e["action"] == "on_site"]
