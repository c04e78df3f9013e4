"""OPEN, critical (docs/security.md "Open"): one edge's stolen credentials claim another site's
detector before its own edge reports it, and that edge's fire is refused and dropped.

The hub registers the new device ids an edge lists in its status, first claim wins. The
attacker's edge lists a detector id the victim's site has not reported yet (a site being set
up, a replaced detector; ids follow a guessable scheme). The victim's edge's own claim is then
refused, and its fire is refused as ``foreign_device`` and acknowledged: lost. Found by an
outside tester's probe (stop 37); this test is strict-xfail until the fix lands, so that it
fails the suite the day it passes.
"""

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from devices.messages import Alert
from devices.topics import EdgeChannel, edge_topic
from linli.brokers import MosquittoProcess
from tests.hub.factories import make_alert, make_device, make_status
from tests.hub.test_ingest_mqtt import (
    RunningHub,
    acked,
    counters,
    edge_client,
    get_json,
    hub_settings,
    start_hub,
)
from tests.polling import until

pytestmark = pytest.mark.mosquitto

VICTIM, ATTACKER = "e1", "e2"
NEW_SMOKE = "b3-1201-smoke"


@pytest.fixture
async def hub(mosquitto: MosquittoProcess, tmp_path: Path) -> AsyncIterator[RunningHub]:
    running = await start_hub(hub_settings(mosquitto, tmp_path / "hub"))
    yield running
    await running.close()


async def _statuses(hub: RunningHub, at_least: int) -> None:
    async def counted() -> bool:
        return (await counters(hub)).get("status", 0) >= at_least

    await until(counted, f"{at_least} statuses")


@pytest.mark.xfail(
    strict=True,
    reason="open: first inventory claim wins; the real edge's fire is refused as foreign_device",
)
async def test_an_edge_cannot_squat_another_edges_new_device_and_silence_its_fire(
    hub: RunningHub, mosquitto: MosquittoProcess
) -> None:
    async with edge_client(mosquitto, ATTACKER) as attacker:
        squat = make_status(ATTACKER, devices=[make_device(NEW_SMOKE, edge_id=ATTACKER)])
        await attacker.publish(
            edge_topic(ATTACKER, EdgeChannel.STATUS), squat.model_dump_json(), qos=1
        )
        await _statuses(hub, 1)
    async with edge_client(mosquitto, VICTIM) as victim:
        own = make_status(VICTIM, devices=[make_device(NEW_SMOKE, edge_id=VICTIM)])
        await victim.publish(edge_topic(VICTIM, EdgeChannel.STATUS), own.model_dump_json(), qos=1)
        await _statuses(hub, 2)
        fire: Alert = make_alert(device_id=NEW_SMOKE, edge_id=VICTIM, id=f"fire{uuid.uuid4().hex}")
        await victim.publish(edge_topic(VICTIM, EdgeChannel.ALERT), fire.model_dump_json(), qos=1)
        await acked(victim, fire.id, edge_id=VICTIM)
    device = await get_json(hub, f"/api/v1/devices/{NEW_SMOKE}")
    cases = (await get_json(hub, "/api/v1/cases"))["items"]
    assert (device["edge_id"], [c["device_ids"] for c in cases]) == (VICTIM, [[NEW_SMOKE]])
