"""``sudo linli broker init ... --user mosquitto``: the folder is the broker's user's.

Root wrote every file 0600 as its own while the configuration said ``user mosquitto``:
Mosquitto, started as root, drops to that user before it writes its pid file and reads the
password file, and stopped at once ("Unable to write pid file"). An ``add-*`` run by root on a
folder that works would likewise have locked the broker out of its own password file at the
next reload. Needs root and a ``mosquitto`` account (Debian's package makes it); elsewhere the
test says why it does not run.
"""

import os
import pwd
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from linli.brokers import MosquittoProcess
from linli.cli import app
from tests.conftest import missing
from tests.security.brokers import linli, running_broker


@pytest.fixture
def open_folder() -> Iterator[Path]:
    """A folder the broker's user can reach (pytest's own are root's alone)."""
    if MosquittoProcess.executable() is None:
        missing("mosquitto")
    if os.geteuid() != 0:
        pytest.skip("root is what this test is about: run as root")
    try:
        pwd.getpwnam("mosquitto")
    except KeyError:
        pytest.skip("no mosquitto account on this machine")
    parent = Path(tempfile.mkdtemp(prefix="linli-broker-"))
    parent.chmod(0o755)
    try:
        yield parent
    finally:
        shutil.rmtree(parent)


def test_a_folder_root_makes_for_the_mosquitto_user_runs_and_stays_theirs(
    open_folder: Path,
) -> None:
    folder = open_folder / "broker"
    with running_broker(folder, "--user", "mosquitto") as broker:
        uid = pwd.getpwnam("mosquitto").pw_uid
        assert {p.name for p in folder.iterdir() if p.stat().st_uid != uid} <= {"mosquitto.log"}
        hub = broker.init["hub"]
        broker.connect(hub["username"], hub["password"]).close()

        edge = linli("broker", "add-edge", str(folder), "courtyard-a")  # root again
        assert edge["reloaded"] is True
        assert (folder / "passwd").stat().st_uid == uid
        broker.connect(edge["username"], edge["password"]).close()
        broker.connect(hub["username"], hub["password"]).close()


def test_an_unknown_user_is_refused_before_anything_is_written(open_folder: Path) -> None:
    folder = open_folder / "broker"
    result = CliRunner().invoke(
        app, ["broker", "init", str(folder), "--tls-port", "8883", "--user", "no-such-user-here"]
    )
    assert result.exit_code != 0
    assert "no-such-user-here" in result.output
    assert not (folder / "linli-broker.json").exists()
