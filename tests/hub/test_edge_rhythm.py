"""Each edge judged silent by its own heartbeat (``EdgeStatus.heartbeat_s``, ``EdgeRhythm``).

An outside review (ATS supervision): the hub judged every edge by its one
``edge_silent_after_s`` (120 s), whatever rhythm the edge's installer set. An edge on a
metered 4G uplink that beats every 300 s opened a false ``edge_offline`` case at each of its
beats (operators drowned, then deaf to the real one); an edge at a critical site that beats
every 5 s was found lost only after 120 s. Now the edge says its rhythm and the hub judges it
by it, bounded so that a forged or absurd rhythm cannot silence supervision. On SQLite and
PostgreSQL, on the injected clock; the rounds are the case supervisor's own.
"""

import asyncio
import logging
import math
from datetime import timedelta

import pytest
from pydantic import ValidationError

from devices.kinds import AlertKind, AlertState
from devices.messages import EdgeStatus
from hub.cases.changes import CaseChanges
from hub.cases.supervisor import Supervisor
from hub.cases.tasks import CaseTasks
from hub.fleet.outages import EdgeOutages
from hub.fleet.supervision import EdgeRhythm
from hub.live.events import EventBus
from hub.roster.rules import Site
from hub.settings import HubSettings
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import make_device

EDGE = "edge-b3"
RHYTHM = EdgeRhythm(
    default=timedelta(seconds=120),
    missed=4,
    floor=timedelta(seconds=15),
    heartbeat_cap=timedelta(seconds=450),
)


def _status(heartbeat_s: float | None, **fields: object) -> EdgeStatus:
    """An online status as an edge sends it: with ``heartbeat_s`` only if it says one (read
    from JSON, as the ingest reads it)."""
    payload: dict[str, object] = {"edge_id": EDGE, "state": "online", **fields}
    if heartbeat_s is not None:
        payload["heartbeat_s"] = heartbeat_s
    return EdgeStatus.model_validate(payload)


def _beat(store: HubStore, clock: FakeClock, heartbeat_s: float | None, after: float) -> None:
    """The edge's next status, ``after`` seconds on, recorded as the ingest records it."""
    at = clock.advance(after)
    assert store.fleet.record_edge_status(_status(heartbeat_s, ts=at.isoformat()), at).taken
    EdgeOutages(store.db, store.intake, store.policy).status_taken(EDGE, "online", at)


def _watching(store: HubStore, clock: FakeClock, heartbeat_s: float | None) -> Supervisor:
    """Lanyuan's edge online now, saying ``heartbeat_s``; a supervisor as the hub's settings'
    defaults make it (``RHYTHM``), looking at every round."""
    store.roster.put_site(Site(id="lanyuan", name="Lanyuan", edge_ids=[EDGE]))
    store.fleet.register_device(make_device("b3-1201-smoke", edge_id=EDGE))
    _beat(store, clock, heartbeat_s, 0)
    return Supervisor(
        store,
        CaseChanges(EventBus()),
        clock=clock,
        edge_check_every=timedelta(0),
    )


def _rounds(supervisor: Supervisor, clock: FakeClock, seconds: float, every: float = 5) -> None:
    """Let ``seconds`` pass, a supervision round every ``every`` seconds."""
    passed = 0.0
    while passed < seconds:
        step = min(every, seconds - passed)
        clock.advance(step)
        passed += step
        asyncio.run(supervisor.tick())


def _outages(store: HubStore) -> list[AlertState]:
    """The edge's outage alerts, oldest first."""
    alerts = store.cases.list_alerts(kind=AlertKind.EDGE_OFFLINE)
    return [a.state for a in sorted(alerts, key=lambda a: a.ts)]


@pytest.mark.usefixtures("engine")
def test_an_edge_beating_every_five_minutes_opens_no_case_while_it_beats(
    store: HubStore, clock: FakeClock
) -> None:
    """A metered 4G uplink: before, a false case 120 s after each of its statuses."""
    supervisor = _watching(store, clock, 300)
    for _ in range(12):  # an hour of it
        _rounds(supervisor, clock, 299)
        _beat(store, clock, 300, 1)
    assert _outages(store) == []
    assert store.cases.list_cases() == []


@pytest.mark.usefixtures("engine")
def test_an_edge_beating_every_five_minutes_is_lost_after_four_missed(
    store: HubStore, clock: FakeClock
) -> None:
    supervisor = _watching(store, clock, 300)
    _rounds(supervisor, clock, 1200)
    assert store.cases.list_cases() == []
    _rounds(supervisor, clock, 1)
    [case] = store.cases.list_cases()
    assert case.kind is AlertKind.EDGE_OFFLINE
    [raised] = store.cases.list_alerts(kind=AlertKind.EDGE_OFFLINE)
    assert (raised.reason.values["cause"], raised.reason.values["silent_after_s"]) == (
        "silent",
        1200.0,
    )


@pytest.mark.usefixtures("engine")
def test_an_edge_beating_every_five_seconds_is_lost_after_twenty_not_a_hundred_and_twenty(
    store: HubStore, clock: FakeClock
) -> None:
    """A critical site: before, its loss waited for the hub's 120 s."""
    supervisor = _watching(store, clock, 5)
    _rounds(supervisor, clock, 20, every=1)
    assert _outages(store) == []
    _rounds(supervisor, clock, 1, every=1)
    assert _outages(store) == [AlertState.RAISED]
    # Its next status clears it, as any edge's.
    _beat(store, clock, 5, 1)
    assert _outages(store) == [AlertState.RAISED, AlertState.CLEARED]


@pytest.mark.usefixtures("engine")
def test_an_edge_that_does_not_say_its_heartbeat_is_judged_by_the_hubs_setting(
    store: HubStore, clock: FakeClock
) -> None:
    """An edge before 2026-12-07; and one that said 5 s, then was downgraded and says none."""
    supervisor = _watching(store, clock, None)
    _rounds(supervisor, clock, 120)
    assert _outages(store) == []
    _rounds(supervisor, clock, 1)
    assert _outages(store) == [AlertState.RAISED]

    _beat(store, clock, 5, 1)  # back, saying 5 s
    _beat(store, clock, None, 1)  # downgraded: says nothing again
    _rounds(supervisor, clock, 60)
    assert _outages(store) == [AlertState.RAISED, AlertState.CLEARED]


@pytest.mark.usefixtures("engine")
def test_an_absurd_heartbeat_is_judged_by_the_cap_logged_and_counted_once(
    store: HubStore, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A forged or mistyped 1e9 s would have kept the edge "online" for 127 years."""
    supervisor = _watching(store, clock, 1e9)
    with caplog.at_level(logging.WARNING, logger="hub.fleet.outages"):
        _rounds(supervisor, clock, 1800, every=60)
    assert _outages(store) == []
    capped = [r for r in caplog.records if "edge_heartbeat_max_s" in r.getMessage()]
    assert len(capped) == 1
    assert "edge-b3" in capped[0].getMessage()
    assert supervisor.counters["edge_heartbeat_capped"] == 1
    _rounds(supervisor, clock, 1, every=1)
    assert _outages(store) == [AlertState.RAISED]  # 4 × the 450 s cap: 30 min
    assert supervisor.counters["edge_heartbeat_capped"] == 1


@pytest.mark.parametrize("said", [0, -30, "NaN", "Infinity"])
def test_a_heartbeat_no_edge_can_mean_is_refused_with_the_status(said: object) -> None:
    """Bad input is refused (the ingest counts it, ``rejected.malformed``): the hub keeps the
    edge's last status, and judges it silent from it."""
    payload = f'{{"edge_id": "{EDGE}", "state": "online", "heartbeat_s": {_json(said)}}}'
    with pytest.raises(ValidationError, match="heartbeat_s"):
        EdgeStatus.model_validate_json(payload)


def _json(value: object) -> str:
    return value if isinstance(value, str) else str(value)


def test_an_older_edges_status_says_no_heartbeat() -> None:
    assert EdgeStatus.model_validate_json(f'{{"edge_id": "{EDGE}", "state": "online"}}') == (
        EdgeStatus(edge_id=EDGE, state="online", heartbeat_s=None)
    )


@pytest.mark.parametrize(
    ("said", "silent_after_s"),
    [
        (None, 120),  # not said: the hub's setting
        (30, 120),  # the edge's default: as before
        (300, 1200),
        (5, 20),
        (2, 15),  # the floor
        (0.001, 15),
        (450, 1800),
        (451, 1800),  # the cap
        (1e9, 1800),
        (0, 120),  # what no edge can mean (a row may still hold it): the hub's setting
        (-5, 120),
        (math.nan, 120),
        (math.inf, 120),
    ],
)
def test_the_silence_each_heartbeat_allows(said: float | None, silent_after_s: float) -> None:
    assert RHYTHM.silent_after(said) == timedelta(seconds=silent_after_s)
    assert RHYTHM.capped(said) == (said is not None and math.isfinite(said) and said > 450)


def test_a_bare_silent_after_still_judges_an_edge_that_says_nothing_by_it() -> None:
    """``on_tick`` called as before (a ``timedelta``): that is the default, the rest as the
    hub's settings' defaults."""
    assert EdgeRhythm(timedelta(seconds=90)).silent_after(None) == timedelta(seconds=90)
    assert EdgeRhythm(timedelta(seconds=90)).silent_after(300) == timedelta(seconds=1200)


def test_the_hubs_settings_make_the_rhythm(store: HubStore, clock: FakeClock) -> None:
    """The defaults are these tests' ``RHYTHM``; each setting reaches the supervision round."""
    assert EdgeRhythm() == RHYTHM
    defaults = CaseTasks(HubSettings(), store, CaseChanges(EventBus()), None, clock=clock)
    assert defaults.supervisor._edge_rhythm == RHYTHM
    settings = HubSettings(
        edge_silent_after_s=90,
        edge_missed_heartbeats=3,
        edge_silent_floor_s=10,
        edge_heartbeat_max_s=600,
    )
    tasks = CaseTasks(settings, store, CaseChanges(EventBus()), None, clock=clock)
    assert tasks.supervisor._edge_rhythm == EdgeRhythm(
        timedelta(seconds=90), 3, timedelta(seconds=10), timedelta(seconds=600)
    )
    # A cap hit is counted where the hub's health shows its counters.
    assert tasks.supervisor.edge_counters is tasks.counters


@pytest.mark.parametrize(
    ("name", "value"),
    [
        # One status late on a poor uplink must not open a case.
        ("edge_missed_heartbeats", 0),
        ("edge_missed_heartbeats", 1.5),
        # An infinite one would fail every supervision round (it cannot be a timedelta).
        ("edge_missed_heartbeats", math.inf),
        ("edge_silent_floor_s", 0),
        ("edge_silent_floor_s", math.inf),
        ("edge_heartbeat_max_s", 0),
        ("edge_heartbeat_max_s", math.inf),
        ("edge_heartbeat_max_s", math.nan),
    ],
)
def test_a_rhythm_setting_that_cannot_work_is_refused(name: str, value: float) -> None:
    with pytest.raises(ValidationError, match=name):
        HubSettings.model_validate({name: value})


@pytest.mark.usefixtures("engine")
def test_a_slow_edge_back_within_seconds_of_its_will_opens_no_case(
    store: HubStore, clock: FakeClock
) -> None:
    _watching(store, clock, 300)
    supervisor = Supervisor(
        store,
        CaseChanges(EventBus()),
        clock=clock,
        edge_check_every=timedelta(0),
        edge_offline_grace=timedelta(seconds=60),
    )
    _rounds(supervisor, clock, 100)
    will = clock.advance(1)  # a blip: the broker saw the socket close and published the will
    store.fleet.record_edge_status(EdgeStatus(edge_id=EDGE, state="offline"), will)
    # Connected again 3 s later: its status at connect, refused as late behind the will
    # (hub.fleet.status_order: the ingest stops there).
    at = clock.advance(3)
    store.fleet.record_edge_status(_status(300, ts=at.isoformat()), at)
    # The edge says it again status_again_after_s (12 s) after connecting (edge.uplink): taken.
    again = clock.advance(12)
    store.fleet.record_edge_status(_status(300, ts=again.isoformat()), again)
    _rounds(supervisor, clock, 290)
    assert store.cases.list_cases() == []
