"""The HTTP API in-process, with MQTT ingest turned off.

Starlette's TestClient now warns unless the ``httpx2`` package is installed (an error under
``filterwarnings = error``), so these tests drive the app with httpx's ASGI transport inside
the app's own lifespan: the same in-process round trip, without a server.
"""

from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from devices.kinds import AlertKind, Severity
from hub.live.events import CaseChanged
from hub.live.routes import sse_message
from hub.store import HubStore
from tests.hub.factories import T0, make_alert, make_status
from tests.hub.test_events import case_view

DEVICE = {
    "id": "b3-1201-smoke",
    "kind": "smoke",
    "location": "Building 3/Floor 12/Unit 1201",
    "edge_id": "e1",
}


def store_of(app: FastAPI) -> HubStore:
    store: HubStore = app.state.store
    return store


async def items(client: httpx.AsyncClient, path: str, **params: Any) -> list[dict[str, Any]]:
    """GET a list endpoint and return its items."""
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["items"]
    return found


async def open_case(app: FastAPI, client: httpx.AsyncClient) -> int:
    """Register the device and ingest one alert; return the case id."""
    assert (await client.post("/api/v1/devices", json=DEVICE)).status_code == 201
    result = store_of(app).intake.ingest_alerts([make_alert(device_id=DEVICE["id"])], T0)
    return result.cases_opened[0].id


async def test_the_root_leads_to_the_console_and_the_docs_need_no_cdn(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/")
    assert response.status_code == 307
    assert response.headers["location"] == "/console/"
    for page in ("/docs", "/redoc"):
        html = (await client.get(page)).text
        assert "/docs-assets/" in html
        assert "cdn" not in html.lower()
        assert "fonts.googleapis" not in html
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        assert (await client.get(f"/docs-assets/{asset}")).status_code == 200
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert "/api/v1/cases/{case_id}/resolve" in paths
    assert "/api/v1/stream" in paths


async def test_health_without_mqtt(client: httpx.AsyncClient) -> None:
    health = (await client.get("/api/v1/health")).json()
    # The photos figure is always there (the process's, not ingest's): its keys, nothing busy.
    photos = health.pop("photos")
    assert set(photos) == {"photos_reencoding", "photos_reencoding_most"}
    assert photos["photos_reencoding"] == 0
    assert health == {
        "status": "ok",
        "mqtt_connected": False,
        "counters": {},
        "tasks": {},
    }


async def test_registering_devices(client: httpx.AsyncClient) -> None:
    created = await client.post("/api/v1/devices", json=DEVICE)
    assert created.status_code == 201
    assert created.json()["id"] == DEVICE["id"]

    assert (await client.post("/api/v1/devices", json=DEVICE)).status_code == 200
    moved = await client.post("/api/v1/devices", json={**DEVICE, "location": "Building 3/F11"})
    assert moved.status_code == 200
    assert moved.json()["location"] == "Building 3/F11"

    [listed] = await items(client, "/api/v1/devices")
    assert listed["location"] == "Building 3/F11"
    assert listed["edge_id"] == "e1"
    assert await items(client, "/api/v1/devices", edge_id="e2") == []


@pytest.mark.parametrize(
    "body",
    [
        {**DEVICE, "colour": "red"},
        {**DEVICE, "kind": "toaster"},
        {**DEVICE, "id": "has/slash"},
        {**DEVICE, "location": ""},
        {"id": "x"},
    ],
)
async def test_bad_registrations_are_refused(
    client: httpx.AsyncClient, body: dict[str, str]
) -> None:
    assert (await client.post("/api/v1/devices", json=body)).status_code == 422
    assert await items(client, "/api/v1/devices") == []


async def test_listing_alerts(app: FastAPI, client: httpx.AsyncClient) -> None:
    case_id = await open_case(app, client)
    later = make_alert(
        device_id=DEVICE["id"], ts=T0 + timedelta(seconds=5), severity=Severity.CRITICAL
    )
    store_of(app).intake.ingest_alerts([later], T0 + timedelta(seconds=6))

    alerts = await items(client, "/api/v1/alerts")
    assert len(alerts) == 2
    assert alerts[0]["id"] == later.id
    assert set(alerts[0]) >= {
        "id",
        "edge_id",
        "device_id",
        "kind",
        "state",
        "severity",
        "ts",
        "received_at",
        "case_id",
        "location",
        "reason",
    }
    assert alerts[0]["case_id"] == case_id
    assert alerts[0]["reason"]["rule"] == "smoke_flag"
    assert len(await items(client, "/api/v1/alerts", limit=1)) == 1
    assert len(await items(client, "/api/v1/alerts", case_id=case_id)) == 2
    assert await items(client, "/api/v1/alerts", kind="gas") == []
    assert await items(client, "/api/v1/alerts", device_id="nope") == []
    assert (await client.get("/api/v1/alerts", params={"limit": 0})).status_code == 422
    assert (await client.get("/api/v1/alerts", params={"kind": "toaster"})).status_code == 422


async def test_a_case_through_its_life(app: FastAPI, client: httpx.AsyncClient) -> None:
    case_id = await open_case(app, client)
    case_url = f"/api/v1/cases/{case_id}"

    [listed] = await items(client, "/api/v1/cases")
    assert listed["id"] == case_id
    assert listed["status"] == "open"
    assert listed["kind"] == AlertKind.SMOKE
    assert listed["priority"] == "high"
    assert listed["alert_count"] == 1
    assert listed["device_ids"] == [DEVICE["id"]]
    assert listed["location"] == DEVICE["location"]

    acked = await client.post(f"{case_url}/acknowledge")
    assert acked.status_code == 200
    assert acked.json()["status"] == "acknowledged"
    again = await client.post(f"{case_url}/acknowledge", json={"note": "twice"})
    assert again.status_code == 409
    assert "cannot acknowledge a case that is acknowledged" in again.json()["detail"]

    assert (await client.post(f"{case_url}/resolve", json={})).status_code == 422
    assert (
        await client.post(f"{case_url}/resolve", json={"note": "  ", "resolution": "real"})
    ).status_code == 422
    resolved = await client.post(
        f"{case_url}/resolve", json={"note": " extinguished ", "resolution": "real"}
    )
    assert resolved.status_code == 200
    assert resolved.json()["status"] == "resolved"
    assert (
        await client.post(f"{case_url}/resolve", json={"note": "again", "resolution": "real"})
    ).status_code == 409

    detail = (await client.get(case_url)).json()
    assert [a["device_id"] for a in detail["alerts"]] == [DEVICE["id"]]
    assert [(e["action"], e["note"]) for e in detail["events"]] == [
        ("opened", None),
        ("acknowledged", None),
        ("resolved", "extinguished"),
    ]
    assert await items(client, "/api/v1/cases", status="open") == []
    assert len(await items(client, "/api/v1/cases", status="resolved")) == 1


async def test_acknowledging_with_a_note(app: FastAPI, client: httpx.AsyncClient) -> None:
    case_id = await open_case(app, client)
    url = f"/api/v1/cases/{case_id}/acknowledge"
    assert (await client.post(url, json={"nope": 1})).status_code == 422
    assert (await client.post(url, json={"note": "on my way"})).status_code == 200
    events = (await client.get(f"/api/v1/cases/{case_id}")).json()["events"]
    assert events[-1]["note"] == "on my way"


async def test_unknown_cases_are_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/cases/999")).status_code == 404
    assert (await client.post("/api/v1/cases/999/acknowledge")).status_code == 404
    missing = await client.post(
        "/api/v1/cases/999/resolve", json={"note": "x", "resolution": "real"}
    )
    assert missing.status_code == 404
    assert missing.json() == {"detail": "case 999 does not exist"}


async def test_edges(app: FastAPI, client: httpx.AsyncClient) -> None:
    assert await items(client, "/api/v1/edges") == []
    store_of(app).fleet.record_edge_status(make_status("e1", outbox_depth=2), T0)
    [edge] = await items(client, "/api/v1/edges")
    assert edge["id"] == "e1"
    assert edge["state"] == "online"
    assert edge["outbox_depth"] == 2
    assert edge["counters"] == {"alerts_sent": 3}
    assert edge["heartbeat_s"] is None  # it did not say its rhythm
    store_of(app).fleet.record_edge_status(
        make_status("e1").model_copy(update={"heartbeat_s": 300.0}), T0 + timedelta(seconds=30)
    )
    [edge] = await items(client, "/api/v1/edges")
    assert edge["heartbeat_s"] == 300


def test_an_event_as_server_sent_event() -> None:
    text = sse_message(CaseChanged(type="case_opened", case=case_view()))
    assert text.startswith("event: case_opened\ndata: {")
    assert text.endswith("}\n\n")
    assert '"type":"case_opened"' in text
