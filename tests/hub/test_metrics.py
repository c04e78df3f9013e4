"""``GET /metrics``: ingest counters, rejects by reason, outboxes per edge, cases by status."""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from devices.topics import EdgeChannel, edge_topic
from hub.app import create_app
from hub.settings import HubSettings
from hub.store import HubStore
from hub.telemetry.metrics import HubSnapshot, hub_metrics
from linli.brokers import MosquittoProcess
from tests.hub.conftest import hub_on
from tests.hub.factories import T0, make_alert, make_device, make_status
from tests.hub.http import METRICS_TOKEN, api_client, as_prometheus

DEADLINE = 15.0

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    """Parse an exposition into {(name, sorted labels): value}."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


class StaticCollector(Collector):
    """Serves a fixed list of metric families."""

    def __init__(self, metrics: list[Metric]) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        """Yield the families."""
        yield from self._metrics


def exposition(metrics: list[Metric]) -> str:
    """Render metric families as Prometheus text."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StaticCollector(metrics))
    return generate_latest(registry).decode()


class Worker:
    """Counters as a telemetry worker reports them."""

    def __init__(self, counters: dict[str, int], buffered: int) -> None:
        self._counters = counters
        self._buffered = buffered

    @property
    def counters(self) -> dict[str, int]:
        """Return the counters."""
        return self._counters

    @property
    def buffered(self) -> int:
        """Return the buffered count."""
        return self._buffered


def test_every_family_is_rendered_from_plain_values() -> None:
    snapshot = HubSnapshot(
        cases_by_status={"open": 2, "dispatched": 1},
        edges=[("e1", "online", 7, 0), ("e2", "offline", 0, 2)],
        escalations=3,
    )
    counters = {
        "messages": 40,
        "batches": 9,
        "alerts_new": 30,
        "alerts_duplicate": 4,
        "rejected.malformed": 2,
        "rejected.unknown_device": 1,
        "acks_published": 8,
    }
    workers = {
        "influx": Worker({"points_queued": 100, "points_dropped": 10, "write_failures": 2}, 5),
        "history": None,
    }
    found = samples(exposition(hub_metrics(snapshot, counters, True, workers)))
    assert found[("linli_mqtt_connected", ())] == 1
    assert found[("linli_ingest_messages_total", ())] == 40
    assert found[("linli_ingest_alerts_total", (("outcome", "new"),))] == 30
    assert found[("linli_ingest_alerts_total", (("outcome", "duplicate"),))] == 4
    assert found[("linli_ingest_rejected_total", (("reason", "malformed"),))] == 2
    assert found[("linli_ingest_rejected_total", (("reason", "unknown_device"),))] == 1
    assert found[("linli_ingest_events_total", (("event", "acks_published"),))] == 8
    assert found[("linli_edge_outbox_depth", (("edge_id", "e1"),))] == 7
    assert found[("linli_edge_online", (("edge_id", "e2"),))] == 0
    assert found[("linli_edge_stores_in_memory", (("edge_id", "e1"),))] == 0
    assert found[("linli_edge_stores_in_memory", (("edge_id", "e2"),))] == 2
    # Every known status is present, at 0 when no case has it; unknown ones are kept.
    assert found[("linli_cases", (("status", "open"),))] == 2
    assert found[("linli_cases", (("status", "resolved"),))] == 0
    assert found[("linli_cases", (("status", "dispatched"),))] == 1
    assert found[("linli_escalations_total", ())] == 3
    influx = (("outcome", "dropped"), ("sink", "influx"))
    assert found[("linli_telemetry_points_total", influx)] == 10
    assert found[("linli_telemetry_write_failures_total", (("sink", "influx"),))] == 2
    assert found[("linli_telemetry_buffered", (("sink", "influx"),))] == 5
    assert found[("linli_telemetry_enabled", (("sink", "history"),))] == 0


async def test_the_endpoint_reads_cases_and_edges_from_the_database(tmp_path: Path) -> None:
    settings = HubSettings(data_dir=tmp_path, start_ingest=False, metrics_token=METRICS_TOKEN)
    app = create_app(settings)
    async with api_client(app) as http:
        store: HubStore = app.state.store
        devices = [make_device("d1"), make_device("d2", location="Building 1/Floor 2/Unit 201")]
        store.fleet.record_edge_status(make_status("e1", devices=devices, outbox_depth=12), T0)
        store.fleet.record_edge_status(make_status("e2", outbox_depth=0), T0)
        store.intake.ingest_alerts([make_alert(device_id="d1"), make_alert(device_id="d2")], T0)
        first = store.cases.list_cases()[0]
        store.cases.acknowledge(first.id)
        as_prometheus(http)
        response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = samples(response.text)
    assert found[("linli_cases", (("status", "open"),))] == 1
    assert found[("linli_cases", (("status", "acknowledged"),))] == 1
    assert found[("linli_edge_outbox_depth", (("edge_id", "e1"),))] == 12
    assert found[("linli_edge_outbox_depth", (("edge_id", "e2"),))] == 0
    assert found[("linli_mqtt_connected", ())] == 0
    assert found[("linli_telemetry_enabled", (("sink", "influx"),))] == 0
    assert found[("linli_telemetry_enabled", (("sink", "history"),))] == 1


@pytest.mark.mosquitto
async def test_rejected_messages_show_by_reason(
    tmp_path: Path, mosquitto: MosquittoProcess
) -> None:
    settings = hub_on(mosquitto, tmp_path, metrics_token=METRICS_TOKEN)
    async with api_client(create_app(settings)) as http:
        await until(http, "/api/v1/health", lambda text: '"mqtt_connected":true' in text)
        async with aiomqtt.Client("127.0.0.1", mosquitto.port, identifier="bad-edge") as edge:
            await edge.publish(edge_topic("e1", EdgeChannel.ALERT), b"{not json", qos=1)
            await edge.publish(edge_topic("e1", EdgeChannel.ALERT), b'{"id": 5}', qos=1)
            forged = make_alert(edge_id="e2").model_dump_json()
            await edge.publish(edge_topic("e1", EdgeChannel.ALERT), forged, qos=1)
        as_prometheus(http)
        text = await until(
            http,
            "/metrics",
            lambda text: 'linli_ingest_rejected_total{reason="malformed"} 2' in text,
        )
    found = samples(text)
    assert found[("linli_ingest_messages_total", ())] >= 3
    assert found[("linli_ingest_rejected_total", (("reason", "edge_mismatch"),))] == 1
    assert sum(v for (name, _), v in found.items() if name == "linli_ingest_rejected_total") == 3


async def until(http: httpx.AsyncClient, path: str, check: object) -> str:
    """GET ``path`` until ``check(text)`` holds; return the text."""
    assert callable(check)
    async with asyncio.timeout(DEADLINE):
        while True:
            response = await http.get(path)
            if check(response.text):
                return response.text
            await asyncio.sleep(0.05)
