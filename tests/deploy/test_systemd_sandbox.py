"""What the systemd units let their programs write, and who may read what they write.

Found by an outside reviewer setting up a site from the docs alone: the broker unit's sandbox
(``ProtectSystem=strict``) left the folder of its configuration read-only, so Mosquitto run
on a ``linli broker init`` folder stopped at once ("Unable to write pid file"); and the hub's
database and the edge's outbox were written with systemd's default umask, readable by every
account on the box.
"""

from pathlib import Path

from linli.trust.config import BrokerFiles, ListenerPlan, render_config

UNITS = Path(__file__).resolve().parents[2] / "deploy" / "systemd"


def _directives(unit: str) -> dict[str, list[str]]:
    """Return the unit's directives by key (continuation lines joined)."""
    text = (UNITS / unit).read_text().replace("\\\n", " ")
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def _writable(unit: str) -> list[Path]:
    directives = _directives(unit)
    paths = [Path(p.lstrip("-")) for v in directives.get("ReadWritePaths", []) for p in v.split()]
    states = [Path("/var/lib", p) for v in directives.get("StateDirectory", []) for p in v.split()]
    return paths + states


def test_the_broker_may_write_what_its_configuration_names() -> None:
    """Every path Mosquitto writes to (pid file, persistence) under the folder it is started
    on, as `linli broker init` renders it, is writable inside the unit's sandbox."""
    [exec_start] = _directives("linli-mosquitto.service")["ExecStart"]
    config = Path(exec_start.split("-c", 1)[1].split()[0])
    rendered = render_config(BrokerFiles(config.parent), ListenerPlan(tls_port=8883))
    written = [
        Path(line.split(None, 1)[1])
        for line in rendered.splitlines()
        if line.startswith(("pid_file ", "persistence_location "))
    ]
    assert len(written) == 2
    writable = _writable("linli-mosquitto.service")
    for path in written:
        assert any(path.is_relative_to(root) for root in writable), (path, writable)


def test_the_programs_data_is_for_their_user_alone() -> None:
    for unit in ("linli-hub.service", "linli-edge.service", "linli-mosquitto.service"):
        directives = _directives(unit)
        assert directives.get("UMask") == ["0077"], unit
        assert directives.get("StateDirectoryMode") == ["0700"], unit


def test_settings_of_the_env_file_are_not_fixed_on_the_command_line() -> None:
    """A flag on ExecStart beats the env file (linli.flags): the units give only the flags
    whose values come from the env file or name the install's own folders."""
    allowed = {
        "linli-hub.service": {"--mqtt"},
        "linli-edge.service": {"--site", "--hub-mqtt", "--data-dir"},
    }
    for unit, flags in allowed.items():
        [exec_start] = _directives(unit)["ExecStart"]
        given = {word for word in exec_start.split() if word.startswith("--")}
        assert given <= flags, (unit, given - flags)
