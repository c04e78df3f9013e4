"""`linli simulate SCENARIO` against a broker that refuses it says why, in one line.

The scenarios connect without a password. Played against a site broker made by `linli broker
init` (what deploy/README.md used to suggest), they ended in a page of traceback.
"""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from linli.brokers import MosquittoProcess
from linli.cli import app
from tests.conftest import missing
from tests.security.brokers import running_broker

pytestmark = [pytest.mark.mosquitto]


def test_a_scenario_refused_by_a_secured_broker_is_a_clear_error(tmp_path: Path) -> None:
    if MosquittoProcess.executable() is None:
        missing("mosquitto")
    with running_broker(tmp_path / "site-broker", "--site", "edge-a") as broker:
        address = f"127.0.0.1:{broker.port}"
        result = CliRunner().invoke(
            app, ["simulate", "fire", "--mqtt", address, "--speed", "30", "--duration", "5"]
        )
    assert result.exit_code == 2, result.output
    assert "Not authorized" in result.output
    assert "linli broker init" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
