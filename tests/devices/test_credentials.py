"""devices.credentials: a credentials file only its owner can read, or no start."""

import json
from pathlib import Path

import pytest

from devices.credentials import CredentialsError, load_credentials


def _write(path: Path, data: object, mode: int) -> Path:
    path.write_text(json.dumps(data))
    path.chmod(mode)
    return path


def test_the_output_of_linli_broker_is_a_credentials_file(tmp_path: Path) -> None:
    issued = {"username": "edge-e1", "password": "s3cret", "ca_file": "/x/ca.crt", "tls_port": 1}
    creds = load_credentials(_write(tmp_path / "c.json", issued, 0o600))
    assert creds.username == "edge-e1"
    assert creds.password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(creds)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o666, 0o620])
def test_a_file_others_can_touch_is_refused(tmp_path: Path, mode: int) -> None:
    path = _write(tmp_path / "c.json", {"username": "u", "password": "p"}, mode)
    with pytest.raises(CredentialsError, match="accessible to others"):
        load_credentials(path)


def test_missing_or_malformed_files_are_refused_without_echoing_them(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError, match="No such file"):
        load_credentials(tmp_path / "absent.json")
    path = _write(tmp_path / "c.json", {"user": "u", "password": "topsecret"}, 0o600)
    with pytest.raises(CredentialsError, match="not a username and password") as caught:
        load_credentials(path)
    assert "topsecret" not in str(caught.value)
