"""Found by an outside review of ``linli report --csv``: two districts' streets of one name
(新华街道 in 东城区 and in 西城区), which the API gives as two groups each with its
``district``, came out as two identical rows; and the CSV had no byte order mark, so Excel on
a Chinese-locale PC read it as GBK and showed the names garbled."""

import csv
import io
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from linli import report
from linli.cli import app
from linli.report import TOTAL, report_rows
from tests.linli.test_report import figures
from tests.residents.test_phone_page_browser import ADMIN, Hub

BOM = "\ufeff".encode()


def two_xinhua_streets() -> dict[str, Any]:
    return {
        "groups": [
            {"key": "新华街道", "district": "东城区", "figures": figures(opened=2)},
            {"key": "新华街道", "district": "西城区", "figures": figures(opened=5)},
            {"key": "=HYPERLINK(1)", "district": "=cmd|' /C calc'!A0", "figures": figures()},
        ],
        "total": figures(opened=7),
        "overdue": [],
    }


def test_each_districts_street_of_one_name_is_its_own_row() -> None:
    rows = report_rows(two_xinhua_streets())
    header = rows[0]
    assert header[:2] == ["group", "opened"], "the figures stay where a sheet reads them"
    district = header.index("district")
    assert [(r[0], r[district], r[1]) for r in rows[1:3]] == [
        ("新华街道", "东城区", "2"),
        ("新华街道", "西城区", "5"),
    ]
    assert rows[3][0] == "'=HYPERLINK(1)"
    assert rows[3][district] == "'=cmd|' /C calc'!A0", "a district is never run as a formula"
    assert (rows[4][0], rows[4][district]) == (TOTAL, "")


def test_a_csv_for_people_starts_with_utf8s_byte_order_mark(tmp_path: Path) -> None:
    target = tmp_path / "march.csv"
    with target.open("wb") as out:
        report.write_csv_bytes(two_xinhua_streets(), out, for_people=True)
    data = target.read_bytes()
    assert data.startswith(BOM)
    assert data.count(BOM) == 1
    assert data.endswith(b"\r\n")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows == report_rows(two_xinhua_streets())
    with pytest.raises(UnicodeDecodeError):
        data.decode("gbk")  # what Excel would read without the mark: not the names

    piped = io.BytesIO()
    report.write_csv_bytes(two_xinhua_streets(), piped)
    assert piped.getvalue() == data[len(BOM) :], "a program's pipe gets no mark"
    assert not piped.closed, "the caller's stream stays open"
    text = io.StringIO(newline="")
    report.write_csv(two_xinhua_streets(), text, for_people=True)
    assert text.getvalue().encode() == data


def test_only_a_regular_file_is_for_people(tmp_path: Path) -> None:
    with (tmp_path / "out.csv").open("wb") as file:
        assert report.is_a_file(file)
    read, write = os.pipe()
    with os.fdopen(read, "rb") as r, os.fdopen(write, "wb") as w:
        assert not report.is_a_file(w)
        assert not report.is_a_file(r)
    assert not report.is_a_file(io.BytesIO())


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    """A hub with a community on 新华街道 in each of two districts."""
    running = Hub(tmp_path)
    running.start()
    try:
        for site_id, district, place in (("dc", "东城区", "Lanyuan"), ("xc", "西城区", "Heping")):
            site = {"id": site_id, "name": place, "street": "新华街道", "district": district}
            running.call("PUT", f"/api/v1/sites/{site_id}", json=site)
            grid = {"id": f"g-{site_id}", "site_id": site_id, "name": place, "places": [place]}
            running.call("PUT", f"/api/v1/grids/g-{site_id}", json=grid)
        yield running
    finally:
        running.stop()


def test_the_command_writes_each_districts_street_with_the_mark_into_a_file(
    hub: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub.log_request("Lanyuan", "Stair light broken")
    hub.log_request("Heping", "Gate squeaks")
    hub.log_request("Heping", "Tap drips")
    month = datetime.now(UTC).strftime("%Y-%m")
    common = ["report", "--month", month, "--timezone", "UTC", "--by", "street"]
    common += ["--hub", hub.url, "--token", ADMIN]
    args = [*common, "--csv"]

    target = tmp_path / "march.csv"
    with target.open("wb") as raw, io.TextIOWrapper(raw, encoding="utf-8") as stdout:
        monkeypatch.setattr(sys, "stdout", stdout)  # `linli report --csv > march.csv`
        with pytest.raises(SystemExit) as done:
            app(args)
        assert done.value.code == 0
        monkeypatch.undo()
    data = target.read_bytes()
    assert data.startswith(BOM)
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert [(r["group"], r["district"], r["opened"]) for r in rows] == [
        ("新华街道", "东城区", "1"),
        ("新华街道", "西城区", "2"),
        (TOTAL, "", "3"),
    ]

    piped = CliRunner().invoke(app, args)
    assert piped.exit_code == 0, piped.output
    assert not piped.stdout_bytes.startswith(BOM), "a pipe gets no mark"
    assert [r["district"] for r in csv.DictReader(io.StringIO(piped.stdout))] == [
        "东城区",
        "西城区",
        "",
    ]

    table = CliRunner().invoke(app, common, env={"COLUMNS": "160"})
    assert table.exit_code == 0, table.output
    assert "新华街道 (东城区)" in table.stdout
    assert "新华街道 (西城区)" in table.stdout
