"""Re-running `linli broker add-*` for an identity already issued says it rotated the password.

docs/security.md: running an `add-*` command again rotates. An installer re-running a setup
step (the JSON lost, a script run twice, the wrong edge id typed) got the same one-line JSON
as for a new identity, while the running broker cut the installed edge or device off at once
and refused its old password: an edge's alerts then waited in its outbox, a device's readings
were lost, and nothing had said why. Now the JSON carries `"rotated": true` and stderr says
what happened and what to do; a new identity prints exactly what it did before.
"""

import json
from pathlib import Path

import pytest

from linli.brokers import MosquittoProcess
from tests.cli import run_linli
from tests.conftest import missing
from tests.security.brokers import ConnectRefusedError, running_broker

pytestmark = [pytest.mark.mosquitto]


@pytest.fixture(autouse=True)
def _mosquitto() -> None:
    if MosquittoProcess.executable() is None:
        missing("mosquitto")


def test_adding_an_edge_again_says_it_rotated_the_password_a_running_edge_used(
    tmp_path: Path,
) -> None:
    with running_broker(tmp_path / "hub-broker") as broker:
        first = run_linli("broker", "add-edge", str(broker.folder), "courtyard-a")
        assert first.returncode == 0, first.stderr
        assert first.stderr == ""
        issued = json.loads(first.stdout)
        assert "rotated" not in issued  # a new identity: the output it always had
        installed = broker.connect(issued["username"], issued["password"])

        again = run_linli("broker", "add-edge", str(broker.folder), "courtyard-a")

        assert again.returncode == 0, again.stderr
        rotated = json.loads(again.stdout)
        assert rotated["rotated"] is True
        assert rotated["reloaded"] is True
        assert "edge-courtyard-a already had an identity" in again.stderr
        assert "ROTATED" in again.stderr
        assert "disconnected" in again.stderr
        # What the warning says is what the broker did: the installed edge is off and its
        # password refused until the new one is put in its credentials file.
        assert installed.disconnected.wait(5)
        with pytest.raises(ConnectRefusedError):
            broker.connect(issued["username"], issued["password"])
        broker.connect(rotated["username"], rotated["password"]).close()


def test_adding_a_device_again_on_a_stopped_site_broker_says_when_the_old_password_ends(
    tmp_path: Path,
) -> None:
    with running_broker(tmp_path / "site-broker", "--site", "edge-a") as broker:
        folder = str(broker.folder)
    # The broker is stopped: the rotation takes effect when it starts.
    assert run_linli("broker", "add-device", folder, "b3-smoke").returncode == 0
    again = run_linli("broker", "add-device", folder, "b3-smoke")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["rotated"] is True
    assert "device-b3-smoke already had an identity" in again.stderr
    assert "when the broker starts" in again.stderr
