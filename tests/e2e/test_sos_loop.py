"""The SOS loop back to the resident: the button hears how its request is going."""

import json
from collections.abc import Iterator
from contextlib import contextmanager

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from devices.topics import DeviceChannel, device_topic, zigbee_set_topic, zigbee_topic
from tests.e2e.conftest import SOS, Z2M_SOS
from tests.e2e.stack import Stack, dumps, mosquitto_pub
from tests.polling import wait_until


@contextmanager
def listening(port: int, topic: str) -> Iterator[list[dict[str, object]]]:
    """Collect the JSON commands published on ``topic`` (what the button receives)."""
    received: list[dict[str, object]] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.on_message = lambda _c, _u, m: received.append(json.loads(m.payload))
    client.connect("127.0.0.1", port)
    client.subscribe(topic, qos=1)
    client.loop_start()
    try:
        yield received
    finally:
        client.disconnect()
        client.loop_stop()


def stages(received: list[dict[str, object]]) -> list[object]:
    return [command["feedback"] for command in received]


def test_press_is_received_then_case_opened_then_someone_is_coming_then_resolved(
    stack: Stack,
) -> None:
    port = stack.local_broker.port
    with listening(port, device_topic(SOS.id, DeviceChannel.SET)) as received:
        mosquitto_pub(port, device_topic(SOS.id, DeviceChannel.EVENT), dumps({"event": "press"}))
        wait_until(lambda: stages(received) == ["received", "case_opened"], what="two stages")
        [case] = stack.get("/cases")
        ack = stack.api.post(f"/cases/{case['id']}/acknowledge", json={"note": "patrol going"})
        assert ack.status_code == 200
        wait_until(lambda: stages(received)[-1:] == ["acknowledged"], what="someone is coming")
        resolve = stack.api.post(
            f"/cases/{case['id']}/resolve", json={"note": "helped up", "resolution": "real"}
        )
        assert resolve.status_code == 200
        wait_until(lambda: stages(received)[-1:] == ["resolved"], what="resolved")
    assert stages(received) == ["received", "case_opened", "acknowledged", "resolved"]


def test_zigbee_button_gets_the_received_squawk_even_with_the_hub_unreachable(
    split_stack: Stack,
) -> None:
    stack = split_stack
    stack.hub_broker.stop()
    port = stack.local_broker.port
    name = Z2M_SOS.zigbee_name or ""
    with listening(port, zigbee_set_topic(name)) as received:
        mosquitto_pub(port, zigbee_topic(name), '{"action":"emergency","battery":90}')
        wait_until(lambda: received, what="the received squawk")
    assert "squawk" in received[0]
    stack.hub_broker.start()
    [case] = wait_until(lambda: stack.get("/cases"), what="the SOS case after the outage")
    assert case["kind"] == "sos"


@pytest.mark.parametrize("split_stack", ["site-config"], indirect=True)
def test_a_stage_decided_while_the_hub_is_cut_off_reaches_the_button_once(
    split_stack: Stack,
) -> None:
    stack = split_stack
    port = stack.local_broker.port
    with listening(port, device_topic(SOS.id, DeviceChannel.SET)) as received:
        mosquitto_pub(port, device_topic(SOS.id, DeviceChannel.EVENT), dumps({"event": "press"}))
        wait_until(lambda: stages(received) == ["received", "case_opened"], what="two stages")
        [case] = stack.get("/cases")
        # The hub loses its broker: someone acknowledges meanwhile. The stage cannot be sent.
        stack.hub_broker.stop()
        wait_until(lambda: not stack.hub.hub_connected(), what="the hub cut off")
        ack = stack.api.post(f"/cases/{case['id']}/acknowledge", json={"note": "patrol going"})
        assert ack.status_code == 200
        wait_until(lambda: stack.hub.hub_counters().get("feedback_unsent"), what="feedback unsent")
        # Back: the hub sends the button its case's stage again, and the resident hears it.
        stack.hub_broker.start()
        wait_until(lambda: stages(received)[-1:] == ["acknowledged"], what="someone is coming")
        # Cut off and back once more: sent again, shown once (the edge has shown it).
        published = stack.hub.hub_counters()["feedback_published"]
        stack.hub_broker.stop()
        wait_until(lambda: not stack.hub.hub_connected(), what="the hub cut off again")
        stack.hub_broker.start()
        wait_until(
            lambda: stack.hub.hub_counters().get("feedback_published", 0) > published,
            what="the stage sent again",
        )
        # What the hub publishes next reaches the button after the repeat, in order: had the
        # repeat been shown, it would stand before this one.
        resolve = stack.api.post(
            f"/cases/{case['id']}/resolve", json={"note": "helped up", "resolution": "real"}
        )
        assert resolve.status_code == 200
        wait_until(lambda: stages(received)[-1:] == ["resolved"], what="resolved")
    assert stages(received) == ["received", "case_opened", "acknowledged", "resolved"]
