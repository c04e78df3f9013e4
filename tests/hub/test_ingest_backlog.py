"""A hub coming back to a persistent session that holds a backlog (real Mosquitto, site settings).

Mosquitto sends the SUBACK of the hub's re-subscription only behind the whole backlog its kept
session delivers. A hub that waited for that SUBACK under a deadline before reading anything
gave the connection up whenever the backlog took longer to arrive than the deadline, and lost
what had arrived: after a long enough outage it never became connected again.
"""

import asyncio
from pathlib import Path

import aiomqtt
import pytest

from devices.topics import EdgeChannel, edge_topic, hub_subscriptions
from hub.ingest.link import MqttIngest
from hub.live.events import EventBus
from hub.persistence.engine import create_hub_engine, migrate
from hub.store import HubStore
from linli.brokers import MosquittoProcess
from tests.background import running
from tests.hub.conftest import hub_on

pytestmark = pytest.mark.mosquitto

BACKLOG = 10000
"""Messages queued for the hub while it is away: ~2.7 s to arrive on an idle 2-core machine, five
times the MQTT timeout below (a hub that waits for the SUBACK behind them gives up), and half
of the 20,000 this test once queued, which ran past the deadline once on a loaded CI run."""
MQTT_TIMEOUT = 0.5
"""The ingest's MQTT timeout in this test: far less than the backlog takes to arrive."""
DEADLINE = 300.0
"""A bound that fails the test rather than let it hang: 20,000 messages took ~20 s on an idle
2-core machine, 136 s once on one three times as loaded and over 240 s once in a CI run."""


async def queue_backlog(broker: MosquittoProcess, client_id: str) -> None:
    """Leave a persistent hub session on the broker with ``BACKLOG`` messages waiting in it."""
    async with aiomqtt.Client(
        broker.host, broker.port, identifier=client_id, clean_session=False
    ) as hub:
        await hub.subscribe([(topic, 1) for topic in hub_subscriptions()])
    async with aiomqtt.Client(broker.host, broker.port, identifier=f"edge-{client_id}") as edge:
        topic = edge_topic("e1", EdgeChannel.ALERT)
        for _ in range(BACKLOG // 100):
            # Not JSON: each is counted as rejected.malformed, with no ack and no database work.
            await asyncio.gather(*(edge.publish(topic, b"not json", qos=1) for _ in range(100)))


async def test_a_hub_returning_to_a_long_backlog_connects_and_takes_all_of_it(
    site_broker: MosquittoProcess, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = hub_on(site_broker, tmp_path / "hub")
    await queue_backlog(site_broker, settings.mqtt_client_id)
    engine = create_hub_engine(settings.resolved_database_url())
    await asyncio.to_thread(migrate, engine)
    ingest = MqttIngest(settings, HubStore(engine), EventBus(), mqtt_timeout=MQTT_TIMEOUT)
    try:
        async with running(ingest.run()):
            async with asyncio.timeout(DEADLINE):
                while True:
                    if ingest.connected and ingest.counters["messages"] >= BACKLOG:
                        break
                    await asyncio.sleep(0.05)
            assert ingest.counters["rejected.malformed"] == BACKLOG
            # Each counted, not each logged: 20,000 warnings from one edge's bad messages were
            # a flooded log (and most of this test's time on a loaded machine).
            lines = [r for r in caplog.records if "rejected a message" in r.getMessage()]
            assert 1 <= len(lines) <= 1 + DEADLINE // 60
            # The first connection served the whole backlog: none was given up on the way.
            assert ingest.counters["connects"] == 1
            assert ingest.counters["disconnects"] == 0
    finally:
        engine.dispose()
