"""Retiring a device over the API (``DELETE /api/v1/devices/{id}``), on a real hub and edge.

The hub takes it out of its lists and pushes its edge a registry without it: the edge, which
knew it only from the hub, refuses its messages from then on. A Zigbee detector whose
discovered entry an operator registered again under a proper id is retired the same way."""

from devices.discovery import discovered_id
from devices.topics import DeviceChannel, device_topic, zigbee_topic
from tests.e2e.stack import Stack, dumps, mosquitto_pub
from tests.polling import wait_until


def _refused(stack: Stack) -> int:
    [edge] = [e for e in stack.get("/edges") if e["id"] == stack.edge_id]
    return int(edge["counters"].get("rejected.unknown_device", 0))


def test_a_retired_device_leaves_the_lists_and_its_edge_forgets_it(stack: Stack) -> None:
    leak = {"id": "gate-leak", "kind": "water_leak", "location": "Main gate/Pump pit"}
    assert stack.api.post("/devices", json={**leak, "edge_id": stack.edge_id}).status_code == 201
    topic = device_topic("gate-leak", DeviceChannel.STATE)

    def leak_case() -> list[dict[str, object]]:
        mosquitto_pub(stack.local_broker.port, topic, dumps({"water_leak": True}))
        return [c for c in stack.get("/cases") if c["device_ids"] == ["gate-leak"]]

    [case] = wait_until(leak_case, interval=0.5, what="a case for the registered device")

    # Its case is someone's work: refused, nothing changed.
    refused = stack.api.delete("/devices/gate-leak")
    assert refused.status_code == 409, refused.text
    assert f"unfinished case #{case['id']}" in refused.json()["detail"]
    assert "gate-leak" in [d["id"] for d in stack.get("/devices")]

    resolved = stack.api.post(
        f"/cases/{case['id']}/resolve", json={"note": "pit pumped dry", "resolution": "real"}
    )
    assert resolved.status_code == 200, resolved.text
    retired = stack.api.delete("/devices/gate-leak", params={"reason": "pit filled in"})
    assert retired.status_code == 200, retired.text
    assert (retired.json()["retired_reason"], retired.json()["retired_at"] is not None) == (
        "pit filled in",
        True,
    )
    assert "gate-leak" not in [d["id"] for d in stack.get("/devices")]
    assert [d["id"] for d in stack.get("/devices", retired="true")] == ["gate-leak"]
    assert stack.api.get("/devices/gate-leak").json()["retired_reason"] == "pit filled in"

    # The edge has the registry without it: what the sensor says now is refused there.
    before = _refused(stack)

    def edge_refuses() -> bool:
        mosquitto_pub(stack.local_broker.port, topic, dumps({"water_leak": False}))
        return _refused(stack) > before

    wait_until(edge_refuses, interval=0.5, what="the edge refusing the retired device")
    assert [a["state"] for a in stack.get("/alerts", device_id="gate-leak")] == ["raised"]

    # A detector discovered by the edge, registered again by the operator under a proper id:
    # the discovered entry is retired, and the lists hold the registered one only.
    name = "0x00158d0001d64498"
    raw = '{"battery":100,"voltage":3195,"linkquality":57,"smoke":true}'
    mosquitto_pub(stack.local_broker.port, zigbee_topic(name), raw)
    found = discovered_id(stack.edge_id, name)
    [fire] = wait_until(
        lambda: [c for c in stack.get("/cases") if c["device_ids"] == [found]], what="its fire"
    )
    proper = {"id": "b5-302-smoke", "kind": "smoke", "location": "Building 5/Floor 3/Unit 302"}
    body = {**proper, "zigbee_name": name, "edge_id": stack.edge_id}
    assert stack.api.post("/devices", json=body).status_code == 201
    stack.api.post(f"/cases/{fire['id']}/resolve", json={"note": "toast", "resolution": "nuisance"})
    assert stack.api.delete(f"/devices/{found}").status_code == 200
    ids = [d["id"] for d in stack.get("/devices")]
    assert "b5-302-smoke" in ids
    assert found not in ids
