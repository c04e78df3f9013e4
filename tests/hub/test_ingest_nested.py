"""One edge's payload nested past Python's recursion limit (an outside tester's probe): the
hub's ingest refuses it and goes on; another edge's fire behind it makes its case. Before, the
fallbacks that read a refused payload again (``peek_ids``, ``_salvage_batch``) raised
``RecursionError`` out of the take, and the broker delivered the message again: a crash loop
in which no alarm of any edge got through."""

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from devices.topics import EdgeChannel, edge_topic
from hub.auth.rules import new_secret
from linli.brokers import MosquittoProcess, free_port
from tests.hub.conftest import hub_on
from tests.hub.factories import make_alert, make_device, make_status
from tests.hub.test_ingest_mqtt import RunningHub, acked, counters, edge_client, get_json, start_hub
from tests.polling import until

pytestmark = pytest.mark.mosquitto

DEEP = b"[" * 100_000
"""Valid JSON's beginning, 98 KiB: under the hub's shipped 256 KiB payload limit."""


@pytest.fixture
async def hub(mosquitto: MosquittoProcess, tmp_path: Path) -> AsyncIterator[RunningHub]:
    """A hub with its shipped payload limit, on a private broker."""
    settings = hub_on(
        mosquitto, tmp_path / "hub", http_port=free_port(), bootstrap_token=new_secret()
    )
    running = await start_hub(settings)
    yield running
    await running.close()


@pytest.mark.parametrize("channel", [EdgeChannel.ALERT, EdgeChannel.ALERTS, EdgeChannel.STATUS])
async def test_a_deeply_nested_payload_does_not_stop_the_hubs_ingest(
    hub: RunningHub, mosquitto: MosquittoProcess, channel: EdgeChannel
) -> None:
    async with edge_client(mosquitto, "e1") as victim:
        status = make_status("e1", devices=[make_device("v-smoke", edge_id="e1")])
        await victim.publish(edge_topic("e1", EdgeChannel.STATUS), status.model_dump_json(), qos=1)

        async def registered() -> bool:
            return (await counters(hub)).get("status", 0) >= 1

        await until(registered, "the victim's status")
        async with edge_client(mosquitto, "e2") as evil:
            await evil.publish(edge_topic("e2", channel), DEEP, qos=1)
        fire = make_alert(device_id="v-smoke", edge_id="e1", id=f"fire{uuid.uuid4().hex}")
        await victim.publish(edge_topic("e1", EdgeChannel.ALERT), fire.model_dump_json(), qos=1)
        await acked(victim, fire.id, edge_id="e1")
    cases = (await get_json(hub, "/api/v1/cases"))["items"]
    seen = await counters(hub)
    assert (seen.get("crashes", 0), [c["device_ids"] for c in cases]) == (0, [["v-smoke"]])
    assert seen.get("rejected.malformed", 0) >= 1
