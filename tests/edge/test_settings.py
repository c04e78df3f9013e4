"""Edge settings: defaults, the environment, strictness, and the edge id from the site file."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from devices.adapters import DEFAULT_MAX_PAYLOAD_BYTES
from edge.agent import EdgeAgent
from edge.settings import EdgeSettings
from tests.edge.conftest import EDGE_ID


def test_defaults(site_file: Path) -> None:
    settings = EdgeSettings(site_file=site_file)
    assert settings.edge_id is None
    assert settings.data_dir == Path("linli-data/edge")
    assert (settings.local_mqtt_host, settings.local_mqtt_port) == ("127.0.0.1", 1883)
    assert (settings.hub_mqtt_host, settings.hub_mqtt_port) == ("127.0.0.1", 1883)
    assert settings.z2m_base == "zigbee2mqtt"
    assert (settings.heartbeat_s, settings.resend_after_s) == (30, 10)
    assert (settings.max_in_flight, settings.telemetry_interval_s) == (1000, 5)
    assert settings.max_payload_bytes == DEFAULT_MAX_PAYLOAD_BYTES
    assert settings.outbox_sync == "full"
    assert (settings.co_profile, settings.detection_tick_s) == ("ul2034", 5)
    assert settings.trust_device_time is False  # a device's time bounded by the edge's


def test_reads_the_environment(site_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINLI_EDGE_HUB_MQTT_PORT", "8883")
    monkeypatch.setenv("LINLI_EDGE_OUTBOX_SYNC", "normal")
    monkeypatch.setenv("LINLI_EDGE_TRUST_DEVICE_TIME", "true")
    settings = EdgeSettings(site_file=site_file)
    assert settings.hub_mqtt_port == 8883
    assert settings.outbox_sync == "normal"
    assert settings.trust_device_time is True


@pytest.mark.parametrize(
    "bad",
    [{"hub_port": 1883}, {"outbox_sync": "off"}, {"edge_id": "bad/id"}, {"max_in_flight": 0}],
)
def test_refuses_unknown_or_invalid_values(site_file: Path, bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        EdgeSettings(site_file=site_file, **bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(("override", "expected"), [(None, EDGE_ID), ("edge-other", "edge-other")])
def test_edge_id_comes_from_the_site_file_unless_set(
    tmp_path: Path, site_file: Path, override: str | None, expected: str
) -> None:
    agent = EdgeAgent(EdgeSettings(site_file=site_file, edge_id=override, data_dir=tmp_path))
    try:
        assert agent.edge_id == expected
        assert {d.edge_id for d in agent.site_devices} == {expected}
    finally:
        agent.outbox.close()


def test_the_hub_keepalive_is_a_setting(site_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert EdgeSettings(site_file=site_file).hub_endpoint(EDGE_ID).keepalive_s == 60
    monkeypatch.setenv("LINLI_EDGE_HUB_MQTT_KEEPALIVE_S", "13")
    settings = EdgeSettings(site_file=site_file)
    # Every session with the hub: alerts and status, doors, camera evidence.
    for session in (None, "access", "evidence"):
        assert settings.hub_endpoint(EDGE_ID, session).keepalive_s == 13
    assert settings.local_endpoint(EDGE_ID).keepalive_s == 60, "the site broker's is its own"
    with pytest.raises(ValidationError):
        EdgeSettings(site_file=site_file, hub_mqtt_keepalive_s=0)
