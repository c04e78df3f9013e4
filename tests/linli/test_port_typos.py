"""A port that cannot exist, mistyped in a flag, is refused at once with a clear message.

`linli hub --mqtt 127.0.0.1:18830` (a digit too many, or `LINLI_HUB_MQTT` in hub.env, which
the unit passes as `--mqtt`) was taken as it was: the hub started, served its console, and
tried the broker for ever ("Connection refused; reconnecting"), receiving no alarm, while
`linli edge` refused the same typo (its settings bound the port). `--http-port 99999` got
through the database migration and then ended in a page of traceback (`OverflowError`).
Now both exit 2 before anything runs, naming the flag.
"""

import pytest

from linli.flags import split_address
from tests.cli import run_linli


@pytest.mark.parametrize("port", ["0", "65536", "188300"])
def test_an_address_with_a_port_that_cannot_exist_is_not_an_address(port: str) -> None:
    assert split_address(f"127.0.0.1:{port}") is None


def test_an_address_with_a_real_port_is_split() -> None:
    assert split_address("hub.example.org:8883") == ("hub.example.org", 8883)
    assert split_address("[::1]:65535") == ("[::1]", 65535)


def test_linli_hub_refuses_a_broker_port_that_cannot_exist(tmp_path: object) -> None:
    result = run_linli(
        "hub", "--mqtt", "127.0.0.1:188300", "--http-port", "0", "--data-dir", f"{tmp_path}/hub"
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert "--mqtt must be HOST:PORT" in result.stderr
    assert "1-65535" in result.stderr


def test_linli_hub_refuses_an_http_port_that_cannot_exist(tmp_path: object) -> None:
    result = run_linli(
        "hub", "--mqtt", "127.0.0.1:9", "--http-port", "99999", "--data-dir", f"{tmp_path}/hub"
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert "--http-port" in result.stderr
    assert "65535" in result.stderr


def test_linli_edge_names_the_flag_of_a_port_that_cannot_exist(tmp_path: object) -> None:
    result = run_linli(
        "edge",
        "--site",
        f"{tmp_path}/site.toml",
        "--hub-mqtt",
        "hub.example.org:88830",
        "--data-dir",
        f"{tmp_path}/edge",
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert "--hub-mqtt must be HOST:PORT" in result.stderr
