"""The outbox on a real SQLite file: ordering, durability, acknowledgement, in-flight window."""

import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.kinds import AlertKind, AlertState, Severity
from devices.messages import Alert, AlertReason
from edge.outbox import Outbox, OutboxError, Settled
from edge.outbox_queries import DUE as _DUE
from edge.outbox_queries import SCHEMA as _SCHEMA
from edge.outbox_queries import due_rows as _due_rows

T0 = datetime(2026, 4, 17, 12, 0, tzinfo=UTC)
WINDOW = 1000  # larger than any test's outbox: the window is tested on its own


def alert(device_id: str, kind: AlertKind, state: AlertState = AlertState.RAISED) -> Alert:
    return Alert(
        id=uuid.uuid4().hex,
        edge_id="edge-test",
        device_id=device_id,
        kind=kind,
        state=state,
        severity=Severity.CRITICAL,
        ts=T0,
        detected_at=T0,
        location="Building 1",
        reason=AlertReason(rule="test"),
    )


def store(outbox: Outbox, *alerts: Alert) -> None:
    for a in alerts:
        outbox.commit(a.device_id, "{}", [a])


def ids(alerts: list[Alert]) -> list[str]:
    return [a.id for a in alerts]


def due_after_reopening(path: Path) -> list[str]:
    """Open the outbox file at ``path`` afresh and return the ids it has due now."""
    box = Outbox.open(path)
    try:
        return ids(box.due(now=0.0, limit=WINDOW))
    finally:
        box.close()


@pytest.mark.parametrize(("sync", "pragma"), [("full", 2), ("normal", 1)])
def test_opens_in_wal_mode_with_the_requested_sync(
    path: Path, sync: Literal["full", "normal"], pragma: int
) -> None:
    box = Outbox.open(path, sync)
    try:
        assert box._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert box._db.execute("PRAGMA synchronous").fetchone()[0] == pragma
    finally:
        box.close()


def test_sos_inserted_after_100_faults_of_other_devices_goes_first(outbox: Outbox) -> None:
    faults = [alert(f"sensor-{i}", AlertKind.BATTERY_LOW) for i in range(100)]
    store(outbox, *faults)
    sos = alert("button-1", AlertKind.SOS)
    store(outbox, sos)
    due = outbox.due(now=0.0, limit=WINDOW)
    assert due[0].id == sos.id
    assert ids(due[1:]) == ids(faults)


def test_life_safety_device_goes_first_with_its_own_order_kept(outbox: Outbox) -> None:
    leak = alert("leak-1", AlertKind.WATER_LEAK)
    offline = alert("smoke-1", AlertKind.DEVICE_OFFLINE)
    online = alert("smoke-1", AlertKind.DEVICE_OFFLINE, AlertState.CLEARED)
    fire = alert("smoke-1", AlertKind.SMOKE)
    battery = alert("leak-2", AlertKind.BATTERY_LOW)
    gas = alert("gas-1", AlertKind.GAS)
    store(outbox, leak, offline, online, fire, battery, gas)
    # smoke-1's most urgent alert is smoke (rank 1), so all of smoke-1's alerts lead, in
    # their own order; gas-1 (rank 1) follows by sequence; then property damage, then faults.
    assert ids(outbox.due(now=0.0, limit=WINDOW)) == ids(
        [offline, online, fire, gas, leak, battery]
    )


def test_per_device_order_survives_interleaving(outbox: Outbox) -> None:
    stored = [
        alert(device, kind, state)
        for _ in range(5)
        for device, kind in [("a", AlertKind.WATER_LEAK), ("b", AlertKind.SMOKE)]
        for state in (AlertState.RAISED, AlertState.CLEARED)
    ]
    store(outbox, *stored)
    due = outbox.due(now=0.0, limit=WINDOW)
    for device in ("a", "b"):
        assert ids([a for a in due if a.device_id == device]) == ids(
            [a for a in stored if a.device_id == device]
        )
    assert {a.device_id for a in due[:10]} == {"b"}


def test_alerts_and_state_survive_reopening(path: Path) -> None:
    first = Outbox.open(path, "full")
    stored = [alert("smoke-1", AlertKind.SMOKE), alert("smoke-1", AlertKind.HEAT)]
    first.commit("smoke-1", '{"raised": ["heat", "smoke"], "gas": "clear"}', stored)
    first.close()

    again = Outbox.open(path, "full")
    try:
        assert again.depth() == 2
        assert again.load_states() == {"smoke-1": '{"raised": ["heat", "smoke"], "gas": "clear"}'}
        assert again.due(now=0.0, limit=WINDOW) == stored
    finally:
        again.close()


def test_state_and_alerts_commit_together_or_not_at_all(outbox: Outbox, path: Path) -> None:
    outbox.commit("smoke-1", '{"raised": [], "gas": "clear"}', [])
    # Make the alert insert fail inside the transaction: the state update must roll back.
    with sqlite3.connect(path) as other:
        other.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON alerts BEGIN SELECT RAISE(ABORT, 'full'); END"
        )
    with pytest.raises(OutboxError, match="full"):
        outbox.commit(
            "smoke-1", '{"raised": ["smoke"], "gas": "clear"}', [alert("smoke-1", AlertKind.SMOKE)]
        )
    assert outbox.load_states() == {"smoke-1": '{"raised": [], "gas": "clear"}'}
    assert outbox.depth() == 0


def test_an_alert_that_no_longer_parses_is_logged_and_skipped_not_deleted(
    outbox: Outbox, path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken, fine = alert("smoke-1", AlertKind.SMOKE), alert("smoke-2", AlertKind.SMOKE)
    outbox.commit("smoke-1", "{}", [broken, fine])
    with sqlite3.connect(path) as other:
        other.execute("UPDATE alerts SET body = '{' WHERE id = ?", (broken.id,))
    assert outbox.due(now=0.0, limit=WINDOW) == [fine]
    assert f"outbox alert {broken.id} cannot be read back" in caplog.text
    assert outbox.depth() == 2


def test_acknowledge_deletes_only_the_named_alerts(outbox: Outbox, path: Path) -> None:
    a, b, c = (alert("x", AlertKind.SMOKE) for _ in range(3))
    store(outbox, a, b, c)
    assert outbox.acknowledge([a.id, c.id, "unknown-id-123"]) == 2
    assert outbox.acknowledge([a.id]) == 0
    assert ids(outbox.due(now=0.0, limit=WINDOW)) == [b.id]
    outbox.close()
    reopened = Outbox.open(path)
    try:
        assert reopened.depth() == 1
    finally:
        reopened.close()


def test_storing_the_same_alert_twice_keeps_one(outbox: Outbox) -> None:
    a = alert("x", AlertKind.SOS)
    store(outbox, a, a)
    assert outbox.depth() == 1


def test_window_limits_what_is_on_the_wire(outbox: Outbox) -> None:
    stored = [alert(f"d{i}", AlertKind.WATER_LEAK) for i in range(5)]
    store(outbox, *stored)
    first = outbox.due(now=0.0, limit=2)
    assert ids(first) == ids(stored[:2])
    outbox.mark_sent(ids(first), now=0.0)
    assert outbox.due(now=1.0, limit=2) == []
    outbox.acknowledge([first[0].id])
    assert ids(outbox.due(now=1.0, limit=2)) == [stored[2].id]


def test_an_ack_says_whether_an_alert_waits_off_the_wire(outbox: Outbox) -> None:
    """What wakes the forwarder after an ack: only a stored alert not on the wire."""
    stored = [alert(f"d{i}", AlertKind.WATER_LEAK) for i in range(3)]
    store(outbox, *stored)
    outbox.mark_sent(ids(stored[:2]), now=0.0)  # a full window of two; the third waits
    assert outbox.settle([stored[0].id], now=1.0) == Settled(deleted=1, waiting=True)
    outbox.mark_sent([stored[2].id], now=1.0)
    assert outbox.settle([stored[1].id], now=2.0) == Settled(deleted=1, waiting=False)
    assert outbox.settle([stored[1].id], now=3.0) == Settled(deleted=0, waiting=False)
    assert outbox.settle([stored[2].id], now=3.0) == Settled(deleted=1, waiting=False)
    assert outbox.depth() == 0


def test_in_flight_alert_is_sent_again_after_resend_after_s(outbox: Outbox) -> None:
    a, b = alert("a", AlertKind.SMOKE), alert("b", AlertKind.WATER_LEAK)
    store(outbox, a, b)
    outbox.mark_sent([a.id, b.id], now=100.0)
    assert outbox.due(now=109.9, limit=WINDOW) == []
    assert ids(outbox.due(now=110.0, limit=WINDOW)) == [a.id, b.id]
    outbox.mark_sent([a.id], now=110.0)
    assert ids(outbox.due(now=115.0, limit=WINDOW)) == [b.id]
    assert outbox.in_flight() == 2


def test_reset_in_flight_makes_everything_due_again(outbox: Outbox) -> None:
    stored = [alert("a", AlertKind.SOS), alert("b", AlertKind.CO)]
    store(outbox, *stored)
    outbox.mark_sent(ids(stored), now=0.0)
    assert outbox.due(now=1.0, limit=WINDOW) == []
    outbox.reset_in_flight()
    assert outbox.in_flight() == 0
    assert ids(outbox.due(now=1.0, limit=WINDOW)) == ids(stored)


def test_in_flight_is_not_durable(path: Path) -> None:
    box = Outbox.open(path)
    a = alert("a", AlertKind.SOS)
    store(box, a)
    box.mark_sent([a.id], now=0.0)
    box.close()
    assert due_after_reopening(path) == [a.id]


def test_marking_an_acknowledged_alert_sent_does_not_hold_the_window(outbox: Outbox) -> None:
    a, b = alert("a", AlertKind.SOS), alert("b", AlertKind.SOS)
    store(outbox, a, b)
    outbox.acknowledge([a.id])
    outbox.mark_sent([a.id], now=0.0)
    assert ids(outbox.due(now=0.0, limit=1)) == [b.id]


def test_take_due_marks_what_it_returns_sent_and_hands_over_the_stored_bodies(
    outbox: Outbox,
) -> None:
    stored = [alert("a", AlertKind.GAS), alert("b", AlertKind.SOS), alert("c", AlertKind.CO)]
    store(outbox, *stored)
    taken = outbox.take_due(now=0.0, limit=2)
    assert [Alert.model_validate_json(t.body) for t in taken] == [stored[1], stored[0]]
    assert [t.id for t in taken] == [stored[1].id, stored[0].id]
    assert outbox.in_flight() == 2
    assert outbox.take_due(now=1.0, limit=2) == []  # the window is full
    assert [t.id for t in outbox.take_due(now=10.0, limit=3)] == ids(
        [stored[1], stored[0], stored[2]]
    )


def test_commit_group_stores_every_device_state_and_alert_in_one_transaction(
    outbox: Outbox,
) -> None:
    group = [alert("a", AlertKind.GAS), alert("b", AlertKind.GAS), alert("a", AlertKind.GAS)]
    outbox.commit_group({"a": '{"n": 2}', "b": '{"n": 1}'}, group)
    assert outbox.load_states() == {"a": '{"n": 2}', "b": '{"n": 1}'}
    assert ids(outbox.due(now=0.0, limit=WINDOW)) == ids(group)
    with pytest.raises(OutboxError):
        # One bad row (a NULL state) and the whole group is not stored.
        outbox.commit_group({"c": "{}", "d": None}, [alert("c", AlertKind.GAS)])  # type: ignore[dict-item]
    assert set(outbox.load_states()) == {"a", "b"}
    assert outbox.depth() == 3


def test_an_ack_gives_the_rest_of_the_window_resend_after_s_again(outbox: Outbox) -> None:
    a, b = alert("a", AlertKind.SMOKE), alert("b", AlertKind.SMOKE)
    store(outbox, a, b)
    outbox.mark_sent([a.id, b.id], now=100.0)
    # The hub acknowledges a at 108: it is working through the window, so b is not
    # re-sent at 110 but only once the hub has been silent for resend_after_s.
    outbox.acknowledge([a.id], now=108.0)
    assert outbox.due(now=110.0, limit=WINDOW) == []
    assert ids(outbox.due(now=118.0, limit=WINDOW)) == [b.id]


def test_an_alert_sent_after_the_last_ack_keeps_its_own_send_time(outbox: Outbox) -> None:
    a, b, c = (alert(name, AlertKind.SMOKE) for name in "abc")
    store(outbox, a, b, c)
    outbox.mark_sent([a.id, b.id], now=100.0)
    outbox.acknowledge([a.id], now=108.0)
    outbox.mark_sent([c.id], now=112.0)
    assert outbox.due(now=117.9, limit=WINDOW) == []
    assert ids(outbox.due(now=118.0, limit=WINDOW)) == [b.id]  # counts as sent at the ack
    assert ids(outbox.due(now=122.0, limit=WINDOW)) == [b.id, c.id]
    outbox.acknowledge([], now=115.0)  # a later ack: both count as sent at 115
    assert outbox.due(now=124.9, limit=WINDOW) == []
    assert ids(outbox.due(now=125.0, limit=WINDOW)) == [b.id, c.id]


def test_an_acknowledged_alert_stays_deleted_after_reopening(path: Path) -> None:
    box = Outbox.open(path)
    a, b = alert("a", AlertKind.SOS), alert("b", AlertKind.SOS)
    store(box, a, b)
    box.acknowledge([a.id])  # committed without its own fsync: still atomic and on disk
    (pragma,) = box._db.execute("PRAGMA synchronous").fetchone()
    assert pragma == 2, "the ack's NORMAL must not outlive its transaction"
    box.close()
    assert due_after_reopening(path) == [b.id]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(["d1", "d2", "d3"]), min_size=1, max_size=40),
    st.lists(st.integers(min_value=0, max_value=39), max_size=15),
    st.lists(st.integers(min_value=0, max_value=39), max_size=10),
    st.integers(min_value=1, max_value=12),
)
def test_a_backlog_of_one_rank_is_due_in_the_order_the_ranked_query_gives(
    devices: list[str], sent: list[int], stale: list[int], limit: int
) -> None:
    # One kind throughout takes the in-order path; it must pick exactly what ranking the
    # whole outbox would, whatever is on the wire, stale or fresh.
    db = sqlite3.connect(":memory:")
    db.executescript(_SCHEMA)
    rows = [(f"a{i:03d}", device, 2, "{}") for i, device in enumerate(devices)]
    db.executemany("INSERT INTO alerts (id, device_id, rank, body) VALUES (?, ?, ?, ?)", rows)
    in_flight = {f"a{i:03d}": 100.0 for i in sent if i < len(rows)}
    in_flight |= {f"a{i:03d}": 10.0 for i in stale if i < len(rows)}
    db.executemany("INSERT INTO in_flight (id, sent_at) VALUES (?, ?)", in_flight.items())
    (fresh,) = db.execute("SELECT COUNT(*) FROM in_flight WHERE sent_at > 50").fetchone()
    ranked = db.execute(_DUE, {"stale_before": 50.0, "room": max(0, limit - fresh)}).fetchall()
    assert _due_rows(db, 50.0, limit) == (ranked if limit > fresh else [])


def test_an_sos_into_a_backlog_of_one_kind_still_goes_first(outbox: Outbox) -> None:
    backlog = [alert(f"gas-{i % 3}", AlertKind.GAS) for i in range(30)]
    store(outbox, *backlog)
    assert ids(outbox.due(now=0.0, limit=5)) == ids(backlog[:5])
    sos = alert("sos-1", AlertKind.SOS)
    store(outbox, sos)
    assert ids(outbox.due(now=0.0, limit=5)) == [sos.id, *ids(backlog[:4])]
