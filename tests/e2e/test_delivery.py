"""Nothing lost, nothing doubled: duplicates, bursts, kills and a broker outage."""

import threading
import time
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest

from devices.kinds import AlertKind, AlertState, Severity
from devices.messages import Alert, AlertReason
from devices.topics import DeviceChannel, EdgeChannel, device_topic, edge_topic, zigbee_topic
from tests.e2e.conftest import CO, GAS, Z2M_SOS
from tests.e2e.stack import Stack, dumps, mosquitto_pub, publisher
from tests.polling import wait_until

T0 = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


def publish_all(client: mqtt.Client, messages: list[tuple[str, str]]) -> None:
    """Publish every message at QoS 1 and wait until the broker has each one."""
    infos = [client.publish(topic, payload, qos=1) for topic, payload in messages]
    for info in infos:
        info.wait_for_publish(timeout=60)
        assert info.is_published()


def transition_readings(count: int) -> list[tuple[str, str]]:
    """Gas detector flags alternating on and off: each one is a transition.

    (A leak sensor's wet/dry would not do: the leak detector rightly absorbs flapping; nor a
    measured gas level, which clears only after 5 min of clean readings.) Stamped a second
    apart from an hour ago: within the day a device's time is believed
    (``devices.observations.observed_at``), so the hub orders them by it.
    """
    topic = device_topic(GAS.id, DeviceChannel.STATE)
    start = datetime.now(UTC) - timedelta(hours=1)
    return [
        (topic, dumps({"gas": i % 2 == 0, "ts": (start + timedelta(seconds=i)).isoformat()}))
        for i in range(count)
    ]


def hub_alert(alert_id: str, stack: Stack, *, seconds: int = 0) -> Alert:
    """An alert as an edge would send it to the hub."""
    return Alert(
        id=alert_id,
        edge_id=stack.edge_id,
        device_id=CO.id,
        kind=AlertKind.CO,
        state=AlertState.RAISED,
        severity=Severity.CRITICAL,
        ts=T0 + timedelta(seconds=seconds),
        detected_at=T0 + timedelta(seconds=seconds),
        location=CO.location,
        reason=AlertReason(rule="test", values={"co_ppm": 100.0}),
    )


def count_alerts(stack: Stack, device_id: str) -> int:
    return len(stack.get("/alerts", device_id=device_id, limit=100_000))


def assert_exactly_once(stack: Stack, expected: int) -> None:
    """Every alert is there once, in one case, and the edge has nothing left to send."""
    wait_until(
        lambda: count_alerts(stack, GAS.id) >= expected, timeout=120, what=f"{expected} alerts"
    )
    wait_until(
        lambda: (
            stack.edge_counters().get("outbox_depth", -1) == 0
            or stack.get("/edges")[0]["outbox_depth"] == 0
        ),
        what="the edge outbox to drain",
    )
    alerts = stack.get("/alerts", device_id=GAS.id, limit=100_000)
    assert len(alerts) == expected
    assert len({a["id"] for a in alerts}) == expected
    ordered = sorted(alerts, key=lambda a: datetime.fromisoformat(a["ts"]))
    states = [a["state"] for a in ordered]
    assert states == ["raised" if i % 2 == 0 else "cleared" for i in range(expected)]
    [case] = [c for c in stack.get("/cases") if c["kind"] == "gas"]
    assert case["alert_count"] == expected


def test_the_same_alert_delivered_three_times_is_one_alert_and_one_case(stack: Stack) -> None:
    alert = hub_alert("dup-alert-0001", stack)
    with publisher(stack.hub_broker.port) as client:
        topic = edge_topic(stack.edge_id, EdgeChannel.ALERT)
        publish_all(client, [(topic, alert.model_dump_json())] * 3)
    wait_until(lambda: stack.get("/cases"), what="the case")
    health = stack.api.get("/health").json()
    wait_until(
        lambda: stack.api.get("/health").json()["counters"].get("alerts_duplicate", 0) >= 2,
        what="two duplicates counted",
    )
    assert health["counters"].get("alerts_new", 0) >= 1
    assert [a["id"] for a in stack.get("/alerts", device_id=CO.id)] == ["dup-alert-0001"]
    [case] = stack.get("/cases")
    assert case["alert_count"] == 1


def test_a_thousand_alerts_of_one_device_are_one_case(stack: Stack) -> None:
    topic = edge_topic(stack.edge_id, EdgeChannel.ALERT)
    messages = [
        (topic, hub_alert(f"burst-{i:06d}", stack, seconds=i).model_dump_json())
        for i in range(1000)
    ]
    with publisher(stack.hub_broker.port) as client:
        publish_all(client, messages)
    wait_until(lambda: count_alerts(stack, CO.id) == 1000, timeout=120, what="1000 alerts")
    [case] = stack.get("/cases")
    assert case["alert_count"] == 1000
    assert datetime.fromisoformat(case["last_alert_at"]) == T0 + timedelta(seconds=999)


def burst_in_background(
    port: int, messages: list[tuple[str, str]], *, held: threading.Event | None = None
) -> threading.Thread:
    """Publish ``messages`` from a thread; with ``held``, the last third waits for the event."""
    split = len(messages) - len(messages) // 3 if held is not None else len(messages)

    def send() -> None:
        _publish(port, messages[:split])
        if held is not None:
            held.wait(timeout=120)
            _publish(port, messages[split:])

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def _publish(port: int, messages: list[tuple[str, str]]) -> None:
    with publisher(port) as client:
        publish_all(client, messages)


BURST = 1500


def test_edge_sigkilled_mid_burst_delivers_every_alert_exactly_once(stack: Stack) -> None:
    killed = threading.Event()
    readings = transition_readings(BURST)
    thread = burst_in_background(stack.local_broker.port, readings, held=killed)
    wait_until(lambda: count_alerts(stack, GAS.id) >= BURST // 10, what="the burst under way")
    stack.edge.kill()
    # The last third is published now, to a dead edge, however far the rest had got (on a
    # loaded machine the first two thirds can all be through by the time the kill lands).
    killed.set()
    time.sleep(1)  # devices keep publishing while the edge is dead
    stack.edge.start()
    thread.join(timeout=120)
    assert_exactly_once(stack, BURST)


@pytest.mark.parametrize("downtime", [2.0])
def test_hub_sigkilled_mid_burst_loses_nothing_and_opens_no_duplicate_case(
    stack: Stack, downtime: float
) -> None:
    thread = burst_in_background(stack.local_broker.port, transition_readings(BURST))
    wait_until(lambda: count_alerts(stack, GAS.id) >= BURST // 10, what="the burst under way")
    stack.hub.kill()
    time.sleep(downtime)  # the edge keeps detecting and storing while the hub is gone
    stack.hub.start()
    stack.wait_for_hub()
    thread.join(timeout=120)
    assert_exactly_once(stack, BURST)


def test_hub_broker_stopped_and_restarted_loses_nothing(split_stack: Stack) -> None:
    stack = split_stack
    stack.hub_broker.stop()
    _publish(stack.local_broker.port, transition_readings(200))
    time.sleep(2)  # a while with no uplink: alerts pile up in the edge's outbox
    stack.hub_broker.start()
    stack.wait_for_hub()
    assert_exactly_once(stack, 200)


def test_a_burst_reaches_the_hub_whole_even_through_an_untuned_hub_broker(
    split_stack: Stack,
) -> None:
    # 3,000 alerts: three times what Mosquitto's default queue holds for one subscriber.
    _publish(split_stack.local_broker.port, transition_readings(3000))
    assert_exactly_once(split_stack, 3000)


def test_zigbee_sos_at_qos0_while_the_edge_is_down_is_not_lost(stack: Stack) -> None:
    # Zigbee2MQTT publishes at QoS 0 by default; the site broker queues it for the edge's
    # persistent session (deploy/mosquitto.conf: queue_qos0_messages true).
    stack.edge.kill()
    press = '{"action":"emergency","battery":80,"linkquality":144}'
    mosquitto_pub(stack.local_broker.port, zigbee_topic(Z2M_SOS.zigbee_name or ""), press, qos=0)
    stack.edge.start()
    # Killed, the edge is offline for a moment: the hub opens its edge_offline case beside.
    [case] = wait_until(
        lambda: [c for c in stack.get("/cases") if c["kind"] != "edge_offline"], what="the SOS case"
    )
    assert (case["kind"], case["device_ids"], case["priority"]) == ("sos", [Z2M_SOS.id], "critical")
