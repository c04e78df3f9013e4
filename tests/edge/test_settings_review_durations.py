"""An edge's durations must be numbers of seconds (review defect).

``heartbeat_s`` and every other duration of the edge's settings were only checked ``> 0``, which
``inf`` passes: ``LINLI_EDGE_HEARTBEAT_S=inf`` (or ``--heartbeat inf``) started an edge that never
said its status again after the first, and that first status carried ``heartbeat_s: inf``, which
the hub refuses: the edge was offline at the hub from its start, without a word at the edge.
Now the edge refuses to start, saying why (NaN was refused already; kept here as a guard).
"""

import math
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from edge.settings import EdgeSettings
from linli.cli import app

DURATIONS = [
    name
    for name, field in EdgeSettings.model_fields.items()
    if field.annotation is float and name.endswith("_s")
]


@pytest.mark.parametrize("name", DURATIONS)
@pytest.mark.parametrize("value", [math.inf, math.nan, "inf", "nan"])
def test_no_duration_is_infinite_or_not_a_number(
    name: str, value: float | str, tmp_path: Path
) -> None:
    with pytest.raises(ValidationError):
        EdgeSettings.model_validate({"site_file": tmp_path / "site.toml", name: value})


def test_a_heartbeat_longer_than_a_day_is_refused(tmp_path: Path) -> None:
    assert EdgeSettings(site_file=tmp_path / "s.toml", heartbeat_s=86400).heartbeat_s == 86400
    with pytest.raises(ValidationError):
        EdgeSettings(site_file=tmp_path / "s.toml", heartbeat_s=86401)


def test_the_edge_will_not_start_on_an_infinite_heartbeat_from_its_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LINLI_EDGE_HEARTBEAT_S", "inf")
    site = tmp_path / "site.toml"
    site.write_text('edge_id = "e1"\n')
    result = CliRunner().invoke(app, ["edge", "--site", str(site), "--data-dir", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert "cannot start" in result.output
    assert "heartbeat_s" in result.output
