"""A reading from a real third-party MQTT client becomes an alert and a case on the hub."""

from datetime import UTC, datetime, timedelta, timezone

from devices.discovery import discovered_id, discovered_location
from devices.topics import DeviceChannel, device_topic, zigbee_topic
from tests.e2e.conftest import GAS, SOS, Z2M_SMOKE
from tests.e2e.stack import Stack, dumps, mosquitto_pub
from tests.polling import wait_until


def test_native_reading_from_mosquitto_pub_opens_a_case(stack: Stack) -> None:
    # 25 %LEL is over the 20 %LEL alarm level: an alarm on one reading. Stamped in China's
    # time a few minutes ago (within the day a device's own time is believed).
    taken = (datetime.now(UTC) - timedelta(minutes=3)).replace(microsecond=0)
    china = timezone(timedelta(hours=8))
    reading = {"gas_lel_pct": 25.0, "ts": taken.astimezone(china).isoformat()}
    mosquitto_pub(
        stack.local_broker.port, device_topic(GAS.id, DeviceChannel.STATE), dumps(reading)
    )

    cases = wait_until(lambda: stack.get("/cases"), what="a case")
    [case] = cases
    assert (case["kind"], case["status"], case["priority"]) == ("gas", "open", "critical")
    assert case["device_ids"] == [GAS.id]
    assert case["alert_count"] == 1
    [alert] = stack.get("/alerts", device_id=GAS.id)
    assert (alert["kind"], alert["state"], alert["severity"]) == ("gas", "raised", "critical")
    assert datetime.fromisoformat(alert["ts"]) == taken
    assert datetime.fromisoformat(alert["received_at"]) >= datetime.fromisoformat(alert["ts"])
    detail = stack.api.get(f"/cases/{case['id']}").json()
    assert [a["id"] for a in detail["alerts"]] == [alert["id"]]


def test_zigbee2mqtt_message_as_the_bridge_sends_it_opens_a_case(stack: Stack) -> None:
    # Verbatim from a real HS1SA report (shared/realdata/payloads/z2m_smoke_detector.json).
    raw = '{"battery":100,"voltage":3195,"linkquality":57,"last_seen":1573393389829,"smoke":true}'
    sent = datetime.now(UTC)
    mosquitto_pub(stack.local_broker.port, zigbee_topic(Z2M_SMOKE.zigbee_name or ""), raw)

    [case] = wait_until(lambda: stack.get("/cases"), what="a smoke case")
    assert (case["kind"], case["device_ids"], case["priority"]) == (
        "smoke",
        [Z2M_SMOKE.id],
        "critical",
    )
    [alert] = stack.get("/alerts", device_id=Z2M_SMOKE.id)
    # Its last_seen is of 2019, years behind the edge's clock: not believed (a clock never
    # set would stamp alerts years away from their evidence); the edge's receive time is.
    assert sent <= datetime.fromisoformat(alert["ts"]) <= datetime.now(UTC)


def test_sos_press_and_a_later_reading_of_the_same_problem_share_one_case(stack: Stack) -> None:
    topic = device_topic(SOS.id, DeviceChannel.EVENT)
    mosquitto_pub(stack.local_broker.port, topic, dumps({"event": "press"}))
    mosquitto_pub(stack.local_broker.port, topic, dumps({"event": "press"}))

    wait_until(lambda: len(stack.get("/alerts", device_id=SOS.id)) == 2, what="two sos alerts")
    [case] = stack.get("/cases")
    assert (case["kind"], case["alert_count"]) == ("sos", 2)


def test_a_device_registered_at_the_hub_reaches_the_running_edge(stack: Stack) -> None:
    new = {"id": "gate-leak", "kind": "water_leak", "location": "Main gate/Pump pit"}
    response = stack.api.post("/devices", json={**new, "edge_id": stack.edge_id})
    assert response.status_code == 201
    topic = device_topic("gate-leak", DeviceChannel.STATE)

    def leak_case() -> list[dict[str, object]]:
        # Until the edge has the registry, the reading is rejected as an unknown device;
        # a real sensor reports again, and so does this test.
        mosquitto_pub(stack.local_broker.port, topic, dumps({"water_leak": True}))
        return [c for c in stack.get("/cases") if c["device_ids"] == ["gate-leak"]]

    [case] = wait_until(leak_case, interval=0.5, what="a case for the newly registered device")
    assert case["kind"] == "water_leak"
    assert stack.edge.alive


def test_an_unregistered_zigbee_smoke_detectors_alarm_opens_a_case(stack: Stack) -> None:
    """A detector paired with the site's Zigbee2MQTT and never registered (edge.discovery):
    its fire is not refused; the hub registers it from the alarm and opens the case, at a
    place that says what it is. The operator registers it under that id where it really is:
    from then on the edge raises its alarms there."""
    name = "0x00158d0001d64498"
    raw = '{"battery":100,"voltage":3195,"linkquality":57,"smoke":true,"sensitivity":"high"}'
    mosquitto_pub(stack.local_broker.port, zigbee_topic(name), raw)

    [case] = wait_until(lambda: stack.get("/cases"), what="a fire case")
    device_id = discovered_id(stack.edge_id, name)
    assert (case["kind"], case["device_ids"], case["priority"]) == (
        "smoke",
        [device_id],
        "critical",
    )
    [device] = [d for d in stack.get("/devices") if d["id"] == device_id]
    assert (device["kind"], device["location"], device["edge_id"]) == (
        "smoke",
        discovered_location(stack.edge_id, name),
        stack.edge_id,
    )

    real = {"id": device_id, "kind": "smoke", "location": "Building 5/Floor 3/Unit 302"}
    registered = stack.api.post(
        "/devices", json={**real, "zigbee_name": name, "edge_id": stack.edge_id}
    )
    assert registered.status_code in (200, 201), registered.text
    clear = raw.replace('"smoke":true', '"smoke":false')

    def placed_alarm() -> list[dict[str, object]]:
        # Until the registry reaches the edge, its alarms still come from the unregistered
        # place; a real detector reports again, and so does this test.
        for payload in (clear, raw):
            mosquitto_pub(stack.local_broker.port, zigbee_topic(name), payload)
        return [
            a
            for a in stack.get("/alerts", device_id=device_id)
            if a["location"] == real["location"]
        ]

    assert wait_until(placed_alarm, interval=0.5, what="an alarm at the registered place")
    [device] = [d for d in stack.get("/devices") if d["id"] == device_id]
    assert (device["location"], device["registered_by"]) == (real["location"], "operator")


def test_an_unregistered_zigbee_detector_is_listed_before_any_alarm(stack: Stack) -> None:
    """Its first word names a detector (here: no smoke): its edge lists it from then on, and
    the hub registers it at its discovered place, supervised, shown as not placed, before any
    fire: an operator can place it before it is needed."""
    name = "0x00158d0001d64499"
    raw = '{"battery":98,"voltage":3185,"linkquality":61,"smoke":false}'
    mosquitto_pub(stack.local_broker.port, zigbee_topic(name), raw)
    device_id = discovered_id(stack.edge_id, name)

    [device] = wait_until(
        lambda: [d for d in stack.get("/devices") if d["id"] == device_id and d["checkin"]],
        what="the discovered detector at the hub, with its check-in deadline",
    )
    assert (device["kind"], device["location"], device["registered_by"]) == (
        "smoke",
        discovered_location(stack.edge_id, name),
        "inventory",
    )
    assert device["zigbee_name"] == name
    [health] = [d for d in stack.get("/console/device-health") if d["id"] == device_id]
    assert health["unplaced"] is True
    assert stack.get("/cases") == []
