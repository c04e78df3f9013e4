"""The production set-up end to end (issue 14): `linli broker init` for the hub's broker and a
site broker, `mosquitto -c`, then `linli hub` and `linli edge` as processes with their
credentials files and CAs, TLS on the uplink and on the site broker. A device with its own
identity raises a fire; rotating the edge's password in its file is picked up on reconnect."""

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from devices.topics import DeviceChannel, device_topic
from hub.auth.rules import new_secret
from linli.brokers import MosquittoProcess, free_port
from linli.cli import app
from tests.conftest import missing
from tests.e2e.stack import HUB_BOOT_TIMEOUT, LinliProcess, wait_until
from tests.security.brokers import SecuredBroker, linli, running_broker

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow]

EDGE = "edge-tls"
SMOKE = "b3-1201-smoke"


def _credentials(path: Path, entry: dict[str, Any]) -> Path:
    """Write a credentials file as an operator would (umask 077)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(entry, f)
    return path


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
    loose = _credentials(tmp_path / "creds.json", {"username": "hub", "password": "x"})
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


def test_a_fire_travels_over_tls_with_every_identity(
    brokers: tuple[SecuredBroker, SecuredBroker], tmp_path: Path
) -> None:
    hub_broker, site_broker = brokers
    hub_creds = _credentials(tmp_path / "hub-creds.json", hub_broker.init["hub"])
    edge_hub_creds = _credentials(
        tmp_path / "edge-hub-creds.json",
        linli("broker", "add-edge", str(hub_broker.folder), EDGE),
    )
    edge_site_creds = _credentials(tmp_path / "edge-site-creds.json", site_broker.init["edge"])
    device = linli("broker", "add-device", str(site_broker.folder), SMOKE)
    site = tmp_path / "site.toml"
    site.write_text(
        f'[site]\nname = "TLS"\nedge_id = "{EDGE}"\n'
        f'[[devices]]\nid = "{SMOKE}"\nkind = "smoke"\nlocation = "Building 3/Unit 1201"\n'
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

    def health() -> dict[str, Any] | None:
        assert hub.alive, hub.log()[-3000:]
        try:
            found: dict[str, Any] = api.get("/health").json()
        except httpx.TransportError:
            return None
        return found

    def edge_online() -> bool:
        assert edge.alive, edge.log()[-3000:]
        edges = {e["id"]: e for e in api.get("/edges").json()["items"]}
        return bool(edges.get(EDGE, {}).get("state") == "online")

    try:
        hub.start()
        wait_until(lambda: health() is not None, timeout=HUB_BOOT_TIMEOUT, what="the hub")
        wait_until(lambda: (health() or {}).get("mqtt_connected"), what="the hub over TLS")
        edge.start()
        wait_until(edge_online, what="the edge online over TLS")

        # The smoke detector, with its own identity, over TLS to the site broker.
        probe = site_broker.connect(device["username"], device["password"])
        assert probe.publish(device_topic(SMOKE, DeviceChannel.STATE), b'{"smoke": true}')
        probe.close()
        cases = wait_until(lambda: api.get("/cases").json()["items"], what="a fire case")
        assert cases[0]["device_ids"] == [SMOKE]

        # Rotate the edge's password: the old session is cut off, the edge reads its file
        # again on reconnect and comes back with the new one.
        connections = edge.log().count("connected to the hub broker")
        rotated = linli("broker", "add-edge", str(hub_broker.folder), EDGE)
        assert rotated["reloaded"] is True
        _credentials(edge_hub_creds, rotated)
        wait_until(
            lambda: edge.log().count("connected to the hub broker") > connections,
            what="the edge to reconnect with its new password",
        )
        probe = site_broker.connect(device["username"], device["password"])
        assert probe.publish(device_topic(SMOKE, DeviceChannel.STATE), b'{"smoke": false}')
        assert probe.publish(device_topic(SMOKE, DeviceChannel.STATE), b'{"smoke": true}')
        probe.close()
        wait_until(
            lambda: len(api.get("/alerts", params={"device_id": SMOKE}).json()["items"]) >= 3,
            what="the alerts after the rotation",
        )
    finally:
        for proc in (edge, hub):
            if proc.alive:
                proc.stop()
        api.close()
