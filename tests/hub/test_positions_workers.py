"""Two hub workers recording one responder's positions (a phone's fixes dealt out by the
broker's shared subscription, or its posts by a load balancer): every fix is taken, on the
one row that holds the responder's latest, whichever worker writes it first."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert

from hub.persistence.field import ResponderPositionRow
from hub.positions.rules import Position
from hub.roster.rules import Responder, ResponderRole, Site
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.test_incidents import wait_until_blocked_on_a_lock

NOW = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
PATROL = "patrol-near"


def _patrolled(engine: Engine) -> HubStore:
    store = HubStore(engine, clock=FakeClock(NOW))
    store.roster.put_site(Site(id="lanyuan", name="Lanyuan", edge_ids=["e1"]))
    store.roster.put_responder(
        Responder(id=PATROL, site_id="lanyuan", name="Near", role=ResponderRole.SECURITY)
    )
    return store


def _reported_while_another_worker_inserts(
    engine: Engine, store: HubStore, theirs: datetime, mine: Position
) -> None:
    """Report ``mine`` while another worker's first fix (taken at ``theirs``) is inserted and
    not committed yet; commit theirs once the report waits for it."""
    with engine.connect() as first:
        first.execute(
            insert(ResponderPositionRow).values(
                responder_id=PATROL, lat=39.9, lon=116.4, accuracy_m=10, at=theirs, received_at=NOW
            )
        )
        with ThreadPoolExecutor(max_workers=1) as second:
            taken = second.submit(store.positions.report, PATROL, mine)
            wait_until_blocked_on_a_lock(engine, other_than=first)
            first.commit()
            assert taken.result(timeout=60) == []


def test_a_responders_first_fixes_on_two_workers_are_both_taken(pg_engine: Engine) -> None:
    """One worker has stored the responder's first position and not committed yet when the
    other takes the next fix: it waits for that commit and moves the position on (it used to
    find no row, insert one, and fail on the first's key: the fix was lost)."""
    store = _patrolled(pg_engine)
    later = Position(lat=39.94, lon=116.41, at=NOW, accuracy_m=5)
    _reported_while_another_worker_inserts(pg_engine, store, NOW - timedelta(seconds=30), later)
    [where] = store.positions.positions()
    assert (where.responder_id, where.lat, where.accuracy_m) == (PATROL, 39.94, 5)


def test_an_older_fix_stored_meanwhile_by_the_other_worker_does_not_win(
    pg_engine: Engine,
) -> None:
    """The other way round: the other worker's uncommitted fix is the later one; the fix
    that waited for it is older and leaves the position where the later one put it."""
    store = _patrolled(pg_engine)
    older = Position(lat=39.94, lon=116.41, at=NOW - timedelta(minutes=5), accuracy_m=5)
    _reported_while_another_worker_inserts(pg_engine, store, NOW, older)
    [where] = store.positions.positions()
    assert (where.lat, where.accuracy_m) == (39.9, 10)
