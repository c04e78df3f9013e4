"""An edge's heartbeat handled late behind its last will, by two hub workers on PostgreSQL.

The broker publishes an edge's last will (``offline``, no time: ``edge.uplink`` builds it once,
before it connects) when the edge's connection dies. The heartbeat it sent just before dying,
handled by another worker after the will, was taken: the dead edge stayed ``online`` for
good, its building's sensors unwatched and nobody told (``hub.fleet.status_order``).
"""

from datetime import datetime, timedelta

from sqlalchemy import Engine

from devices.messages import EdgeStatus
from hub.fleet.status_order import LATE_WITHIN, late_behind_offline
from hub.store import HubStore
from tests.hub.conftest import FakeClock


def test_a_heartbeat_late_behind_a_last_will_does_not_bring_a_dead_edge_online(
    pg_engine: Engine, clock: FakeClock
) -> None:
    first, second = HubStore(pg_engine, clock=clock), HubStore(pg_engine, clock=clock)
    first.fleet.record_edge_status(
        EdgeStatus(edge_id="edge-b3", state="online", ts=clock.now), clock.now
    )
    clock.advance(30)
    heartbeat = EdgeStatus(edge_id="edge-b3", state="online", ts=clock.now)  # then it dies
    will = EdgeStatus(edge_id="edge-b3", state="offline")  # as the broker publishes it

    second.fleet.record_edge_status(will, clock.advance(0.5))
    recorded = first.fleet.record_edge_status(heartbeat, clock.advance(0.1))  # late

    assert recorded.late
    assert not recorded.taken
    [edge] = first.fleet.list_edges()
    assert edge.state == "offline"
    # Started again (or connected again after a blip): its next heartbeat is taken.
    clock.advance(LATE_WITHIN.total_seconds())
    again = EdgeStatus(edge_id="edge-b3", state="online", ts=clock.now)
    assert first.fleet.record_edge_status(again, clock.now).taken
    [edge] = first.fleet.list_edges()
    assert edge.state == "online"


def test_only_an_online_within_the_window_after_an_offline_is_held_back() -> None:
    """Past the window an online is taken; an offline, or an online behind an online, always."""
    clock = FakeClock()
    held = clock.now
    within, after = held + LATE_WITHIN / 2, held + LATE_WITHIN
    sent = held + timedelta(seconds=1)

    def late(held_state: str, at: datetime, held_sent_at: datetime | None = None) -> bool:
        return late_behind_offline(
            state="online",
            sent_at=sent,
            held_state=held_state,
            held_sent_at=held_sent_at,
            held_received_at=held,
            received_at=at,
        )

    assert late("offline", within)  # behind a will: sent before it, whatever its time says
    assert not late("offline", after)
    assert not late("online", within)
    assert not late("offline", within, held_sent_at=held)  # sent after a clean offline
    assert late("offline", within, held_sent_at=sent + timedelta(seconds=1))
    assert not late_behind_offline(
        state="offline",
        sent_at=None,
        held_state="offline",
        held_sent_at=None,
        held_received_at=held,
        received_at=within,
    )
