"""Statistics up the chain: the pure figures (``hub.statistics.rules``), then the repository's
read on SQLite and PostgreSQL."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, update

from devices.kinds import AlertKind, DeviceKind
from hub.cases.rules import CaseAction, Resolution
from hub.persistence.tables import CaseRow
from hub.roster.rules import Grid, Site
from hub.statistics.rules import CaseFacts, GroupBy, figures, grouped, overdue_cases, percentile
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import T0, make_alert, make_device


def case(
    id: int,
    *,
    category: str = "life_safety",
    status: str = "resolved",
    opened: float = 0,
    acknowledged: float | None = None,
    resolved: float | None = None,
    resolution: str | None = None,
    escalations: int = 0,
    **place: str | int | None,
) -> CaseFacts:
    """Return a case's facts, its times in seconds after T0."""

    def at(seconds: float | None) -> datetime | None:
        return None if seconds is None else T0 + timedelta(seconds=seconds)

    opened_at = at(opened)
    assert opened_at is not None
    return CaseFacts(
        id=id,
        category=category,
        status=status,
        opened_at=opened_at,
        acknowledged_at=at(acknowledged),
        resolved_at=at(resolved),
        resolution=resolution,
        escalations=escalations,
        escalation_level=min(escalations, 2),
        **place,  # type: ignore[arg-type]
    )


def test_nearest_rank_percentiles() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.0
    assert percentile([float(n) for n in range(1, 11)], 0.9) == 9.0
    assert percentile([float(n) for n in range(1, 11)], 1.0) == 10.0


def test_the_figures_of_a_group_of_cases() -> None:
    cases = [
        case(1, acknowledged=30, resolved=600, resolution="real"),
        case(2, acknowledged=90, resolved=300, resolution="false_alarm", escalations=1),
        case(3, acknowledged=10, resolved=100, resolution="test"),
        case(4, acknowledged=20, resolved=200, resolution="nuisance"),
        case(5, category="request", status="accepted", acknowledged=60, escalations=2, rating=None),
        case(6, category="request", resolved=7200, resolution="real", rating=5),
        case(7, category="request", resolved=3600, resolution="real", rating=2),
        case(8, status="open"),
    ]
    result = figures(cases)
    assert (result.opened, result.resolved, result.active) == (8, 6, 2)
    assert (result.overdue, result.overdue_rate) == (2, 0.25)
    # Taken on: 30, 90, 10, 20, 60 s; the others never were.
    assert (result.response_p50_s, result.response_p90_s) == (30.0, 90.0)
    # Resolved after 600, 300, 100, 200, 7200, 3600 s.
    assert (result.closure_p50_s, result.closure_p90_s) == (300.0, 7200.0)
    # Judged: real ×3, false alarm, nuisance (the test left out): 2 of 5 were not real.
    assert (result.judged, result.false_alarm_rate) == (5, 0.4)
    assert (result.ratings, result.rating_mean) == (2, 3.5)
    assert result.by_category == {"life_safety": 5, "request": 3}


def test_no_cases_no_figures() -> None:
    empty = figures([])
    assert (empty.opened, empty.overdue, empty.overdue_rate) == (0, 0, None)
    assert (empty.response_p50_s, empty.closure_p90_s, empty.false_alarm_rate) == (None,) * 3
    assert (empty.ratings, empty.rating_mean, empty.by_category) == (0, None, {})


@pytest.mark.parametrize(
    ("by", "keys"),
    [
        (GroupBy.DISTRICT, ["Dongcheng", "Xicheng"]),
        (GroupBy.STREET, ["Dongsi", "Jiaodaokou", None]),
        (GroupBy.SITE, ["heping", "lanyuan", "meiyuan", None]),
        (GroupBy.GRID, ["g-1", "g-2", None]),
        (GroupBy.CATEGORY, ["life_safety", "request"]),
    ],
)
def test_grouped_by_each_level_the_groups_without_a_key_last(
    by: GroupBy, keys: list[str | None]
) -> None:
    cases = [
        case(1, site_id="lanyuan", street="Jiaodaokou", district="Dongcheng", grid_id="g-1"),
        case(2, site_id="meiyuan", street="Jiaodaokou", district="Dongcheng", grid_id="g-2"),
        case(3, site_id="heping", street="Dongsi", district="Xicheng", category="request"),
        case(4, site_id=None, street=None, district="Xicheng", grid_id="g-1"),
    ]
    groups = grouped(cases, by)
    assert [g.key for g in groups] == keys
    assert sum(g.figures.opened for g in groups) == 4


def test_the_overdue_cases_oldest_first() -> None:
    cases = [
        case(3, opened=50, escalations=1),
        case(1, opened=90),
        case(2, opened=10, escalations=3),
    ]
    assert [c.id for c in overdue_cases(cases)] == [2, 3]


# --- the repository ----------------------------------------------------------------------


def statistics_store(engine: Engine) -> HubStore:
    """A store on a fake clock at T0 with Lanyuan, its grid of Building 3 and two detectors."""
    clock = FakeClock(T0)
    hub = HubStore(engine, clock=clock)
    hub.roster.put_site(Site(id="lanyuan", name="Lanyuan", street="Jiaodaokou", district="D"))
    hub.roster.put_grid(Grid(id="g-b3", site_id="lanyuan", name="B3", places=["Building 3"]))
    hub.fleet.register_device(make_device("b3-smoke", location="Building 3/Floor 1/101"))
    hub.fleet.register_device(
        make_device("b3-co", kind=DeviceKind.CO, location="Building 3/Floor 2/201")
    )
    return hub


@pytest.fixture
def store(engine: Engine) -> HubStore:
    return statistics_store(engine)


def test_a_case_that_climbed_counts_as_overdue_after_it_was_reopened_and_a_merged_one_not(
    store: HubStore, engine: Engine
) -> None:
    clock = store.db.clock
    assert isinstance(clock, FakeClock)
    [smoke] = store.intake.ingest_alerts([make_alert(device_id="b3-smoke")], T0).cases_opened
    co_alert = make_alert(device_id="b3-co", kind=AlertKind.CO, ts=T0)
    [co] = store.intake.ingest_alerts([co_alert], T0).cases_opened
    climbed = store.deadlines.fire_due_timers(clock.advance(61))  # not acknowledged in 60 s
    assert sorted(c.id for c in climbed) == sorted([smoke.id, co.id])
    store.cases.act(smoke.id, CaseAction.RESOLVE, note="toast", resolution=Resolution.NUISANCE)
    store.cases.act(smoke.id, CaseAction.REOPEN, note="smoke again")  # its level starts again
    with engine.begin() as conn:  # as if the CO case had gone into the smoke case
        conn.execute(update(CaseRow).where(CaseRow.id == co.id).values(merged_into=smoke.id))

    facts = store.statistics.case_facts(T0, T0 + timedelta(days=1))
    assert [(f.id, f.escalation_level, f.escalations > 0) for f in facts] == [(smoke.id, 0, True)]
    [fact] = facts
    assert (fact.site_id, fact.grid_id, fact.street, fact.district) == (
        "lanyuan",
        "g-b3",
        "Jiaodaokou",
        "D",
    )
    assert store.statistics.case_facts(T0 + timedelta(seconds=1), T0 + timedelta(days=1)) == []
    assert store.statistics.case_facts(T0, T0 + timedelta(days=1), sites=frozenset({"x"})) == []
    assert store.statistics.case_facts(T0, T0 + timedelta(days=1), street="Elsewhere") == []
    assert len(store.statistics.case_facts(T0, T0 + timedelta(days=1), district="D")) == 1
