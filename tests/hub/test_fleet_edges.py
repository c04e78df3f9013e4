"""Which edge serves a device: registrations without ``edge_id``, unserved devices, and the
Tasmota/Shelly fields kept through the hub and back to the edge."""

from collections.abc import Mapping, Sequence
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, event

from devices.kinds import DeviceKind
from devices.registry import Device
from hub.fleet.claims import Claim, Registration
from hub.fleet.rules import EdgeChoiceError, assign_edge, unserved_reason
from hub.store import HubStore
from tests.hub.factories import T0, make_status
from tests.hub.test_api import store_of

LEAK = {"id": "bike-leak", "kind": "water_leak", "location": "Building 3/Basement"}


def test_assign_edge_rules() -> None:
    assert assign_edge("e2", "e1", {"e1", "e2"}, given=True) == "e2"
    assert assign_edge(None, "e1", {"e1", "e2"}, given=True) is None
    assert assign_edge(None, None, {"e1", "e2"}, given=True) is None
    assert assign_edge(None, "e1", {"e1", "e2"}, given=False) == "e1"
    assert assign_edge(None, None, {"e1"}, given=False) == "e1"
    assert assign_edge(None, None, set(), given=False) is None
    with pytest.raises(EdgeChoiceError, match=r"2 edges \(e1, e2\)") as refused:
        assign_edge(None, None, {"e2", "e1"}, given=False)
    assert refused.value.edges == ["e1", "e2"]
    assert unserved_reason(None, {"e1"}) is not None
    assert unserved_reason("e9", {"e1"}) == "edge e9 has never reported to this hub"
    assert unserved_reason("e1", {"e1"}) is None


async def test_without_edge_id_a_device_goes_to_the_only_edge(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    early = await client.post("/api/v1/devices", json={**LEAK, "id": "early-leak"})
    assert early.status_code == 201
    assert early.json()["edge_id"] is None
    assert "no edge assigned" in early.json()["unserved_reason"]

    store_of(app).fleet.record_edge_status(make_status("e1"), T0)
    created = await client.post("/api/v1/devices", json=LEAK)
    assert created.status_code == 201
    assert (created.json()["edge_id"], created.json()["unserved_reason"]) == ("e1", None)
    assert store_of(app).fleet.device_registry("e1").devices[0].id == "bike-leak"

    listed = {d["id"]: d for d in (await client.get("/api/v1/devices")).json()["items"]}
    assert listed["bike-leak"]["unserved_reason"] is None
    assert listed["early-leak"]["unserved_reason"] is not None
    elsewhere = await client.post("/api/v1/devices", json={**LEAK, "id": "x", "edge_id": "e7"})
    assert elsewhere.json()["unserved_reason"] == "edge e7 has never reported to this hub"


async def test_with_several_edges_edge_id_is_required_unless_the_device_has_one(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    fleet = store_of(app).fleet
    fleet.record_edge_status(make_status("e1"), T0)
    fleet.record_edge_status(make_status("e2"), T0 + timedelta(seconds=1))
    refused = await client.post("/api/v1/devices", json=LEAK)
    assert refused.status_code == 422
    assert "e1, e2" in refused.json()["detail"]
    assert (await client.get("/api/v1/devices")).json()["items"] == []

    assert (await client.post("/api/v1/devices", json={**LEAK, "edge_id": "e2"})).status_code == 201
    moved_back = await client.post("/api/v1/devices", json={**LEAK, "location": "B3/B2"})
    assert moved_back.status_code == 200
    assert moved_back.json()["edge_id"] == "e2"  # re-registered without edge_id: kept
    # On purpose without an edge (a phone page's "one touch"): edge_id null, flagged.
    phone = await client.post("/api/v1/devices", json={**LEAK, "id": "sos", "edge_id": None})
    assert phone.status_code == 201
    assert phone.json()["unserved_reason"] is not None


async def test_tasmota_and_shelly_fields_are_stored_and_sent_to_the_edge(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    body = {**LEAK, "edge_id": "e1", "shelly_id": "shellyflood-445566"}
    created = await client.post("/api/v1/devices", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["shelly_id"] == "shellyflood-445566"
    tasmota = {**LEAK, "id": "heat", "kind": "heat", "edge_id": "e1", "tasmota_topic": "boiler"}
    assert (await client.post("/api/v1/devices", json=tasmota)).status_code == 201
    both = {**body, "tasmota_topic": "boiler"}
    assert (await client.post("/api/v1/devices", json=both)).status_code == 422

    # An edge's inventory (its site file) carries them too, and the registry gives them back.
    inventory = Device(
        id="zb-leak",
        kind=DeviceKind.WATER_LEAK,
        location="B3",
        tasmota_topic="zbbridge/0x898E",
    )
    store_of(app).fleet.record_edge_status(make_status("e1", devices=[inventory]), T0)
    registry = {d.id: d for d in store_of(app).fleet.device_registry("e1").devices}
    assert registry["bike-leak"].shelly_id == "shellyflood-445566"
    assert registry["heat"].tasmota_topic == "boiler"
    assert registry["zb-leak"].tasmota_topic == "zbbridge/0x898E"


async def test_a_shelly_gen1s_temperature_unit_is_stored_and_sent_to_the_edge(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    body = {
        "id": "den-ht",
        "kind": "heat",
        "location": "Building 3/Unit 101",
        "edge_id": "e1",
        "shelly_id": "shellyht-f1f2f3",
        "temperature_unit": "F",
    }
    created = await client.post("/api/v1/devices", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["temperature_unit"] == "F"
    [registered] = store_of(app).fleet.device_registry("e1").devices
    assert registered.fahrenheit
    # Every other payload says its unit: the field is refused without a shelly_id.
    native = {**body, "id": "den-heat", "shelly_id": None}
    refused = await client.post("/api/v1/devices", json=native)
    assert refused.status_code == 422
    assert "temperature_unit" in refused.text
    # Registered again without it: back to °C, and nothing else changed.
    celsius = {k: v for k, v in body.items() if k != "temperature_unit"}
    assert (await client.post("/api/v1/devices", json=celsius)).json()["temperature_unit"] is None
    [registered] = store_of(app).fleet.device_registry("e1").devices
    assert not registered.fahrenheit


def test_a_screened_status_reads_its_devices_once_and_keeps_what_the_screen_refuses(
    engine: Engine, store: HubStore
) -> None:
    """The ingest's ownership screen runs on the registrations the status reads anyway."""
    mine = Device(id="b1-smoke", kind=DeviceKind.SMOKE, location="Building 1/Floor 1/Unit 101")
    theirs = Device(id="b2-smoke", kind=DeviceKind.SMOKE, location="Building 2/Floor 1/Unit 101")
    store.fleet.record_edge_status(make_status("e1", devices=[mine]), T0)
    store.fleet.record_edge_status(make_status("e2", devices=[theirs]), T0)
    seen: list[dict[str, Registration]] = []

    def screen(
        devices: Sequence[Device], registered: Mapping[str, Registration]
    ) -> tuple[list[Device], list[Claim]]:
        seen.append(dict(registered))
        mine = [d for d in devices if registered.get(d.id, Registration(None)).edge_id != "e2"]
        return mine, []

    statements: list[str] = []

    def record(*args: object) -> None:
        statements.append(str(args[2]))

    claimed = theirs.model_copy(update={"location": "Building 9/forged"})
    event.listen(engine, "before_cursor_execute", record)
    try:
        store.fleet.record_edge_status(
            make_status("e1", devices=[mine, claimed]), T0 + timedelta(seconds=30), screen
        )
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert seen == [{"b1-smoke": Registration("e1"), "b2-smoke": Registration("e2")}]
    device_reads = [s for s in statements if s.startswith("SELECT") and "FROM devices" in s]
    assert len(device_reads) == 1  # unchanged inventory: one read, nothing written
    assert not [s for s in statements if s.startswith(("UPDATE devices", "INSERT INTO devices"))]
    [kept] = [d for d in store.fleet.list_devices() if d.id == "b2-smoke"]
    assert (kept.edge_id, kept.location) == ("e2", "Building 2/Floor 1/Unit 101")
