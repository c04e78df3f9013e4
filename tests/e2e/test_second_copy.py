"""A second copy of a program on a data folder already in use is refused at once (exit 2).

Two ``linli edge`` on one folder share its outbox and its MQTT client ids: the broker takes
each session away from one copy when the other connects, so they knock each other off both
brokers in a loop and neither forwards alarms reliably. The first copy holds
``<data_dir>/.lock`` (``linli.running.data_folders_held``); the kernel frees it however the
holder dies.
"""

from pathlib import Path

from devices.topics import zigbee_topic
from linli.brokers import free_port
from tests.e2e.conftest import DEVICES, Z2M_SOS
from tests.e2e.stack import LinliProcess, Stack, mosquitto_pub
from tests.polling import wait_until


def _second(proc: LinliProcess, name: str, root: Path) -> LinliProcess:
    """Another copy of ``proc``: the same command line, its own log."""
    return LinliProcess(name, list(proc.args), root / f"{name}.log", env=dict(proc.env))


def _refused(copy: LinliProcess, folder: Path, holder: LinliProcess) -> None:
    copy.start()
    wait_until(lambda: not copy.alive, timeout=60, what=f"{copy.name} to exit")
    assert copy.proc is not None
    assert copy.proc.returncode == 2, copy.log()[-3000:]
    assert holder.proc is not None
    assert (
        f"linli: cannot start: the data folder {folder.resolve()} is in use by another "
        f"linli program (pid {holder.proc.pid}); stop it first"
    ) in copy.log()


def _sos_reaches_the_hub(stack: Stack, expected: int) -> None:
    assert stack.hub_broker.port == stack.local_broker.port
    mosquitto_pub(stack.local_broker.port, zigbee_topic("b2 501 sos"), '{"action":"emergency"}')
    wait_until(
        lambda: len(stack.get("/alerts", device_id=Z2M_SOS.id)) >= expected,
        what="the SOS alert at the hub",
    )


def test_a_second_edge_on_the_folder_is_refused_and_the_first_keeps_forwarding(
    tmp_path: Path,
) -> None:
    with Stack(tmp_path, DEVICES, f"sqlite:///{tmp_path / 'hub.sqlite3'}").started() as stack:
        _refused(_second(stack.edge, "edge-2", tmp_path), tmp_path / "edge", stack.edge)
        assert stack.edge.alive
        _sos_reaches_the_hub(stack, 1)
        # Never knocked off its brokers: the sessions it opened at start still stand.
        counters = stack.edge_counters()
        assert counters.get("local_connects") == 1, counters


def test_a_second_hub_on_the_folder_is_refused(tmp_path: Path) -> None:
    with Stack(
        tmp_path, DEVICES, f"sqlite:///{tmp_path / 'hub' / 'hub.sqlite3'}"
    ).started() as stack:
        copy = _second(stack.hub, "hub-2", tmp_path)
        copy.args[copy.args.index("--http-port") + 1] = str(free_port())
        _refused(copy, tmp_path / "hub", stack.hub)
        assert stack.hub.hub_connected()
        _sos_reaches_the_hub(stack, 1)


def test_a_second_hub_on_the_same_sqlite_file_is_refused(tmp_path: Path) -> None:
    """Its own data folder, the first hub's database file: SQLite has one writer, and the two
    would share the edges' alerts out of one file while each believes it is the only hub (its
    timers, its live stream). Refused at once, naming the file and who holds it."""
    database = tmp_path / "shared" / "hub.sqlite3"
    with Stack(tmp_path, DEVICES, f"sqlite:///{database}").started() as stack:
        copy = _second(stack.hub, "hub-2", tmp_path)
        copy.args[copy.args.index("--http-port") + 1] = str(free_port())
        copy.args[copy.args.index("--data-dir") + 1] = str(tmp_path / "hub-2")
        copy.start()
        wait_until(lambda: not copy.alive, timeout=60, what="the second hub to exit")
        assert copy.proc is not None
        assert copy.proc.returncode == 2, copy.log()[-3000:]
        assert stack.hub.proc is not None
        assert (
            f"linli: cannot start: the database {database.resolve()} is in use by another "
            f"linli hub (pid {stack.hub.proc.pid}); stop it first"
        ) in copy.log()
        assert stack.hub.hub_connected()
        _sos_reaches_the_hub(stack, 1)


def test_the_folder_of_a_killed_edge_is_free_at_once(tmp_path: Path) -> None:
    with Stack(tmp_path, DEVICES, f"sqlite:///{tmp_path / 'hub.sqlite3'}").started() as stack:
        stack.edge.kill()  # SIGKILL: the lock file stays, the kernel's lock does not
        assert (tmp_path / "edge" / ".lock").exists()
        stack.edge.start()
        _sos_reaches_the_hub(stack, 1)
        assert stack.edge.alive
