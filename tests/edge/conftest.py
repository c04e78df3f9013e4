"""Helpers for the edge component tests: a site file, a fake hub, a running agent, deadlines."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from devices.messages import Alert, AlertAck, EdgeStatus, TelemetryBatch, TelemetryPoint
from devices.mqtt_link import checkpoint
from devices.topics import EDGE_ROOT, EdgeChannel, edge_topic
from edge.agent import EdgeAgent
from edge.outbox import FILE_NAME, Outbox
from edge.settings import EdgeSettings
from linli.brokers import MosquittoProcess
from tests.background import running
from tests.conftest import serving

EDGE_ID = "edge-test"
DEADLINE_S = 20.0

SettingsFactory = Callable[..., EdgeSettings]
"""What ``make_settings`` is: settings of an agent on the test broker, with overrides."""

SITE_TOML = f"""
[site]
name = "Test Courtyard"
edge_id = "{EDGE_ID}"

[[devices]]
id = "b3-smoke"
kind = "smoke"
location = "Building 3/Floor 12/Unit 1201"

[[devices]]
id = "b3-co"
kind = "co"
location = "Building 3/Floor 12/Unit 1201"

[[devices]]
id = "b3-sos"
kind = "sos_button"
location = "Building 3/Floor 12/Unit 1201"
zigbee_name = "b3 1201 sos"

[[devices]]
id = "bike-leak"
kind = "water_leak"
location = "Building 3/Basement/Bike room"
zigbee_name = "bike leak"
"""


class ManualClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class WallClock:
    """The agent's wall clock, moved only by the test."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def eventually(
    predicate: Callable[[], bool], what: str, *, deadline_s: float = DEADLINE_S
) -> None:
    """Wait until ``predicate()`` holds, failing the test after a deadline."""
    give_up = time.monotonic() + deadline_s
    while not predicate():
        if time.monotonic() > give_up:
            pytest.fail(f"timed out waiting for: {what}")
        await asyncio.sleep(0.02)


class FakeHub:
    """Plays the hub: collects what the edge sends upstream and acknowledges alerts.

    It keeps a persistent session and reconnects by itself, so it misses nothing while its
    broker restarts.
    """

    def __init__(self, broker: MosquittoProcess, *, auto_ack: bool = True) -> None:
        self.broker = broker
        self.auto_ack = auto_ack
        self.alerts: list[Alert] = []
        self.statuses: list[EdgeStatus] = []
        self.telemetry: list[TelemetryBatch] = []
        self._client: aiomqtt.Client | None = None
        self._identifier = f"fake-hub-{uuid.uuid4().hex[:8]}"

    @property
    def connected(self) -> bool:
        return self._client is not None

    def received(self, alert_id: str) -> int:
        """Return how many copies of one alert arrived."""
        return sum(1 for a in self.alerts if a.id == alert_id)

    async def run(self) -> None:
        while True:
            try:
                async with aiomqtt.Client(
                    self.broker.host,
                    self.broker.port,
                    identifier=self._identifier,
                    clean_session=False,
                ) as client:
                    await client.subscribe(
                        [
                            (f"{EDGE_ROOT}/+/{EdgeChannel.ALERT}", 1),
                            (f"{EDGE_ROOT}/+/{EdgeChannel.STATUS}", 1),
                            (f"{EDGE_ROOT}/+/{EdgeChannel.TELEMETRY}", 0),
                        ]
                    )
                    self._client = client
                    async for message in client.messages:
                        await self._handle(message)
            except aiomqtt.MqttError:
                pass
            finally:
                self._client = None
            # aiomqtt's __aexit__ can replace a cancellation with a disconnect error, caught
            # above: without this the fake hub reconnected for ever after its block ended.
            checkpoint()
            await asyncio.sleep(0.1)

    async def _handle(self, message: aiomqtt.Message) -> None:
        assert isinstance(message.payload, bytes)
        channel = message.topic.value.rsplit("/", 1)[-1]
        if channel == EdgeChannel.ALERT:
            alert = Alert.model_validate_json(message.payload)
            self.alerts.append(alert)
            if self.auto_ack:
                await self.ack([alert.id])
        elif channel == EdgeChannel.STATUS and message.payload:
            self.statuses.append(EdgeStatus.model_validate_json(message.payload))
        elif channel == EdgeChannel.TELEMETRY:
            self.telemetry.append(TelemetryBatch.model_validate_json(message.payload))

    async def ack(self, ids: list[str]) -> None:
        await self.publish(
            edge_topic(EDGE_ID, EdgeChannel.ACK), AlertAck(ids=ids).model_dump_json()
        )

    async def publish(self, topic: str, payload: str, *, retain: bool = False) -> None:
        assert self._client is not None, "the fake hub is not connected"
        await self._client.publish(topic, payload, qos=1, retain=retain)


async def telemetry_of(hub: "FakeHub", device_id: str) -> TelemetryPoint:
    """Wait for a device's first reading among the telemetry the hub got, and return it."""
    await eventually(
        lambda: any(p.device_id == device_id for b in hub.telemetry for p in b.points),
        f"{device_id}'s reading as telemetry",
    )
    return next(p for b in hub.telemetry for p in b.points if p.device_id == device_id)


@asynccontextmanager
async def running_hub(broker: MosquittoProcess, *, auto_ack: bool = True) -> AsyncIterator[FakeHub]:
    """Run a fake hub as a task until the block ends."""
    hub = FakeHub(broker, auto_ack=auto_ack)
    async with running(hub.run(), name="fake-hub"):
        await eventually(lambda: hub.connected, "the fake hub to connect")
        yield hub


@asynccontextmanager
async def running_agent(
    agent: EdgeAgent, *, wait_for_uplink: bool = True
) -> AsyncIterator[EdgeAgent]:
    """Run an agent as a task until the block ends, as the demo does; then cancel it."""
    async with running(agent.run(), name="edge-under-test") as task:

        def ready() -> bool:
            if task.done():
                task.result()  # raise whatever killed it
                pytest.fail("the agent stopped by itself")
            return agent.local_ready and (agent.uplink_ready or not wait_for_uplink)

        await eventually(ready, "the agent to connect")
        yield agent


@asynccontextmanager
async def running_edge(
    local: MosquittoProcess,
    agent: EdgeAgent,
    *,
    hub_broker: MosquittoProcess | None = None,
    auto_ack: bool = True,
) -> AsyncIterator[tuple[FakeHub, "Devices"]]:
    """Run a fake hub (on ``hub_broker``, else ``local``) and the agent until the block ends;
    yield the hub and the devices that publish on ``local``."""
    async with running_hub(hub_broker or local, auto_ack=auto_ack) as hub, running_agent(agent):
        yield hub, Devices(local)


class Devices:
    """Plays the devices on the local broker."""

    def __init__(self, broker: MosquittoProcess) -> None:
        self.broker = broker

    async def publish(self, topic: str, payload: bytes | str, *, retain: bool = False) -> None:
        async with aiomqtt.Client(self.broker.host, self.broker.port) as client:
            await client.publish(topic, payload, qos=1, retain=retain)

    async def publish_cli(self, topic: str, payload: str) -> None:
        """Publish with the real ``mosquitto_pub``, as a shell script on a device would."""
        process = await asyncio.create_subprocess_exec(
            "mosquitto_pub",
            "-h",
            self.broker.host,
            "-p",
            str(self.broker.port),
            "-q",
            "1",
            "-t",
            topic,
            "-s",  # the message from stdin, byte for byte
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await process.communicate(payload.encode())
        assert process.returncode == 0, stderr.decode()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    """Where a test's outbox file lives (test_outbox, test_edge_resilience)."""
    return tmp_path / "edge" / FILE_NAME


@pytest.fixture
def outbox(path: Path) -> Iterator[Outbox]:
    """An outbox at ``path``, fsyncing, re-sending after 10 s."""
    box = Outbox.open(path, "full", resend_after_s=10)
    yield box
    box.close()


@pytest.fixture
def hub_broker(tmp_path: Path, mosquitto: MosquittoProcess) -> Iterator[MosquittoProcess]:
    """A Mosquitto of the hub's own, beside the edge's local ``mosquitto``."""
    yield from serving(MosquittoProcess(tmp_path / "hub-broker"), "mosquitto")


@pytest.fixture
def site_file(tmp_path: Path) -> Path:
    path = tmp_path / "site.toml"
    path.write_text(SITE_TOML)
    return path


@pytest.fixture
def make_settings(tmp_path: Path, site_file: Path, mosquitto: MosquittoProcess) -> SettingsFactory:
    """Build settings for an agent on the ``mosquitto`` broker (both sides by default)."""

    def build(**overrides: Any) -> EdgeSettings:
        values: dict[str, Any] = {
            "site_file": site_file,
            "data_dir": tmp_path / "edge-data",
            "local_mqtt_port": mosquitto.port,
            "hub_mqtt_port": mosquitto.port,
            "heartbeat_s": 60.0,
            "resend_after_s": 0.5,
            "telemetry_interval_s": 0.1,
        }
        values.update(overrides)
        return EdgeSettings(**values)

    return build


def two_broker_settings(
    site_file: Path, site_toml: str, local: MosquittoProcess, hub: MosquittoProcess
) -> EdgeSettings:
    """Write ``site_toml`` and return settings of an agent between two brokers."""
    site_file.write_text(site_toml)
    return EdgeSettings(
        site_file=site_file,
        data_dir=site_file.parent / "edge",
        local_mqtt_port=local.port,
        hub_mqtt_port=hub.port,
        heartbeat_s=0.5,
        resend_after_s=0.5,
    )


def no_jitter() -> float:
    """Backoff jitter pinned to its shortest, so reconnects in tests come quickly."""
    return 0.0
