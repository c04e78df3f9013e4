"""One edge's alert must never stop the hub taking another edge's (docs/security.md, "An alert
stamped where the hub cannot reckon"): the hub served in-process with its own identity on its
broker as `linli broker init` configures it (a real Mosquitto), edges with theirs from
`linli broker add-edge`. On SQLite and PostgreSQL.

Found by an outside review: an alert stamped in the first days of year 1 (valid RFC 3339, and
an edge stamps an alarm with its device's own time) made the case intake raise
``OverflowError``. That is no database error, so it escaped the take: the hub's session failed
with every other edge's alert of the take unacknowledged, and the hub reconnected. Left
retained on the thief's own alert topic, one such message was handed over again at each
resubscription: the hub's ingest failed at every reconnect, for good.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from devices.kinds import AlertKind, Severity
from devices.messages import AlertAck
from devices.topics import EdgeChannel, edge_topic
from hub.app import create_app
from hub.settings import HubSettings
from tests.hub.factories import make_alert, make_device, make_status
from tests.hub.http import api_client, ok
from tests.polling import until
from tests.security.brokers import Probe, SecuredBroker, linli
from tests.security.test_revoked_edge_status import settings

__all__ = ["settings"]  # the hub on its broker, its own identity

pytestmark = [pytest.mark.mosquitto]

YEAR_ONE = datetime(1, 1, 1, tzinfo=UTC)


@asynccontextmanager
async def running_hub(settings: HubSettings) -> AsyncIterator[httpx.AsyncClient]:
    """Serve a hub until the block ends; yield an admin's client once it is connected."""
    async with api_client(create_app(settings)) as admin:

        async def connected() -> bool:
            return bool((await ok(await admin.get("/api/v1/health")))["mqtt_connected"])

        await until(connected, "the hub is connected to its broker")
        yield admin


async def counters(admin: httpx.AsyncClient) -> dict[str, int]:
    """Return the ingest's counters as the hub's health shows them."""
    found: dict[str, int] = (await ok(await admin.get("/api/v1/health")))["counters"]
    return found


async def online_edge(admin: httpx.AsyncClient, broker: SecuredBroker, edge_id: str) -> Probe:
    """Issue an edge its identity, listen on its ack topic, have it list one device of its
    own (``<edge_id>-dev``) and wait until the hub registered it."""
    issued = await asyncio.to_thread(linli, "broker", "add-edge", str(broker.folder), edge_id)
    edge = await asyncio.to_thread(broker.connect, issued["username"], issued["password"])
    assert await asyncio.to_thread(edge.subscribe, edge_topic(edge_id, EdgeChannel.ACK))
    device = make_device(f"{edge_id}-dev", edge_id=edge_id, location=f"{edge_id}/Unit 1")
    status = make_status(edge_id, devices=[device])
    raw = status.model_copy(update={"ts": datetime.now(UTC)}).model_dump_json()
    topic = edge_topic(edge_id, EdgeChannel.STATUS)
    assert await asyncio.to_thread(edge.publish, topic, raw, retain=True)

    async def registered() -> bool:
        devices = (await ok(await admin.get("/api/v1/devices")))["items"]
        return device.id in [d["id"] for d in devices]

    await until(registered, f"{edge_id}'s device registered")
    return edge


async def acked(edge: Probe, edge_id: str, alert_id: str) -> None:
    """Wait until the hub acknowledged ``alert_id`` to ``edge_id``."""

    async def named() -> bool:
        acks = edge.received(edge_topic(edge_id, EdgeChannel.ACK))
        return any(alert_id in AlertAck.model_validate_json(a).ids for a in acks)

    await until(named, f"alert {alert_id} of {edge_id} acknowledged")


async def stored(admin: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    """Return the alerts the hub stored, by id."""
    return {a["id"]: a for a in (await ok(await admin.get("/api/v1/alerts")))["items"]}


async def test_an_alert_stamped_in_year_one_does_not_stop_the_hub_taking_another_edges_sos(
    hub_broker: SecuredBroker, settings: HubSettings
) -> None:
    async with running_hub(settings) as admin:
        thief = await online_edge(admin, hub_broker, "thief")
        victim = await online_edge(admin, hub_broker, "victim")

        # The thief's own detector's fire, stamped in year 1, retained: handed to the hub
        # again at every subscription.
        now = datetime.now(UTC)
        poison = make_alert(device_id="thief-dev", edge_id="thief", ts=YEAR_ONE)
        poison = poison.model_copy(update={"detected_at": now})
        topic = edge_topic("thief", EdgeChannel.ALERT)
        assert await asyncio.to_thread(thief.publish, topic, poison.model_dump_json(), retain=True)
        sos = make_alert(
            device_id="victim-dev", edge_id="victim", kind=AlertKind.SOS, ts=now
        ).model_copy(update={"severity": Severity.CRITICAL})
        victim_topic = edge_topic("victim", EdgeChannel.ALERT)
        assert await asyncio.to_thread(victim.publish, victim_topic, sos.model_dump_json())
        await acked(victim, "victim", sos.id)
        await acked(thief, "thief", poison.id)
        alerts = await stored(admin)
        assert sos.id in alerts
        # Taken at the edge's own time of decision, its device's stamp kept in its reason.
        assert datetime.fromisoformat(alerts[poison.id]["ts"]) == now
        assert alerts[poison.id]["reason"]["values"]["ts_unreckonable"] == YEAR_ONE.isoformat()
        assert (await counters(admin)).get("crashes", 0) == 0

    # A hub restarted on its session subscribes again and is handed the retained copy: it
    # goes on taking the victim's alarms.
    async with running_hub(settings) as admin:
        again = make_alert(
            device_id="victim-dev", edge_id="victim", kind=AlertKind.SOS, ts=datetime.now(UTC)
        )
        assert await asyncio.to_thread(victim.publish, victim_topic, again.model_dump_json())
        await acked(victim, "victim", again.id)
        assert again.id in await stored(admin)
        assert (await counters(admin)).get("crashes", 0) == 0
    thief.close()
    victim.close()
