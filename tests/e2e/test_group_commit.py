"""Group commit under kill -9: an edge killed with device messages received but not committed.

The edge's outbox refuses every write (a trigger, as a full disk would), so the burst's
messages are received and their group commits fail; the edge is SIGKILLed in that state,
the disk recovers and the edge starts again on the same data. Every reading must become
exactly one alert at the hub: none lost (nothing was acknowledged before its commit), none
doubled.
"""

import sqlite3
from contextlib import closing

from tests.e2e.stack import Stack, publisher
from tests.e2e.test_delivery import assert_exactly_once, publish_all, transition_readings
from tests.polling import wait_until

BURST = 400


def test_edge_sigkilled_with_a_burst_received_but_not_committed_loses_and_doubles_nothing(
    stack: Stack,
) -> None:
    outbox = stack.root / "edge" / "outbox.sqlite3"
    with closing(sqlite3.connect(outbox)) as db:
        db.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON alerts "
            "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
    with publisher(stack.local_broker.port) as client:
        publish_all(client, transition_readings(BURST))
    wait_until(
        lambda: stack.edge_counters().get("outbox_errors", 0) >= 2,
        what="the edge to receive the burst and fail to commit it, twice",
    )
    stack.edge.kill()
    with closing(sqlite3.connect(outbox)) as db:
        assert db.execute("SELECT COUNT(*) FROM alerts").fetchone() == (0,)
        db.execute("DROP TRIGGER refuse")
    stack.edge.start()
    assert_exactly_once(stack, BURST)
