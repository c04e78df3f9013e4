"""MQTT ingest against a real Mosquitto, the hub served in-process, a plain client as the edge."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import DataError

from devices.kinds import AlertKind, Severity
from devices.messages import (
    Alert,
    AlertAck,
    CaseFeedback,
    DeviceRegistry,
    FeedbackStage,
    HubStatus,
    TelemetryBatch,
    TelemetryPoint,
)
from devices.payloads import Readings
from devices.topics import HUB_STATUS_TOPIC, EdgeChannel, edge_topic
from hub.app import create_app
from hub.auth.rules import new_secret
from hub.cases.intake import CaseIntake, Screen
from hub.cases.results import IngestResult
from hub.ingest.link import MqttIngest
from hub.live.events import EventBus
from hub.persistence.engine import create_hub_engine, migrate
from hub.service import serve
from hub.settings import HubSettings
from hub.store import HubStore
from linli.brokers import MosquittoProcess, free_port
from tests.background import running
from tests.hub.conftest import hub_on
from tests.hub.factories import make_alert, make_device, make_status
from tests.polling import until

pytestmark = pytest.mark.mosquitto

DEADLINE = 15.0
MAX_PAYLOAD = 2048
SMOKE = {
    "id": "b3-1201-smoke",
    "kind": "smoke",
    # Another building than the SOS button: a press near a fire would join the fire's case.
    "location": "Building 4/Unit 1201",
    "edge_id": "e1",
}

SOS = {
    "id": "b3-1201-sos",
    "kind": "sos_button",
    "location": "Building 3/Unit 1201",
    "edge_id": "e1",
}


@dataclass
class RunningHub:
    """A hub served in-process on a free port."""

    settings: HubSettings
    app: FastAPI
    http: httpx.AsyncClient
    task: "asyncio.Task[None]"

    async def stop(self) -> None:
        """Cancel the hub and wait for its graceful shutdown."""
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task

    async def close(self) -> None:
        """Close the test's HTTP client, then stop the hub."""
        await self.http.aclose()
        await self.stop()


async def start_hub(settings: HubSettings) -> RunningHub:
    """Serve a hub and wait until it accepts HTTP and is connected to the broker."""
    app = create_app(settings)
    started = asyncio.Event()
    task = asyncio.create_task(serve(settings, started=started, app=app))
    async with asyncio.timeout(DEADLINE):
        await started.wait()
    token = settings.bootstrap_token.get_secret_value() if settings.bootstrap_token else ""
    http = httpx.AsyncClient(
        base_url=f"http://{settings.http_host}:{settings.http_port}",
        headers={"authorization": f"Bearer {token}"},
    )
    hub = RunningHub(settings, app, http, task)

    async def connected() -> bool:
        return bool((await http.get("/api/v1/health")).json()["mqtt_connected"])

    await until(connected, "the hub is connected to MQTT")
    return hub


def hub_settings(broker: MosquittoProcess, data_dir: Path) -> HubSettings:
    return hub_on(
        broker,
        data_dir,
        http_port=free_port(),
        max_payload_bytes=MAX_PAYLOAD,
        bootstrap_token=new_secret(),
    )


@pytest.fixture
async def hub(mosquitto: MosquittoProcess, tmp_path: Path) -> AsyncIterator[RunningHub]:
    """Run a hub on the private broker, with SQLite in a temp folder."""
    running = await start_hub(hub_settings(mosquitto, tmp_path / "hub"))
    yield running
    await running.close()


@contextlib.asynccontextmanager
async def edge_client(
    broker: MosquittoProcess, edge_id: str = "e1"
) -> AsyncIterator[aiomqtt.Client]:
    """Connect a plain MQTT client that plays an edge: it listens to its ack and devices."""
    async with aiomqtt.Client(
        broker.host, broker.port, identifier=f"edge-{edge_id}-{uuid.uuid4().hex[:6]}"
    ) as client:
        await client.subscribe(edge_topic(edge_id, EdgeChannel.ACK), qos=1)
        await client.subscribe(edge_topic(edge_id, EdgeChannel.DEVICES), qos=1)
        yield client


async def receive(client: aiomqtt.Client, topic: str, accept: Callable[[bytes], bool]) -> bytes:
    """Return the payload of the next message on ``topic`` that ``accept`` likes."""
    try:
        async with asyncio.timeout(DEADLINE):
            async for message in client.messages:
                payload = message.payload
                assert isinstance(payload, bytes)
                if message.topic.matches(topic) and accept(payload):
                    return payload
    except TimeoutError:
        pass
    pytest.fail(f"no expected message on {topic}")


async def acked(client: aiomqtt.Client, *alert_ids: str, edge_id: str = "e1") -> None:
    """Wait until AlertAcks on the edge's ack topic have named every one of ``alert_ids``."""
    waiting = set(alert_ids)
    try:
        async with asyncio.timeout(DEADLINE):
            async for message in client.messages:
                if message.topic.matches(edge_topic(edge_id, EdgeChannel.ACK)):
                    assert isinstance(message.payload, bytes)
                    waiting -= set(AlertAck.model_validate_json(message.payload).ids)
                    if not waiting:
                        return
    except TimeoutError:
        pass
    pytest.fail(f"alerts {sorted(waiting)} were never acknowledged")


async def get_json(hub: RunningHub, path: str, **params: Any) -> Any:
    response = await hub.http.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def counters(hub: RunningHub) -> dict[str, int]:
    health = await get_json(hub, "/api/v1/health")
    found: dict[str, int] = health["counters"]
    return found


async def test_an_alert_is_acknowledged_after_commit_and_opens_a_case(
    hub: RunningHub, mosquitto: MosquittoProcess
) -> None:
    async with edge_client(mosquitto) as edge:
        assert (await hub.http.post("/api/v1/devices", json=SMOKE)).status_code == 201
        registry = DeviceRegistry.model_validate_json(
            await receive(
                edge,
                edge_topic("e1", EdgeChannel.DEVICES),
                lambda raw: bool(DeviceRegistry.model_validate_json(raw).devices),
            )
        )
        assert [d.id for d in registry.devices] == [SMOKE["id"]]

        alert = make_alert(device_id=SMOKE["id"])
        await edge.publish(edge_topic("e1", EdgeChannel.ALERT), alert.model_dump_json(), qos=1)
        await acked(edge, alert.id)
        # The ack comes after the commit, so the case is there as soon as the ack is.
        [case] = (await get_json(hub, "/api/v1/cases"))["items"]
        assert case["alert_count"] == 1
        assert case["device_ids"] == [SMOKE["id"]]

        # The edge re-sends (it never saw the ack): acknowledged again, still one case.
        await edge.publish(edge_topic("e1", EdgeChannel.ALERT), alert.model_dump_json(), qos=1)
        await acked(edge, alert.id)
        [case] = (await get_json(hub, "/api/v1/cases"))["items"]
        assert case["alert_count"] == 1
        found = await counters(hub)
        assert found["alerts_new"] == 1
        assert found["alerts_duplicate"] == 1


async def test_bad_messages_are_counted_and_the_hub_goes_on(
    hub: RunningHub, mosquitto: MosquittoProcess
) -> None:
    async with edge_client(mosquitto) as edge:
        assert (await hub.http.post("/api/v1/devices", json=SMOKE)).status_code == 201
        topic = edge_topic("e1", EdgeChannel.ALERT)
        await edge.publish(topic, b'{"id": "abcdefgh", "device_id": "b3-1201-smoke"', qos=1)
        await edge.publish(topic, b"{" + b" " * MAX_PAYLOAD + b"}", qos=1)

        alert = make_alert(device_id=SMOKE["id"])
        await edge.publish(topic, alert.model_dump_json(), qos=1)
        await acked(edge, alert.id)

    found = await counters(hub)
    assert found["rejected.malformed"] == 1
    assert found["rejected.oversized"] == 1
    assert found["alerts_new"] == 1
    assert [a["id"] for a in (await get_json(hub, "/api/v1/alerts"))["items"]] == [alert.id]


def _stranger() -> Alert:
    """A battery alert about a device nobody registered: it does not say what the device is
    (a fire does: test_a_fire_about_a_device_the_hub_never_heard_of_is_cased)."""
    return make_alert(device_id="b9-0101-smoke", kind=AlertKind.BATTERY_LOW, severity=Severity.LOW)


async def _counted(hub: RunningHub, name: str, value: int) -> None:
    async def reached() -> bool:
        return (await counters(hub)).get(name, 0) >= value

    await until(reached, f"{name} reaches {value}")


async def test_an_alert_about_a_device_not_registered_yet_waits_for_the_status_that_does(
    hub: RunningHub, mosquitto: MosquittoProcess
) -> None:
    """The status listing the device was lost: the alert is left unacknowledged, the edge
    sends it again after its next status, and then it is stored like any (it used to be
    refused and acknowledged: the edge deleted it)."""
    stranger = _stranger()
    topic = edge_topic("e1", EdgeChannel.ALERT)
    async with edge_client(mosquitto) as edge:
        await edge.publish(topic, stranger.model_dump_json(), qos=1)
        await _counted(hub, "deferred.unknown_device", 1)
        device = make_device(stranger.device_id, location="Building 9/Unit 0101", edge_id="e1")
        status = make_status("e1", devices=[device])
        await edge.publish(edge_topic("e1", EdgeChannel.STATUS), status.model_dump_json(), qos=1)

        async def registered() -> bool:
            return bool((await get_json(hub, "/api/v1/devices"))["items"])

        await until(registered, "the status registers the device")
        await edge.publish(topic, stranger.model_dump_json(), qos=1)  # the edge's re-send
        await acked(edge, stranger.id)

    assert [a["id"] for a in (await get_json(hub, "/api/v1/alerts"))["items"]] == [stranger.id]
    found = await counters(hub)
    assert (found["deferred.unknown_device"], found["alerts_new"]) == (1, 1)
    assert "rejected.unknown_device" not in found


async def test_an_alert_about_a_device_nobody_registers_is_refused_after_the_grace(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    settings = hub_settings(mosquitto, tmp_path / "hub")
    settings.unknown_device_grace_s = 0.5
    hub = await start_hub(settings)
    try:
        stranger = _stranger()
        topic = edge_topic("e1", EdgeChannel.ALERT)
        async with edge_client(mosquitto) as edge:
            await edge.publish(topic, stranger.model_dump_json(), qos=1)
            await _counted(hub, "deferred.unknown_device", 1)
            await asyncio.sleep(0.6)  # the grace is over (no upper bound: nothing races it)
            await edge.publish(topic, stranger.model_dump_json(), qos=1)
            # Judged and logged: acknowledged so that the edge stops re-sending it.
            await acked(edge, stranger.id)
        found = await counters(hub)
        assert (found["deferred.unknown_device"], found["rejected.unknown_device"]) == (1, 1)
        assert found.get("alerts_new", 0) == 0
        assert (await get_json(hub, "/api/v1/alerts"))["items"] == []
    finally:
        await hub.close()


async def test_a_fire_about_a_device_the_hub_never_heard_of_is_cased(
    hub: RunningHub, mosquitto: MosquittoProcess
) -> None:
    """The edge's status listing it was lost, or the hub was restored from an older backup:
    the fire is cased where the alert says and acknowledged, the device registered from it."""
    async with edge_client(mosquitto) as edge:
        fire = make_alert(device_id="b9-0101-smoke", location="Building 9/Unit 0101")
        await edge.publish(edge_topic("e1", EdgeChannel.ALERT), fire.model_dump_json(), qos=1)
        await acked(edge, fire.id)

    [case] = (await get_json(hub, "/api/v1/cases"))["items"]
    assert (case["kind"], case["device_ids"]) == ("smoke", ["b9-0101-smoke"])
    [device] = (await get_json(hub, "/api/v1/devices"))["items"]
    assert (device["location"], device["edge_id"], device["registered_by"]) == (
        "Building 9/Unit 0101",
        "e1",
        "alert",
    )
    found = await counters(hub)
    assert found["alerts_new"] == 1
    assert "rejected.unknown_device" not in found


async def test_a_bad_telemetry_batch_is_refused_off_the_alert_path_and_the_next_is_recorded(
    hub: RunningHub, mosquitto: MosquittoProcess, caplog: pytest.LogCaptureFixture
) -> None:
    # The ingest loop hands batches over unparsed; the readings lane parses them, so a bad
    # one is refused there, counted and logged with its source as any bad message is.
    async with edge_client(mosquitto) as edge:
        assert (await hub.http.post("/api/v1/devices", json=SMOKE)).status_code == 201
        topic = edge_topic("e1", EdgeChannel.TELEMETRY)
        await edge.publish(topic, b'{"edge_id": "e1", "points": [{"device_id": 5}]}', qos=1)
        point = TelemetryPoint(
            device_id=SMOKE["id"], ts=datetime.now(UTC), readings=Readings(temperature_c=21.5)
        )
        good = TelemetryBatch(edge_id="e1", points=[point])
        await edge.publish(topic, good.model_dump_json(), qos=1)

        async def recorded() -> bool:
            return (await counters(hub)).get("telemetry_points", 0) >= 1

        await until(recorded, "the good batch recorded")
    found = await counters(hub)
    assert found["rejected.malformed"] == 1
    assert found["telemetry_batches"] == 1
    device = await get_json(hub, f"/api/v1/devices/{SMOKE['id']}")
    assert device["last_readings"] == {"temperature_c": 21.5}
    assert any(
        "rejected a message on linli/edge/e1/telemetry" in r.getMessage() for r in caplog.records
    )


async def test_an_edge_status_registers_its_inventory(
    hub: RunningHub, mosquitto: MosquittoProcess
) -> None:
    inventory = [make_device("e2-gas", edge_id=None), make_device("e2-sos", edge_id=None)]
    async with edge_client(mosquitto, "e2") as edge:
        status = make_status("e2", devices=inventory, outbox_depth=7)
        await edge.publish(
            edge_topic("e2", EdgeChannel.STATUS), status.model_dump_json(), qos=1, retain=True
        )
        registry = DeviceRegistry.model_validate_json(
            await receive(
                edge,
                edge_topic("e2", EdgeChannel.DEVICES),
                lambda raw: len(DeviceRegistry.model_validate_json(raw).devices) == 2,
            )
        )
        assert {d.edge_id for d in registry.devices} == {"e2"}

    [edge_row] = (await get_json(hub, "/api/v1/edges"))["items"]
    assert (edge_row["id"], edge_row["state"], edge_row["outbox_depth"]) == ("e2", "online", 7)
    devices = (await get_json(hub, "/api/v1/devices", edge_id="e2"))["items"]
    assert [d["id"] for d in devices] == ["e2-gas", "e2-sos"]


async def test_the_live_stream_shows_alerts_and_cases(
    hub: RunningHub, mosquitto: MosquittoProcess
) -> None:
    assert (await hub.http.post("/api/v1/devices", json=SMOKE)).status_code == 201
    alert = make_alert(device_id=SMOKE["id"])
    seen: list[str] = []
    async with (
        edge_client(mosquitto) as edge,
        hub.http.stream("GET", "/api/v1/stream") as stream,
    ):
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.aiter_lines()
        async with asyncio.timeout(DEADLINE):
            assert await anext(lines) == ": connected"
            await edge.publish(edge_topic("e1", EdgeChannel.ALERT), alert.model_dump_json(), qos=1)
            async for line in lines:
                if line.startswith("event: "):
                    seen.append(line.removeprefix("event: "))
                if line.startswith("data: ") and '"case_opened"' in line:
                    case_id = int(line.split('"id":')[1].split(",")[0])
                    response = await hub.http.post(f"/api/v1/cases/{case_id}/acknowledge")
                    assert response.status_code == 200
                if "case_updated" in seen:
                    break
    assert seen == ["alert", "case_opened", "case_updated"]


async def test_a_scoped_operator_streams_only_its_sites_alerts_and_cases(
    hub: RunningHub, mosquitto: MosquittoProcess
) -> None:
    ours = {"id": "b3-smoke", "kind": "smoke", "location": "Building 3/Floor 2/Unit 201"}
    theirs = {"id": "b9-smoke", "kind": "smoke", "location": "Building 9/Floor 1/Unit 101"}
    for site, building in (("lanyuan", "Building 3"), ("meiyuan", "Building 9")):
        body = {"id": site, "name": site.title()}
        assert (await hub.http.put(f"/api/v1/sites/{site}", json=body)).status_code == 200
        grid = {"id": f"g-{site}", "site_id": site, "name": building, "places": [building]}
        assert (await hub.http.put(f"/api/v1/grids/g-{site}", json=grid)).status_code == 200
    for device in (ours, theirs):
        assert (await hub.http.post("/api/v1/devices", json=device)).status_code == 201
    user = {"username": "op-lan", "password": "a long enough password", "role": "operator"}
    created = await hub.http.post("/api/v1/users", json=user | {"sites": ["lanyuan"]})
    assert created.status_code == 201, created.text
    credentials = {"username": user["username"], "password": user["password"]}
    login = await hub.http.post("/api/v1/auth/login", json=credentials)
    assert login.status_code == 200, login.text
    scoped = {"authorization": f"Bearer {login.json()['token']}"}
    seen: list[tuple[str, str]] = []
    async with (
        edge_client(mosquitto) as edge,
        hub.http.stream("GET", "/api/v1/stream", headers=scoped) as stream,
    ):
        lines = stream.aiter_lines()
        async with asyncio.timeout(DEADLINE):
            assert await anext(lines) == ": connected"
            # Theirs first, then ours: once ours is through, theirs would have been too.
            for device in (theirs, ours):
                alert = make_alert(device_id=device["id"])
                await edge.publish(
                    edge_topic("e1", EdgeChannel.ALERT), alert.model_dump_json(), qos=1
                )
            event = ""
            async for line in lines:
                if line.startswith("event: "):
                    event = line.removeprefix("event: ")
                if line.startswith("data: "):
                    device_id = ours["id"] if ours["id"] in line else theirs["id"]
                    seen.append((event, device_id))
                if ("case_opened", ours["id"]) in seen:
                    break
    assert seen == [("alert", ours["id"]), ("case_opened", ours["id"])]


async def test_the_hub_reconnects_when_the_broker_restarts(
    hub: RunningHub, mosquitto: MosquittoProcess
) -> None:
    assert (await hub.http.post("/api/v1/devices", json=SMOKE)).status_code == 201
    await asyncio.to_thread(mosquitto.restart)

    async def reconnected() -> bool:
        health = await get_json(hub, "/api/v1/health")
        return bool(health["mqtt_connected"]) and health["counters"].get("connects", 0) >= 2

    await until(reconnected, "the hub reconnected")
    async with edge_client(mosquitto) as edge:
        alert = make_alert(device_id=SMOKE["id"])
        await edge.publish(edge_topic("e1", EdgeChannel.ALERT), alert.model_dump_json(), qos=1)
        await acked(edge, alert.id)


async def test_alerts_sent_while_the_hub_is_down_arrive_when_it_returns(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    settings = hub_settings(mosquitto, tmp_path / "hub")
    hub = await start_hub(settings)
    assert (await hub.http.post("/api/v1/devices", json=SMOKE)).status_code == 201
    await hub.close()

    async with edge_client(mosquitto) as watcher:
        await watcher.subscribe(HUB_STATUS_TOPIC, qos=1)
        status = await receive(watcher, HUB_STATUS_TOPIC, lambda raw: True)
        # A clean stop says offline itself (the last will only fires on a lost connection).
        assert HubStatus.model_validate_json(status).state == "offline"

        # The broker keeps the hub's persistent session: what is sent now waits for it.
        alert = make_alert(device_id=SMOKE["id"])
        await watcher.publish(edge_topic("e1", EdgeChannel.ALERT), alert.model_dump_json(), qos=1)
        hub = await start_hub(settings.model_copy(update={"http_port": free_port()}))
        try:
            await acked(watcher, alert.id)
            [case] = (await get_json(hub, "/api/v1/cases"))["items"]
            assert case["alert_count"] == 1
        finally:
            await hub.close()


async def test_a_burst_of_alerts_is_batched_into_one_case(
    hub: RunningHub, mosquitto: MosquittoProcess
) -> None:
    assert (await hub.http.post("/api/v1/devices", json=SMOKE)).status_code == 201
    alerts = [make_alert(device_id=SMOKE["id"]) for _ in range(300)]
    async with edge_client(mosquitto) as edge:
        for alert in alerts:
            await edge.publish(edge_topic("e1", EdgeChannel.ALERT), alert.model_dump_json(), qos=1)
        await acked(edge, *(alert.id for alert in alerts))
    [case] = (await get_json(hub, "/api/v1/cases"))["items"]
    assert case["alert_count"] == 300
    found = await counters(hub)
    assert found["alerts_new"] == 300
    assert found["batches"] <= found["messages"]


async def test_stopping_the_hub_ends_open_live_streams(hub: RunningHub) -> None:
    async with hub.http.stream("GET", "/api/v1/stream") as stream:
        lines = stream.aiter_lines()
        async with asyncio.timeout(DEADLINE):
            assert await anext(lines) == ": connected"
            await hub.stop()
            rest = [line async for line in lines]
    assert all(line == "" or line.startswith(":") for line in rest)


async def next_feedback(client: aiomqtt.Client, edge_id: str = "e1") -> CaseFeedback:
    """Return the next CaseFeedback on the edge's feedback topic, without its case version
    (checked present: the edge drops a stage older than one it heard by it)."""
    raw = await receive(client, edge_topic(edge_id, EdgeChannel.FEEDBACK), lambda raw: True)
    feedback = CaseFeedback.model_validate_json(raw)
    assert feedback.version is not None
    return feedback.model_copy(update={"version": None})


async def test_an_sos_case_reports_each_stage_to_the_button_edge(
    hub: RunningHub, mosquitto: MosquittoProcess
) -> None:
    async with edge_client(mosquitto) as edge:
        await edge.subscribe(edge_topic("e1", EdgeChannel.FEEDBACK), qos=1)
        for device in (SMOKE, SOS):
            assert (await hub.http.post("/api/v1/devices", json=device)).status_code == 201
        topic = edge_topic("e1", EdgeChannel.ALERT)
        smoke = make_alert(device_id=SMOKE["id"])
        await edge.publish(topic, smoke.model_dump_json(), qos=1)
        await acked(edge, smoke.id)

        sos = make_alert(device_id=SOS["id"], kind=AlertKind.SOS, severity=Severity.CRITICAL)
        await edge.publish(topic, sos.model_dump_json(), qos=1)
        opened = await next_feedback(edge)
        assert (opened.device_id, opened.stage) == (SOS["id"], FeedbackStage.CASE_OPENED)
        case_url = f"/api/v1/cases/{opened.case_id}"
        assert (await get_json(hub, case_url))["kind"] == "sos"

        assert (await hub.http.post(f"{case_url}/acknowledge")).status_code == 200
        assert await next_feedback(edge) == CaseFeedback(
            device_id=SOS["id"], case_id=opened.case_id, stage=FeedbackStage.ACKNOWLEDGED
        )
        resolved = await hub.http.post(
            f"{case_url}/resolve", json={"note": "visited", "resolution": "real"}
        )
        assert resolved.status_code == 200
        assert await next_feedback(edge) == CaseFeedback(
            device_id=SOS["id"], case_id=opened.case_id, stage=FeedbackStage.RESOLVED
        )
    # The smoke case sent none: feedback is for SOS cases only. (The counter moves once the
    # broker confirms the publish, which can be just after the edge has the message.)

    async def three_published() -> bool:
        return (await counters(hub)).get("feedback_published") == 3

    await until(three_published, "three feedback messages counted")
    assert (await counters(hub))["feedback_published"] == 3


async def test_a_press_on_the_resident_page_reaches_the_button_edge(
    hub: RunningHub, mosquitto: MosquittoProcess
) -> None:
    assert (await hub.http.post("/api/v1/devices", json=SOS)).status_code == 201
    created = await hub.http.post(
        "/api/v1/households",
        json={"name": "Wang", "location": SOS["location"], "device_ids": [SOS["id"]]},
    )
    assert created.status_code == 201
    async with edge_client(mosquitto) as edge:
        await edge.subscribe(edge_topic("e1", EdgeChannel.FEEDBACK), qos=1)
        pressed = await hub.http.post(f"{created.json()['link']}/sos")
        assert pressed.status_code == 200
        assert await next_feedback(edge) == CaseFeedback(
            device_id=SOS["id"], case_id=pressed.json()["case_id"], stage=FeedbackStage.CASE_OPENED
        )


class PoisonedIntake(CaseIntake):
    """An intake that cannot store one particular alert, as a database bug would."""

    def __init__(self, store: HubStore, poison: str) -> None:
        super().__init__(store.db, store.policy)
        self.poison = poison

    def ingest_alerts(
        self, alerts: Sequence[Alert], received_at: datetime, screen: Screen | None = None
    ) -> IngestResult:
        if any(alert.id == self.poison for alert in alerts):
            raise DataError("INSERT", {}, ValueError("cannot store this one"))
        return super().ingest_alerts(alerts, received_at, screen)


async def test_an_alert_that_cannot_be_stored_does_not_block_the_others(
    mosquitto: MosquittoProcess, tmp_path: Path
) -> None:
    settings = hub_settings(mosquitto, tmp_path)
    engine = create_hub_engine(settings.resolved_database_url())
    await asyncio.to_thread(migrate, engine)
    poison = make_alert(device_id=SMOKE["id"])
    store = HubStore(engine)
    store.intake = PoisonedIntake(store, poison.id)
    store.fleet.register_device(make_device(SMOKE["id"]))
    ingest = MqttIngest(settings, store, EventBus())
    try:
        async with running(ingest.run()):
            async with edge_client(mosquitto) as edge:

                async def connected() -> bool:
                    return ingest.connected

                await until(connected, "the ingest is connected")
                good = make_alert(device_id=SMOKE["id"])
                topic = edge_topic("e1", EdgeChannel.ALERT)
                await edge.publish(topic, poison.model_dump_json(), qos=1)
                await edge.publish(topic, good.model_dump_json(), qos=1)
                await acked(edge, poison.id, good.id)
            assert [a.id for a in store.cases.list_alerts()] == [good.id]
            assert ingest.counters["rejected.unstorable"] == 1
    finally:
        engine.dispose()
