"""Hub settings: defaults, the environment, the database URL."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from hub.settings import HubSettings


def test_defaults_put_sqlite_in_the_data_folder() -> None:
    settings = HubSettings(data_dir=Path("/srv/linli"))
    assert settings.resolved_database_url() == "sqlite:////srv/linli/hub.sqlite3"
    assert settings.max_payload_bytes == 256 * 1024
    assert settings.ingest_batch_max == 500
    assert settings.start_ingest


def test_an_explicit_url_wins() -> None:
    url = "postgresql+psycopg://linli@db/linli"
    assert HubSettings(database_url=url).resolved_database_url() == url


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINLI_HUB_MQTT_PORT", "11883")
    monkeypatch.setenv("LINLI_HUB_START_INGEST", "false")
    settings = HubSettings()
    assert settings.mqtt_port == 11883
    assert not settings.start_ingest


@pytest.mark.parametrize(
    ("name", "value"), [("LINLI_HUB_MQTT_PORT", "188300"), ("LINLI_HUB_HTTP_PORT", "99999")]
)
def test_a_port_that_cannot_exist_is_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    """From ``hub.env`` as from a flag: a hub on :188300 retried its broker for ever and heard
    no alarm (an installer's review found the flag; this is the environment's way in)."""
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match="65535"):
        HubSettings()


def test_unknown_settings_are_refused() -> None:
    with pytest.raises(ValidationError):
        HubSettings(mqtt_hots="typo")  # type: ignore[call-arg]


def test_a_worker_is_told_which_picture_folders_it_keeps_to_itself(tmp_path: Path) -> None:
    assert HubSettings(data_dir=tmp_path).workers_unshared_folders() == []
    worker = HubSettings(data_dir=tmp_path, worker_id="2")
    assert worker.workers_unshared_folders() == [
        "LINLI_HUB_EVIDENCE_DIR",
        "LINLI_HUB_REQUEST_PHOTO_DIR",
    ]
    shared = HubSettings(
        data_dir=tmp_path,
        worker_id="2",
        evidence_dir=tmp_path / "shared/evidence",
        request_photo_dir=tmp_path / "shared/photos",
    )
    assert shared.workers_unshared_folders() == []
