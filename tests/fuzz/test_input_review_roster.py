"""The roster file as people save it: an editor's byte-order mark, a Chinese Windows code
page, a file gone wrong. The hub either loads it or stops naming the file and the reason,
never with a bare traceback (``hub.roster.file``'s promise)."""

from pathlib import Path

import pytest

from hub.errors import HubStartupError
from hub.roster.file import load_roster
from simulators.sites import sample_roster_path


def test_a_roster_saved_with_a_byte_order_mark_loads_as_without(tmp_path: Path) -> None:
    sample = sample_roster_path().read_bytes()
    path = tmp_path / "roster.toml"
    path.write_bytes(b"\xef\xbb\xbf" + sample)
    assert load_roster(path) == load_roster(sample_roster_path())


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ("gbk", "is not UTF-8"),
        ("utf-16", "is not UTF-8"),
        ("deep", "nested too deeply"),
    ],
)
def test_an_unreadable_roster_stops_the_hub_naming_the_file(
    tmp_path: Path, content: str, complaint: str
) -> None:
    sample = sample_roster_path().read_text(encoding="utf-8")
    path = tmp_path / "roster.toml"
    if content == "deep":
        path.write_text("x = " + "[" * 50_000 + "]" * 50_000, encoding="utf-8")
    else:
        path.write_bytes(sample.encode(content))
    with pytest.raises(HubStartupError, match=complaint) as refused:
        load_roster(path)
    assert str(path) in str(refused.value)
