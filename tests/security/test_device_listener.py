"""A site broker's plain listener for devices that cannot speak TLS (`linli broker init --site
E --device-port N`): Shelly Gen1 and most Tasmota builds. Before it, such a device could not
connect to a secured site broker at all, so its identity (`add-tasmota`, `add-shelly-gen1`)
was of no use and the site ran an open broker instead.

The listener is plain, but nothing else is: a password, and the same ACL as everywhere. Bound
to 127.0.0.1 here (`--device-bind`) so the tests never listen beyond loopback.
"""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from linli.brokers import MosquittoProcess, free_port
from linli.cli import app
from tests.conftest import missing
from tests.security.brokers import ConnectRefusedError, Probe, SecuredBroker, linli, running_broker
from tests.security.conftest import SITE_EDGE
from tests.security.test_third_party_identities import (
    FORGED_ELSEWHERE,
    OTHER_TASMOTA,
    TASMOTA,
    _edge,
    _real,
)

pytestmark = [pytest.mark.mosquitto]

SHELLY_FLOOD = "shellyflood-445566"


@pytest.fixture
def device_port() -> int:
    """The device listener's port."""
    return free_port()


@pytest.fixture
def site_broker(tmp_path: Path, device_port: int) -> Iterator[SecuredBroker]:
    """A site broker with a device listener, running."""
    if MosquittoProcess.executable() is None:
        missing("mosquitto")
    options = ["--site", SITE_EDGE, "--device-port", str(device_port), "--device-bind", "127.0.0.1"]
    with running_broker(tmp_path / "site-broker", *options) as broker:
        yield broker


def _plain(port: int, username: str | None, password: str | None, client_id: str = "") -> Probe:
    return Probe.open(
        "127.0.0.1",
        port,
        username=username,
        password=password,
        client_id=client_id or f"device-{time.monotonic_ns()}",
        ca_file=None,
        server_name="localhost",
    )


def test_a_tasmota_without_tls_connects_with_its_identity_and_speaks_only_for_itself(
    site_broker: SecuredBroker, device_port: int, realdata: Path
) -> None:
    assert site_broker.init["device_port"] == device_port
    edge = _edge(site_broker)  # the agent, over TLS (or the loopback listener)
    issued = linli("broker", "add-tasmota", str(site_broker.folder), TASMOTA)
    # The installer is told where a device without TLS connects.
    assert issued["device_port"] == device_port
    sensor = _real(realdata, "tasmota_zigbee_and_sensors.json", f"tele/{OTHER_TASMOTA}/SENSOR")
    tasmota = _plain(device_port, issued["username"], issued["password"], f"DVES_{TASMOTA}")

    for topic in FORGED_ELSEWHERE:
        assert not tasmota.publish(topic, sensor), topic
    assert tasmota.publish(f"tele/{TASMOTA}/SENSOR", sensor)
    edge.wait_for(f"tele/{TASMOTA}/SENSOR", sensor)
    assert tasmota.publish(f"tele/{TASMOTA}/LWT", b"barrier")
    edge.wait_for(f"tele/{TASMOTA}/LWT", b"barrier")
    assert {t for t, _ in edge.snapshot()} == {f"tele/{TASMOTA}/SENSOR", f"tele/{TASMOTA}/LWT"}


def test_a_shelly_gen1_flood_sensor_raises_its_leak_over_the_device_listener(
    site_broker: SecuredBroker, device_port: int, realdata: Path
) -> None:
    edge = _edge(site_broker)
    issued = linli("broker", "add-shelly-gen1", str(site_broker.folder), SHELLY_FLOOD)
    shelly = _plain(device_port, issued["username"], issued["password"], SHELLY_FLOOD)
    topic = f"shellies/{SHELLY_FLOOD}/sensor/flood"
    assert shelly.publish(topic, b"true")
    edge.wait_for(topic, b"true")
    # Not the smoke detector next door.
    assert not shelly.publish("shellies/shellysmoke-a1b2c3/sensor/smoke", b"true")


def test_the_device_listener_refuses_strangers_wrong_passwords_and_revoked_devices(
    site_broker: SecuredBroker, device_port: int
) -> None:
    issued = linli("broker", "add-tasmota", str(site_broker.folder), TASMOTA)
    for username, password in [
        (None, None),
        (issued["username"], "wrong"),
        ("tasmota-nobody", issued["password"]),
    ]:
        with pytest.raises(ConnectRefusedError):
            _plain(device_port, username, password)
    tasmota = _plain(device_port, issued["username"], issued["password"])
    revoked = linli("broker", "revoke", str(site_broker.folder), TASMOTA, "--role", "tasmota")
    assert revoked["reloaded"] is True
    assert tasmota.disconnected.wait(5.0), "a revoked device is cut off on the device listener"
    with pytest.raises(ConnectRefusedError):
        _plain(device_port, issued["username"], issued["password"])


def test_without_the_option_no_listener_takes_devices_in_clear(
    site_broker_secured: SecuredBroker,
) -> None:
    """The default stays TLS for every remote client: the plain listener is loopback only."""
    config = (site_broker_secured.folder / "mosquitto.conf").read_text()
    listeners = [line for line in config.splitlines() if line.startswith("listener ")]
    assert listeners == [
        f"listener {site_broker_secured.tls_port} 127.0.0.1",
        f"listener {site_broker_secured.port} 127.0.0.1",
    ]
    assert "device_port" not in site_broker_secured.init
    issued = linli("broker", "add-tasmota", str(site_broker_secured.folder), TASMOTA)
    assert "device_port" not in issued


@pytest.mark.parametrize(
    ("options", "error"),
    [
        (["--device-port", "1883"], "a hub broker takes edges"),
        (["--site", "e1", "--device-port", "8883"], "two listeners on one port"),
        (["--site", "e1", "--device-bind", "0.0.0.0"], "--device-bind needs --device-port"),
    ],
)
def test_a_device_listener_is_refused_where_it_makes_no_sense(
    tmp_path: Path, options: list[str], error: str
) -> None:
    folder = tmp_path / "broker"
    result = CliRunner().invoke(app, ["broker", "init", str(folder), *options])
    assert result.exit_code == 2, result.output
    assert error in result.output
    assert not (folder / "linli-broker.json").exists()
