"""A revoked edge's status (docs/security.md, "Revoked edges' retained messages"): the rule on
plain values, the parser, and the store on SQLite and PostgreSQL. Over a real Mosquitto with
``linli broker revoke``: ``tests/security/test_revoked_edge_status.py``."""

from datetime import timedelta

from devices.messages import EdgeStatus
from hub.fleet.revocation import status_taken
from hub.ingest.messages import RejectedMessage, StatusCleared, StatusMessage, parse_uplink
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import T0, make_device, make_status

LIMIT = 256 * 1024


def test_a_revoked_edge_is_taken_back_only_by_a_live_online_status_sent_after() -> None:
    revoked = T0
    later, earlier = T0 + timedelta(seconds=5), T0 - timedelta(seconds=5)
    assert status_taken(None, retained=True, state="online", sent_at=earlier)
    assert status_taken(revoked, retained=False, state="online", sent_at=later)
    assert status_taken(revoked, retained=False, state="online", sent_at=None)
    # A stale copy the broker still holds, however it is stamped.
    assert not status_taken(revoked, retained=True, state="online", sent_at=later)
    # Sent before the revocation (another hub worker held it meanwhile).
    assert not status_taken(revoked, retained=False, state="online", sent_at=earlier)
    assert not status_taken(revoked, retained=False, state="online", sent_at=revoked)
    # A last will says nothing of an edge issued again.
    assert not status_taken(revoked, retained=False, state="offline", sent_at=later)


def test_an_empty_status_is_a_clearing_and_a_status_says_whether_it_was_retained() -> None:
    topic = "linli/edge/e1/status"
    assert parse_uplink(topic, b"", max_payload_bytes=LIMIT) == StatusCleared("e1")
    raw = make_status("e1").model_dump_json()
    live = parse_uplink(topic, raw, max_payload_bytes=LIMIT)
    stored = parse_uplink(topic, raw, max_payload_bytes=LIMIT, retained=True)
    assert isinstance(live, StatusMessage)
    assert isinstance(stored, StatusMessage)
    assert (live.retained, stored.retained) == (False, True)
    for channel in ("alert", "alerts", "telemetry"):
        empty = parse_uplink(
            f"linli/edge/e1/{channel}", b"", max_payload_bytes=LIMIT, defer_telemetry=True
        )
        assert isinstance(empty, RejectedMessage), channel
        assert empty.reason == "empty", channel


def test_a_cleared_edge_is_offline_and_no_stale_copy_brings_it_back(
    store: HubStore, clock: FakeClock
) -> None:
    fleet = store.fleet
    fleet.record_edge_status(make_status("e1"), clock.advance(1))
    cleared_at = clock.advance(10)
    fleet.record_edge_cleared("e1", cleared_at)
    [edge] = fleet.list_edges()
    assert (edge.state, edge.revoked_at) == ("offline", cleared_at)

    # The broker hands over its old retained copy, with a new device in its inventory.
    smoke = make_device("stale-smoke", edge_id="e1")
    stale = make_status("e1", devices=[smoke]).model_copy(update={"ts": clock.now})
    recorded = fleet.record_edge_status(stale, clock.advance(1), retained=True)
    assert not recorded.taken
    assert recorded.edges_changed == frozenset()
    # Sent live but before the revocation, and a last will: not taken either.
    early = stale.model_copy(update={"ts": cleared_at - timedelta(seconds=1)})
    assert not fleet.record_edge_status(early, clock.advance(1)).taken
    will = EdgeStatus(edge_id="e1", state="offline")
    assert not fleet.record_edge_status(will, clock.advance(1)).taken
    assert fleet.list_edges() == [edge]
    assert fleet.list_devices() == []

    # The edge issued again (linli broker add-edge) says it is online, live.
    again = stale.model_copy(update={"ts": clock.advance(30)})
    recorded = fleet.record_edge_status(again, clock.now)
    assert recorded.taken
    [edge] = fleet.list_edges()
    assert (edge.state, edge.revoked_at) == ("online", None)
    assert [d.id for d in fleet.list_devices()] == ["stale-smoke"]


def test_an_edge_the_hub_never_heard_of_is_recorded_revoked(
    store: HubStore, clock: FakeClock
) -> None:
    """A clearing of an edge the hub never heard of is kept, for a stale copy to meet."""
    fleet = store.fleet
    fleet.record_edge_cleared("ghost", clock.advance(1))
    recorded = fleet.record_edge_status(make_status("ghost"), clock.advance(1), retained=True)
    assert not recorded.taken
    [edge] = fleet.list_edges()
    assert (edge.id, edge.state) == ("ghost", "offline")
    assert edge.revoked_at is not None
