"""What `linli hub` writes is its user's alone, run by hand as under systemd: the database
holds residents, care profiles and the audit trail."""

import stat
from pathlib import Path

import pytest

from linli.brokers import free_port
from tests.e2e.stack import HUB_BOOT_TIMEOUT, LinliProcess
from tests.polling import wait_until


@pytest.mark.slow
def test_the_hubs_folder_and_database_are_readable_by_its_user_only(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "hub-data"
    hub = LinliProcess(
        "hub",
        ["hub", "--http-port", str(port), "--data-dir", str(data)],
        tmp_path / "hub.log",
        env={"LINLI_HUB_START_INGEST": "false", "LINLI_HUB_ACCESS_SYNC": "false"},
    )
    hub.start()
    try:
        wait_until(lambda: hub.answers_http(port), timeout=HUB_BOOT_TIMEOUT, what="the hub")
        for path in (data, data / "hub.sqlite3"):
            mode = stat.S_IMODE(path.stat().st_mode)
            assert mode & 0o077 == 0, f"{path.name} is {mode:o}: others may read it"
    finally:
        hub.stop()
