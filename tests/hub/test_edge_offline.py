"""An edge lost opens one case an operator sees (``hub.fleet.outages``): by its status, by the
supervision round when it falls silent, once with two hub workers, and not in a maintenance
window of its site. On SQLite and PostgreSQL, on the injected clock."""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from devices.kinds import AlertKind, AlertState, DeviceKind, Severity
from devices.messages import EdgeStatus
from hub.cases.changes import CaseChanges
from hub.cases.correlation import CaseCategory
from hub.cases.results import IngestResult
from hub.cases.rules import CaseEventAction, CaseStatus
from hub.cases.supervisor import EDGE_CHECK_EVERY, Supervisor
from hub.errors import InvalidInputError
from hub.fleet.outages import EdgeOutages
from hub.live.events import EventBus
from hub.roster.rules import Site
from hub.silences.rules import SilenceScope
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import make_device

EDGE = "edge-b3"
EDGE_ROW = "edge.edge-b3"
SILENT_AFTER = timedelta(seconds=120)


def _site(store: HubStore) -> HubStore:
    store.roster.put_site(Site(id="lanyuan", name="Lanyuan", edge_ids=[EDGE]))
    store.fleet.register_device(make_device("b3-1201-smoke", edge_id=EDGE))
    store.fleet.register_device(
        make_device("b3-1201-sos", kind=DeviceKind.SOS_BUTTON, edge_id=EDGE)
    )
    return store


def _status(store: HubStore, state: str, clock: FakeClock, seconds: float = 30) -> IngestResult:
    """Record an edge's status and its outage, as the ingest does."""
    at = clock.advance(seconds)
    recorded = store.fleet.record_edge_status(
        EdgeStatus(edge_id=EDGE, state=state, ts=None if state == "offline" else at),
        at,
    )
    assert recorded.taken
    return EdgeOutages(store.db, store.intake, store.policy).status_taken(EDGE, state, at)


def _notes(store: HubStore, case_id: int) -> list[str]:
    events = store.cases.get_case(case_id).events
    return [e.note or "" for e in events if e.action is CaseEventAction.COMMENTED]


@pytest.mark.usefixtures("engine")
def test_an_edge_lost_opens_one_case_and_its_return_joins_it_with_how_long(
    store: HubStore, clock: FakeClock
) -> None:
    _site(store)
    assert _status(store, "online", clock).new == []

    went = _status(store, "offline", clock)
    [case] = went.cases_opened
    assert (case.kind, case.priority, case.category, case.device_ids) == (
        AlertKind.EDGE_OFFLINE,
        Severity.HIGH,
        CaseCategory.SUPERVISION,
        [EDGE_ROW],
    )
    assert case.site_id == "lanyuan"
    assert _notes(store, case.id) == [
        "edge edge-b3 went offline: site Lanyuan, 2 devices unwatched"
    ]
    # The will handed over again (a hub reconnecting): nothing more.
    assert _status(store, "offline", clock, 5).new == []

    back = _status(store, "online", clock, 180)
    [alert] = back.new
    assert (alert.state, alert.case_id) == (AlertState.CLEARED, case.id)
    # Logged and left for an operator to acknowledge and resolve.
    detail = store.cases.get_case(case.id)
    assert detail.status is CaseStatus.OPEN
    assert _notes(store, case.id)[1].startswith(
        "edge edge-b3 back online: site Lanyuan was blind for 3 min 5 s ("
    )
    assert _status(store, "online", clock).new == []

    # Lost again before anyone resolved it: the same case, no second one.
    again = _status(store, "offline", clock)
    assert again.cases_opened == []
    assert [c.id for c in again.cases_updated] == [case.id]
    [only] = store.cases.list_cases()
    assert (only.id, only.alert_count) == (case.id, 3)
    # The edge's own row is no device of the listings, nor of any edge's registry.
    assert EDGE_ROW not in {d.id for d in store.fleet.list_devices()}
    assert EDGE_ROW not in {d.id for d in store.fleet.device_registry(EDGE).devices}


@pytest.mark.usefixtures("engine")
def test_an_edge_lost_nobody_acknowledges_climbs_the_ladder_within_the_quarter_hour(
    store: HubStore, clock: FakeClock
) -> None:
    """Every detector and SOS button of the site is unwatched: a box to look at now, not a
    maintenance job for tomorrow (before, its case waited 24 h like a flat battery)."""
    _site(store)
    _status(store, "online", clock)
    [case] = _status(store, "offline", clock).cases_opened
    assert store.deadlines.fire_due_timers(clock.advance(14 * 60)) == []
    [escalated] = store.deadlines.fire_due_timers(clock.advance(61))
    assert (escalated.id, escalated.escalation_level) == (case.id, 1)


def _watched_edge(store: HubStore, clock: FakeClock, **settings: Any) -> Supervisor:
    """Put Lanyuan with edge-b3 online now; return a supervision round watching it (silent
    past ``SILENT_AFTER``, and ``settings``)."""
    _site(store)
    _status(store, "online", clock)
    return Supervisor(
        store, CaseChanges(EventBus()), clock=clock, edge_silent_after=SILENT_AFTER, **settings
    )


@pytest.mark.usefixtures("engine")
def test_a_silent_edge_is_raised_by_the_supervision_round_past_the_setting(
    store: HubStore, clock: FakeClock
) -> None:
    supervisor = _watched_edge(store, clock, edge_check_every=timedelta(0))
    clock.advance(SILENT_AFTER.total_seconds())
    asyncio.run(supervisor.tick())
    assert store.cases.list_cases() == []

    clock.advance(1)
    asyncio.run(supervisor.tick())
    asyncio.run(supervisor.tick())
    [case] = store.cases.list_cases()
    assert case.kind is AlertKind.EDGE_OFFLINE
    assert _notes(store, case.id) == [
        "edge edge-b3 fell silent (no status): site Lanyuan, 2 devices unwatched"
    ]
    [raised] = store.cases.list_alerts(kind=AlertKind.EDGE_OFFLINE)
    assert raised.reason.values["cause"] == "silent"
    # Its next heartbeat clears it.
    [cleared] = _status(store, "online", clock).new
    assert (cleared.state, cleared.case_id) == (AlertState.CLEARED, case.id)


@pytest.mark.usefixtures("engine")
def test_a_round_counts_the_silence_only_while_the_ingest_is_connected(
    store: HubStore, clock: FakeClock
) -> None:
    connected = False
    supervisor = _watched_edge(
        store, clock, edge_check_every=timedelta(0), listening=lambda: connected
    )
    clock.advance(600)  # the hub's link down: nobody heard the edge, nobody blames it
    asyncio.run(supervisor.tick())
    connected = True
    asyncio.run(supervisor.tick())  # listening from now on
    clock.advance(SILENT_AFTER.total_seconds())
    asyncio.run(supervisor.tick())
    assert store.cases.list_cases() == []
    clock.advance(1)
    asyncio.run(supervisor.tick())
    [case] = store.cases.list_cases()
    assert case.kind is AlertKind.EDGE_OFFLINE


def test_two_hub_workers_rounds_at_once_raise_one_alert_and_one_case(
    pg_engine: Engine, clock: FakeClock
) -> None:
    first = _site(HubStore(pg_engine, clock=clock))
    second = HubStore(pg_engine, clock=clock)
    _status(first, "online", clock)
    now = clock.advance(SILENT_AFTER.total_seconds() + 1)
    start = threading.Barrier(2)

    def round_of(store: HubStore) -> IngestResult:
        outages = EdgeOutages(store.db, store.intake, store.policy)
        start.wait()
        return outages.check_silent(now, SILENT_AFTER)

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(round_of, [first, second]))

    assert sum(len(r.new) for r in results) == 1
    [case] = first.cases.list_cases()
    assert case.alert_count == 1
    assert len(first.cases.list_alerts(kind=AlertKind.EDGE_OFFLINE)) == 1
    assert len(_notes(first, case.id)) == 1


@pytest.mark.usefixtures("engine")
def test_an_edge_in_a_maintenance_window_records_its_outage_and_opens_no_case(
    store: HubStore, clock: FakeClock
) -> None:
    _site(store)
    _status(store, "online", clock)
    store.silences.create_silence(
        SilenceScope.EDGE,
        EDGE,
        ends_at=clock.now + timedelta(hours=2),
        reason="replacing the edge's SD card",
    )
    went = _status(store, "offline", clock)
    [alert] = went.new
    assert went.silenced == [alert.id]
    assert (alert.kind, alert.case_id) == (AlertKind.EDGE_OFFLINE, None)
    # Recorded once: the rounds after it raise nothing more.
    outages = EdgeOutages(store.db, store.intake, store.policy)
    assert outages.check_silent(clock.advance(600), SILENT_AFTER).new == []
    assert store.cases.list_cases() == []
    assert len(store.cases.list_alerts(kind=AlertKind.EDGE_OFFLINE)) == 1


@pytest.mark.usefixtures("engine")
def test_the_rounds_look_for_lost_edges_every_few_seconds_not_every_round(
    store: HubStore, clock: FakeClock
) -> None:
    """Reading every edge and its outage each second, on every worker, cost a paced alert
    ~0.6 ms at p50: a round looks at most every ``EDGE_CHECK_EVERY``."""
    supervisor = _watched_edge(store, clock)
    clock.advance(SILENT_AFTER.total_seconds())
    asyncio.run(supervisor.tick())  # looks: not silent for longer yet
    clock.advance(1)
    asyncio.run(supervisor.tick())  # silent past the setting, but looked a second ago
    assert store.cases.list_cases() == []
    clock.advance(EDGE_CHECK_EVERY.total_seconds())
    asyncio.run(supervisor.tick())
    [case] = store.cases.list_cases()
    assert case.kind is AlertKind.EDGE_OFFLINE


@pytest.mark.usefixtures("engine")
def test_an_edges_own_row_and_a_device_of_its_id_never_overwrite_each_other(
    store: HubStore, clock: FakeClock
) -> None:
    """``edge.<edge_id>`` names the hub's row of an edge (its outages' cases): a registration
    of that id (an operator's, an inventory's) does not turn it into a detector, and an
    outage does not move a detector someone registered under it first (before, each
    overwrote the other's place and kind)."""
    _site(store)
    _status(store, "online", clock)
    detector = make_device("edge.edge-b4", location="Building 4/Lobby", edge_id=EDGE)
    store.fleet.register_device(detector)
    store.roster.put_site(Site(id="lanyuan", name="Lanyuan", edge_ids=[EDGE, "edge-b4"]))
    store.fleet.record_edge_status(EdgeStatus(edge_id="edge-b4", state="online"), clock.now)
    store.fleet.record_edge_status(EdgeStatus(edge_id="edge-b4", state="offline"), clock.now)
    EdgeOutages(store.db, store.intake, store.policy).status_taken("edge-b4", "offline", clock.now)
    assert store.fleet.get_device("edge.edge-b4").location == "Building 4/Lobby"

    [case] = _status(store, "offline", clock).cases_opened  # edge-b3's own row, made now
    assert case.device_ids == [EDGE_ROW]
    with pytest.raises(InvalidInputError, match="edge-b3's own row"):
        store.fleet.register_device(make_device(EDGE_ROW, edge_id=EDGE))
    store.fleet.upsert_devices([make_device(EDGE_ROW, edge_id=EDGE)])
    assert EDGE_ROW not in {d.id for d in store.fleet.list_devices()}
    assert store.cases.get_case(case.id).device_ids == [EDGE_ROW]
