"""An edge's statuses handled by two hub workers out of order.

Mosquitto deals a shared subscription's messages round-robin, so an edge's last heartbeat
(``online``) and the ``offline`` it publishes as it shuts down can be handled by two workers,
the heartbeat last. ``FleetRepository.record_edge_status`` takes whichever commits last, so the
edge stays ``online`` on the console for good: a dead edge sends nothing that would correct
it, and nobody learns that a building's sensors are no longer watched. Now a status sent
before the ``offline`` the hub holds, and received within seconds of it, is not taken
(``hub.fleet.status_order``).
"""

from datetime import timedelta

from sqlalchemy import Engine

from devices.messages import EdgeStatus
from hub.store import HubStore
from tests.hub.conftest import FakeClock


def test_a_late_heartbeat_does_not_bring_a_stopped_edge_back_online(
    pg_engine: Engine, clock: FakeClock
) -> None:
    first, second = HubStore(pg_engine, clock=clock), HubStore(pg_engine, clock=clock)
    heartbeat = EdgeStatus(edge_id="edge-b3", state="online", ts=clock.now)
    stopping = EdgeStatus(edge_id="edge-b3", state="offline", ts=clock.now + timedelta(seconds=1))
    first.fleet.record_edge_status(
        EdgeStatus(edge_id="edge-b3", state="online", ts=clock.now - timedelta(seconds=30)),
        clock.now - timedelta(seconds=30),
    )

    second.fleet.record_edge_status(stopping, clock.advance(1))
    first.fleet.record_edge_status(heartbeat, clock.advance(0.1))  # the heartbeat, late

    [edge] = first.fleet.list_edges()
    assert edge.state == "offline"


def test_an_edge_starting_again_with_its_clock_behind_is_online(
    pg_engine: Engine, clock: FakeClock
) -> None:
    """A Raspberry Pi starts with the clock it saved before it stopped, until NTP sets it: its
    first status may be stamped before its last offline, and it is online all the same."""
    store = HubStore(pg_engine, clock=clock)
    store.fleet.record_edge_status(
        EdgeStatus(edge_id="edge-b3", state="offline", ts=clock.now), clock.now
    )
    clock.advance(45)  # a reboot
    behind = EdgeStatus(edge_id="edge-b3", state="online", ts=clock.now - timedelta(minutes=3))
    assert store.fleet.record_edge_status(behind, clock.now).taken
    [edge] = store.fleet.list_edges()
    assert edge.state == "online"
