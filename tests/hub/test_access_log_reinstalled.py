"""Door events of an edge installed afresh reach the hub's access log (review defect).

A door event's log record (``door_opened``, ``door_forced``, ``door_closed``, ...) has an id
derived from the edge, the door and the door's count of logged events, kept in the edge's
data, so that a step replayed after a crash repeats its ids and is stored once. An edge whose
data is gone (a new SD card under the same edge id; a door state that could not be read)
counts from 1 again: each new door event carried the id of an old one, and the hub took it
for a copy (``on conflict do nothing``), acknowledged it and dropped it, counted only as
``log_duplicate``. A busy gate's log lost every door event, break-ins included, for as long
as it had logged before: weeks. Now a stored id is a copy only if the stored record is the
same record (edge, door, kind, time); another record under that id is stored under an id
derived from what it is, and the edge is acknowledged under the id it sent.
"""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from devices.access import AccessEventKind, AccessRecord
from edge.access.control import derived_id
from hub.access.repository import AccessStore
from tests.hub.conftest import FakeClock
from tests.hub.test_access_store import EDGE, site_with_gate

BEFORE = datetime(2026, 11, 2, 21, 0, tzinfo=UTC)
AFTER = datetime(2026, 12, 7, 3, 12, tzinfo=UTC)  # after the reinstall: a break-in at night


@pytest.fixture
def access(engine: Engine, clock: FakeClock) -> AccessStore:
    return AccessStore(engine, clock=clock)


def note(n: int, kind: AccessEventKind, at: datetime) -> AccessRecord:
    """The gate's ``n``-th door event, with the id the edge derives for it."""
    return AccessRecord(
        id=derived_id(EDGE, "gate", "note", n), edge_id=EDGE, door_id="gate", kind=kind, ts=at
    )


def test_door_events_after_a_reinstall_are_stored_not_taken_for_copies(
    access: AccessStore, clock: FakeClock
) -> None:
    site_with_gate(access)
    old = [
        note(1, AccessEventKind.DOOR_OPENED, BEFORE),
        note(2, AccessEventKind.DOOR_CLOSED, BEFORE + timedelta(seconds=4)),
    ]
    assert access.log.ingest_log(old, clock.now).new == 2
    # Installed afresh: the gate counts its events from 1 again.
    new = [
        note(1, AccessEventKind.DOOR_OPENED, AFTER),
        note(2, AccessEventKind.DOOR_FORCED, AFTER + timedelta(seconds=1)),
    ]
    assert access.log.ingest_log(new, clock.now).new == 2  # 0 before: both dropped
    kinds = [(r.kind, r.ts) for r in access.log.query_log(door_id="gate")]
    assert kinds == [
        (AccessEventKind.DOOR_FORCED, AFTER + timedelta(seconds=1)),
        (AccessEventKind.DOOR_OPENED, AFTER),
        (AccessEventKind.DOOR_CLOSED, BEFORE + timedelta(seconds=4)),
        (AccessEventKind.DOOR_OPENED, BEFORE),
    ]
    # A re-send (the acknowledgement was lost) is a copy, of the old records and the new.
    assert access.log.ingest_log([*old, *new], clock.now).new == 0
    assert len(access.log.query_log(door_id="gate")) == 4


def test_two_records_under_one_id_in_one_batch_are_both_stored_once(
    access: AccessStore, clock: FakeClock
) -> None:
    site_with_gate(access)
    first = note(1, AccessEventKind.DOOR_OPENED, BEFORE)
    other = note(1, AccessEventKind.DOOR_OPENED, AFTER)
    assert access.log.ingest_log([first, first, other, other], clock.now).new == 2
    assert access.log.ingest_log([other, first], clock.now).new == 0
    assert [r.ts for r in access.log.query_log()] == [AFTER, BEFORE]
