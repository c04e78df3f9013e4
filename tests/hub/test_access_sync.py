"""The hub's access link on a real Mosquitto: catch-up answers, log ingest, bad messages."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiomqtt
import httpx
import pytest

from devices.access import (
    AccessEventKind,
    AccessListUpdate,
    AccessLogAck,
    AccessLogBatch,
    AccessRecord,
    AccessSyncRequest,
    AllowEntry,
)
from devices.topics import EdgeChannel, edge_topic
from hub.app import create_app
from linli.brokers import MosquittoProcess
from tests.hub.conftest import hub_on
from tests.hub.http import api_client
from tests.polling import until

pytestmark = pytest.mark.mosquitto

EDGE = "edge-s"
API = "/api/v1/access"


@contextlib.asynccontextmanager
async def linked(
    tmp_path: Path, mosquitto: MosquittoProcess, *channels: EdgeChannel
) -> AsyncIterator[tuple[httpx.AsyncClient, aiomqtt.Client]]:
    """A hub with its access link connected, and an edge's client reading ``channels``."""
    async with (
        api_client(create_app(hub_on(mosquitto, tmp_path))) as http,
        aiomqtt.Client(mosquitto.host, mosquitto.port) as edge,
    ):
        await edge.subscribe([(edge_topic(EDGE, channel), 1) for channel in channels])

        async def connected() -> bool:
            return bool((await http.get(f"{API}/status")).json()["connected"])

        await until(connected, "the access link to connect")
        yield http, edge


async def test_an_edge_catches_up_and_its_log_is_stored_once_and_acknowledged(
    tmp_path: Path, mosquitto: MosquittoProcess
) -> None:
    async with linked(tmp_path, mosquitto, EdgeChannel.ACCESS_LIST, EdgeChannel.ACCESS_ACK) as (
        http,
        edge,
    ):
        await http.post(f"{API}/sites", json={"edge_id": EDGE, "name": "S"})
        await http.put(f"{API}/sites/{EDGE}/doors/gate", json={"id": "gate", "reader_id": "r"})
        person = (await http.post(f"{API}/people", json={"edge_id": EDGE, "name": "P"})).json()
        credential = (
            await http.post(
                f"{API}/people/{person['id']}/credentials", json={"kind": "pin", "value": "2468"}
            )
        ).json()

        messages = edge.messages
        request = AccessSyncRequest(edge_id=EDGE, have_version=0)
        await edge.publish(
            edge_topic(EDGE, EdgeChannel.ACCESS_SYNC), request.model_dump_json(), qos=1
        )
        async with asyncio.timeout(10):
            message = await anext(messages)
        snapshot = AccessListUpdate.model_validate_json(bytes(message.payload))
        assert snapshot.full
        assert snapshot.to_version == 3
        assert {i.key for i in snapshot.items} == {"site", "door:gate", f"cred:{credential['id']}"}

        # The hub knows the edge's version now: a revocation is pushed at once, as a delta.
        await http.post(f"{API}/credentials/{credential['id']}/revoke")
        async with asyncio.timeout(5):
            message = await anext(messages)
        delta = AccessListUpdate.model_validate_json(bytes(message.payload))
        assert (delta.full, delta.from_version, delta.to_version) == (False, 3, 4)
        (item,) = delta.items
        assert isinstance(item.body, AllowEntry)
        assert item.body.status == "revoked"

        record = AccessRecord(
            id="rec-00000001",
            edge_id=EDGE,
            door_id="gate",
            kind=AccessEventKind.DENIED,
            ts=datetime(2026, 11, 20, tzinfo=UTC),
            reason="revoked",
        )
        batch = AccessLogBatch(edge_id=EDGE, records=[record, record])
        for _ in range(2):  # a re-send after a lost ack
            await edge.publish(
                edge_topic(EDGE, EdgeChannel.ACCESS_LOG), batch.model_dump_json(), qos=1
            )
            async with asyncio.timeout(5):
                message = await anext(messages)
            assert AccessLogAck.model_validate_json(bytes(message.payload)).ids == [record.id] * 2
        log = (await http.get(f"{API}/log")).json()["items"]
        assert [r["id"] for r in log] == [record.id]

        # Bad messages: counted, nothing stored, the link goes on.
        bad = [
            (edge_topic(EDGE, EdgeChannel.ACCESS_LOG), b"not json"),
            (edge_topic(EDGE, EdgeChannel.ACCESS_SYNC), b'{"edge_id": "edge-s"}'),
            (edge_topic("edge-other", EdgeChannel.ACCESS_LOG), batch.model_dump_json().encode()),
            (
                edge_topic(EDGE, EdgeChannel.ACCESS_SYNC),
                json.dumps({"edge_id": "x", "have_version": 0}).encode(),
            ),
        ]
        for topic, payload in bad:
            await edge.publish(topic, payload, qos=1)

        async def counted() -> dict[str, int] | None:
            counters: dict[str, int] = (await http.get(f"{API}/status")).json()["counters"]
            done = (
                counters.get("rejected.malformed") == 2
                and counters.get("rejected.edge_mismatch") == 2
            )
            return counters if done else None

        counters = await until(counted, "the bad messages counted")
        assert counters["log_new"] == 1
        assert counters["log_duplicate"] == 3
        assert len((await http.get(f"{API}/log")).json()["items"]) == 1
        assert (await http.get(f"{API}/status")).status_code == httpx.codes.OK


async def test_a_record_about_another_sites_door_is_refused_and_acknowledged(
    tmp_path: Path, mosquitto: MosquittoProcess
) -> None:
    async with linked(tmp_path, mosquitto, EdgeChannel.ACCESS_ACK) as (http, edge):
        for site, door in ((EDGE, "gate"), ("edge-b", "gate-b")):
            await http.post(f"{API}/sites", json={"edge_id": site, "name": site})
            await http.put(f"{API}/sites/{site}/doors/{door}", json={"id": door, "reader_id": door})

        def record(n: int, door: str) -> AccessRecord:
            return AccessRecord(
                id=f"rec-{n:08d}",
                edge_id=EDGE,
                door_id=door,
                kind=AccessEventKind.DOOR_FORCED,
                ts=datetime(2026, 11, 20, tzinfo=UTC),
            )

        batch = AccessLogBatch(edge_id=EDGE, records=[record(1, "gate"), record(2, "gate-b")])
        await edge.publish(edge_topic(EDGE, EdgeChannel.ACCESS_LOG), batch.model_dump_json(), qos=1)
        async with asyncio.timeout(5):
            message = await anext(edge.messages)
        # Both acknowledged: the edge does not send the refused one again and again.
        assert AccessLogAck.model_validate_json(bytes(message.payload)).ids == [
            "rec-00000001",
            "rec-00000002",
        ]
        log = (await http.get(f"{API}/log")).json()["items"]
        assert [(r["id"], r["door_id"]) for r in log] == [("rec-00000001", "gate")]
        counters = (await http.get(f"{API}/status")).json()["counters"]
        assert counters["rejected.foreign_record"] == 1
        assert counters["log_new"] == 1
        assert counters.get("log_duplicate", 0) == 0
