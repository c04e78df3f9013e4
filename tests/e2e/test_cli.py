"""`linli simulate` through the real command line, against a real broker."""

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from devices.adapters import decode
from devices.observations import DeviceEvent
from linli.brokers import MosquittoProcess
from simulators.scenarios import SCENARIOS
from tests.cli import run_linli
from tests.polling import wait_until


def test_simulate_list_names_every_scenario() -> None:
    result = run_linli("simulate", "list")
    assert result.returncode == 0, result.stderr
    for name in SCENARIOS:
        assert name in result.stdout


def test_simulate_unknown_scenario_is_a_clear_error() -> None:
    result = run_linli("simulate", "volcano")
    assert result.returncode != 0
    assert "unknown scenario" in result.stderr


def test_simulate_sos_publishes_a_press_a_device_would(mosquitto: MosquittoProcess) -> None:
    received: list[tuple[str, bytes]] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.on_message = lambda _c, _u, m: received.append((m.topic, bytes(m.payload)))
    client.connect("127.0.0.1", mosquitto.port)
    client.subscribe([("linli/dev/#", 1), ("zigbee2mqtt/#", 1)])
    client.loop_start()
    try:
        result = run_linli(
            "simulate", "sos", "--mqtt", f"127.0.0.1:{mosquitto.port}", "--speed", "600"
        )
        assert result.returncode == 0, result.stderr

        def presses() -> int:
            decoded = [decode(topic, payload) for topic, payload in list(received)]
            return sum(
                isinstance(o, DeviceEvent) and o.event == "press"
                for d in decoded
                if d is not None
                for o in d.observations
            )

        wait_until(presses, timeout=10, what="an SOS press on the broker")
    finally:
        client.disconnect()
        client.loop_stop()
