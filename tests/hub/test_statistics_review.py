"""Statistics under review: the cases that a plain read of the case row miscounts (reopened,
merged), the month cut in each community's own time zone, and the report's CSV that a
spreadsheet must not run. The repository's read on SQLite and PostgreSQL."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, update

from devices.kinds import AlertKind
from hub.cases.rules import CaseAction, Resolution
from hub.errors import InvalidInputError
from hub.persistence.tables import CaseRow
from hub.roster.rules import Site
from hub.statistics.rules import figures, month_period
from hub.store import HubStore
from linli.report import report_rows, write_csv
from tests.hub.conftest import FakeClock
from tests.hub.factories import T0, make_alert
from tests.hub.test_statistics import statistics_store


@pytest.fixture
def store(engine: Engine) -> HubStore:
    return statistics_store(engine)


def _clock(store: HubStore) -> FakeClock:
    clock = store.db.clock
    assert isinstance(clock, FakeClock)
    return clock


def test_a_reopened_case_was_taken_on_when_it_first_was(store: HubStore) -> None:
    clock = _clock(store)
    [smoke] = store.intake.ingest_alerts([make_alert(device_id="b3-smoke")], T0).cases_opened
    clock.advance(30)
    store.cases.act(smoke.id, CaseAction.ACKNOWLEDGE, note="seen")
    clock.advance(600)
    store.cases.act(smoke.id, CaseAction.RESOLVE, note="toast", resolution=Resolution.NUISANCE)
    clock.advance(86_400)
    store.cases.act(smoke.id, CaseAction.REOPEN, note="smoke again")

    # Reopened and not taken on again: it was taken on 30 s after it opened all the same.
    [fact] = store.statistics.case_facts(T0, T0 + timedelta(days=2))
    assert figures([fact]).response_p50_s == 30.0

    clock.advance(3600)
    store.cases.act(smoke.id, CaseAction.ACKNOWLEDGE, note="seen again")
    [fact] = store.statistics.case_facts(T0, T0 + timedelta(days=2))
    assert figures([fact]).response_p50_s == 30.0  # not the day and more until the second time


def test_a_case_that_took_in_one_that_had_climbed_counts_as_overdue(
    store: HubStore, engine: Engine
) -> None:
    clock = _clock(store)
    [smoke] = store.intake.ingest_alerts([make_alert(device_id="b3-smoke")], T0).cases_opened
    co_alert = make_alert(device_id="b3-co", kind=AlertKind.CO, ts=T0)
    [co] = store.intake.ingest_alerts([co_alert], T0).cases_opened
    store.cases.act(smoke.id, CaseAction.ACKNOWLEDGE, note="seen")  # in time: it never climbs
    climbed = store.deadlines.fire_due_timers(clock.advance(61))
    assert [c.id for c in climbed] == [co.id]
    with engine.begin() as conn:  # as if the CO case (which climbed) had gone into the smoke's
        conn.execute(update(CaseRow).where(CaseRow.id == co.id).values(merged_into=smoke.id))

    [fact] = store.statistics.case_facts(T0, T0 + timedelta(days=1))
    assert fact.id == smoke.id
    assert fact.escalations == 1  # the climb of the case it took in
    assert figures([fact]).overdue == 1


def _report(key: str) -> dict[str, object]:
    counts = dict.fromkeys(("opened", "resolved", "active", "overdue", "judged", "ratings"), 1)
    rest = ("overdue_rate", "response_p50_s", "response_p90_s", "closure_p50_s")
    nothing = dict.fromkeys((*rest, "closure_p90_s", "false_alarm_rate", "rating_mean"))
    row: dict[str, object] = {**counts, **nothing, "by_category": {}}
    return {"groups": [{"key": key, "figures": row}], "total": row, "overdue": []}


@pytest.mark.parametrize("name", ['=HYPERLINK("http://x","y")', "+1+2", "-2+3", "@SUM(A1)", "\t=1"])
def test_a_group_named_like_a_formula_is_written_as_text(name: str) -> None:
    [_, row, _] = report_rows(_report(name))
    assert row[0] == "'" + name
    out = io.StringIO(newline="")
    write_csv(_report(name), out)
    [_, written, _] = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert written[0][0] == "'"


@pytest.mark.parametrize("name", ["Block 3\rEast", "Block 3\nEast", "Block 3\r\nEast"])
def test_a_group_name_over_two_lines_stays_one_cell(name: str) -> None:
    out = io.StringIO(newline="")
    write_csv(_report(name), out)
    assert out.getvalue().count("\r\n") == 3 + name.count("\r\n")  # one per row, and the name's
    rows = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert [row[0] for row in rows] == ["group", name, "(all)"]


def test_a_plain_group_name_is_left_as_it_is() -> None:
    assert report_rows(_report("Jiaodaokou"))[1][0] == "Jiaodaokou"
    assert report_rows(_report("东四街道"))[1][0] == "东四街道"


def test_a_month_is_each_communitys_own(store: HubStore, engine: Engine) -> None:
    store.roster.put_site(Site(id="berlin", name="Mitte", timezone="Europe/Berlin", street="M"))
    [smoke] = store.intake.ingest_alerts([make_alert(device_id="b3-smoke")], T0).cases_opened
    co_alert = make_alert(device_id="b3-co", kind=AlertKind.CO, ts=T0)
    [co] = store.intake.ingest_alerts([co_alert], T0).cases_opened
    # 23:30 on 31 December, each in its community's time zone: both December's.
    shanghai = datetime(2026, 12, 31, 15, 30, tzinfo=UTC)
    berlin = datetime(2026, 12, 31, 22, 30, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(update(CaseRow).where(CaseRow.id == smoke.id).values(opened_at=shanghai))
        moved = {"opened_at": berlin, "site_id": "berlin", "grid_id": None}
        conn.execute(update(CaseRow).where(CaseRow.id == co.id).values(**moved))

    start, end, facts = store.statistics.month_facts("2026-12", "Asia/Shanghai")
    assert sorted((f.id, f.site_id) for f in facts) == [(smoke.id, "lanyuan"), (co.id, "berlin")]
    assert (start, end) == (
        datetime(2026, 11, 30, 16, tzinfo=UTC),
        datetime(2026, 12, 31, 23, tzinfo=UTC),
    )
    assert store.statistics.month_facts("2027-01", "Asia/Shanghai")[2] == []
    [only] = store.statistics.month_facts("2026-12", "UTC", sites=frozenset({"berlin"}))[2]
    assert only.id == co.id
    with engine.begin() as conn:  # a case of no site: cut in the zone asked for
        conn.execute(update(CaseRow).where(CaseRow.id == co.id).values(site_id=None))
    assert [f.id for f in store.statistics.month_facts("2026-12", "Asia/Shanghai")[2]] == [smoke.id]
    assert len(store.statistics.month_facts("2026-12", "Europe/Berlin")[2]) == 2


@pytest.mark.parametrize(
    "month", ["2026-13", "2026-00", "0000-01", "2026-1", "26-01", "９９９９-01"]
)
def test_no_such_month(month: str) -> None:
    with pytest.raises(InvalidInputError, match="YYYY-MM"):
        month_period(month, "UTC")


def test_a_month_at_the_ends_of_time() -> None:
    with pytest.raises(InvalidInputError, match="outside"):
        month_period("9999-12", "UTC")
    with pytest.raises(InvalidInputError, match="outside"):
        month_period("0001-01", "Asia/Shanghai")
    assert month_period("0001-01", "UTC")[0] == datetime(1, 1, 1, tzinfo=UTC)
