"""Households and the resident's one-touch page, in-process with MQTT ingest turned off."""

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from devices.kinds import AlertKind, Severity
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import make_alert

pytestmark = pytest.mark.fake_clock

LOCATION = "Building 3/Floor 12/Unit 1201"


def button(device_id: str, edge_id: str = "e1") -> dict[str, str]:
    return {"id": device_id, "kind": "sos_button", "location": LOCATION, "edge_id": edge_id}


async def create_household(
    client: httpx.AsyncClient, name: str = "Wang family", **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/households", json={"name": name, "location": LOCATION, **extra}
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def status_of(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    response = await client.get(f"/r/{token}/status")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def press(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    response = await client.post(f"/r/{token}/sos")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def test_a_household_gets_its_token_once(client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/v1/devices", json=button("b3-1201-sos"))).status_code == 201
    created = await create_household(client, device_ids=["b3-1201-sos"])
    token = created["token"]
    assert created["link"] == f"/r/{token}"
    assert created["name"] == "Wang family"
    assert created["location"] == LOCATION
    assert created["device_ids"] == ["b3-1201-sos"]

    listed = (await client.get("/api/v1/households")).json()["items"]
    assert [h["id"] for h in listed] == [created["id"]]
    assert set(listed[0]) == {"id", "name", "location", "device_ids", "created_at"}
    assert token not in (await client.get("/api/v1/households")).text
    assert (await status_of(client, token)) == {
        "stage": "none",
        "case_id": None,
        "updated_at": None,
    }


@pytest.mark.parametrize(
    "body",
    [
        {"name": "", "location": LOCATION},
        {"name": "x", "location": ""},
        {"name": "x", "location": LOCATION, "device_ids": ["no/such"]},
        {"name": "x", "location": LOCATION, "token": "mine"},
        {"name": "x", "location": LOCATION, "device_ids": ["unregistered"]},
        {"name": "x", "location": LOCATION, "device_ids": ["b3-smoke"]},
    ],
)
async def test_bad_households_are_refused(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    smoke = {**button("b3-smoke"), "kind": "smoke"}
    assert (await client.post("/api/v1/devices", json=smoke)).status_code == 201
    assert (await client.post("/api/v1/households", json=body)).status_code == 422
    assert (await client.get("/api/v1/households")).json()["items"] == []


async def test_a_button_belongs_to_one_household(client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/v1/devices", json=button("b3-1201-sos"))).status_code == 201
    await create_household(client, device_ids=["b3-1201-sos"])
    again = await client.post(
        "/api/v1/households",
        json={"name": "Li", "location": LOCATION, "device_ids": ["b3-1201-sos"]},
    )
    assert again.status_code == 422
    assert "already belong" in again.json()["detail"]


async def test_rotating_the_token_retires_the_old_link(client: httpx.AsyncClient) -> None:
    created = await create_household(client)
    rotated = await client.post(f"/api/v1/households/{created['id']}/token")
    assert rotated.status_code == 200
    new_token = rotated.json()["token"]
    assert new_token != created["token"]
    assert rotated.json()["link"] == f"/r/{new_token}"
    assert (await client.get(f"/r/{created['token']}")).status_code == 404
    assert (await client.get(f"/r/{new_token}")).status_code == 200
    assert (await client.post("/api/v1/households/999/token")).status_code == 404


async def test_unknown_tokens_are_a_bare_404(client: httpx.AsyncClient) -> None:
    await create_household(client)
    for response in [
        await client.get("/r/not-a-token"),
        await client.get("/r/not-a-token/status"),
        await client.post("/r/not-a-token/sos"),
    ]:
        assert response.status_code == 404
        assert response.json() == {"detail": "not found"}


async def test_the_page_has_the_button_and_nothing_external(client: httpx.AsyncClient) -> None:
    created = await create_household(client, name="王家 <Wang>")
    response = await client.get(created["link"])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    page = response.text
    assert "王家 &lt;Wang&gt;" in page
    assert '<button id="sos"' in page
    assert "按下按钮求助" in page
    for external in ("http:", "https:", "src=", "<link", "@import", "url("):
        assert external not in page


async def test_a_press_opens_a_case_and_the_next_joins_it(
    app: FastAPI, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    assert (await client.post("/api/v1/devices", json=button("b3-1201-sos"))).status_code == 201
    token = (await create_household(client, device_ids=["b3-1201-sos"]))["token"]

    first = await press(client, token)
    assert first["stage"] == "case_opened"
    case_id = first["case_id"]
    [case] = (await client.get("/api/v1/cases")).json()["items"]
    assert (case["id"], case["kind"], case["priority"]) == (case_id, "sos", "critical")
    assert case["device_ids"] == ["b3-1201-sos"]

    # Pressed again at once: throttled, no second alert.
    assert (await press(client, token))["case_id"] == case_id
    clock.advance(2)
    assert (await press(client, token))["case_id"] == case_id
    alerts = (await client.get("/api/v1/alerts", params={"case_id": case_id})).json()["items"]
    assert len(alerts) == 2
    assert {(a["kind"], a["severity"], a["edge_id"]) for a in alerts} == {
        ("sos", "critical", "hub-web")
    }
    assert (await client.get(f"/api/v1/cases/{case_id}")).json()["alert_count"] == 2


async def test_the_status_follows_the_operator(client: httpx.AsyncClient, clock: FakeClock) -> None:
    token = (await create_household(client))["token"]
    opened = await press(client, token)
    case_url = f"/api/v1/cases/{opened['case_id']}"

    clock.advance(30)
    assert (await client.post(f"{case_url}/acknowledge")).status_code == 200
    acknowledged = await status_of(client, token)
    assert acknowledged["stage"] == "acknowledged"
    assert acknowledged["case_id"] == opened["case_id"]
    assert acknowledged["updated_at"] > opened["updated_at"]
    assert "有人正在赶来" in (await client.get(f"/r/{token}")).text

    clock.advance(600)
    assert (
        await client.post(
            f"{case_url}/resolve", json={"note": "fell, helped up", "resolution": "real"}
        )
    ).is_success
    assert (await status_of(client, token))["stage"] == "resolved"

    # A new press after resolution is a new request.
    again = await press(client, token)
    assert again["stage"] == "case_opened"
    assert again["case_id"] != opened["case_id"]


async def test_a_household_without_a_button_gets_a_virtual_one(
    client: httpx.AsyncClient,
) -> None:
    created = await create_household(client)
    await press(client, created["token"])
    devices = (await client.get("/api/v1/devices")).json()["items"]
    virtual = f"household-{created['id']}-web"
    assert [(d["id"], d["kind"], d["location"], d["edge_id"]) for d in devices] == [
        (virtual, "sos_button", LOCATION, None)
    ]
    [case] = (await client.get("/api/v1/cases")).json()["items"]
    assert case["device_ids"] == [virtual]
    assert case["location"] == LOCATION


async def test_households_see_only_their_own_case(app: FastAPI, client: httpx.AsyncClient) -> None:
    for device_id in ("a-sos", "b-sos"):
        assert (await client.post("/api/v1/devices", json=button(device_id))).status_code == 201
    a = (await create_household(client, "A", device_ids=["a-sos"]))["token"]
    b = (await create_household(client, "B", device_ids=["b-sos"]))["token"]

    a_case = (await press(client, a))["case_id"]
    assert (await status_of(client, b))["stage"] == "none"
    b_case = (await press(client, b))["case_id"]
    assert b_case != a_case
    assert (await client.post(f"/api/v1/cases/{b_case}/acknowledge")).status_code == 200
    assert (await status_of(client, a)) | {"updated_at": None} == {
        "stage": "case_opened",
        "case_id": a_case,
        "updated_at": None,
    }
    assert (await status_of(client, b))["stage"] == "acknowledged"


async def test_a_physical_press_shows_on_the_page(app: FastAPI, client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/v1/devices", json=button("b3-1201-sos"))).status_code == 201
    token = (await create_household(client, device_ids=["b3-1201-sos"]))["token"]
    store: HubStore = app.state.store
    alert = make_alert(device_id="b3-1201-sos", kind=AlertKind.SOS, severity=Severity.CRITICAL)
    [case] = store.intake.ingest_alerts([alert], alert.ts).cases_opened
    assert await status_of(client, token) == {
        "stage": "case_opened",
        "case_id": case.id,
        "updated_at": case.updated_at.isoformat().replace("+00:00", "Z"),
    }
    # Pressing on the phone joins the button's open case.
    assert (await press(client, token))["case_id"] == case.id
