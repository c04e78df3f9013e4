"""What NATS's MQTT gateway does with what Linli asks of a broker (docs/scale.md), probed on a
real nats-server: the facts the choice of a city's broker rests on."""

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import pytest

from devices.mqtt_link import MqttEndpoint
from tests.cluster.nats import NatsNode, nats_server
from tests.conftest import missing

pytestmark = [pytest.mark.slow]


@pytest.fixture
def node(tmp_path: Path) -> Iterator[NatsNode]:
    """One nats-server with JetStream and anonymous MQTT."""
    if nats_server() is None:
        missing("nats-server")
    running = NatsNode("probe", tmp_path / "nats")
    running.write_single_config()
    running.start()
    try:
        deadline = time.monotonic() + 30
        while not running.healthy():
            assert time.monotonic() < deadline, running.log()
            time.sleep(0.1)
        yield running
    finally:
        running.stop()


async def _received(client: aiomqtt.Client, seconds: float) -> list[str]:
    topics: list[str] = []
    try:
        async with asyncio.timeout(seconds):
            async for message in client.messages:
                topics.append(message.topic.value)
    except TimeoutError:
        pass
    return topics


async def test_a_shared_subscription_is_granted_but_receives_nothing(node: NatsNode) -> None:
    # Hub workers split ingest with $share/<group>/... on Mosquitto (LINLI_HUB_MQTT_SHARED_GROUP);
    # NATS 2.9 takes "$share" for a literal topic level: SUBACK grants it, nothing arrives.
    port = node.mqtt_port
    async with (
        aiomqtt.Client("127.0.0.1", port, identifier="shared") as shared,
        aiomqtt.Client("127.0.0.1", port, identifier="plain") as plain,
        aiomqtt.Client("127.0.0.1", port, identifier="edge") as edge,
    ):
        await shared.subscribe("$share/hub/linli/edge/+/alert", qos=1)
        await plain.subscribe("linli/edge/+/alert", qos=1)
        for _ in range(3):
            await edge.publish("linli/edge/e1/alert", b"{}", qos=1)
        plain_got, shared_got = await asyncio.gather(_received(plain, 2.0), _received(shared, 2.0))
    assert plain_got == ["linli/edge/e1/alert"] * 3
    assert shared_got == []


async def test_a_kept_session_gets_what_was_sent_while_away_and_retained_messages(
    node: NatsNode,
) -> None:
    endpoint = MqttEndpoint("127.0.0.1", node.mqtt_port, client_id="linli-hub")
    async with endpoint.client() as hub:
        await hub.subscribe("linli/edge/+/alert", qos=1)
    async with aiomqtt.Client("127.0.0.1", node.mqtt_port, identifier="edge-e1") as edge:
        await edge.publish("linli/edge/e1/alert", b"while away", qos=1)
        await edge.publish("linli/edge/e1/status", b"online", qos=1, retain=True)
    async with endpoint.client() as hub:
        # The backlog comes from CONNACK on (devices.mqtt_link's ConsumingSession reads it).
        await hub.subscribe("linli/edge/+/status", qos=1)
        got = await _received(hub, 2.0)
    assert "linli/edge/e1/alert" in got  # queued for the absent persistent session
    assert "linli/edge/e1/status" in got  # retained
