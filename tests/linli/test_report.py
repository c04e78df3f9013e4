"""``linli report``: the month cut in a time zone, the rows and the CSV (pure), and the
command against a hub served by uvicorn: a street's month with a repair that climbed."""

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from hub.persistence.tables import CaseRow
from hub.store import HubStore
from linli.cli import app
from linli.report import TOTAL, month_period, report_rows
from tests.polling import wait_until
from tests.residents.test_phone_page_browser import ADMIN, Hub


def test_a_month_is_cut_in_the_sites_time_zone() -> None:
    start, end = month_period("2026-12", ZoneInfo("Asia/Shanghai"))
    assert (start.isoformat(), end.isoformat()) == (
        "2026-12-01T00:00:00+08:00",
        "2027-01-01T00:00:00+08:00",
    )
    assert start.astimezone(UTC) == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert month_period("2026-02", UTC)[1] == datetime(2026, 3, 1, tzinfo=UTC)
    for bad in ("2026-13", "2026", "26-01", "december"):
        with pytest.raises(ValueError, match="YYYY-MM"):
            month_period(bad, UTC)


def figures(**values: Any) -> dict[str, Any]:
    nothing = ("overdue_rate", "response_p50_s", "response_p90_s", "closure_p50_s")
    base: dict[str, Any] = dict.fromkeys(
        (*nothing, "closure_p90_s", "false_alarm_rate", "rating_mean")
    )
    counts = dict.fromkeys(("opened", "resolved", "active", "overdue", "judged", "ratings"), 0)
    return {**base, **counts, "by_category": {}, **values}


def test_the_rows_a_group_each_then_the_totals() -> None:
    report = {
        "groups": [
            {"key": "Dongsi", "figures": figures(opened=1, resolved=1, closure_p50_s=7200.0)},
            {"key": None, "figures": figures(opened=2, overdue=1, overdue_rate=0.5)},
        ],
        "total": figures(opened=3, resolved=1, overdue=1, overdue_rate=1 / 3, rating_mean=4.0),
        "overdue": [],
    }
    rows = report_rows(report)
    assert rows[0][:6] == ["group", "opened", "resolved", "active", "overdue", "overdue_rate"]
    assert [row[0] for row in rows[1:]] == ["Dongsi", "(none)", TOTAL]
    assert rows[1][rows[0].index("closure_p50_s")] == "7200.0"
    assert rows[3][rows[0].index("overdue_rate")] == "0.3333"
    assert rows[3][rows[0].index("rating_mean")] == "4.0"
    assert rows[1][rows[0].index("rating_mean")] == ""  # no rating: an empty cell


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    """A hub with two communities of one street; requests due within 1 s."""
    running = Hub(tmp_path, resolve_within_s={"request": 1.0})
    running.start()
    try:
        running.put_community("lanyuan", "Jiaodaokou", "Lanyuan")
        running.put_community("heping", "Dongsi", "Heping")
        yield running
    finally:
        running.stop()


def test_the_command_prints_a_streets_month_as_csv_and_as_a_table(hub: Hub) -> None:
    stuck = hub.log_request("Lanyuan", "Stair light broken")
    done = hub.log_request("Heping", "Gate squeaks")
    hub.call("POST", f"/api/v1/cases/{done}/resolve", json={"resolution": "real", "note": "oil"})
    store: HubStore = hub.app.state.store  # the supervisor's step, as the browser test does
    wait_until(
        lambda: store.deadlines.fire_due_timers(datetime.now(UTC)),
        timeout=20.0,
        interval=0.2,
        what="the stuck request to climb",
    )
    month = datetime.now(UTC).strftime("%Y-%m")
    common = ["report", "--month", month, "--timezone", "UTC", "--hub", hub.url, "--token", ADMIN]
    runner = CliRunner()

    result = runner.invoke(app, [*common, "--by", "street", "--csv"])
    assert result.exit_code == 0, result.output
    rows = {row["group"]: row for row in csv.DictReader(io.StringIO(result.stdout))}
    assert list(rows) == ["Dongsi", "Jiaodaokou", TOTAL]
    assert (rows["Jiaodaokou"]["opened"], rows["Jiaodaokou"]["overdue"]) == ("1", "1")
    assert (rows["Dongsi"]["resolved"], rows["Dongsi"]["overdue"]) == ("1", "0")
    assert (rows[TOTAL]["opened"], rows[TOTAL]["overdue_rate"]) == ("2", "0.5")

    table = runner.invoke(app, [*common, "--street", "Jiaodaokou"], env={"COLUMNS": "160"})
    assert table.exit_code == 0, table.output
    assert "lanyuan" in table.stdout
    assert "heping" not in table.stdout
    assert "Overdue (1)" in table.stdout
    overdue_line = next(
        line for line in table.stdout.splitlines() if line.startswith(f"│ {stuck} ")
    )
    assert "Jiaodaokou" in overdue_line


def test_the_command_says_what_the_hub_refused(hub: Hub) -> None:
    runner = CliRunner()
    common = ["report", "--hub", hub.url]
    refused = runner.invoke(app, [*common, "--month", "2026-12", "--token", "lnl_wrong"])
    assert refused.exit_code == 1
    assert "refused the token (401)" in refused.output
    bad_month = runner.invoke(app, [*common, "--month", "2026-13", "--token", ADMIN])
    assert bad_month.exit_code == 2
    assert "YYYY-MM" in bad_month.output
    for zone in ("Mars/Olympus", "../etc/passwd"):
        nowhere = runner.invoke(
            app, [*common, "--month", "2026-12", "--timezone", zone, "--token", ADMIN]
        )
        assert nowhere.exit_code == 2
        assert "no time zone" in nowhere.output
    grouping = runner.invoke(
        app, [*common, "--month", "2026-12", "--by", "planet", "--token", ADMIN]
    )
    assert grouping.exit_code == 1
    assert "refused the question" in grouping.output


def test_the_month_is_each_communitys_own_unless_a_zone_is_given(hub: Hub) -> None:
    hub.put_community("berlin", "Mitte", "Mitte")
    berlin_site = {"id": "berlin", "name": "Mitte", "street": "Mitte", "district": "Dongcheng"}
    hub.call("PUT", "/api/v1/sites/berlin", json={**berlin_site, "timezone": "Europe/Berlin"})
    in_berlin = hub.log_request("Mitte", "Door sticks")
    in_lanyuan = hub.log_request("Lanyuan", "Stair light broken")
    store: HubStore = hub.app.state.store
    with store.db.engine.begin() as conn:  # 23:30 on 31 December, each where it happened
        for case_id, at in (
            (in_berlin, datetime(2026, 12, 31, 22, 30, tzinfo=UTC)),
            (in_lanyuan, datetime(2026, 12, 31, 15, 30, tzinfo=UTC)),
        ):
            conn.execute(update(CaseRow).where(CaseRow.id == case_id).values(opened_at=at))
    runner = CliRunner()
    common = ["report", "--month", "2026-12", "--csv", "--hub", hub.url, "--token", ADMIN]

    result = runner.invoke(app, common)
    assert result.exit_code == 0, result.output
    rows = {row["group"]: row["opened"] for row in csv.DictReader(io.StringIO(result.stdout))}
    assert rows == {"berlin": "1", "lanyuan": "1", TOTAL: "2"}

    shanghai = runner.invoke(app, [*common, "--timezone", "Asia/Shanghai"])
    rows = {row["group"]: row["opened"] for row in csv.DictReader(io.StringIO(shanghai.stdout))}
    assert rows == {"lanyuan": "1", TOTAL: "1"}  # already January in Shanghai


@pytest.mark.parametrize(
    "params",
    [
        {"month": "2026-13"},
        {"month": "9999-12"},
        {"month": "2026-12", "timezone": "Mars/Olympus"},
        {"month": "2026-12", "start": "2026-12-01T00:00:00Z"},
    ],
)
def test_a_month_the_hub_refuses(hub: Hub, params: dict[str, str]) -> None:
    response = hub.api.get("/api/v1/statistics", params=params)
    assert response.status_code == 422, response.text
