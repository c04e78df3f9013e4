"""Site scoping of the console's data and of evidence fetched by alert or picture id.

An operator of Meiyuan faces Lanyuan's devices, readings and camera pictures: the site plan
and the device health list leave them out, and reading them by id answers 404 as for a
missing one. An admin (every site) still sees both sites.
"""

import asyncio
import base64
import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from devices.camera import EvidenceImage, EvidenceVariant
from devices.kinds import AlertKind, Severity
from devices.messages import TelemetryPoint
from devices.payloads import Readings
from hub.evidence.repository import EvidenceRefusedError, EvidenceStore
from hub.store import HubStore
from hub.telemetry.history import ReadingHistory
from tests.hub.conftest import FakeClock, hub_app
from tests.hub.factories import T0, alert_id, make_alert
from tests.hub.http import ok
from tests.hub.sites import put_site

API = "/api/v1"
DEVICES = (
    {"id": "lan-smoke", "kind": "smoke", "location": "Building 3/Floor 2/Unit 201"},
    {"id": "lan-cam", "kind": "camera", "location": "Building 3/Corridor"},
    {"id": "lan-co", "kind": "co", "location": "Building 9/Floor 1/Unit 101"},
    {"id": "mei-smoke", "kind": "smoke", "location": "Building 9/Floor 1/Unit 101"},
    {"id": "mei-co", "kind": "co", "location": "Building 9/Floor 1/Unit 101"},
    {"id": "mei-cam", "kind": "camera", "location": "Building 9/Corridor"},
)
"""Each device is served by its site's edge; ``lan-co`` is Lanyuan's (by its edge) though it
stands in a Meiyuan flat, next to ``mei-smoke``."""
MEIYUAN = {"mei-smoke", "mei-co", "mei-cam"}
EVERY_DEVICE = {str(d["id"]) for d in DEVICES}
JPEG = b"\xff\xd8\xff\xe0" + b"picture bytes" * 50 + b"\xff\xd9"
WINDOW = {
    "start": (T0 - timedelta(hours=1)).isoformat(),
    "end": (T0 + timedelta(hours=1)).isoformat(),
}


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> FastAPI:
    """Return a hub app on a fresh database, without MQTT, on a clock standing after T0."""
    return hub_app(database_url, tmp_path, FakeClock(T0 + timedelta(minutes=10)))


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """Two sites, each with an edge, a grid and the devices of ``DEVICES``."""
    for site, edge, building in (
        ("lanyuan", "edge-lan", "Building 3"),
        ("meiyuan", "edge-mei", "Building 9"),
    ):
        await put_site(client, site, edge, building)
    for device in DEVICES:
        edge = "edge-lan" if str(device["id"]).startswith("lan") else "edge-mei"
        await ok(await client.post(f"{API}/devices", json={**device, "edge_id": edge}), 201)
    return client


def raise_alert(app: FastAPI, device_id: str, kind: AlertKind = AlertKind.SMOKE) -> str:
    """Store an alert of the device (opening a case) and return its id."""
    store: HubStore = app.state.store
    alert = make_alert(
        device_id=device_id,
        edge_id="edge-lan" if device_id.startswith("lan") else "edge-mei",
        kind=kind,
        severity=Severity.CRITICAL,
    )
    result = store.intake.ingest_alerts([alert], T0)
    assert not result.rejected
    return alert.id


def store_picture(app: FastAPI, camera: str, alert: str, jpeg: bytes = JPEG) -> str:
    """Store a camera's picture for an alert (which may not have arrived) and return its id."""
    evidence: EvidenceStore = app.state.evidence_store
    picture = EvidenceImage(
        id=alert_id(),
        edge_id="edge-lan" if camera.startswith("lan") else "edge-mei",
        device_id=camera,
        alert_id=alert,
        kind=AlertKind.CAMERA_FIRE,
        variant=EvidenceVariant.CLEAN,
        ts=T0,
        sha256=hashlib.sha256(jpeg).hexdigest(),
        data=base64.b64encode(jpeg).decode(),
    )
    evidence.store(picture, jpeg, T0)
    return picture.id


def plan_devices(plan: dict[str, Any]) -> set[str]:
    return {
        device["id"]
        for building in plan["buildings"]
        for floor in building["floors"]
        for device in floor["devices"]
    }


# --- the console ---------------------------------------------------------------------------


async def test_the_site_plan_and_device_health_show_a_scoped_operator_its_sites_only(
    app: FastAPI, admin: httpx.AsyncClient, operator: httpx.AsyncClient
) -> None:
    ours, theirs = raise_alert(app, "mei-smoke"), raise_alert(app, "lan-smoke")
    assert ours != theirs

    plan = await ok(await operator.get(f"{API}/console/site-plan"))
    assert plan_devices(plan) == MEIYUAN
    assert [b["name"] for b in plan["buildings"]] == ["Building 9"]
    assert plan["counts"]["alarm"] == 1, "only Meiyuan's smoke case colours the plan"
    health = await ok(await operator.get(f"{API}/console/device-health"))
    assert {row["id"] for row in health["items"]} == MEIYUAN

    everything = await ok(await admin.get(f"{API}/console/site-plan"))
    assert plan_devices(everything) == EVERY_DEVICE
    assert everything["counts"]["alarm"] == 2
    all_health = await ok(await admin.get(f"{API}/console/device-health"))
    assert {row["id"] for row in all_health["items"]} == EVERY_DEVICE


def write_readings(app: FastAPI, *device_ids: str) -> None:
    """Put one CO reading of each device in the hub's history, at T0."""
    history: ReadingHistory = app.state.history
    history.worker.submit(
        ("edge", TelemetryPoint(device_id=d, ts=T0, readings=Readings(co_ppm=12)))
        for d in device_ids
    )
    history.stop()  # writes what is queued


async def test_readings_of_another_sites_device_are_not_found(
    app: FastAPI, admin: httpx.AsyncClient, operator: httpx.AsyncClient
) -> None:
    await asyncio.to_thread(write_readings, app, "mei-co", "lan-co")
    path = f"{API}/console/readings"

    ours = await ok(await operator.get(path, params={"device_id": "mei-co", **WINDOW}))
    assert [s["device_id"] for s in ours["items"]] == ["mei-co"]
    theirs = await operator.get(path, params={"device_id": "lan-co", **WINDOW})
    missing = await operator.get(path, params={"device_id": "nobody", **WINDOW})
    assert (theirs.status_code, missing.status_code) == (404, 404)
    assert theirs.json()["detail"] == "device lan-co is not registered"
    assert missing.json()["detail"] == "device nobody is not registered"
    mixed = await operator.get(path, params={"device_id": ["mei-co", "lan-co"], **WINDOW})
    assert mixed.status_code == 404, "one device of another site refuses the whole request"

    both = await ok(await admin.get(path, params={"device_id": ["mei-co", "lan-co"], **WINDOW}))
    assert {s["device_id"] for s in both["items"]} == {"mei-co", "lan-co"}


async def test_a_cases_readings_leave_out_neighbours_of_other_sites(
    app: FastAPI, admin: httpx.AsyncClient, operator: httpx.AsyncClient
) -> None:
    raise_alert(app, "mei-smoke")
    [case] = (await ok(await admin.get(f"{API}/cases")))["items"]
    await asyncio.to_thread(write_readings, app, "mei-co", "lan-co")
    path = f"{API}/console/cases/{case['id']}/readings"

    ours = await ok(await operator.get(path))
    assert ours["device_ids"] == ["mei-smoke", "mei-co"]
    assert [s["device_id"] for s in ours["samples"]] == ["mei-co"]
    everything = await ok(await admin.get(path))
    assert everything["device_ids"] == ["mei-smoke", "lan-co", "mei-co"]


# --- evidence -----------------------------------------------------------------------------


async def test_evidence_of_another_sites_alert_or_picture_is_not_found(
    app: FastAPI, admin: httpx.AsyncClient, operator: httpx.AsyncClient
) -> None:
    ours = raise_alert(app, "mei-cam", AlertKind.CAMERA_FIRE)
    theirs = raise_alert(app, "lan-cam", AlertKind.CAMERA_FIRE)
    our_picture = store_picture(app, "mei-cam", ours)
    their_picture = store_picture(app, "lan-cam", theirs, JPEG + b"lan")
    # A Lanyuan edge's picture naming a Meiyuan alert is refused (pictures and their alert
    # come from one edge), so it is nowhere to be found.
    with pytest.raises(EvidenceRefusedError):
        store_picture(app, "lan-cam", ours, JPEG + b"lent")
    # A picture that arrived before its alert is placed by the camera that took it.
    early_alert = alert_id()
    early_picture = store_picture(app, "lan-cam", early_alert, JPEG + b"early")

    listed = await ok(await operator.get(f"{API}/alerts/{ours}/evidence"))
    assert {e["id"] for e in listed["items"]} == {our_picture}
    served = await operator.get(f"{API}/evidence/{our_picture}")
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/jpeg"

    nobody = alert_id()
    for alert in (theirs, early_alert, nobody):
        refused = await operator.get(f"{API}/alerts/{alert}/evidence")
        assert refused.status_code == 404, alert
        assert refused.json()["detail"] == f"alert {alert} does not exist"
    for picture in (their_picture, early_picture, nobody):
        refused = await operator.get(f"{API}/evidence/{picture}")
        assert refused.status_code == 404, picture
        assert refused.json()["detail"] == f"evidence {picture} does not exist"

    for alert, pictures in ((theirs, {their_picture}), (early_alert, {early_picture})):
        found = await ok(await admin.get(f"{API}/alerts/{alert}/evidence"))
        assert {e["id"] for e in found["items"]} == pictures
    for picture in (our_picture, their_picture, early_picture):
        assert (await admin.get(f"{API}/evidence/{picture}")).status_code == 200


async def test_a_visible_alert_without_pictures_lists_none_and_status_is_hub_wide(
    app: FastAPI, admin: httpx.AsyncClient, operator: httpx.AsyncClient
) -> None:
    ours, theirs = raise_alert(app, "mei-cam"), raise_alert(app, "lan-cam")
    assert (await ok(await operator.get(f"{API}/alerts/{ours}/evidence"))) == {"items": []}
    assert (await operator.get(f"{API}/alerts/{theirs}/evidence")).status_code == 404
    assert (await ok(await admin.get(f"{API}/alerts/{theirs}/evidence"))) == {"items": []}
    # Hub-wide counters, no id and no site: every reader sees the same answer.
    status = await ok(await operator.get(f"{API}/evidence/status"))
    assert status == await ok(await admin.get(f"{API}/evidence/status"))


async def test_picture_usage_shows_a_scoped_operator_its_sites_edges_only(
    app: FastAPI, admin: httpx.AsyncClient, operator: httpx.AsyncClient
) -> None:
    store_picture(app, "mei-cam", raise_alert(app, "mei-cam", AlertKind.CAMERA_FIRE))
    store_picture(app, "lan-cam", raise_alert(app, "lan-cam", AlertKind.CAMERA_FIRE), JPEG + b"!")
    theirs = await ok(await operator.get(f"{API}/evidence/usage"))
    assert theirs["items"] == [{"edge_id": "edge-mei", "held_bytes": len(JPEG)}]
    every = await ok(await admin.get(f"{API}/evidence/usage"))
    assert every["items"] == [
        {"edge_id": "edge-lan", "held_bytes": len(JPEG) + 1},
        {"edge_id": "edge-mei", "held_bytes": len(JPEG)},
    ]
    assert every["edge_quota_bytes"] == 10 * 1024**3
    assert every["free_disk_bytes"] > 0
