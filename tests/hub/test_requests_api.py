"""Residents' requests end to end in-process: the page's routes, the operator's API, the
responder's updates, ratings, and one household never seeing another's (scenario 11)."""

import io
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image

from hub.auth.repository import AuthStore
from hub.auth.rules import Role, new_secret
from tests.hub.conftest import FakeClock
from tests.hub.http import api_client
from tests.hub.residents import household
from tests.hub.test_requests_rules import jpeg_with_gps

pytestmark = pytest.mark.fake_clock

LOCATION = "Building 3/Floor 12/Unit 1201"


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app with a staffed site: a plumber and a grid worker for building 3."""
    async with api_client(app) as client:
        await staff(client)
        yield client


async def staff(client: httpx.AsyncClient) -> None:
    """Put a site, a grid for building 3, a maintenance worker and a grid worker on the roster."""
    site = {"id": "lanyuan", "name": "Lanyuan"}
    grid = {"id": "g-b3", "site_id": "lanyuan", "name": "B3", "places": ["Building 3"]}
    people = [
        {"id": "plumber-1", "site_id": "lanyuan", "name": "Zhang Wei", "role": "maintenance"},
        {"id": "grid-3", "site_id": "lanyuan", "name": "王芳", "role": "grid_worker"},
    ]
    assert (await client.put("/api/v1/sites/lanyuan", json=site)).status_code == 200
    assert (await client.put("/api/v1/grids/g-b3", json=grid)).status_code == 200
    for person in people:
        response = await client.put(f"/api/v1/responders/{person['id']}", json=person)
        assert response.status_code == 200, response.text


async def report(
    client: httpx.AsyncClient, token: str, photos: list[bytes], **fields: str
) -> httpx.Response:
    data = {"category": "repair", "text": "Water drips through the ceiling", **fields}
    files = [("photos", (f"p{i}.jpg", photo, "image/jpeg")) for i, photo in enumerate(photos)]
    return await client.post(f"/r/{token}/requests", data=data, files=files or None)


async def responder_client(app: FastAPI, name: str) -> httpx.AsyncClient:
    """Return a client signed in as the responder ``name`` (its token's name is its id)."""
    store: AuthStore = app.state.auth_store
    token = new_secret()
    store.issue_api_token(token, name, Role.RESPONDER)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://hub.test",
        headers={"authorization": f"Bearer {token}"},
    )


async def test_a_leak_reported_with_photos_is_fixed_and_rated(
    app: FastAPI, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    wang = await household(client, "Wang family", LOCATION)
    token = wang["token"]
    morning = clock.now + timedelta(hours=14)
    response = await report(
        client,
        token,
        [jpeg_with_gps(), jpeg_with_gps(800, 600)],
        preferred_from=morning.isoformat(),
        preferred_until=(morning + timedelta(hours=2)).isoformat(),
    )
    assert response.status_code == 201, response.text
    mine = response.json()
    assert mine["stage"] == "assigned"  # dispatched by the roster at once
    assert mine["assigned"] == [{"name": "Zhang", "role": "maintenance"}]
    assert [p["phase"] for p in mine["photos"]] == ["report", "report"]
    request_id = mine["id"]

    # The photo the household gets back has no EXIF at all.
    photo = await client.get(f"/r/{token}/requests/{request_id}/{mine['photos'][0]['path']}")
    assert photo.status_code == 200
    assert photo.headers["content-type"] == "image/jpeg"
    assert b"SERIAL-123" not in photo.content
    assert not Image.open(io.BytesIO(photo.content)).getexif()
    thumb = await client.get(
        f"/r/{token}/requests/{request_id}/{mine['photos'][0]['thumbnail_path']}"
    )
    assert max(Image.open(io.BytesIO(thumb.content)).size) == 320

    # The operator sees a request case of its own, dispatched to the plumber.
    seen = (await client.get(f"/api/v1/requests/{request_id}")).json()
    case = (await client.get(f"/api/v1/cases/{seen['case_id']}")).json()
    assert (case["kind"], case["category"], case["priority"]) == (
        "resident_request",
        "request",
        "low",
    )
    assert [m["responder"] for m in case["team"]] == ["plumber-1"]
    assert seen["preferred_from"] is not None
    assert seen["household_name"] == "Wang family"

    # The plumber accepts, plans the visit for the time the household chose, works, resolves.
    async with await responder_client(app, "plumber-1") as plumber:
        case_url = f"/api/v1/cases/{seen['case_id']}"
        assert (await plumber.post(f"{case_url}/accept", json={})).status_code == 200
        planned = await plumber.post(
            f"/api/v1/requests/{request_id}/updates",
            data={"note": "I will come with a new pipe", "visit_at": morning.isoformat()},
        )
        assert planned.status_code == 201, planned.text
        followed = (await client.get(f"/r/{token}/requests/{request_id}")).json()
        assert followed["stage"] == "visit_planned"
        assert followed["updates"][0]["by"] == "Zhang · maintenance"
        clock.advance(14 * 3600)
        assert (await plumber.post(f"{case_url}/start", json={})).status_code == 200
        assert (await client.get(f"/r/{token}/requests/{request_id}")).json()[
            "stage"
        ] == "in_progress"
        after = await plumber.post(
            f"/api/v1/requests/{request_id}/updates",
            data={"note": "Pipe replaced"},
            files=[("photos", ("after.jpg", jpeg_with_gps(), "image/jpeg"))],
        )
        assert after.status_code == 201, after.text
    # Resolving is the operator's (responders accept, start, decline and hand over).
    resolved = await client.post(
        f"{case_url}/resolve", json={"resolution": "real", "note": "Leak fixed"}
    )
    assert resolved.status_code == 200, resolved.text

    done = (await client.get(f"/r/{token}/requests/{request_id}")).json()
    assert done["stage"] == "done"
    assert done["can_rate"] is True
    assert [p["phase"] for p in done["photos"]] == ["report", "report", "after"]
    assert [u["note"] for u in done["updates"]][-1] == "Leak fixed"
    rated = await client.post(
        f"/r/{token}/requests/{request_id}/rating", json={"score": 4, "comment": "Quick, tidy"}
    )
    assert rated.status_code == 200, rated.text
    assert rated.json()["rating"]["score"] == 4
    assert rated.json()["can_rate"] is False
    again = await client.post(f"/r/{token}/requests/{request_id}/rating", json={"score": 5})
    assert again.status_code == 409
    scores = (await client.get("/api/v1/ratings/responders")).json()["items"]
    assert scores == [{"responder_id": "plumber-1", "ratings": 1, "average": 4.0, "not_fixed": 0}]


async def test_not_fixed_within_a_week_reopens_the_case(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    token = (await household(client, "Li family", LOCATION))["token"]
    mine = (await report(client, token, [], category="utilities", text="No power")).json()
    case_id = (await client.get(f"/api/v1/requests/{mine['id']}")).json()["case_id"]
    resolved = await client.post(
        f"/api/v1/cases/{case_id}/resolve", json={"resolution": "real", "note": "Fuse changed"}
    )
    assert resolved.status_code == 200
    clock.advance(3 * 86400)
    rated = await client.post(
        f"/r/{token}/requests/{mine['id']}/rating",
        json={"score": 1, "comment": "Out again", "fixed": False},
    )
    assert rated.status_code == 200, rated.text
    assert rated.json()["stage"] == "assigned"  # reopened and dispatched again
    case = (await client.get(f"/api/v1/cases/{case_id}")).json()
    assert case["status"] in ("dispatched", "open")
    assert any(e["action"] == "reopened" for e in case["events"])


async def test_a_household_sees_only_its_own_requests(client: httpx.AsyncClient) -> None:
    wang = (await household(client, "Wang family", LOCATION))["token"]
    li = (await household(client, "Li family", "Building 3/Floor 2/Unit 201"))["token"]
    mine = (await report(client, wang, [jpeg_with_gps()])).json()
    assert (await report(client, li, [], text="Stair light broken")).status_code == 201
    listed = (await client.get(f"/r/{li}/requests")).json()["items"]
    assert [r["text"] for r in listed] == ["Stair light broken"]
    assert (await client.get(f"/r/{li}/requests/{mine['id']}")).status_code == 404
    photo = f"/r/{li}/requests/{mine['id']}/{mine['photos'][0]['path']}"
    assert (await client.get(photo)).status_code == 404
    rating = await client.post(f"/r/{li}/requests/{mine['id']}/rating", json={"score": 1})
    assert rating.status_code == 404
    assert (await client.get("/r/not-a-token/requests")).status_code == 404


async def test_bad_photos_are_refused_with_a_clear_message(client: httpx.AsyncClient) -> None:
    token = (await household(client, "Wang family", LOCATION))["token"]
    refused = await report(client, token, [b"%PDF-1.4 a document"])
    assert refused.status_code == 422
    assert "photo 1: this file is not a photo" in refused.json()["detail"]
    bomb = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(bomb, format="PNG")
    assert "too many pixels" in (await report(client, token, [bomb.getvalue()])).text
    four = await report(client, token, [jpeg_with_gps()] * 4)
    assert four.status_code == 422
    assert "at most 3 photos" in four.text
    assert (await client.get(f"/r/{token}/requests")).json()["items"] == []


async def test_a_hazard_is_high_priority_and_never_joins_a_fire(
    client: httpx.AsyncClient,
) -> None:
    token = (await household(client, "Wang family", LOCATION))["token"]
    first = (await report(client, token, [], category="hazard", text="Fire exit blocked")).json()
    second = (await report(client, token, [], category="hazard", text="Fire exit blocked")).json()
    cases = {
        (await client.get(f"/api/v1/requests/{r['id']}")).json()["case_id"] for r in (first, second)
    }
    assert len(cases) == 2  # each request is its own case
    for case_id in cases:
        case = (await client.get(f"/api/v1/cases/{case_id}")).json()
        assert (case["priority"], case["category"]) == ("high", "request")


async def test_an_operator_logs_a_call_for_a_household(client: httpx.AsyncClient) -> None:
    created = await household(client, "Zhao family", LOCATION)
    response = await client.post(
        "/api/v1/requests",
        json={"household_id": created["id"], "category": "elevator", "text": "Lift stuck at 5"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["request"]["source"] == "operator"
    assert body["request"]["created_by"] is not None
    listed = (await client.get(f"/r/{created['token']}/requests")).json()["items"]
    assert [r["text"] for r in listed] == ["Lift stuck at 5"]
    unknown = await client.post(
        "/api/v1/requests", json={"household_id": 999, "category": "other", "text": "x"}
    )
    assert unknown.status_code == 404


async def test_a_responder_updates_only_requests_on_their_team(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    token = (await household(client, "Wang family", LOCATION))["token"]
    mine = (await report(client, token, [])).json()
    async with await responder_client(app, "grid-3") as other:
        refused = await other.post(
            f"/api/v1/requests/{mine['id']}/updates", data={"note": "not mine"}
        )
        assert refused.status_code == 403
        assert (await other.post("/api/v1/requests", json={})).status_code == 403


async def test_an_oversized_upload_is_refused_before_it_is_read(
    client: httpx.AsyncClient,
) -> None:
    from hub.requests.uploads import MAX_UPLOAD_REQUEST

    token = (await household(client, "Wang family", LOCATION))["token"]
    declared = await client.post(
        f"/r/{token}/requests",
        content=b"x",
        headers={
            "content-type": "multipart/form-data; boundary=b",
            "content-length": str(MAX_UPLOAD_REQUEST + 1),
        },
    )
    assert declared.status_code == 413
    assert "too large" in declared.json()["detail"]

    async def endless() -> Any:
        # A well-formed form whose one photo never ends: the parser reads on until cut off.
        yield (
            b'--b\r\nContent-Disposition: form-data; name="photos"; filename="big.jpg"\r\n'
            b"Content-Type: image/jpeg\r\n\r\n"
        )
        chunk = b"\0" * (1024 * 1024)
        for _ in range(MAX_UPLOAD_REQUEST // len(chunk) + 2):
            yield chunk

    streamed = await client.post(
        f"/r/{token}/requests",
        content=endless(),
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert streamed.status_code == 413
    assert (await client.get(f"/r/{token}/requests")).json()["items"] == []
