"""One edge's flood of alerts does not hold up another edge's SOS (real Mosquitto, a real hub
served in-process on SQLite, plain clients as the two edges).

Edge A publishes 5,000 alerts in ``AlertBatch`` messages as fast as the broker takes them (a
compromised edge, or one draining a long outbox); then edge B publishes one SOS. Both wait
for the hub in its persistent session (it is away: so the whole flood is ahead of the SOS
whatever the speed of this machine). The hub takes what it has read fair between edges, so
B's SOS goes into one of its first takes instead of waiting behind all of A's. Asserted on
order, not on timings: how many of A's alerts the hub had acknowledged when it acknowledged
B's SOS (acknowledgements are published after each take's commit, in commit order).
"""

import asyncio
from pathlib import Path

import aiomqtt
import pytest

from devices.kinds import AlertKind, Severity
from devices.messages import AlertAck, AlertBatch
from devices.topics import EDGE_ROOT, EdgeChannel, edge_topic
from hub.auth.rules import new_secret
from linli.brokers import MosquittoProcess, free_port
from tests.hub.conftest import hub_on
from tests.hub.factories import make_alert
from tests.hub.test_ingest_mqtt import edge_client, get_json, start_hub

pytestmark = pytest.mark.mosquitto

FLOOD = 5_000
BATCH = 50
"""Alerts per ``AlertBatch`` message: the hub's default ``alert_batch_max``."""
A_DEVICES = [f"a-smoke-{i}" for i in range(5)]
B_SOS = "b-sos-1"
DEADLINE = 120.0


async def acks_until(watcher: aiomqtt.Client, sos_id: str, flood_edge: str) -> tuple[int, int]:
    """Read acknowledgements until every flood alert and the SOS are acknowledged; return how
    many flood alerts were acknowledged before the SOS, and in all."""
    flood_acked: set[str] = set()
    before_sos: int | None = None
    async for message in watcher.messages:
        assert isinstance(message.payload, bytes)
        ids = AlertAck.model_validate_json(message.payload).ids
        if message.topic.matches(edge_topic(flood_edge, EdgeChannel.ACK)):
            flood_acked.update(ids)
        elif sos_id in ids:
            before_sos = len(flood_acked)
        if before_sos is not None and len(flood_acked) == FLOOD:
            return before_sos, len(flood_acked)
    raise AssertionError("the acknowledgements ended")


async def test_a_quiet_edges_sos_overtakes_another_edges_flood(
    site_broker: MosquittoProcess, tmp_path: Path
) -> None:
    settings = hub_on(
        site_broker, tmp_path / "hub", http_port=free_port(), bootstrap_token=new_secret()
    )
    # The hub registers the devices and leaves its persistent session behind.
    hub = await start_hub(settings)
    try:
        for n, device_id in enumerate(A_DEVICES):
            device = {
                "id": device_id,
                "kind": "smoke",
                "location": f"Building 5/Unit {n}",
                "edge_id": "ea",
            }
            assert (await hub.http.post("/api/v1/devices", json=device)).status_code == 201
        sos_button = {
            "id": B_SOS,
            "kind": "sos_button",
            "location": "Building 9/Unit 901",
            "edge_id": "eb",
        }
        assert (await hub.http.post("/api/v1/devices", json=sos_button)).status_code == 201
    finally:
        await hub.close()
    flood = [
        make_alert(device_id=A_DEVICES[i % len(A_DEVICES)], edge_id="ea") for i in range(FLOOD)
    ]
    sos = make_alert(device_id=B_SOS, edge_id="eb", kind=AlertKind.SOS, severity=Severity.CRITICAL)
    # The whole flood, then the SOS, wait for the hub in its session on the broker, in that
    # order: the hub comes back to them (an outage; a flood while it is busy is the same).
    async with edge_client(site_broker, "ea") as edge_a, edge_client(site_broker, "eb") as edge_b:
        for start in range(0, FLOOD, BATCH):
            batch = AlertBatch(edge_id="ea", alerts=flood[start : start + BATCH])
            await edge_a.publish(
                edge_topic("ea", EdgeChannel.ALERTS), batch.model_dump_json(), qos=1
            )
        await edge_b.publish(edge_topic("eb", EdgeChannel.ALERT), sos.model_dump_json(), qos=1)
    async with aiomqtt.Client(site_broker.host, site_broker.port) as watcher:
        await watcher.subscribe(f"{EDGE_ROOT}/+/{EdgeChannel.ACK}", qos=1)
        hub = await start_hub(settings.model_copy(update={"http_port": free_port()}))
        try:
            async with asyncio.timeout(DEADLINE):
                before_sos, flood_acked = await acks_until(watcher, sos.id, "ea")
            # In the order it came in, the SOS would be stored after all 5,000.
            assert before_sos < FLOOD // 2, f"{before_sos} of the flood's alerts went first"
            # Nothing of the flood was lost: every alert acknowledged (stored) in the end.
            assert flood_acked == FLOOD
            cases = (await get_json(hub, "/api/v1/cases"))["items"]
            assert [c["device_ids"] for c in cases if c["kind"] == "sos"] == [[B_SOS]]
            health = await get_json(hub, "/api/v1/health")
            assert health["counters"]["alerts_new"] == FLOOD + 1
        finally:
            await hub.close()
