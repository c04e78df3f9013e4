"""The production set-up end to end (issue 14): `linli broker init` for the hub's broker and a
site broker, `mosquitto -c`, then `linli hub` and `linli edge` as processes with their
credentials files and CAs, TLS on the uplink and on the site broker. A device with its own
identity raises a fire; rotating the edge's password in its file is picked up on reconnect."""

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from devices.topics import DeviceChannel, device_topic, zigbee_topic
from hub.auth.rules import new_secret
from linli.brokers import MosquittoProcess, free_port
from linli.cli import app
from tests.conftest import missing
from tests.e2e.conftest import GAS as GAS_DEVICE
from tests.e2e.conftest import Z2M_SOS
from tests.e2e.stack import HUB_BOOT_TIMEOUT, LinliProcess
from tests.e2e.test_delivery import transition_readings
from tests.polling import wait_until
from tests.security.brokers import Probe, SecuredBroker, linli, running_broker, write_credentials

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow]

EDGE = "edge-tls"
SMOKE = "b3-1201-smoke"
GAS = GAS_DEVICE.id


@pytest.fixture
def brokers(tmp_path: Path) -> Iterator[tuple[SecuredBroker, SecuredBroker]]:
    """The hub's broker and the edge's site broker, both from `linli broker init`."""
    if MosquittoProcess.executable() is None:
        missing("mosquitto")
    with (
        running_broker(tmp_path / "hub-broker") as hub_broker,
        running_broker(tmp_path / "site-broker", "--site", EDGE) as site_broker,
    ):
        yield hub_broker, site_broker


def test_hub_and_edge_refuse_credentials_others_can_read(tmp_path: Path) -> None:
    loose = write_credentials(tmp_path / "creds.json", {"username": "hub", "password": "x"})
    loose.chmod(0o644)
    result = CliRunner().invoke(app, ["hub", "--mqtt-credentials", str(loose)])
    assert result.exit_code == 2
    assert "accessible to others" in result.output
    site = tmp_path / "site.toml"
    site.write_text(f'[site]\nname = "T"\nedge_id = "{EDGE}"\n')
    for option in ("--hub-credentials", "--local-credentials"):
        result = CliRunner().invoke(app, ["edge", "--site", str(site), option, str(loose)])
        assert result.exit_code == 2, option
        assert "chmod 600" in result.output


@dataclass
class TlsStack:
    """Both brokers from `linli broker init`, `linli hub` and `linli edge` over TLS."""

    hub_broker: SecuredBroker
    site_broker: SecuredBroker
    hub: LinliProcess
    edge: LinliProcess
    api: httpx.Client
    edge_hub_creds: Path

    def health(self) -> dict[str, Any] | None:
        assert self.hub.alive, self.hub.log()[-3000:]
        try:
            found: dict[str, Any] = self.api.get("/health").json()
        except httpx.TransportError:
            return None
        return found

    def edge_online(self) -> bool:
        assert self.edge.alive, self.edge.log()[-3000:]
        edges = {e["id"]: e for e in self.api.get("/edges").json()["items"]}
        return bool(edges.get(EDGE, {}).get("state") == "online")

    def alerts(self, device_id: str) -> list[dict[str, Any]]:
        params: dict[str, str | int] = {"device_id": device_id, "limit": 100_000}
        items: list[dict[str, Any]] = self.api.get("/alerts", params=params).json()["items"]
        return items

    def device(self, device_id: str) -> Probe:
        """Issue a device its identity and connect it over TLS."""
        issued = linli("broker", "add-device", str(self.site_broker.folder), device_id)
        return self.site_broker.connect(issued["username"], issued["password"])


@pytest.fixture
def tls_stack(brokers: tuple[SecuredBroker, SecuredBroker], tmp_path: Path) -> Iterator[TlsStack]:
    """The production set-up, running."""
    hub_broker, site_broker = brokers
    hub_creds = write_credentials(tmp_path / "hub-creds.json", hub_broker.init["hub"])
    edge_hub_creds = write_credentials(
        tmp_path / "edge-hub-creds.json",
        linli("broker", "add-edge", str(hub_broker.folder), EDGE),
    )
    edge_site_creds = write_credentials(tmp_path / "edge-site-creds.json", site_broker.init["edge"])
    site = tmp_path / "site.toml"
    site.write_text(
        f'[site]\nname = "TLS"\nedge_id = "{EDGE}"\n'
        f'[[devices]]\nid = "{SMOKE}"\nkind = "smoke"\nlocation = "Building 3/Unit 1201"\n'
        f'[[devices]]\nid = "{GAS}"\nkind = "gas"\nlocation = "Building 3/Boiler room"\n'
        f'[[devices]]\nid = "{Z2M_SOS.id}"\nkind = "sos_button"\nlocation = "{Z2M_SOS.location}"\n'
        f'zigbee_name = "{Z2M_SOS.zigbee_name}"\n'
    )
    token, http_port = new_secret(), free_port()
    hub = LinliProcess(
        "hub",
        [
            "hub", "--data-dir", str(tmp_path / "hub"), "--http-port", str(http_port),
            "--mqtt", f"localhost:{hub_broker.tls_port}",
            "--mqtt-credentials", str(hub_creds), "--mqtt-ca", hub_broker.ca_file,
        ],
        tmp_path / "hub.log",
        env={"LINLI_HUB_BOOTSTRAP_TOKEN": token},
    )  # fmt: skip
    edge = LinliProcess(
        "edge",
        [
            "edge", "--site", str(site), "--data-dir", str(tmp_path / "edge"),
            "--hub-mqtt", f"localhost:{hub_broker.tls_port}",
            "--hub-credentials", str(edge_hub_creds), "--hub-ca", hub_broker.ca_file,
            "--local-mqtt", f"localhost:{site_broker.tls_port}",
            "--local-credentials", str(edge_site_creds), "--local-ca", site_broker.ca_file,
            "--resend-after", "1", "--heartbeat", "0.5",
        ],
        tmp_path / "edge.log",
    )  # fmt: skip
    api = httpx.Client(
        base_url=f"http://127.0.0.1:{http_port}/api/v1",
        headers={"authorization": f"Bearer {token}"},
        timeout=10,
    )
    stack = TlsStack(hub_broker, site_broker, hub, edge, api, edge_hub_creds)
    try:
        hub.start()
        wait_until(lambda: stack.health() is not None, timeout=HUB_BOOT_TIMEOUT, what="the hub")
        wait_until(lambda: (stack.health() or {}).get("mqtt_connected"), what="hub over TLS")
        edge.start()
        wait_until(stack.edge_online, what="the edge online over TLS")
        yield stack
    finally:
        for proc in (edge, hub):
            if proc.alive:
                proc.stop()
        api.close()


def test_a_fire_travels_over_tls_with_every_identity(tls_stack: TlsStack) -> None:
    stack = tls_stack
    # The smoke detector, with its own identity, over TLS to the site broker.
    probe = stack.device(SMOKE)
    assert probe.publish(device_topic(SMOKE, DeviceChannel.STATE), b'{"smoke": true}')
    cases = wait_until(lambda: stack.api.get("/cases").json()["items"], what="a fire case")
    assert cases[0]["device_ids"] == [SMOKE]

    # Rotate the edge's password: the old session is cut off, the edge reads its file again
    # on reconnect and comes back with the new one.
    connections = stack.edge.log().count("connected to the hub broker")
    rotated = linli("broker", "add-edge", str(stack.hub_broker.folder), EDGE)
    assert rotated["reloaded"] is True
    write_credentials(stack.edge_hub_creds, rotated)
    wait_until(
        lambda: stack.edge.log().count("connected to the hub broker") > connections,
        what="the edge to reconnect with its new password",
    )
    assert probe.publish(device_topic(SMOKE, DeviceChannel.STATE), b'{"smoke": false}')
    assert probe.publish(device_topic(SMOKE, DeviceChannel.STATE), b'{"smoke": true}')
    probe.close()
    wait_until(lambda: len(stack.alerts(SMOKE)) >= 3, what="the alerts after the rotation")


# Long enough that the kill lands mid-burst now that the edge commits in groups (300 could
# finish between the check and the kill).
BURST = 1000


def _burst(
    stack: TlsStack, count: int, *, held: threading.Event | None = None
) -> tuple[threading.Thread, Probe]:
    """Start the gas detector, with its own identity, publishing ``count`` transitions.

    With ``held``, the last third waits until the event is set: those readings are published
    after whatever the test did meanwhile (a kill), however fast the rest went.
    """
    readings = [payload for _, payload in transition_readings(count)]
    split = count - count // 3 if held is not None else count
    topic = device_topic(GAS, DeviceChannel.STATE)
    device = stack.device(GAS)

    def send() -> None:
        for reading in readings[:split]:
            device.publish(topic, reading)
        if held is not None:
            held.wait(timeout=120)
        for reading in readings[split:]:
            device.publish(topic, reading)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    return sender, device


def _exactly_once(stack: TlsStack, count: int) -> None:
    """Assert every transition became one alert, all of them in one gas case."""
    wait_until(lambda: len(stack.alerts(GAS)) >= count, timeout=120, what=f"{count} alerts")
    alerts = stack.alerts(GAS)
    assert len({a["id"] for a in alerts}) == len(alerts) == count
    [case] = [c for c in stack.api.get("/cases").json()["items"] if c["kind"] == "gas"]
    assert case["alert_count"] == count


def _hub_back(stack: TlsStack) -> None:
    wait_until(lambda: stack.health() is not None, timeout=HUB_BOOT_TIMEOUT, what="the hub")
    wait_until(lambda: (stack.health() or {}).get("mqtt_connected"), what="hub over TLS")


def test_edge_sigkilled_mid_burst_over_tls_delivers_every_alert_once(tls_stack: TlsStack) -> None:
    """tests/e2e's kill tests, on the production set-up: TLS and an identity on every hop."""
    stack = tls_stack
    killed = threading.Event()
    sender, device = _burst(stack, BURST, held=killed)
    wait_until(lambda: len(stack.alerts(GAS)) >= BURST // 10, what="the burst under way")
    stack.edge.kill()
    # The last third is published now, to a dead edge, however far the rest had got (on a
    # loaded machine the first two thirds can all be through by the time the kill lands).
    killed.set()
    time.sleep(1)  # the detector keeps publishing while the edge is dead
    stack.edge.start()
    sender.join(timeout=120)
    device.close()
    _exactly_once(stack, BURST)


def test_hub_sigkilled_mid_burst_over_tls_loses_nothing(tls_stack: TlsStack) -> None:
    stack = tls_stack
    sender, device = _burst(stack, BURST)
    wait_until(lambda: len(stack.alerts(GAS)) >= BURST // 10, what="the burst under way")
    stack.hub.kill()
    time.sleep(2)  # the edge keeps detecting and storing while the hub is gone
    stack.hub.start()
    _hub_back(stack)
    sender.join(timeout=120)
    device.close()
    _exactly_once(stack, BURST)


def test_hub_broker_restarted_over_tls_loses_nothing(tls_stack: TlsStack) -> None:
    stack = tls_stack
    stack.hub_broker.stop()
    sender, device = _burst(stack, 100)  # the site broker still takes the readings
    sender.join(timeout=120)
    device.close()
    time.sleep(2)  # a while with no uplink: alerts pile up in the edge's outbox
    stack.hub_broker.start()
    _hub_back(stack)
    _exactly_once(stack, 100)


def test_a_zigbee_sos_at_qos0_while_the_edge_is_down_over_tls_is_not_lost(
    tls_stack: TlsStack,
) -> None:
    stack = tls_stack
    bridge = stack.site_broker.connect(**stack.site_broker.init["zigbee2mqtt"])
    stack.edge.kill()
    # Zigbee2MQTT's default QoS 0: the site broker queues it for the edge's kept session.
    press = '{"action":"emergency","battery":80,"linkquality":144}'
    bridge.publish_qos0(zigbee_topic(Z2M_SOS.zigbee_name or ""), press)
    bridge.close()
    stack.edge.start()
    # Killed, the edge is offline for a moment: the hub opens its edge_offline case beside.
    cases = wait_until(
        lambda: [c for c in stack.api.get("/cases").json()["items"] if c["kind"] != "edge_offline"],
        what="the SOS case",
    )
    assert [(c["kind"], c["device_ids"], c["priority"]) for c in cases] == [
        ("sos", [Z2M_SOS.id], "critical")
    ]
