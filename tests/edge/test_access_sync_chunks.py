"""A 10,000-credential allow-list through a broker that refuses packets over 1 MiB.

The hub's broker runs the shipped site tuning (``deploy/mosquitto.conf``: ``max_packet_size
1048576``; tests/deploy/test_mosquitto_config.py shows it disconnects a bigger packet), so
the ~2.8 MB snapshot only arrives because it travels in chunks. A lost chunk must lead to a
re-request, never to a half-applied list.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiomqtt
import pytest

from devices.access import (
    AccessListUpdate,
    AccessSyncRequest,
    CredentialKind,
    DoorConfig,
    split_update,
)
from devices.topics import EdgeChannel, edge_topic
from edge.agent import EdgeAgent
from edge.settings import EdgeSettings
from hub.app import create_app
from linli.brokers import MosquittoProcess, site_tuning
from simulators.doors import enrolment
from tests.conftest import serving
from tests.edge.conftest import eventually, running_agent, two_broker_settings
from tests.hub.conftest import hub_on
from tests.hub.http import api_client, ok

pytestmark = pytest.mark.mosquitto

EDGE = "edge-big"
CREDENTIALS = 10_000
BROKER_LIMIT = 1024 * 1024
SITE_TOML = f"""
[site]
name = "Big Courtyard"
edge_id = "{EDGE}"

[[devices]]
id = "gate-reader"
kind = "door_reader"
location = "Main Gate"
"""
API = "/api/v1/access"


@pytest.fixture
def hub_broker(tmp_path: Path, mosquitto: MosquittoProcess) -> Iterator[MosquittoProcess]:
    broker = MosquittoProcess(tmp_path / "hub-broker", config_extra=site_tuning())
    assert f"max_packet_size {BROKER_LIMIT}" in broker.config_extra
    yield from serving(broker, "mosquitto")


@pytest.fixture
def edge_settings(
    tmp_path: Path, mosquitto: MosquittoProcess, hub_broker: MosquittoProcess
) -> EdgeSettings:
    return two_broker_settings(tmp_path / "site.toml", SITE_TOML, mosquitto, hub_broker)


async def test_ten_thousand_credentials_reach_the_edge_through_a_one_mib_broker(
    tmp_path: Path, edge_settings: EdgeSettings, hub_broker: MosquittoProcess
) -> None:
    hub_settings = hub_on(hub_broker, tmp_path / "hub")
    app = create_app(hub_settings)
    agent = EdgeAgent(edge_settings)
    async with api_client(app) as http, running_agent(agent):
        await ok(await http.post(f"{API}/sites", json={"edge_id": EDGE, "name": "Big"}), 201)
        gate = {"id": "gate", "reader_id": "gate-reader"}
        await ok(await http.put(f"{API}/sites/{EDGE}/doors/gate", json=gate), 201)
        group = await ok(
            await http.post(
                f"{API}/groups", json={"edge_id": EDGE, "name": "all", "door_ids": ["gate"]}
            ),
            201,
        )
        people = [
            {
                "name": f"Resident {n}",
                "group_ids": [group["id"]],
                "credentials": [{"kind": "card", "value": f"CB{n:08X}"}],
            }
            for n in range(CREDENTIALS)
        ]
        started = time.monotonic()
        result = await ok(
            await http.post(f"{API}/import", json={"edge_id": EDGE, "people": people}), 201
        )
        await eventually(
            lambda: agent.access.allow.version == result["version"],
            f"the edge at version {result['version']}",
        )
        synced = time.monotonic() - started
        print(f"\nimport of {CREDENTIALS} + sync to the edge: {synced:.2f} s")
        assert len(agent.access.allow) == CREDENTIALS
        _, entry = agent.access.allow.lookup(CredentialKind.CARD, f"cb{1234:08x}")
        assert entry is not None
        assert entry.rules[0].doors == frozenset({"gate"})

        # It only got there in chunks: one message would have been over the broker's limit.
        sync = app.state.access_sync
        assert sync.counters["chunks_published"] >= 10
        assert agent.counters.get("access.chunks_received", 0) >= 10
        assert agent.counters.get("access.updates_applied", 0) >= 1
        snapshot = app.state.access_store.allow_lists.updates_since(EDGE, 0)
        assert len(snapshot.model_dump_json()) > BROKER_LIMIT
        assert agent.counters.get("access.chunks_gap", 0) == 0

    # A restarted edge holds exactly the whole list (one transaction per update).
    reopened = EdgeAgent(edge_settings)
    try:
        assert reopened.access.allow.version == result["version"]
        assert len(reopened.access.allow) == CREDENTIALS
    finally:
        reopened.access.store.close()


def snapshot(version: int) -> AccessListUpdate:
    """A hub's snapshot of ``CREDENTIALS`` cards, as the hub would compile it."""
    cards = (f"CC{n:08X}" for n in range(CREDENTIALS))
    gate = DoorConfig(id="gate", reader_id="gate-reader")
    return enrolment(EDGE, bytes(range(32)), cards, [gate], version=version)


class PlayedHub:
    """Plays the hub's side of the allow-list link: records sync requests, sends chunks."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.requests: list[AccessSyncRequest] = []

    async def run(self) -> None:
        async for message in self.client.messages:
            assert isinstance(message.payload, bytes)
            self.requests.append(AccessSyncRequest.model_validate_json(message.payload))

    async def send(self, chunks: list[AccessListUpdate]) -> None:
        topic = edge_topic(EDGE, EdgeChannel.ACCESS_LIST)
        for chunk in chunks:
            await self.client.publish(topic, chunk.model_dump_json(), qos=1)


@asynccontextmanager
async def played_hub(broker: MosquittoProcess) -> AsyncIterator[PlayedHub]:
    async with aiomqtt.Client(broker.host, broker.port) as client:
        await client.subscribe(edge_topic(EDGE, EdgeChannel.ACCESS_SYNC), qos=1)
        hub = PlayedHub(client)
        task = asyncio.create_task(hub.run(), name="played-hub")
        try:
            yield hub
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_a_lost_chunk_is_asked_for_again_and_nothing_is_half_applied(
    edge_settings: EdgeSettings, hub_broker: MosquittoProcess
) -> None:
    whole = snapshot(version=7)
    chunks = split_update(whole)
    assert len(chunks) >= 10
    assert max(len(c.model_dump_json()) for c in chunks) < BROKER_LIMIT // 2
    agent = EdgeAgent(edge_settings)
    agent.access.hub.chunk_timeout_s = 1.0
    async with played_hub(hub_broker) as hub, running_agent(agent):
        await eventually(lambda: len(hub.requests) >= 1, "the edge's first sync request")
        assert hub.requests[0].have_version == 0

        # Bad chunks from the hub's side: refused and counted, nothing applied, link goes on.
        topic = edge_topic(EDGE, EdgeChannel.ACCESS_LIST)
        future = chunks[0].model_copy(update={"v": 3})
        bad = chunks[1].model_dump_json().replace('"part":1,', '"part":99,')
        for payload in (future.model_dump_json(), bad, "{not json"):
            await hub.client.publish(topic, payload, qos=1)
        await eventually(
            lambda: agent.counters.get("access.rejected.uplink") == 3, "the bad chunks counted"
        )
        assert agent.counters.get("access.chunks_received") is None
        assert agent.access.store.load().version == 0

        # The last chunk is lost: no gap shows, the silence after it asks again.
        asked = len(hub.requests)
        await hub.send(chunks[:-1])
        # Waiting for the counter too: on a loaded machine another kind of request (the
        # periodic sync) must not stand in for the one this step is about.
        await eventually(
            lambda: (
                agent.counters.get("access.chunks_timeout", 0) >= 1 and len(hub.requests) > asked
            ),
            "a re-request after the timeout",
        )
        assert hub.requests[-1].have_version == 0
        assert (agent.access.allow.version, len(agent.access.allow)) == (0, 0)
        stored = agent.access.store.load()
        assert (stored.version, len(stored), stored.site) == (0, 0, None)

        # The hub has moved on to version 8, and chunk 3 of its answer is lost: the edge
        # drops what it held of version 7, asks again at once, and applies nothing.
        newer = split_update(whole.model_copy(update={"to_version": 8}))
        asked = len(hub.requests)
        await hub.send([c for c in newer if c.part != 3])
        # (Not just any new request: under load, version 7's collection can still time out
        # once more before version 8's first chunk replaces it.)
        await eventually(
            lambda: agent.counters.get("access.chunks_gap") == 1 and len(hub.requests) > asked,
            "a re-request after the gap",
        )
        assert hub.requests[-1].have_version == 0
        assert agent.access.store.load().version == 0

        # The whole answer completes it: every credential, in one go.
        await hub.send(newer)
        await eventually(lambda: agent.access.allow.version == 8, "the snapshot applied")
        assert len(agent.access.allow) == CREDENTIALS
        assert len(agent.access.store.load()) == CREDENTIALS
        assert agent.counters.get("access.updates_applied") == 1
