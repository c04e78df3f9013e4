"""Evidence over HTTP (in-process) and over MQTT (a real Mosquitto, a plain client as the edge)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiomqtt
import pytest
from fastapi import FastAPI

from devices.camera import EvidenceAck, EvidenceVariant
from devices.kinds import AlertKind, DeviceKind
from devices.topics import EdgeChannel, edge_topic
from hub.app import create_app
from hub.errors import NotFoundError
from hub.evidence.link import EvidenceIngest
from hub.evidence.repository import EvidenceStore
from hub.settings import HubSettings
from hub.store import HubStore
from linli.brokers import MosquittoProcess
from tests import background
from tests.hub.factories import T0, alert_id, make_alert, make_device
from tests.hub.http import api_client
from tests.hub.test_evidence_store import CAMERA, JPEG, image


async def test_an_alerts_pictures_are_listed_on_the_alert_and_case_and_served_as_jpeg(
    app: FastAPI,
) -> None:
    async with api_client(app) as client:
        hub: HubStore = app.state.store
        evidence: EvidenceStore = app.state.evidence_store
        await asyncio.to_thread(
            hub.fleet.register_device, make_device(CAMERA, kind=DeviceKind.CAMERA, location="B3")
        )
        alert = make_alert(device_id=CAMERA, kind=AlertKind.CAMERA_FIRE)
        result = await asyncio.to_thread(hub.intake.ingest_alerts, [alert], T0)
        (case_id,) = [c.id for c in result.cases_opened]
        clean = image(alert=alert.id)
        annotated = image(alert=alert.id, jpeg=JPEG + b"!", variant=EvidenceVariant.ANNOTATED)
        await asyncio.to_thread(evidence.store, clean, JPEG, T0)
        await asyncio.to_thread(evidence.store, annotated, JPEG + b"!", T0)

        on_alert = (await client.get(f"/api/v1/alerts/{alert.id}/evidence")).json()["items"]
        on_case = (await client.get(f"/api/v1/cases/{case_id}/evidence")).json()["items"]
        assert {e["variant"] for e in on_alert} == {"clean", "annotated"}
        assert on_case == on_alert
        assert {e["case_id"] for e in on_case} == {case_id}

        picture = await client.get(on_alert[0]["url"])
        assert picture.status_code == 200
        assert picture.headers["content-type"] == "image/jpeg"
        assert picture.headers["cache-control"] == "no-store"  # not on a shared PC's disk
        assert picture.content in (JPEG, JPEG + b"!")

        assert (await client.get(f"/api/v1/alerts/{alert_id()}/evidence")).status_code == 404
        assert (await client.get("/api/v1/cases/999999/evidence")).status_code == 404
        assert (await client.get(f"/api/v1/evidence/{alert_id()}")).status_code == 404
        status = (await client.get("/api/v1/evidence/status")).json()
        assert status == {"connected": False, "counters": {}}, "no reader, no retention here"
        assert (await client.get("/api/v1/evidence/..%2Fhub.sqlite3")).status_code in (404, 422)


@contextlib.asynccontextmanager
async def running(reader: EvidenceIngest) -> AsyncIterator[None]:
    """Run the evidence reader until the block ends."""
    async with background.running(reader.run()):
        async with asyncio.timeout(10):
            await reader.subscribed.wait()
        yield


async def test_the_reader_stores_then_acks_and_rejects_bad_input_without_stopping(
    mosquitto: MosquittoProcess, tmp_path: Path, database_url: str
) -> None:
    settings = HubSettings(
        data_dir=tmp_path, database_url=database_url, mqtt_port=mosquitto.port, mqtt_client_id="h1"
    )
    app = create_app(settings.model_copy(update={"start_ingest": False}))
    async with app.router.lifespan_context(app):
        evidence: EvidenceStore = app.state.evidence_store
        reader = EvidenceIngest(settings, evidence)
        good = image(alert=alert_id())
        async with (
            running(reader),
            aiomqtt.Client("127.0.0.1", mosquitto.port, identifier="fake-edge") as edge,
        ):
            await edge.subscribe(edge_topic("e1", EdgeChannel.EVIDENCE_ACK), qos=1)
            # Publish only once the reader listens: the broker drops what nobody subscribed to.
            async with asyncio.timeout(10):
                await reader.subscribed.wait()
            topic = edge_topic("e1", EdgeChannel.EVIDENCE)
            await edge.publish(topic, b"{not json", qos=1)
            bad_hash = good.model_copy(update={"id": alert_id(), "sha256": "0" * 64})
            await edge.publish(topic, bad_hash.model_dump_json(), qos=1)
            await edge.publish(topic, good.model_dump_json(), qos=1)
            await edge.publish(topic, good.model_dump_json(), qos=1)  # a re-send
            acked: list[str] = []
            async with asyncio.timeout(10):
                async for message in edge.messages:
                    assert isinstance(message.payload, bytes)
                    acked.extend(EvidenceAck.model_validate_json(message.payload).ids)
                    if len(acked) == 3:
                        break
        assert acked == [bad_hash.id, good.id, good.id]
        assert reader.counters["evidence_rejected.malformed"] == 1
        assert reader.counters["evidence_rejected.hash_mismatch"] == 1
        assert reader.counters["evidence_new"] == 1
        assert reader.counters["evidence_duplicate"] == 1
        view, path = await asyncio.to_thread(evidence.get, good.id)
        assert path.read_bytes() == JPEG
        assert view.alert_id == good.alert_id


async def test_the_hub_runs_retention_on_its_own(
    mosquitto: MosquittoProcess, tmp_path: Path, database_url: str
) -> None:
    settings = HubSettings(
        data_dir=tmp_path,
        database_url=database_url,
        mqtt_port=mosquitto.port,
        mqtt_client_id="h-retention",
        evidence_retention_days=30,
        evidence_retention_interval_s=0.1,
    )
    app = create_app(settings, clock=lambda: T0 + timedelta(days=31))
    async with api_client(app) as client:
        evidence: EvidenceStore = app.state.evidence_store
        old = image(alert=alert_id())
        recent = image(alert=alert_id(), jpeg=JPEG + b"new")
        await asyncio.to_thread(evidence.store, old, JPEG, T0)
        await asyncio.to_thread(evidence.store, recent, JPEG + b"new", T0 + timedelta(days=2))
        for _ in range(100):
            try:
                await asyncio.to_thread(evidence.get, old.id)
            except NotFoundError:
                break
            await asyncio.sleep(0.1)
        with pytest.raises(NotFoundError):
            await asyncio.to_thread(evidence.get, old.id)
        await asyncio.to_thread(evidence.get, recent.id)
        status = (await client.get("/api/v1/evidence/status")).json()
        assert status["counters"]["evidence_pruned"] == 1
        assert status["counters"]["evidence_files_deleted"] == 1
