"""Bad input gets a clear error and changes nothing; agent and hub keep running."""

import json
from pathlib import Path
from typing import Any

from devices.topics import DeviceChannel, EdgeChannel, device_topic, edge_topic, zigbee_topic
from tests.conftest import realdata_records
from tests.e2e.conftest import CO, GAS
from tests.e2e.stack import Stack, dumps, mosquitto_pub
from tests.polling import wait_until


def invalid_json_examples(realdata: Path) -> list[str]:
    """Real payloads from vendors' docs and issues that are not valid JSON."""
    found = []
    for path in sorted(realdata.glob("*.json")):
        for record in realdata_records(realdata, path.name):
            raw = record["payload_raw"]
            try:
                json.loads(raw)
            except ValueError:
                if raw not in ("online", "offline", "Online", "Offline"):
                    found.append(raw)
    return found


def snapshot(stack: Stack) -> dict[str, Any]:
    return {path: stack.get(path) for path in ("/alerts", "/cases", "/devices")}


def test_bad_device_input_is_rejected_counted_logged_and_changes_nothing(
    stack: Stack, realdata: Path
) -> None:
    before = snapshot(stack)
    port = stack.local_broker.port
    state = device_topic(CO.id, DeviceChannel.STATE)
    tasmota = invalid_json_examples(realdata)
    assert len(tasmota) >= 3
    bad: list[tuple[str, bytes]] = [
        (state, b'{"co_ppm": 12'),
        (state, b'{"co_ppm": "very high"}'),
        (state, b'{"smoke": "yes"}'),
        (device_topic("no-such-device", DeviceChannel.STATE), b'{"co_ppm": 500}'),
        # A thermometer nobody registered (a detector would be discovered: edge.discovery).
        (zigbee_topic("nobody knows me"), b'{"temperature": 21.5}'),
        # 1 MB: over the edge's 64 KiB device limit, under the site broker's packet limit.
        (state, b'{"co_ppm": 500, "pad": "' + b"x" * 1_000_000 + b'"}'),
        ("linli/dev/b3-1201-co/bogus", b'{"co_ppm": 500}'),
        *[(state, raw.encode()) for raw in tasmota],
        *[(zigbee_topic("b1 201 smoke"), raw.encode()) for raw in tasmota],
    ]
    for topic, payload in bad:
        mosquitto_pub(port, topic, payload)

    def rejected() -> int:
        return sum(v for k, v in stack.edge_counters().items() if k.startswith("rejected"))

    wait_until(lambda: rejected() >= len(bad), what=f"{len(bad)} rejects counted")
    counters = stack.edge_counters()
    for reason in ("malformed_json", "wrong_type", "unknown_device", "oversized", "unknown_topic"):
        assert any(reason in key and value > 0 for key, value in counters.items()), reason
    log = stack.edge.log()
    assert "no-such-device" in log
    assert "linli/dev/no-such-device/state" in log
    assert "linli/dev/b3-1201-co/bogus" in log
    assert stack.edge.alive
    assert stack.hub.alive
    assert snapshot(stack) == before

    # ...and the agent still works: a good reading after all that becomes a case.
    mosquitto_pub(port, device_topic(GAS.id, DeviceChannel.STATE), dumps({"gas_lel_pct": 25.0}))
    wait_until(lambda: stack.get("/cases"), what="a case after the bad input")


def test_bad_uplink_input_is_rejected_counted_and_changes_nothing(stack: Stack) -> None:
    before = snapshot(stack)
    alert_topic = edge_topic(stack.edge_id, EdgeChannel.ALERT)
    good = {
        "id": "uplink-alert-0001",
        "edge_id": stack.edge_id,
        "device_id": CO.id,
        "kind": "co",
        "state": "raised",
        "severity": "critical",
        "ts": "2026-11-22T02:00:00Z",
        "detected_at": "2026-11-22T02:00:00Z",
        "reason": {"rule": "test"},
    }
    bad: list[tuple[str, bytes]] = [
        (alert_topic, b"{not json"),
        (alert_topic, dumps({**good, "kind": "toaster"}).encode()),
        (alert_topic, dumps({**good, "ts": "not a time"}).encode()),
        # A device nobody registered, in an alert that does not say what it is (a fire would
        # register it: tests/hub/test_fleet_adoption.py).
        (
            alert_topic,
            dumps(
                {**good, "device_id": "no-such-device", "kind": "battery_low", "severity": "low"}
            ).encode(),
        ),
        (alert_topic, dumps({**good, "pad": "x" * 1_000_000}).encode()),
        ("linli/edge/edge-e2e/bogus", dumps(good).encode()),
    ]
    for topic, payload in bad:
        mosquitto_pub(stack.hub_broker.port, topic, payload)

    def rejected() -> int:
        counters = stack.api.get("/health").json()["counters"]
        # The unknown device's alert is held back, unacknowledged, for its edge to send again
        # (hub.ingest.unknown_devices): counted as deferred; it changes nothing either.
        return sum(v for k, v in counters.items() if k.startswith(("rejected", "deferred")))

    wait_until(lambda: rejected() >= len(bad) - 1, what="uplink rejects counted")
    assert snapshot(stack) == before
    assert stack.hub.alive
    assert "no-such-device" in stack.hub.log()

    mosquitto_pub(stack.hub_broker.port, alert_topic, dumps(good))
    wait_until(lambda: stack.get("/cases"), what="a case from a good alert afterwards")
