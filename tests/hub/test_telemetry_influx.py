"""Readings into a real server of the InfluxDB v2 write API (VictoriaMetrics), through the hub.

A private VictoriaMetrics runs per test on a free port with its own storage folder; points go
in through influxdb-client and are read back through VictoriaMetrics' export API, which names
each series ``<measurement>_<field>`` with the tags as labels.
"""

import asyncio
import contextlib
import json
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiomqtt
import httpx
import pytest

from devices.messages import TelemetryBatch, TelemetryPoint
from devices.mqtt_link import Backoff
from devices.payloads import Readings
from devices.registry import Device
from devices.topics import EdgeChannel, edge_topic
from hub.app import create_app
from hub.settings import HubSettings
from hub.telemetry.writer import InfluxLineWriter, TelemetryForwarder
from linli.brokers import MosquittoProcess, free_port
from tests.conftest import missing, serving
from tests.hub.factories import make_alert, make_device, make_status
from tests.hub.http import METRICS_TOKEN, api_client, as_prometheus
from tests.polling import wait_until

pytestmark = pytest.mark.mosquitto

BINARY_NAMES = ("victoria-metrics", "victoria-metrics-prod")
DEADLINE = 15.0


@dataclass
class VictoriaMetrics:
    """A private VictoriaMetrics server: InfluxDB v2 write API in, export API out."""

    root: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def executable() -> str | None:
        """Return the server's path, or None when it is not installed."""
        for name in BINARY_NAMES:
            if found := shutil.which(name):
                return found
        return None

    @property
    def url(self) -> str:
        """Return the base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the server and wait until it answers."""
        executable = self.executable()
        assert executable is not None
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / "server.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    executable,
                    f"-httpListenAddr=127.0.0.1:{self.port}",
                    f"-storageDataPath={self.root / 'data'}",
                    "-retentionPeriod=1y",
                ],
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            time.sleep(0.05)
        raise AssertionError(f"VictoriaMetrics did not start: {self.log()}")

    def stop(self) -> None:
        """Stop the server (its data stays in the folder)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)

    def log(self) -> str:
        """Return what the server wrote."""
        return (self.root / "server.log").read_text(errors="replace")

    def export(self, metric_regex: str = "reading_.*") -> list[dict[str, Any]]:
        """Return every stored series matching the name, with its values and timestamps."""
        httpx.get(f"{self.url}/internal/force_flush", timeout=5)
        response = httpx.post(
            f"{self.url}/api/v1/export",
            data={"match[]": f'{{__name__=~"{metric_regex}"}}'},
            timeout=5,
        )
        response.raise_for_status()
        return [json.loads(line) for line in response.text.splitlines() if line.strip()]

    def values(self, metric: str, device_id: str) -> list[float]:
        """Return the stored values of one series, oldest first."""
        for series in self.export(metric):
            if series["metric"].get("device_id") == device_id:
                return [float(v) for v in series["values"]]
        return []


@pytest.fixture
def victoria(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    """Start a private VictoriaMetrics for one test."""
    yield from serving(
        VictoriaMetrics(tmp_path / "vm"), "victoria-metrics (Debian package victoria-metrics)"
    )


def recent_batch(count: int, *, device_id: str = "b2-co", edge_id: str = "e1") -> TelemetryBatch:
    """Return readings of the last few minutes (the server refuses points outside retention)."""
    start = datetime.now(UTC) - timedelta(minutes=5)
    return TelemetryBatch(
        edge_id=edge_id,
        points=[
            TelemetryPoint(
                device_id=device_id,
                ts=start + timedelta(milliseconds=10 * i),
                readings=Readings(co_ppm=float(i), temperature_c=20.5, smoke=i % 2 == 0),
            )
            for i in range(count)
        ],
    )


def forwarder_for(
    server: VictoriaMetrics, *, capacity: int = 100_000, batch_size: int = 500
) -> TelemetryForwarder:
    """Return a forwarder writing to the server through influxdb-client."""
    writer = InfluxLineWriter(server.url, "unused-token", "linli", "linli", timeout_seconds=2)
    return TelemetryForwarder(
        writer,
        batch_size=batch_size,
        flush_seconds=0.05,
        capacity=capacity,
        backoff=Backoff(initial=0.05, maximum=0.2),
    )


def test_points_arrive_with_their_tags_and_fields(victoria: VictoriaMetrics) -> None:
    forwarder = forwarder_for(victoria)
    forwarder.start()
    forwarder.submit(recent_batch(1200))
    wait_until(
        lambda: forwarder.worker.counters.get("points_written") == 1200,
        timeout=DEADLINE,
        what="the writes",
    )
    forwarder.stop()
    series = {s["metric"]["__name__"]: s for s in victoria.export()}
    assert set(series) == {"reading_co_ppm", "reading_temperature_c", "reading_smoke"}
    co = series["reading_co_ppm"]
    assert co["metric"]["device_id"] == "b2-co"
    assert co["metric"]["edge_id"] == "e1"
    assert co["values"] == [float(i) for i in range(1200)]
    assert series["reading_smoke"]["values"][:4] == [1, 0, 1, 0]
    assert forwarder.worker.counters["batches_written"] == 3


def test_a_dead_server_bounds_the_buffer_and_a_returning_one_gets_the_retried_batches(
    tmp_path: Path,
) -> None:
    if VictoriaMetrics.executable() is None:
        missing("victoria-metrics (Debian package victoria-metrics)")
    server = VictoriaMetrics(tmp_path / "vm")  # not started yet: the port refuses
    forwarder = forwarder_for(server, capacity=1000, batch_size=200)
    forwarder.start()
    try:
        # Handing over never waits for the dead server: these return while nothing listens.
        for i in range(5):
            forwarder.submit(recent_batch(300, device_id=f"dev-{i}"))
        wait_until(
            lambda: forwarder.worker.counters.get("write_failures", 0) >= 2,
            timeout=DEADLINE,
            what="failures",
        )
        assert forwarder.worker.buffered <= 1000
        assert forwarder.worker.counters["points_dropped"] == 500
        server.start()
        wait_until(
            lambda: forwarder.worker.buffered == 0, timeout=DEADLINE, what="the buffer to drain"
        )
        stored = {
            s["metric"]["device_id"]: len(s["values"]) for s in server.export("reading_co_ppm")
        }
    finally:
        forwarder.stop()
        server.stop()
    # The oldest 500 points (all of dev-0, and dev-1's first 200) were dropped.
    assert stored == {"dev-1": 100, "dev-2": 300, "dev-3": 300, "dev-4": 300}
    assert forwarder.worker.counters["points_written"] == 1000


# --- through the hub ---------------------------------------------------------------------


@contextlib.asynccontextmanager
async def running_hub(settings: HubSettings) -> AsyncIterator[httpx.AsyncClient]:
    """Run a hub in-process (lifespan, MQTT ingest) and yield its client once ingest is up."""
    async with api_client(create_app(settings)) as http:
        await eventually(http, lambda health: health["mqtt_connected"], "/api/v1/health")
        yield http


async def eventually(
    http: httpx.AsyncClient, check: Callable[[Any], bool], path: str, *, text: bool = False
) -> Any:
    """GET ``path`` until ``check`` holds for its JSON (or text), failing after the deadline."""
    async with asyncio.timeout(DEADLINE):
        while True:
            response = await http.get(path)
            body = response.text if text else response.json()
            if response.status_code == 200 and check(body):
                return body
            await asyncio.sleep(0.05)


async def publish(port: int, topic: str, payload: str) -> None:
    """Publish one message at QoS 1 as an edge would."""
    async with aiomqtt.Client("127.0.0.1", port, identifier=f"edge-{uuid.uuid4().hex[:6]}") as c:
        await c.publish(topic, payload, qos=1)


async def publish_inventory(port: int, *devices: Device) -> None:
    """Publish edge e1's online status listing ``devices``, as it does on connecting."""
    status = make_status(devices=list(devices))
    await publish(port, edge_topic("e1", EdgeChannel.STATUS), status.model_dump_json())


async def publish_telemetry(port: int, batch: TelemetryBatch) -> None:
    """Publish a telemetry batch of edge e1."""
    await publish(port, edge_topic("e1", EdgeChannel.TELEMETRY), batch.model_dump_json())


def hub_settings(tmp_path: Path, broker: MosquittoProcess, influx_url: str) -> HubSettings:
    """Return settings of a hub writing telemetry to ``influx_url``."""
    return HubSettings(
        data_dir=tmp_path / "hub",
        mqtt_port=broker.port,
        mqtt_client_id=f"hub-{uuid.uuid4().hex[:6]}",
        influx_url=influx_url,
        influx_flush_seconds=0.05,
        influx_buffer_max=500,
        influx_timeout_seconds=1,
        metrics_token=METRICS_TOKEN,
    )


async def test_the_hub_writes_every_reading_and_keeps_recent_history(
    tmp_path: Path, mosquitto: MosquittoProcess, victoria: VictoriaMetrics
) -> None:
    settings = hub_settings(tmp_path, mosquitto, victoria.url)
    device = make_device("b2-co", location="Building 2/Floor 5/Unit 502")
    async with running_hub(settings) as http:
        await publish_inventory(mosquitto.port, device)
        await publish_telemetry(mosquitto.port, recent_batch(50))

        # The writer may flush the batch in parts and the server shows what it has so far:
        # wait for all fifty, then check they are exactly the readings sent.
        def all_fifty() -> list[float] | None:
            found = victoria.values("reading_co_ppm", "b2-co")
            return found if len(found) >= 50 else None

        values = await asyncio.to_thread(
            wait_until, all_fifty, timeout=DEADLINE, what="all fifty points in the server"
        )
        assert values == [float(i) for i in range(50)]
        now = datetime.now(UTC)
        window = {"start": (now - timedelta(hours=1)).isoformat(), "end": now.isoformat()}
        path = "/api/v1/console/readings?" + urlencode({"device_id": "b2-co", **window})
        body = await eventually(http, lambda body: len(body["items"]) == 50, path)
        assert body["items"][-1]["readings"] == {
            "co_ppm": 49.0,
            "temperature_c": 20.5,
            "smoke": False,
        }
        as_prometheus(http)
        metrics = (await http.get("/metrics")).text
        assert 'linli_telemetry_points_total{outcome="written",sink="influx"} 50.0' in metrics
        assert 'linli_telemetry_enabled{sink="influx"} 1.0' in metrics


async def test_a_dead_telemetry_server_never_slows_alert_ingest(
    tmp_path: Path, mosquitto: MosquittoProcess
) -> None:
    # A port nothing listens on: every write fails at once, the buffer fills and drops.
    settings = hub_settings(tmp_path, mosquitto, f"http://127.0.0.1:{free_port()}")
    device = make_device("b2-co", location="Building 2/Floor 5/Unit 502")
    async with running_hub(settings) as http:
        await publish_inventory(mosquitto.port, device)
        for _ in range(3):
            await publish_telemetry(mosquitto.port, recent_batch(400))
        alert = make_alert(device_id="b2-co", ts=datetime.now(UTC))
        await publish(mosquitto.port, edge_topic("e1", EdgeChannel.ALERT), alert.model_dump_json())
        await eventually(http, lambda cases: cases["items"], "/api/v1/cases")
        dropped = 'linli_telemetry_points_total{outcome="dropped",sink="influx"} 700.0'
        # The console history does not depend on the telemetry server.
        kept = 'linli_telemetry_points_total{outcome="written",sink="history"} 1200.0'
        as_prometheus(http)
        metrics = await eventually(
            http, lambda body: dropped in body and kept in body, "/metrics", text=True
        )
        assert 'linli_telemetry_buffered{sink="influx"} 500.0' in metrics
        assert 'linli_telemetry_points_total{outcome="written",sink="influx"} 0.0' in metrics
