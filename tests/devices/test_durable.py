"""The durable file write: the whole file lands at its place, nothing else stays behind."""

from pathlib import Path

import pytest

from devices.durable import write_durably


def test_a_durable_write_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "picture.jpg"
    path.write_bytes(b"old bytes, longer than the new")
    write_durably(path, b"new")
    assert path.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["picture.jpg"]


def test_a_durable_write_into_a_missing_folder_fails_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_durably(tmp_path / "missing" / "picture.jpg", b"bytes")
    assert list(tmp_path.iterdir()) == []
