"""Case actions sent with ``If-Match`` (the case's version as the ETag the hub gave), on SQLite
and PostgreSQL: done on the case as its sender saw it, refused with 412 and nothing changed on a
case that has moved on since, and, without the header, done as before."""

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.hub.test_cases_api import HEAT, SMOKE, open_fire, post, roster


@pytest.fixture
async def client(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """Return the signed-in client of the app, with building 3's smoke and heat detectors."""
    for device in (SMOKE, HEAT):
        assert (await client.post("/api/v1/devices", json=device)).status_code == 201
    return client


async def dispatched_to_wang(app: FastAPI, client: httpx.AsyncClient) -> tuple[str, str]:
    """Open building 3's fire case, send it to Wang (``grid-worker-3``) and return its URL and
    its ETag as a page showing it "dispatched to Wang" holds it."""
    url = f"/api/v1/cases/{open_fire(app)}"
    await roster(client)
    await post(client, f"{url}/dispatch", {"assignee": "grid-worker-3"})
    shown = await client.get(url)
    assert shown.json()["assignee"] == "grid-worker-3"
    return url, shown.headers["etag"]


async def test_a_case_and_each_action_give_its_version_as_the_etag(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    url = f"/api/v1/cases/{open_fire(app)}"
    shown = await client.get(url)
    assert shown.headers["etag"] == f'"{shown.json()["version"]}"'
    listed = (await client.get("/api/v1/cases")).json()["items"]
    assert [c["version"] for c in listed] == [shown.json()["version"]]

    commented = await client.post(
        f"{url}/comment", json={"note": "on my way"}, headers={"If-Match": shown.headers["etag"]}
    )
    assert commented.status_code == 200, commented.text
    assert commented.json()["version"] > shown.json()["version"]
    assert commented.headers["etag"] == f'"{commented.json()["version"]}"'
    assert (await client.get(url)).headers["etag"] == commented.headers["etag"]


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("comment", {"note": "王师傅在路上"}),
        ("dispatch", {"assignee": "patrol-1"}),
        ("hand_over", {"assignee": "patrol-1"}),
        ("resolve", {"note": "pan fire out", "resolution": "real"}),
        ("acknowledge", None),
    ],
)
async def test_an_action_on_a_case_sent_to_another_meanwhile_is_refused_and_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient, action: str, body: dict[str, Any] | None
) -> None:
    url, seen = await dispatched_to_wang(app, client)
    # Another operator sends Li (the patrol) to it as well meanwhile.
    await post(client, f"{url}/dispatch", {"assignee": "patrol-1"})
    now = (await client.get(url)).json()
    audit_before = (await client.get("/api/v1/audit", params={"limit": 1000})).json()["items"]

    refused = await client.post(f"{url}/{action}", json=body, headers={"If-Match": seen})

    assert refused.status_code == 412, refused.text
    told = refused.json()
    assert (told["version"], told["status"]) == (now["version"], now["status"])
    assert refused.headers["etag"] == f'"{now["version"]}"'
    assert f"version {now['version']}" in told["detail"]
    assert (await client.get(url)).json() == now
    audit_after = (await client.get("/api/v1/audit", params={"limit": 1000})).json()["items"]
    assert audit_after == audit_before


@pytest.mark.parametrize("action", ["comment", "close", "dispatch"])
async def test_an_action_on_a_case_resolved_meanwhile_names_it_resolved(
    app: FastAPI, client: httpx.AsyncClient, action: str
) -> None:
    url, seen = await dispatched_to_wang(app, client)
    await post(client, f"{url}/resolve", {"note": "false alarm: toast", "resolution": "nuisance"})
    body = {"note": "still smoky?"} if action == "comment" else {}

    refused = await client.post(f"{url}/{action}", json=body, headers={"If-Match": seen})

    assert refused.status_code == 412, refused.text
    assert refused.json()["status"] == "resolved"
    assert "it is now resolved" in refused.json()["detail"]


async def test_without_if_match_an_action_goes_to_the_case_as_it_is_now(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    url, _seen = await dispatched_to_wang(app, client)
    await post(client, f"{url}/dispatch", {"assignee": "patrol-1"})
    # Third-party scripts send no If-Match: their actions are done as before.
    commented = await post(client, f"{url}/comment", {"note": "called the resident"})
    assert [m["responder"] for m in commented["team"]] == ["grid-worker-3", "patrol-1"]
    await post(client, f"{url}/resolve", {"note": "out", "resolution": "real"})
    assert (await post(client, f"{url}/close"))["status"] == "closed"


@pytest.mark.parametrize(
    ("tags", "status"),
    [
        ("{current}", 200),
        ("W/{current}", 200),  # a compressing proxy weakens the tag on its way
        ('"1", {current}', 200),
        ("*", 200),
        ('"1"', 412),
        ('"abc"', 412),  # an entity tag, but no version: matches none
        ("7", 422),  # no entity tag at all: unquoted
        ('"7', 422),
    ],
)
async def test_if_match_takes_entity_tags_as_http_sends_them(
    app: FastAPI, client: httpx.AsyncClient, tags: str, status: int
) -> None:
    url, seen = await dispatched_to_wang(app, client)
    response = await client.post(
        f"{url}/comment",
        json={"note": "on my way"},
        headers={"If-Match": tags.format(current=seen)},
    )
    assert response.status_code == status, response.text
    if status == 422:
        assert "If-Match" in response.text


async def test_the_openapi_tells_of_if_match_and_412_on_every_action(
    client: httpx.AsyncClient,
) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    actions = [p for p in paths if p.startswith("/api/v1/cases/{case_id}/") and "post" in paths[p]]
    actions = [p for p in actions if not p.endswith("/evidence")]
    assert len(actions) >= 10
    for path in actions:
        post_op = paths[path]["post"]
        assert "412" in post_op["responses"], path
        headers = [p["name"] for p in post_op.get("parameters", []) if p["in"] == "header"]
        assert "If-Match" in headers, path


async def test_a_dispatch_that_places_the_case_first_is_done_on_the_version_shown(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    url = f"/api/v1/cases/{open_fire(app)}"  # opened before its site was on the roster
    await roster(client)
    shown = await client.get(url)
    assert shown.json()["site_id"] is None

    # The dispatch places it on its site before choosing (a write of its own): still the
    # version the operator saw, not one the dispatch itself raised.
    dispatched = await client.post(
        url + "/dispatch", json={}, headers={"If-Match": shown.headers["etag"]}
    )

    assert dispatched.status_code == 200, dispatched.text
    assert dispatched.json()["site_id"] == "lanyuan"
