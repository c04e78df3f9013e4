"""`linli edge` (and `linli simulate`) with a site file it cannot use says why, in one line.

An installer who mistypes `--site /etc/linli/site.toml`, forgets to copy the file (raspberry-pi.md
step 4), or leaves a TOML typo or an unknown field in it got a page of traceback from inside the
agent, repeated in the journal every 2 s by the unit's `Restart=always`; the reason was its last
line. Now: `linli: cannot start: the site file PATH: REASON`, exit 2, before anything runs.
"""

from pathlib import Path

import pytest

from tests.cli import run_linli

GOOD = """\
[site]
name = "Courtyard A"
edge_id = "edge-a"

[[devices]]
id = "b3-smoke"
kind = "smoke"
location = "Building 3, 12th floor"
"""


def _bad_site_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Site files an installer gets wrong, each with what the message must name."""
    unparsable = tmp_path / "typo.toml"
    unparsable.write_text(GOOD.replace('kind = "smoke"', 'kind = "smoke'))
    invalid = tmp_path / "invalid.toml"
    invalid.write_text(GOOD.replace('kind = "smoke"', 'kind = "smoke"\nflavour = "x"'))
    return {
        "missing": (tmp_path / "no-such-site.toml", "No such file or directory"),
        "unparsable": (unparsable, "not valid TOML"),
        "invalid": (invalid, "flavour"),
    }


@pytest.mark.parametrize("case", ["missing", "unparsable", "invalid"])
def test_linli_edge_refuses_a_site_file_it_cannot_use_in_one_line(
    tmp_path: Path, case: str
) -> None:
    path, reason = _bad_site_files(tmp_path)[case]
    result = run_linli(
        "edge",
        "--site",
        str(path),
        "--data-dir",
        str(tmp_path / "edge"),
        "--local-mqtt",
        "127.0.0.1:9",
        "--hub-mqtt",
        "127.0.0.1:9",
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert f"linli: cannot start: the site file {path}" in result.stderr, result.stderr
    assert reason in result.stderr, result.stderr


@pytest.mark.parametrize("case", ["missing", "unparsable", "invalid"])
def test_linli_simulate_refuses_a_site_file_it_cannot_use_in_one_line(
    tmp_path: Path, case: str
) -> None:
    path, reason = _bad_site_files(tmp_path)[case]
    result = run_linli("simulate", "fire", "--site", str(path), "--mqtt", "127.0.0.1:9")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert f"the site file {path}" in result.stderr, result.stderr
    assert reason in result.stderr, result.stderr


def test_a_good_site_file_is_read_as_the_agent_reads_it(tmp_path: Path) -> None:
    from devices.site import SiteFile
    from linli.site_file import read_site_file

    path = tmp_path / "site.toml"
    path.write_text(GOOD)
    assert read_site_file(path) == SiteFile.load(path)
