"""The systemd units in deploy/systemd pass ``systemd-analyze verify``, warnings included.

The units name the install paths of the Raspberry Pi guide (``/opt/linli/.venv/bin/linli``,
``/usr/sbin/mosquitto``); the test points them at this checkout's ``linli`` and the machine's
Mosquitto, because verify also checks that each ``ExecStart`` is executable.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import missing

UNITS = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
INSTALLED_LINLI = "/opt/linli/.venv/bin/linli"
INSTALLED_MOSQUITTO = "/usr/sbin/mosquitto"


def test_the_units_are_hub_edge_and_mosquitto() -> None:
    names = sorted(path.name for path in UNITS.glob("*.service"))
    assert names == ["linli-edge.service", "linli-hub.service", "linli-mosquitto.service"]
    for path in UNITS.glob("linli-*.service"):
        text = path.read_text()
        assert "Restart=" in text
        assert "[Install]" in text


def test_the_broker_may_hold_more_connections_than_a_stranger_opens_idle() -> None:
    """Every TCP connection is an open file before any password: under systemd's default of
    1,024, about 1,100 idle connections from anyone on the network locked every new client out
    of the site broker (an outside tester's probe)."""
    lines = (UNITS / "linli-mosquitto.service").read_text().splitlines()
    [limit] = [line.split("=", 1)[1] for line in lines if line.startswith("LimitNOFILE=")]
    assert int(limit) >= 65536


def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        # Skipped even on CI: a machine without systemd has nothing to check the units with.
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    mosquitto = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin")
    if mosquitto is None:
        missing("mosquitto")
    assert analyze is not None
    assert mosquitto is not None
    linli = Path(sys.executable).parent / "linli"
    if not linli.exists():
        pytest.fail(f"the linli command is not installed beside {sys.executable}")
    copies = []
    for unit in sorted(UNITS.glob("*.service")):
        text = unit.read_text().replace(INSTALLED_LINLI, str(linli))
        copy = tmp_path / unit.name
        copy.write_text(text.replace(INSTALLED_MOSQUITTO, mosquitto))
        copies.append(str(copy))
    result = subprocess.run(
        [analyze, "verify", "--man=no", *copies],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr  # no unknown keys, no bad values
