"""A revoked edge stays revoked at the hub (docs/security.md, "Revoked edges' retained
messages"): the hub served in-process with its own identity on its broker as `linli broker
init` configures it (a real Mosquitto), edges with theirs from `linli broker add-edge`.

Before, `linli broker revoke` cut the edge off but left its retained `online` status on the
broker, and its last will was never published: the hub kept the edge online, and at every
reconnect or restart took the status again, its inventory with it. On SQLite and PostgreSQL.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from devices.topics import EdgeChannel, edge_topic
from hub.app import create_app
from hub.settings import HubSettings
from linli.trust.folder import BrokerFolder
from tests.hub.factories import make_device, make_status
from tests.hub.http import api_client, ok
from tests.polling import until
from tests.security.brokers import Probe, SecuredBroker, linli, write_credentials

pytestmark = [pytest.mark.mosquitto]

GONE, KEPT = "gone", "kept"


@pytest.fixture
def settings(hub_broker: SecuredBroker, database_url: str, tmp_path: Path) -> HubSettings:
    """The hub's settings on its broker (its own identity, the loopback listener)."""
    return HubSettings(
        data_dir=tmp_path / "hub",
        database_url=database_url,
        mqtt_port=hub_broker.port,
        mqtt_credentials_file=write_credentials(tmp_path / "hub.json", hub_broker.init["hub"]),
        mqtt_client_id=f"hub-{uuid.uuid4().hex[:8]}",
    )


@asynccontextmanager
async def running_hub(settings: HubSettings) -> AsyncIterator[httpx.AsyncClient]:
    """Serve a hub until the block ends (leaving it is a clean stop; its broker session is
    kept); yield an admin's client once it is connected to its broker."""
    async with api_client(create_app(settings)) as admin:

        async def connected() -> bool:
            return bool((await ok(await admin.get("/api/v1/health")))["mqtt_connected"])

        await until(connected, "the hub is connected to its broker")
        yield admin


async def edges(admin: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    """Return the edges the hub lists, by id."""
    return {e["id"]: e for e in (await ok(await admin.get("/api/v1/edges")))["items"]}


async def edge_in(admin: httpx.AsyncClient, edge_id: str, state: str) -> dict[str, Any]:
    """Wait until the hub lists ``edge_id`` in ``state``; return it."""

    async def listed() -> dict[str, Any] | None:
        found = (await edges(admin)).get(edge_id)
        return found if found is not None and found["state"] == state else None

    return await until(listed, f"edge {edge_id} {state}")


async def issue(broker: SecuredBroker, edge_id: str) -> Probe:
    """Issue an edge its identity (`linli broker add-edge`) and connect as it."""
    issued = await asyncio.to_thread(linli, "broker", "add-edge", str(broker.folder), edge_id)
    return await asyncio.to_thread(broker.connect, issued["username"], issued["password"])


async def say_online(edge: Probe, edge_id: str, *devices: str) -> None:
    """Publish the edge's status as the agent does: retained, QoS 1, stamped now."""
    status = make_status(edge_id, devices=[make_device(d, edge_id=edge_id) for d in devices])
    raw = status.model_copy(update={"ts": datetime.now(UTC)}).model_dump_json()
    topic = edge_topic(edge_id, EdgeChannel.STATUS)
    assert await asyncio.to_thread(edge.publish, topic, raw, retain=True)


async def come_online(
    admin: httpx.AsyncClient, broker: SecuredBroker, edge_id: str, *devices: str
) -> Probe:
    """Issue an edge its identity, have it say it is online with ``devices``, and wait until the
    hub lists it online; return the edge's connection."""
    edge = await issue(broker, edge_id)
    await say_online(edge, edge_id, *devices)
    await edge_in(admin, edge_id, "online")
    return edge


async def revoke(broker: SecuredBroker, edge_id: str) -> None:
    """`linli broker revoke` the edge on the running broker: cut off, retained cleared."""
    out = await asyncio.to_thread(linli, "broker", "revoke", str(broker.folder), edge_id)
    assert out == {"revoked": True, "id": edge_id, "reloaded": True, "cleared": True}


async def seen_after_reconnect(admin: httpx.AsyncClient, broker: SecuredBroker) -> None:
    """Wait until the hub took a status another edge sent after it connected: whatever the
    broker handed over at its subscription (retained copies) was handled before it."""
    kept = await come_online(admin, broker, KEPT)
    kept.close()


async def test_a_revoked_edge_is_offline_and_stays_so_across_hub_reconnects(
    hub_broker: SecuredBroker, settings: HubSettings
) -> None:
    async with running_hub(settings) as admin:
        gone = await come_online(admin, hub_broker, GONE, "gone-smoke")
        await revoke(hub_broker, GONE)
        assert gone.disconnected.wait(5)
        revoked = await edge_in(admin, GONE, "offline")
        assert revoked["revoked_at"] is not None

    # The hub reconnects (here: restarts on its kept session): nothing brings the edge back.
    async with running_hub(settings) as admin:
        await seen_after_reconnect(admin, hub_broker)
        assert (await edges(admin))[GONE] == revoked

    # Nor does a new session (another hub worker, or a session the broker expired).
    fresh = settings.model_copy(update={"mqtt_client_id": f"hub-{uuid.uuid4().hex[:8]}"})
    async with running_hub(fresh) as admin:
        await seen_after_reconnect(admin, hub_broker)
        assert (await edges(admin))[GONE] == revoked


async def test_an_edge_revoked_while_the_hub_is_down_is_offline_when_it_is_back(
    hub_broker: SecuredBroker, settings: HubSettings
) -> None:
    async with running_hub(settings) as admin:
        await come_online(admin, hub_broker, GONE, "gone-smoke")
    await revoke(hub_broker, GONE)  # the broker first, the hub later
    async with running_hub(settings) as admin:
        revoked = await edge_in(admin, GONE, "offline")
        assert revoked["revoked_at"] is not None
        await seen_after_reconnect(admin, hub_broker)
        assert (await edges(admin))[GONE] == revoked


async def test_a_stale_retained_status_does_not_bring_a_revoked_edge_back(
    hub_broker: SecuredBroker, settings: HubSettings
) -> None:
    """The hub knows the edge was revoked, and the broker still hands it a retained status (a
    persistence file older than the clearing, say). Only a status the edge sends live takes it
    back: the edge was issued again."""
    async with running_hub(settings) as admin:
        await come_online(admin, hub_broker, GONE)
        await revoke(hub_broker, GONE)
        revoked = await edge_in(admin, GONE, "offline")

    # A retained online status back on the broker, with a device never listed before;
    # stamped now (an edge clock ahead, say), so only that the broker hands it over from its
    # store tells it is stale. Put there by an identity issued for it and withdrawn the way
    # `revoke` did before, which left the copy.
    stale = await issue(hub_broker, GONE)
    await say_online(stale, GONE, "stale-smoke")
    folder = BrokerFolder(hub_broker.folder)
    assert folder.revoke(GONE)
    assert folder.reload()
    assert stale.disconnected.wait(5)

    fresh = settings.model_copy(update={"mqtt_client_id": f"hub-{uuid.uuid4().hex[:8]}"})
    async with running_hub(fresh) as admin:
        await seen_after_reconnect(admin, hub_broker)
        health = await ok(await admin.get("/api/v1/health"))
        assert health["counters"].get("rejected.revoked_edge", 0) >= 1
        now = (await edges(admin))[GONE]
        assert (now["state"], now["revoked_at"]) == ("offline", revoked["revoked_at"])
        devices = await ok(await admin.get("/api/v1/devices"))
        assert "stale-smoke" not in [d["id"] for d in devices["items"]]

        # Issued again, the edge says it is online, live: taken, the revocation lifted.
        again = await issue(hub_broker, GONE)
        await say_online(again, GONE, "gone-smoke")
        back = await edge_in(admin, GONE, "online")
        assert back["revoked_at"] is None
        devices = await ok(await admin.get("/api/v1/devices"))
        assert "gone-smoke" in [d["id"] for d in devices["items"]]
