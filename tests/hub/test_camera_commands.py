"""An operator's re-baseline of a camera: checked, sent to the camera's edge, on the trail."""

import asyncio
from pathlib import Path

import aiomqtt
import pytest
from fastapi import FastAPI

from devices.camera import CameraCommand, CameraCommandKind
from devices.kinds import DeviceKind
from devices.topics import EdgeChannel, edge_topic
from hub.app import create_app
from hub.auth.rules import Role
from hub.settings import HubSettings
from hub.store import HubStore
from linli.brokers import MosquittoProcess
from tests.hub.factories import make_device
from tests.hub.http import api_client, ok, token_client

EDGE = "edge-cam"
CAMERA = "b3-gate-cam"


async def register(app: FastAPI) -> None:
    """Register a camera served by EDGE, a smoke detector, and a camera no edge serves."""
    store: HubStore = app.state.store
    for device in (
        make_device(CAMERA, kind=DeviceKind.CAMERA, edge_id=EDGE, location="B3/Gate"),
        make_device("b3-smoke", edge_id=EDGE),
        make_device("b9-cam", kind=DeviceKind.CAMERA, edge_id=None, location="B9"),
    ):
        await asyncio.to_thread(store.fleet.register_device, device)


async def test_a_rebaseline_goes_to_the_cameras_edge_and_onto_the_trail(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    settings = HubSettings(
        data_dir=tmp_path, mqtt_port=mosquitto.port, mqtt_client_id="h-camera-commands"
    )
    app = create_app(settings)
    async with (
        api_client(app) as admin,
        aiomqtt.Client("127.0.0.1", mosquitto.port, identifier="fake-edge") as edge,
    ):
        await register(app)
        await edge.subscribe(edge_topic(EDGE, EdgeChannel.CAMERA_COMMAND), qos=1)
        for _ in range(400):  # up to 20 s for the hub's MQTT link
            if (await ok(await admin.get("/api/v1/health")))["mqtt_connected"]:
                break
            await asyncio.sleep(0.05)
        async with token_client(app, Role.OPERATOR, name="li") as operator:
            sent = await ok(await operator.post(f"/api/v1/cameras/{CAMERA}/rebaseline"), 202)
        async with asyncio.timeout(10):
            message = await anext(edge.messages)
        assert isinstance(message.payload, bytes)
        received = CameraCommand.model_validate_json(message.payload)
        assert received == CameraCommand.model_validate(sent)
        assert (received.device_id, received.command, received.requested_by) == (
            CAMERA,
            CameraCommandKind.REBASELINE,
            "li",
        )
        trail = (await ok(await admin.get("/api/v1/audit?limit=10000")))["items"]
        [entry] = [e for e in trail if e["action"] == "camera_commanded"]
        assert entry["actor"] == "li"
        assert entry["detail"] == {
            "device_id": CAMERA,
            "edge_id": EDGE,
            "command": "rebaseline",
            "command_id": received.id,
        }


@pytest.mark.parametrize(
    ("device_id", "status", "detail"),
    [
        ("nobody-cam", 404, "nobody-cam is not registered"),
        ("b3-smoke", 422, "not a camera"),
        ("b9-cam", 422, "no edge serves camera b9-cam"),
        (CAMERA, 503, "not connected to its MQTT broker"),
    ],
)
async def test_a_rebaseline_that_cannot_be_sent_says_why_and_records_nothing(
    app: FastAPI, device_id: str, status: int, detail: str
) -> None:
    async with api_client(app) as admin:
        await register(app)
        response = await admin.post(f"/api/v1/cameras/{device_id}/rebaseline")
        assert response.status_code == status
        assert detail in response.json()["detail"]
        trail = (await ok(await admin.get("/api/v1/audit?limit=10000")))["items"]
        assert not [e for e in trail if e["action"] == "camera_commanded"]


async def test_a_responder_may_not_rebaseline_a_camera(app: FastAPI) -> None:
    async with api_client(app):
        await register(app)
        async with token_client(app, Role.RESPONDER) as responder:
            response = await responder.post(f"/api/v1/cameras/{CAMERA}/rebaseline")
        assert response.status_code == 403
