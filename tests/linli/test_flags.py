"""`linli hub` and `linli edge` take the settings a flag leaves out from the environment.

The systemd units read ``/etc/linli/edge.env`` and ``hub.env``, and the docs say any
``LINLI_EDGE_*`` / ``LINLI_HUB_*`` setting goes there. Before, every flag's default was passed
as if given, so ``LINLI_EDGE_HUB_MQTT_HOST``, ``LINLI_EDGE_CO_PROFILE=en50291`` or
``LINLI_HUB_HTTP_PORT`` were silently ignored: an edge sending to 127.0.0.1:1883 instead of
its hub, a European site's CO detectors judged by UL 2034.
"""

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edge.settings import EdgeSettings
from hub.auth.repository import AuthStore
from hub.persistence.engine import create_hub_engine
from hub.settings import HubSettings
from linli.brokers import MosquittoProcess, free_port
from linli.cli import app
from linli.flags import settings_values
from tests.conftest import missing
from tests.e2e.stack import HUB_BOOT_TIMEOUT, LinliProcess
from tests.polling import wait_until

EDGE = "edge-env"


def test_a_flag_left_out_is_taken_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LINLI_EDGE_CO_PROFILE", "en50291")
    monkeypatch.setenv("LINLI_EDGE_HUB_MQTT_HOST", "hub.example.org")
    given = {"site_file": tmp_path / "site.toml", "co_profile": None, "heartbeat_s": None}
    values = settings_values(EdgeSettings, given, {"data_dir": Path("linli-data/edge")})
    settings = EdgeSettings(**values)
    assert settings.co_profile == "en50291"
    assert settings.hub_mqtt_host == "hub.example.org"
    assert settings.heartbeat_s == 30
    assert settings.data_dir == Path("linli-data/edge")


def test_a_flag_given_beats_the_environment_and_the_default_fills_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LINLI_HUB_HTTP_PORT", "9000")
    monkeypatch.delenv("LINLI_HUB_DATA_DIR", raising=False)
    given = {"http_port": 9100, "http_host": None}
    settings = HubSettings(
        **settings_values(HubSettings, given, {"data_dir": Path("linli-data/hub")})
    )
    assert settings.http_port == 9100
    assert settings.http_host == "127.0.0.1"
    assert settings.data_dir == Path("linli-data/hub")
    monkeypatch.setenv("LINLI_HUB_DATA_DIR", "/var/lib/linli/hub")
    settings = HubSettings(**settings_values(HubSettings, {}, {"data_dir": Path("x")}))
    assert settings.data_dir == Path("/var/lib/linli/hub")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoProcess]:
    if MosquittoProcess.executable() is None:
        missing("mosquitto")
    if shutil.which("mosquitto_sub") is None:
        missing("mosquitto_sub")
    process = MosquittoProcess(tmp_path / "broker")
    process.start()
    try:
        yield process
    finally:
        process.stop()


def _retained_status(broker: MosquittoProcess) -> str:
    found = subprocess.run(
        [
            *("mosquitto_sub", "-h", broker.host, "-p", str(broker.port), "-C", "1", "-W", "2"),
            *("-t", f"linli/edge/{EDGE}/status"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return found.stdout


@pytest.mark.mosquitto
@pytest.mark.slow
def test_the_edge_reaches_the_brokers_its_environment_names(
    broker: MosquittoProcess, tmp_path: Path
) -> None:
    site = tmp_path / "site.toml"
    site.write_text(f'[site]\nname = "Env"\nedge_id = "{EDGE}"\n')
    data = tmp_path / "edge-data"
    edge = LinliProcess(
        "edge",
        ["edge", "--site", str(site)],
        tmp_path / "edge.log",
        env={
            "LINLI_EDGE_LOCAL_MQTT_HOST": broker.host,
            "LINLI_EDGE_LOCAL_MQTT_PORT": str(broker.port),
            "LINLI_EDGE_HUB_MQTT_HOST": broker.host,
            "LINLI_EDGE_HUB_MQTT_PORT": str(broker.port),
            "LINLI_EDGE_DATA_DIR": str(data),
        },
    )
    edge.start()
    try:
        status = wait_until(
            lambda: _retained_status(broker) if edge.alive else "dead",
            timeout=60,
            what="the edge's status on the broker its environment names",
        )
        assert status != "dead", edge.log()[-3000:]
        assert EDGE in status
        assert data.is_dir()
        assert any(data.iterdir())
    finally:
        edge.stop()


@pytest.mark.slow
def test_the_hub_serves_on_the_port_its_environment_names(tmp_path: Path) -> None:
    port = free_port()
    hub = LinliProcess(
        "hub",
        ["hub"],
        tmp_path / "hub.log",
        env={
            "LINLI_HUB_HTTP_PORT": str(port),
            "LINLI_HUB_DATA_DIR": str(tmp_path / "hub-data"),
            "LINLI_HUB_START_INGEST": "false",
            "LINLI_HUB_ACCESS_SYNC": "false",
        },
    )
    hub.start()
    try:
        wait_until(
            lambda: hub.answers_http(port),
            timeout=HUB_BOOT_TIMEOUT,
            what="the hub on LINLI_HUB_HTTP_PORT",
        )
        assert (tmp_path / "hub-data" / "hub.sqlite3").exists()
    finally:
        hub.stop()


def test_accounts_are_made_in_the_hubs_data_folder_its_environment_names(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`linli token create` run where hub.env is sourced: before, it made a second, empty
    database under ./linli-data/hub and the hub never knew the token."""
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "var-lib-linli-hub"
    result = CliRunner().invoke(
        app, ["token", "create", "status"], env={"LINLI_HUB_DATA_DIR": str(data)}
    )
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    store = AuthStore(create_hub_engine(f"sqlite:///{data / 'hub.sqlite3'}"))
    assert store.principal_for(token) is not None
    assert not (tmp_path / "linli-data").exists()
