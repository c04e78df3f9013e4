"""`linli simulate load` for real: simulated edges → the hub's Mosquitto → `linli hub`.

A small city (3 edges × 10 devices, every kind of the mix) for a few seconds at storm rates;
the run must see every record acknowledged, and the hub's own records (its /api/v1) must
hold each alert and access record exactly once, as many as the summary says were sent.
"""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from linli.brokers import MosquittoProcess
from simulators.load import LoadOptions, LoadTarget, check_hub, run_load
from simulators.load_mix import EventKind, LoadPlan
from tests.conftest import missing
from tests.e2e.stack import Stack
from tests.scale.whole import alerts_sent, assert_stored_whole_and_once

pytestmark = [pytest.mark.slow, pytest.mark.mosquitto]

PLAN = LoadPlan(
    edges=3,
    devices_per_edge=10,
    duration_s=4,
    incidents_per_device_h=1800,
    clear_after_s=1,
    sos_per_button_h=1800,
    passages_per_door_h=3600,
)


@pytest.fixture
def hub_stack(tmp_path: Path, database_url: str) -> Iterator[Stack]:
    """A hub and its broker, with no edge of its own: the simulated edges are the edges."""
    if MosquittoProcess.executable() is None:
        missing("mosquitto")
    stack = Stack(tmp_path, [], database_url)
    try:
        stack.start_hub()
        yield stack
    finally:
        stack.close()


async def test_a_small_load_arrives_whole_and_once(hub_stack: Stack) -> None:
    target = LoadTarget("127.0.0.1", hub_stack.local_broker.port)
    result = await run_load(PLAN, target, options=LoadOptions(resend_after_s=2, drain_s=60), seed=5)
    tally = result.tally
    assert alerts_sent(tally) > 10, tally.sent  # the storm did happen
    assert tally.sent[EventKind.DOOR] > 0
    assert result.waiting == 0
    assert tally.total_acked == tally.total_sent
    assert len(tally.latencies_ms) == tally.total_sent

    checked = check_hub(result, hub_stack.api)
    assert_stored_whole_and_once(checked, tally)
    assert checked.cases > 0
    # Every simulated edge registered its devices with the hub through its status.
    devices = {d["id"] for d in hub_stack.get("/devices", limit=10_000)}
    assert {d.id for e in result.edges for d in e.devices} <= devices


def test_the_command_prints_a_summary_and_checks_the_hub(tmp_path: Path) -> None:
    if MosquittoProcess.executable() is None:
        missing("mosquitto")
    stack = Stack(tmp_path, [], f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    try:
        stack.start_hub()
        result = subprocess.run(
            [
                sys.executable, "-m", "linli", "simulate", "load",
                "--mqtt", f"127.0.0.1:{stack.local_broker.port}",
                "--edges", "2", "--devices-per-edge", "10", "--duration", "3",
                "--sos-per-hour", "3600", "--passages-per-hour", "3600",
                "--hub", f"http://127.0.0.1:{stack.http_port}", "--token", stack.token,
            ],
            capture_output=True, text=True, timeout=180,
        )  # fmt: skip
    finally:
        stack.close()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sustained" in result.stdout
    assert "lost 0, duplicated 0, still at the edges 0" in result.stdout
    assert "p99" in result.stdout


def test_simulate_help_and_list_name_load() -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "linli", "simulate", "list"], capture_output=True, text=True
    )
    assert listed.returncode == 0
    assert any(line.startswith("load ") for line in listed.stdout.splitlines())
    shown = subprocess.run(
        [sys.executable, "-m", "linli", "simulate", "--help"],
        capture_output=True,
        text=True,
        env={"COLUMNS": "200", "TERM": "dumb", "PATH": ""},
    )
    assert "--devices-per-edge" in shown.stdout
