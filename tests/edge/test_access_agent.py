"""Door access through a real edge agent and a real hub (in-process) on real Mosquitto brokers.

The site's broker and the hub's broker are separate, so the hub's can be stopped: the edge is
then offline and must decide alone.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import pytest

from devices.access import ReaderAction, ReaderCommand
from devices.topics import DeviceChannel, credential_topic, device_topic
from edge.access.door import DoorPhase
from edge.agent import EdgeAgent
from edge.settings import EdgeSettings
from hub.app import create_app
from hub.settings import HubSettings
from linli.brokers import MosquittoProcess
from tests.background import running
from tests.edge.conftest import eventually, running_agent, two_broker_settings
from tests.edge.test_access_store import fill_the_card
from tests.hub.conftest import hub_on
from tests.hub.http import api_client
from tests.polling import until

pytestmark = pytest.mark.mosquitto

EDGE = "edge-doors"
SITE_TOML = f"""
[site]
name = "Door Courtyard"
edge_id = "{EDGE}"

[[devices]]
id = "gate-reader"
kind = "door_reader"
location = "Main Gate"

[[devices]]
id = "gate-door"
kind = "door_contact"
location = "Main Gate"

[[devices]]
id = "lobby-reader"
kind = "door_reader"
location = "Building 3/Entrance"
"""
ALICE_CARD = "A1B2C3D4"
BOB_CARD = "B0B0B0B0"
GATE = {
    "id": "gate",
    "name": "Main gate",
    "reader_id": "gate-reader",
    "contact_id": "gate-door",
    "unlock_s": 3,
    "prewarn_s": 1,
    "held_open_s": 2,
    "burst_count": 8,
}


class Reader:
    """Plays the door controllers: presents credentials, records the commands they get."""

    def __init__(self, broker: MosquittoProcess) -> None:
        self.broker = broker
        self.commands: list[tuple[str, ReaderCommand]] = []
        self.ready = False

    async def run(self) -> None:
        async with aiomqtt.Client(self.broker.host, self.broker.port) as client:
            await client.subscribe("linli/dev/+/set", qos=1)
            self.ready = True
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                reader = message.topic.value.split("/")[2]
                self.commands.append((reader, ReaderCommand.model_validate_json(message.payload)))

    async def publish(self, topic: str, payload: str | bytes) -> None:
        async with aiomqtt.Client(self.broker.host, self.broker.port) as client:
            await client.publish(topic, payload, qos=1)

    async def present(self, card: str, reader: str = "gate-reader") -> ReaderCommand:
        """Present a card and return the command the reader got for it."""
        seen = len(self.commands)
        await self.publish(credential_topic(reader), json.dumps({"card": card}))
        await eventually(lambda: len(self.commands) > seen, f"a command for card at {reader}")
        return self.commands[seen][1]

    async def door(self, *, open: bool) -> None:
        payload = json.dumps({"contact": not open})  # contact true = closed
        await self.publish(device_topic("gate-door", DeviceChannel.STATE), payload)


@pytest.fixture
def edge_settings(
    tmp_path: Path, mosquitto: MosquittoProcess, hub_broker: MosquittoProcess
) -> EdgeSettings:
    return two_broker_settings(tmp_path / "doors.toml", SITE_TOML, mosquitto, hub_broker)


@pytest.fixture
def hub_settings(tmp_path: Path, hub_broker: MosquittoProcess) -> HubSettings:
    return hub_on(hub_broker, tmp_path / "hub")


async def ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, response.text
    return response.json()


async def enrol(http: httpx.AsyncClient) -> dict[str, int]:
    """Create the site, the gate, a residents group, Alice and Bob with their cards."""
    api = "/api/v1/access"
    await ok(
        await http.post(
            f"{api}/sites", json={"edge_id": EDGE, "name": "Doors", "timezone": "Asia/Shanghai"}
        )
    )
    await ok(await http.put(f"{api}/sites/{EDGE}/doors/gate", json=GATE))
    group = await ok(
        await http.post(
            f"{api}/groups", json={"edge_id": EDGE, "name": "residents", "door_ids": ["gate"]}
        )
    )
    ids: dict[str, int] = {}
    for name, card in (("Alice", ALICE_CARD), ("Bob", BOB_CARD)):
        person = await ok(
            await http.post(
                f"{api}/people", json={"edge_id": EDGE, "name": name, "group_ids": [group["id"]]}
            )
        )
        credential = await ok(
            await http.post(
                f"{api}/people/{person['id']}/credentials", json={"kind": "card", "value": card}
            )
        )
        ids[name] = person["id"]
        ids[f"{name}-card"] = credential["id"]
    return ids


async def hub_version(http: httpx.AsyncClient) -> int:
    sites = await ok(await http.get("/api/v1/access/sites"))
    version: int = sites["items"][0]["version"]
    return version


async def in_sync(http: httpx.AsyncClient, agent: EdgeAgent) -> None:
    version = await hub_version(http)
    await eventually(lambda: agent.access.allow.version == version, f"edge at version {version}")


@asynccontextmanager
async def hub_and_reader(
    hub_settings: HubSettings, mosquitto: MosquittoProcess
) -> AsyncIterator[tuple[httpx.AsyncClient, "Reader"]]:
    """Run the hub's API, its access link subscribed, and a reader (no edge yet)."""
    reader = Reader(mosquitto)
    app = create_app(hub_settings)
    async with api_client(app) as http, running(reader.run(), name="reader"):
        # The edge asks for its list when it connects, and again every 30 s: an edge that
        # connects before the hub's access link has subscribed waits for the next ask,
        # longer than these tests wait. So the hub is listening first.
        await eventually(
            lambda: app.state.access_sync is not None and app.state.access_sync.connected,
            "the hub's access link to subscribe",
        )
        yield http, reader


@asynccontextmanager
async def enrolled_site(
    edge_settings: EdgeSettings, hub_settings: HubSettings, mosquitto: MosquittoProcess
) -> AsyncIterator[tuple[httpx.AsyncClient, "Reader", EdgeAgent, dict[str, int]]]:
    """Run the hub's API, a reader and an agent; residents enrolled, the edge in sync."""
    agent = EdgeAgent(edge_settings)
    async with hub_and_reader(hub_settings, mosquitto) as (http, reader), running_agent(agent):
        await eventually(lambda: reader.ready, "the reader to subscribe")
        ids = await enrol(http)
        await in_sync(http, agent)
        yield http, reader, agent, ids


async def test_cards_open_the_gate_revocation_arrives_in_seconds_and_everything_is_logged(
    edge_settings: EdgeSettings, hub_settings: HubSettings, mosquitto: MosquittoProcess
) -> None:
    async with enrolled_site(edge_settings, hub_settings, mosquitto) as (http, reader, agent, ids):
        command = await reader.present(ALICE_CARD.lower())
        assert (command.command, command.door_id, command.duration_s) == (
            ReaderAction.UNLOCK,
            "gate",
            3,
        )
        assert (await reader.present("FFFF0000")).command is ReaderAction.DENY

        revoked_at = asyncio.get_running_loop().time()
        await ok(await http.post(f"/api/v1/access/credentials/{ids['Alice-card']}/revoke"))
        await in_sync(http, agent)
        assert asyncio.get_running_loop().time() - revoked_at < 3.0
        assert (await reader.present(ALICE_CARD)).command is ReaderAction.DENY
        assert (await reader.present(BOB_CARD)).command is ReaderAction.UNLOCK

        async def logged() -> list[dict[str, Any]]:
            body = await ok(await http.get("/api/v1/access/log", params={"door_id": "gate"}))
            items: list[dict[str, Any]] = body["items"]
            return items

        async def four_decisions() -> bool:
            return len([r for r in await logged() if r["kind"] in ("granted", "denied")]) == 4

        await until(four_decisions, "four decisions in the hub's access log", timeout_s=20)
        decisions = sorted(
            (r for r in await logged() if r["kind"] in ("granted", "denied")), key=lambda r: r["ts"]
        )
        assert [(r["kind"], r["reason"], r["person_id"]) for r in decisions] == [
            ("granted", "granted", ids["Alice"]),
            ("denied", "unknown_credential", None),
            ("denied", "revoked", ids["Alice"]),
            ("granted", "granted", ids["Bob"]),
        ]
        assert decisions[1]["fingerprint"]
        assert len(decisions[1]["fingerprint"]) == 12
        alice = await ok(await http.get("/api/v1/access/log", params={"person_id": ids["Alice"]}))
        assert len(alice["items"]) == 2
        later = await ok(await http.get("/api/v1/access/log", params={"since": decisions[3]["ts"]}))
        assert [r["id"] for r in later["items"] if r["kind"] == "granted"] == [decisions[3]["id"]]
        await eventually(lambda: agent.access.store.log_depth() == 0, "the log acknowledged")
    text = (edge_settings.data_dir / "access.sqlite3").read_bytes()
    assert ALICE_CARD.encode() not in text
    assert BOB_CARD.encode() not in text


async def test_an_offline_edge_decides_alone_and_catches_up_when_the_hub_returns(
    edge_settings: EdgeSettings,
    hub_settings: HubSettings,
    mosquitto: MosquittoProcess,
    hub_broker: MosquittoProcess,
) -> None:
    async with enrolled_site(edge_settings, hub_settings, mosquitto) as (http, reader, agent, ids):
        # Alice's revocation reaches the edge; then the uplink goes.
        await ok(await http.post(f"/api/v1/access/credentials/{ids['Alice-card']}/revoke"))
        await in_sync(http, agent)
        hub_broker.stop()
        await eventually(lambda: not agent.uplink_ready, "the edge to notice the hub is gone")

        assert (await reader.present(ALICE_CARD)).command is ReaderAction.DENY
        # Bob is revoked while the edge cannot hear it: the edge still knows him as valid.
        await ok(await http.post(f"/api/v1/access/credentials/{ids['Bob-card']}/revoke"))
        assert (await reader.present(BOB_CARD)).command is ReaderAction.UNLOCK
        # The reader gets its command before the decision's group commit (docs/access.md):
        # the log record follows it.
        await eventually(lambda: agent.access.store.log_depth() >= 2, "both decisions logged")

        hub_broker.start()
        await in_sync(http, agent)
        assert (await reader.present(BOB_CARD)).command is ReaderAction.DENY

        async def offline_decisions_arrived() -> bool:
            log = await ok(await http.get("/api/v1/access/log"))
            reasons = [(r["person_id"], r["reason"]) for r in log["items"]]
            return (ids["Alice"], "revoked") in reasons and (ids["Bob"], "granted") in reasons

        await until(offline_decisions_arrived, "the offline decisions at the hub", timeout_s=20)
        await eventually(lambda: agent.access.store.log_depth() == 0, "the log acknowledged")


async def test_a_card_on_a_full_sd_card_opens_the_door_and_holds_nothing_up(
    edge_settings: EdgeSettings, hub_settings: HubSettings, mosquitto: MosquittoProcess
) -> None:
    """The access file's disk full: a door's record it refused failed the step, its frame was
    never acknowledged, and the edge's device session reconnected for ever, every alarm of the
    site queued behind that frame. Now the access store goes on in memory."""
    async with enrolled_site(edge_settings, hub_settings, mosquitto) as (http, reader, agent, ids):
        store = agent.access.store
        with store._lock:
            fill_the_card(store)

        assert (await reader.present(BOB_CARD)).command is ReaderAction.UNLOCK
        assert (await reader.present(ALICE_CARD)).command is ReaderAction.UNLOCK

        async def both_logged() -> bool:
            log = await ok(await http.get("/api/v1/access/log"))
            return {ids["Alice"], ids["Bob"]} <= {r["person_id"] for r in log["items"]}

        await until(both_logged, "both decisions in the hub's access log", timeout_s=20)
        assert not store.on_disk
        assert agent.counters["local_connects"] == 1  # the device session never dropped

        async def told() -> bool:
            edges = (await ok(await http.get("/api/v1/edges")))["items"]
            return [e["in_memory"] for e in edges] == [["access"]]

        # The operator sees which card to replace.
        await until(told, "the hub told that the access store is in memory", timeout_s=20)


async def test_a_forced_gate_becomes_a_case_and_clears_when_it_closes(
    edge_settings: EdgeSettings, hub_settings: HubSettings, mosquitto: MosquittoProcess
) -> None:
    async with enrolled_site(edge_settings, hub_settings, mosquitto) as (http, reader, agent, _ids):
        await reader.door(open=True)

        async def cases(kind: str) -> list[dict[str, Any]]:
            return [
                c for c in (await ok(await http.get("/api/v1/cases")))["items"] if c["kind"] == kind
            ]

        async def forced_case() -> bool:
            return len(await cases("door_forced")) == 1

        await until(forced_case, "a door_forced case", timeout_s=20)
        await reader.door(open=False)

        async def cleared() -> bool:
            alerts = (await ok(await http.get("/api/v1/alerts")))["items"]
            return any(a["kind"] == "door_forced" and a["state"] == "cleared" for a in alerts)

        await until(cleared, "the forced alert cleared", timeout_s=20)
        assert agent.access.doors["gate"].phase is DoorPhase.CLOSED

        async def door_events() -> bool:
            kinds = {r["kind"] for r in (await ok(await http.get("/api/v1/access/log")))["items"]}
            return {"door_opened", "door_forced", "door_closed"} <= kinds

        await until(door_events, "the door events in the access log", timeout_s=20)


async def test_a_door_held_open_across_an_agent_restart_alarms_after_it(
    edge_settings: EdgeSettings, hub_settings: HubSettings, mosquitto: MosquittoProcess
) -> None:
    reader = Reader(mosquitto)
    async with api_client(create_app(hub_settings)) as http, running(reader.run(), name="reader"):
        await eventually(lambda: reader.ready, "the reader to subscribe")
        await enrol(http)
        first = EdgeAgent(edge_settings)
        async with running_agent(first):
            await in_sync(http, first)
            assert (await reader.present(BOB_CARD)).command is ReaderAction.UNLOCK
            await reader.door(open=True)
            await eventually(
                lambda: first.access.doors["gate"].phase is DoorPhase.OPEN, "the door open"
            )
        # Down for longer than held_open_s (2 s) with the door open.
        await asyncio.sleep(2.5)
        second = EdgeAgent(edge_settings)
        assert second.access.doors["gate"].phase is DoorPhase.OPEN
        async with running_agent(second):
            await eventually(
                lambda: second.access.doors["gate"].phase is DoorPhase.HELD_OPEN,
                "held open raised after the restart",
            )

            async def held_case() -> bool:
                cases = (await ok(await http.get("/api/v1/cases")))["items"]
                return any(c["kind"] == "door_held_open" for c in cases)

            await until(held_case, "a door_held_open case", timeout_s=20)
            assert any(
                r == "gate-reader" and c.command is ReaderAction.WARN for r, c in reader.commands
            )
            await reader.door(open=False)
            await eventually(
                lambda: second.access.doors["gate"].phase is DoorPhase.CLOSED, "the door closed"
            )
            await eventually(lambda: second.outbox.depth() == 0, "the alerts acknowledged")


async def test_malformed_frames_and_unknown_readers_are_rejected_counted_and_never_unlock(
    edge_settings: EdgeSettings, hub_settings: HubSettings, mosquitto: MosquittoProcess
) -> None:
    async with enrolled_site(edge_settings, hub_settings, mosquitto) as (
        _http,
        reader,
        agent,
        _ids,
    ):
        gate = credential_topic("gate-reader")
        for payload in (b"not json", b'{"card": 12345}', b"{}", b'{"pin": "1"}', b"x" * 5000):
            await reader.publish(gate, payload)
        await reader.publish(credential_topic("lobby-reader"), json.dumps({"card": BOB_CARD}))
        await reader.publish(credential_topic("nobody"), json.dumps({"card": BOB_CARD}))
        await reader.publish("linli/dev/bad$id/credential", json.dumps({"card": BOB_CARD}))

        def counted() -> bool:
            c = agent.counters
            return (
                c.get("access.rejected.malformed") == 4
                and c.get("access.rejected.oversized") == 1
                and c.get("access.rejected.unknown_reader") == 2
                and c.get("access.rejected.unknown_topic") == 1
            )

        await eventually(counted, "every bad frame counted by reason")
        assert reader.commands == []
        # The agent keeps working.
        assert (await reader.present(BOB_CARD)).command is ReaderAction.UNLOCK
        assert [r for r, _ in reader.commands] == ["gate-reader"]
        assert agent.counters.get("access.granted") == 1
