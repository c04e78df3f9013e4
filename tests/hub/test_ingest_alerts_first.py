"""An SOS queued behind a flood of readings and statuses is committed before the flood is
worked through (real Mosquitto on the site settings, a real hub ingest on SQLite).

The hub is away while its persistent session fills: an edge's telemetry batches and status
heartbeats, then one SOS press. When the hub comes back it takes the backlog in takes; the
SOS must not wait until every reading and status ahead of it has been written. Asserted on
positions, not on timings: how much of the flood the hub had recorded when the SOS's
acknowledgement arrived.
"""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiomqtt
import pytest

from devices.kinds import AlertKind, DeviceKind, Severity
from devices.messages import AlertAck, EdgeStatus, TelemetryBatch, TelemetryPoint
from devices.payloads import Readings
from devices.topics import EdgeChannel, edge_topic, hub_subscriptions
from hub.ingest.link import MqttIngest
from hub.live.events import EventBus
from hub.persistence.engine import create_hub_engine, migrate
from hub.store import HubStore
from linli.brokers import MosquittoProcess
from tests.background import running
from tests.hub.conftest import hub_on
from tests.hub.factories import make_alert, make_device, make_status

pytestmark = pytest.mark.mosquitto

EDGE = "e1"
DEVICES = 100
"""Devices of the edge, each in every telemetry batch and every status (as a real edge)."""
TELEMETRY_BATCHES = 1000
STATUSES = 200
DEADLINE = 180.0
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def inventory() -> list[str]:
    """Return the edge's device ids: one SOS button, the rest heat detectors."""
    return ["sos-1"] + [f"heat-{i:03d}" for i in range(DEVICES - 1)]


def registered_status() -> EdgeStatus:
    """Return the edge's status with its whole inventory."""
    return make_status(
        EDGE,
        devices=[
            make_device(
                d,
                kind=DeviceKind.SOS_BUTTON if d.startswith("sos") else DeviceKind.HEAT,
                edge_id=EDGE,
            )
            for d in inventory()
        ],
    )


def telemetry(n: int) -> TelemetryBatch:
    """Return the edge's ``n``-th batch: one reading of every device."""
    ts = T0 + timedelta(seconds=5 * n)
    return TelemetryBatch(
        edge_id=EDGE,
        points=[
            TelemetryPoint(device_id=d, ts=ts, readings=Readings(temperature_c=20.0 + n % 7))
            for d in inventory()
        ],
    )


async def queue_flood(broker: MosquittoProcess, client_id: str, sos_id: str) -> None:
    """Leave the hub's persistent session holding the flood, then the SOS press, in order."""
    async with aiomqtt.Client(
        broker.host, broker.port, identifier=client_id, clean_session=False
    ) as hub:
        await hub.subscribe([(topic, 1) for topic in hub_subscriptions()])
    status = registered_status().model_dump_json()
    async with aiomqtt.Client(broker.host, broker.port, identifier=f"edge-{client_id}") as edge:
        for n in range(TELEMETRY_BATCHES):
            await edge.publish(
                edge_topic(EDGE, EdgeChannel.TELEMETRY), telemetry(n).model_dump_json(), qos=1
            )
            if n % (TELEMETRY_BATCHES // STATUSES) == 0:
                await edge.publish(edge_topic(EDGE, EdgeChannel.STATUS), status, qos=1)
        sos = make_alert(
            id=sos_id,
            device_id="sos-1",
            edge_id=EDGE,
            kind=AlertKind.SOS,
            severity=Severity.CRITICAL,
        )
        await edge.publish(edge_topic(EDGE, EdgeChannel.ALERT), sos.model_dump_json(), qos=1)


async def test_an_sos_behind_a_flood_of_readings_and_statuses_commits_before_the_flood(
    site_broker: MosquittoProcess, tmp_path: Path
) -> None:
    settings = hub_on(site_broker, tmp_path / "hub")
    engine = create_hub_engine(settings.resolved_database_url())
    await asyncio.to_thread(migrate, engine)
    store = HubStore(engine)
    # The edge is known: its devices were registered by an earlier status.
    await asyncio.to_thread(store.fleet.record_edge_status, registered_status(), T0)
    sos_id = uuid.uuid4().hex
    await queue_flood(site_broker, settings.mqtt_client_id, sos_id)
    ingest = MqttIngest(settings, store, EventBus())
    try:
        async with aiomqtt.Client(site_broker.host, site_broker.port) as watcher:
            await watcher.subscribe(edge_topic(EDGE, EdgeChannel.ACK), qos=1)
            async with running(ingest.run()), asyncio.timeout(DEADLINE):
                async for message in watcher.messages:
                    ack = AlertAck.model_validate_json(bytes(message.payload))
                    if sos_id in ack.ids:
                        # Snapshots taken after the ack arrived: at least as far as at the commit.
                        readings_done = ingest.counters["telemetry_batches"]
                        statuses_written = ingest.counters["status"]
                        break
                # The SOS is committed once (its ack), and the flood was not yet worked through.
                assert ingest.counters["alerts_new"] == 1
                assert readings_done < TELEMETRY_BATCHES
                assert statuses_written < STATUSES
                while True:
                    worked = ingest.counters["telemetry_batches"]
                    seen = ingest.counters["status"] + ingest.counters["status_superseded"]
                    dropped = ingest.counters["telemetry_dropped"]
                    if worked + dropped == TELEMETRY_BATCHES and seen == STATUSES:
                        break
                    await asyncio.sleep(0.05)
        # Nothing of the flood was lost: every batch recorded, every status written or
        # superseded by a later one of the same edge while it was pending.
        assert ingest.counters["telemetry_batches"] == TELEMETRY_BATCHES
        assert ingest.counters["telemetry_dropped"] == 0
        assert ingest.counters["status"] + ingest.counters["status_superseded"] == STATUSES
        assert ingest.counters["status"] < STATUSES
    finally:
        engine.dispose()
