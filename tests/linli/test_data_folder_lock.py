"""``linli.running.data_folders_held``: one program per data folder, refused copies exit 2."""

import logging
import os
from pathlib import Path

import pytest

from hub.persistence.engine import sqlite_file
from linli.running import LOCK_FILE, data_folders_held, database_held
from tests.cli import run_linli


def test_a_second_hold_on_a_folder_exits_2_naming_the_folder_and_the_holder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "edge"
    with data_folders_held(folder):
        assert (folder / LOCK_FILE).read_text() == f"{os.getpid()}\n"
        assert folder.stat().st_mode & 0o777 == 0o700  # made as the program makes it
        with pytest.raises(SystemExit) as refused, data_folders_held(tmp_path / "hub", folder):
            pytest.fail("a second copy ran")
        assert refused.value.code == 2
        assert capsys.readouterr().err == (
            f"linli: cannot start: the data folder {folder.resolve()} is in use by another "
            f"linli program (pid {os.getpid()}); stop it first\n"
        )
        # What the refused copy had already locked is free again.
        with data_folders_held(tmp_path / "hub"):
            pass
    with data_folders_held(folder):  # released with the block
        pass


def test_a_folder_that_cannot_hold_a_lock_does_not_stop_the_program(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A disk that refuses writes must not keep an edge from forwarding alarms.
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    ran = False
    with caplog.at_level(logging.WARNING), data_folders_held(blocked / "edge"):
        ran = True
    assert ran
    assert "cannot lock the data folder" in caplog.text


@pytest.mark.parametrize(
    ("command", "held"),
    [
        (["demo", "--no-simulators", "--data-dir", "{root}/data"], "data/hub"),
        (["edge", "--site", "{root}/site.toml", "--data-dir", "{root}/edge"], "edge"),
        (["hub", "--data-dir", "{root}/hub", "--http-port", "0"], "hub"),
    ],
)
def test_a_program_on_a_folder_in_use_exits_at_once(
    tmp_path: Path, command: list[str], held: str
) -> None:
    (tmp_path / "site.toml").write_text('[site]\nname = "S"\nedge_id = "edge-lock"\n')
    folder = tmp_path / held
    with data_folders_held(folder):
        result = run_linli(*(arg.format(root=tmp_path) for arg in command))
    assert result.returncode == 2, result.stderr[-3000:]
    assert result.stderr.strip().splitlines()[-1] == (
        f"linli: cannot start: the data folder {folder.resolve()} is in use by another "
        f"linli program (pid {os.getpid()}); stop it first"
    )


@pytest.mark.parametrize(
    ("url", "held"),
    [
        ("sqlite:///{tmp}/hub.sqlite3", True),
        ("sqlite://", False),
        ("sqlite:///:memory:", False),
        ("postgresql+psycopg://linli@127.0.0.1/linli", False),
    ],
)
def test_only_a_sqlite_file_is_held_beside_it(tmp_path: Path, url: str, held: bool) -> None:
    """A second hub on one SQLite file is refused; PostgreSQL's workers share theirs."""
    database = sqlite_file(url.format(tmp=tmp_path))
    assert (database is not None) is held
    with database_held(database):
        if held:
            assert database is not None
            with pytest.raises(SystemExit) as refused, database_held(database):
                pytest.fail("a second hub ran")
            assert refused.value.code == 2
    if database is not None:
        with database_held(database):  # released with the block
            pass


def test_a_hub_whose_data_folder_cannot_be_made_says_so_in_one_line(tmp_path: Path) -> None:
    # Found by an outside review: a 280-line traceback from the hub's lifespan, exit 1.
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    result = run_linli("hub", "--data-dir", str(blocked / "hub"), "--http-port", "0")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"linli: cannot start: the hub's data folder {blocked / 'hub'} cannot be made "
        "(Not a directory)"
    )
    assert "Traceback" not in result.stderr
