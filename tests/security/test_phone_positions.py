"""Responders' phones in OwnTracks' MQTT mode, end to end: the hub, served in-process on its
broker as `linli broker init` configures it (a real Mosquitto; the hub with its own identity,
the phones with theirs from `linli broker add-phone`, over TLS), records what a phone publishes
as the HTTP mode records what it posts (scenario 15: the nearer patrol goes first, and shows on
site when he arrives, on the live stream too); bad, foreign and non-location messages are
counted and change nothing, and the hub goes on. On SQLite and PostgreSQL.

The payloads are shaped as the apps send them (https://owntracks.org/booklet/tech/json/).
"""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from devices.owntracks import owntracks_topic
from hub.app import create_app
from hub.live.events import CaseChanged
from hub.settings import HubSettings
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import make_alert
from tests.hub.http import api_client, ok
from tests.hub.patrols import NIGHT_NOW, android_location, location, put_night_patrols
from tests.polling import until
from tests.security.brokers import Probe, SecuredBroker, phone, write_credentials

pytestmark = [pytest.mark.mosquitto]

NEAR, FAR = "patrol-near", "patrol-far"
TRANSITION = {"_type": "transition", "event": "enter", "desc": "Building 3", "t": "c", "tst": 1,
              "wtst": 1, "lat": 39.939, "lon": 116.406, "acc": 10}  # fmt: skip


@dataclass
class Night:
    """Scenario 15's hub on the broker, its admin's client and the clock it runs on."""

    app: FastAPI
    admin: httpx.AsyncClient
    clock: FakeClock
    broker: SecuredBroker

    @property
    def store(self) -> HubStore:
        """The hub's store."""
        store: HubStore = self.app.state.store
        return store

    async def counters(self) -> dict[str, int]:
        """Return the ingest's counters."""
        found: dict[str, int] = (await ok(await self.admin.get("/api/v1/health")))["counters"]
        return found

    async def positions(self) -> list[dict[str, Any]]:
        """Return the latest positions the hub lists."""
        items: list[dict[str, Any]] = (await ok(await self.admin.get("/api/v1/positions")))["items"]
        return items

    async def on_site(self, case_id: int) -> list[str]:
        """Return who the case's history says arrived on site, in order."""
        case = await ok(await self.admin.get(f"/api/v1/cases/{case_id}"))
        return [e["actor"] for e in case["events"] if e["action"] == "on_site"]


@pytest.fixture
async def night(
    hub_broker: SecuredBroker, database_url: str, tmp_path: Path
) -> AsyncIterator[Night]:
    """Serve a hub in-process on the hub's broker (its own identity, the loopback listener),
    on a clock standing at scenario 15's night, with scenario 15's site and people."""
    clock = FakeClock(NIGHT_NOW)
    settings = HubSettings(
        data_dir=tmp_path / "hub",
        database_url=database_url,
        mqtt_port=hub_broker.port,
        mqtt_credentials_file=write_credentials(tmp_path / "hub.json", hub_broker.init["hub"]),
        mqtt_client_id=f"hub-{uuid.uuid4().hex[:8]}",
    )
    app = create_app(settings, clock=clock)
    async with api_client(app) as admin:

        async def connected() -> bool:
            return bool((await ok(await admin.get("/api/v1/health")))["mqtt_connected"])

        await until(connected, "the hub is connected to its broker")
        await put_night_patrols(admin)
        yield Night(app, admin, clock, hub_broker)


async def _publish(phone: Probe, topic: str, payload: bytes) -> None:
    """Publish from a phone (paho, synchronous) without holding the hub's event loop."""
    assert await asyncio.to_thread(phone.publish, topic, payload), topic


async def test_a_phones_location_over_mqtt_sends_the_nearer_patrol_and_shows_him_on_site(
    night: Night,
) -> None:
    near = await asyncio.to_thread(phone, night.broker, NEAR)
    far = await asyncio.to_thread(phone, night.broker, FAR)
    await _publish(
        near, owntracks_topic(NEAR, "phone"), android_location(80, NIGHT_NOW - timedelta(minutes=2))
    )
    await _publish(
        far, owntracks_topic(FAR, "phone"), android_location(-600, NIGHT_NOW - timedelta(minutes=1))
    )

    async def both_placed() -> list[dict[str, Any]]:
        found = await night.positions()
        return found if len(found) == 2 else []

    placed = await until(both_placed, "both patrols' positions are recorded")
    assert [(p["responder_id"], p["site_id"], p["accuracy_m"]) for p in placed] == [
        (FAR, "lanyuan", 10),
        (NEAR, "lanyuan", 10),
    ]
    [fire] = night.store.intake.ingest_alerts(
        [make_alert(ts=NIGHT_NOW)], night.clock.now
    ).cases_opened
    assert [(m.duty, m.responder) for m in fire.team] == [("area", "grid-3"), ("patrol", NEAR)]

    night.clock.advance(90)
    with night.app.state.events.subscribe() as events:
        await _publish(near, owntracks_topic(NEAR, "phone"), android_location(15, night.clock.now))

        async def arrived() -> list[str]:
            return await night.on_site(fire.id)

        assert await until(arrived, "the nearer patrol is on site") == [NEAR]
        # The console's live stream: published once the lane's transaction is back, which the
        # API can show committed a moment before.
        told: list[CaseChanged] = []

        async def streamed() -> list[CaseChanged]:
            told.extend(e for e in events.take_ready(100) if isinstance(e, CaseChanged))
            return told

        # Only the fire case's changes (the supervisor, on the same advanced clock, may also
        # send its acknowledgement deadline's escalation: a second change of the same case).
        assert {e.case.id for e in await until(streamed, "the arrival on the stream")} == {fire.id}
    counted = await night.counters()
    assert counted["positions_recorded"] == 3
    assert not any(name.startswith("rejected.") for name in counted)


async def test_bad_foreign_and_other_messages_are_counted_and_change_nothing(
    night: Night,
) -> None:
    near = await asyncio.to_thread(phone, night.broker, NEAR)
    ghost = await asyncio.to_thread(phone, night.broker, "ghost")  # a phone, not on the roster
    topic = owntracks_topic(NEAR, "phone")
    await _publish(ghost, owntracks_topic("ghost", "phone"), android_location(0, NIGHT_NOW))
    for payload in [
        b"not json",
        b"[]",
        json.dumps(location(0, NIGHT_NOW, lat=91)).encode(),  # out of range
        json.dumps(location(0, NIGHT_NOW, tst="yesterday")).encode(),
        b"{" * 100_000 + b"}" * 100_000,  # nested past any parser, and larger than a message
        json.dumps({"_type": "location", "lon": 116.4, "tst": 1}).encode(),  # no lat
    ]:
        await _publish(near, topic, payload)
    await _publish(
        near, topic, android_location(0, NIGHT_NOW + timedelta(hours=1))
    )  # in the future
    for payload in [
        json.dumps({"_type": "lwt", "tst": int(NIGHT_NOW.timestamp())}).encode(),
        json.dumps(TRANSITION).encode(),  # on the location topic, where it is not expected
        b"",  # a retained message cleared
    ]:
        await _publish(near, topic, payload)
    # Topics the hub does not read: a card, an event, a location under a subtopic.
    await _publish(near, f"{topic}/info", json.dumps({"_type": "card", "name": "Li"}).encode())
    await _publish(near, f"{topic}/event", android_location(500, NIGHT_NOW))
    await _publish(near, f"{topic}/x", android_location(500, NIGHT_NOW))
    # Then a good fix: the lane goes on.
    await _publish(near, topic, android_location(80, NIGHT_NOW))

    async def settled() -> dict[str, int]:
        counted = await night.counters()
        done = counted.get("positions_recorded") and counted.get("rejected.unknown_responder")
        return counted if done else {}

    counted = await until(settled, "the good fix and the stranger's are handled")
    assert {k: v for k, v in counted.items() if k.startswith(("rejected.", "positions_"))} == {
        "rejected.malformed": 5,
        "rejected.oversized": 1,
        "rejected.fix_ahead": 1,
        "rejected.unknown_responder": 1,
        "positions_ignored": 3,
        "positions_queued": 12,
        "positions_recorded": 1,
    }
    [where] = await night.positions()
    assert (where["responder_id"], where["at"]) == (NEAR, "2026-03-02T18:00:00Z")
    assert where["lat"] == pytest.approx(location(80, NIGHT_NOW)["lat"])
    assert "crashes" not in counted
    assert (await ok(await night.admin.get("/api/v1/health")))["mqtt_connected"] is True
