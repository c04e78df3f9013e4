"""The durable file write: the whole file lands at its place, nothing else stays behind."""

from concurrent.futures import ThreadPoolExecutor
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


def test_threads_writing_the_same_path_each_land_whole(tmp_path: Path) -> None:
    """Two threads of one process storing the same picture at once: neither write fails, the
    file ends as one of them, whole, and no temporary is left (names once carried only the pid)."""
    path = tmp_path / "picture.jpg"
    bodies = [bytes([n]) * (64 * 1024 + n) for n in range(8)]

    def write(n: int) -> None:
        for _ in range(25):
            write_durably(path, bodies[n])

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(write, range(8)))
    assert path.read_bytes() in bodies
    assert sorted(p.name for p in tmp_path.iterdir()) == ["picture.jpg"]
