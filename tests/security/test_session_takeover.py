"""Session takeover: with Mosquitto's password/ACL backend any identity may connect with any
client id and so take over another program's persistent session, whose queued messages the
broker then drops at the read check. Linli's programs with credentials connect with a client
id only their password's holder can compute (``devices.credentials.session_client_id``)."""

import json
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from devices.credentials import session_client_id
from devices.mqtt_link import MqttEndpoint
from tests.security.brokers import SecuredBroker, linli
from tests.security.conftest import SITE_EDGE

pytestmark = [pytest.mark.mosquitto]

PUBLIC_ID = f"linli-edge-{SITE_EDGE}-local"
"""The client id the edge agent's site session is configured with (edge.settings)."""


def _session(
    broker: SecuredBroker, user: str, password: str, client_id: str
) -> tuple[mqtt.Client, list[bytes]]:
    """Connect a persistent MQTT 3.1.1 session, as the agent does."""
    got: list[bytes] = []
    # No automatic reconnect (see ``brokers.Probe.connect``): each session here is one
    # connection, and a reconnect's failed TLS handshake would leak its socket.
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=False,
        reconnect_on_failure=False,
    )
    client.username_pw_set(user, password)
    client.tls_set(ca_certs=broker.ca_file)
    client.on_message = lambda c, u, m: got.append(bytes(m.payload))
    client.connect("localhost", broker.tls_port)
    client.loop_start()
    time.sleep(0.5)
    return client, got


def _leave(client: mqtt.Client) -> None:
    client.disconnect()
    time.sleep(0.2)
    client.loop_stop()


def _queue_five_readings(broker: SecuredBroker) -> None:
    issued = linli("broker", "add-device", str(broker.folder), "smoke")
    device = broker.connect(issued["username"], issued["password"])
    for i in range(5):
        assert device.publish("linli/dev/smoke/state", str(i).encode())
    device.close()


def _takeover_and_return(broker: SecuredBroker, agent_id: str) -> list[bytes]:
    """The agent subscribes and goes away; readings queue; another identity connects with the
    agent's configured client id; the agent comes back. Return what the agent received."""
    edge = broker.init["edge"]
    agent, _ = _session(broker, edge["username"], edge["password"], agent_id)
    agent.subscribe("linli/dev/+/+", qos=1)
    time.sleep(0.3)
    _leave(agent)
    _queue_five_readings(broker)
    evil = linli("broker", "add-device", str(broker.folder), "evil")
    attacker, stolen = _session(broker, evil["username"], evil["password"], PUBLIC_ID)
    time.sleep(0.5)
    _leave(attacker)
    assert stolen == []  # the read check holds: the attacker reads nothing
    agent, got = _session(broker, edge["username"], edge["password"], agent_id)
    time.sleep(1.0)
    _leave(agent)
    return got


def test_without_a_secret_client_id_another_identity_drains_the_queue(
    site_broker_secured: SecuredBroker,
) -> None:
    """Why the tag: Mosquitto hands the session to the intruder and drops its queue."""
    assert _takeover_and_return(site_broker_secured, PUBLIC_ID) == []


def test_the_agents_tagged_session_keeps_every_queued_reading(
    site_broker_secured: SecuredBroker,
) -> None:
    password = site_broker_secured.init["edge"]["password"]
    agent_id = session_client_id(PUBLIC_ID, password)
    got = _takeover_and_return(site_broker_secured, agent_id)
    assert got == [b"0", b"1", b"2", b"3", b"4"]


async def test_programs_with_credentials_connect_with_the_tagged_id(tmp_path: Path) -> None:
    creds = tmp_path / "creds.json"
    creds.write_text(json.dumps({"username": "edge-e1", "password": "pw-1"}))
    creds.chmod(0o600)
    endpoint = MqttEndpoint("localhost", 8883, client_id=PUBLIC_ID, credentials_file=creds)
    first = endpoint.client().identifier
    assert first == session_client_id(PUBLIC_ID, "pw-1") != PUBLIC_ID
    assert endpoint.client().identifier == first  # the same session at every restart
    creds.write_text(json.dumps({"username": "edge-e1", "password": "pw-2"}))
    assert endpoint.client().identifier != first  # a rotated password, a new session
    # Without credentials (the demo, the tests' open brokers) the id is as configured.
    assert MqttEndpoint("localhost", client_id=PUBLIC_ID).client().identifier == PUBLIC_ID
