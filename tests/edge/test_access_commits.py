"""The access shell's group commit, through ``AccessControl`` on real SQLite stores.

No broker: the reader's commands are counted as unsent (no local client), which is all these
tests need; the decisions, the log records and the door states go to the real access store and
alert outbox in a temporary folder, and a second ``AccessControl`` over the same files is the
agent after a restart.
"""

import asyncio
import json
import sqlite3
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devices.access import DoorConfig
from devices.kinds import AlertKind
from devices.messages import Alert
from devices.mqtt_link import MqttEndpoint
from edge.access.commits import STATE_PREFIX, DoorWrite, store_writes
from edge.access.control import AccessControl
from edge.access.door import BurstPhase, DoorPhase, DoorState
from edge.access.store import AccessStore, AccessStoreError
from edge.outbox import Outbox, OutboxError
from simulators.doors import enrolment

EDGE = "e1"
KEY = bytes(range(32))
NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
GATE = DoorConfig(id="gate", reader_id="gate-reader", contact_id="gate-contact", burst_count=3)
CARDS = [f"{0x10000000 + i:08X}" for i in range(30)]


def enrol(store: AccessStore) -> None:
    """Store an allow-list with the gate and its cards, as a hub snapshot would."""
    store.apply(0, enrolment(EDGE, KEY, CARDS, [GATE]))


class Edge:
    """The access stores of one edge in a folder, and an ``AccessControl`` over them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.counts: Counter[str] = Counter()
        self.alerts: list[Alert] = []
        store = AccessStore.open(root / "access.sqlite3")
        if len(store.load()) == 0:
            enrol(store)
        self.outbox = Outbox.open(root / "outbox.sqlite3")
        self.control = AccessControl(
            edge_id=EDGE,
            store=store,
            outbox=self.outbox,
            hub=MqttEndpoint(host="127.0.0.1", port=1),
            local=lambda: None,
            on_alerts=self.alerts.extend,
            count=lambda name, n: self.counts.update({name: n}),
            clock=lambda: NOW,
        )

    async def present(self, card: str) -> bool:
        """Present a card at the gate's reader; return whether it was granted."""
        raw = json.dumps({"card": card}).encode()
        decision = await self.control.on_frame(GATE.reader_id, "linli/dev/gate-reader/credential",
                                               raw)  # fmt: skip
        assert decision is not None
        return decision.granted

    def close(self) -> None:
        """Close both stores (what a stopping agent does)."""
        self.control.store.close()
        self.outbox.close()


async def test_frames_in_flight_together_share_one_commit(tmp_path: Path) -> None:
    edge = Edge(tmp_path)
    granted = await asyncio.gather(*(edge.present(card) for card in CARDS[:20]))
    assert all(granted)
    # Decided one by one, stored together: far fewer transactions than frames.
    assert 1 <= edge.counts["access.commits"] <= 2
    assert edge.control.store.log_depth() == 20
    assert edge.control.doors["gate"].steps == 20
    edge.close()


async def test_frames_taken_together_are_decided_at_once_and_stored_in_one_commit(
    tmp_path: Path,
) -> None:
    # What the ingest does with a group: take every frame (each reader is answered at once),
    # then await their commits together before acknowledging any of them.
    edge = Edge(tmp_path)
    topic = "linli/dev/gate-reader/credential"
    taken = [
        await edge.control.take_frame(GATE.reader_id, topic, json.dumps({"card": card}).encode())
        for card in CARDS[:10]
    ]
    assert all(t.decision is not None and t.decision.granted for t in taken)
    assert edge.counts["access.granted"] == 10
    assert edge.control.store.log_depth() == 0  # decided, not stored yet
    await asyncio.gather(*(t.stored for t in taken))
    assert edge.control.store.log_depth() == 10
    assert edge.counts["access.commits"] == 1
    edge.close()
    again = Edge(tmp_path)
    assert again.control.doors["gate"].steps == 10
    again.close()


async def test_a_frame_handled_alone_is_on_disk_when_its_call_returns(tmp_path: Path) -> None:
    edge = Edge(tmp_path)
    for n, card in enumerate(CARDS[:3], 1):
        assert await edge.present(card)
        assert edge.control.store.log_depth() == n
    assert edge.counts["access.commits"] == 3
    edge.close()


async def test_a_grant_stores_the_door_state_with_its_record_and_a_restart_finds_it(
    tmp_path: Path,
) -> None:
    edge = Edge(tmp_path)
    assert await edge.present(CARDS[0])
    # One transaction for the decision: the door state is in the access store, not the outbox.
    assert edge.counts["access.commits"] == 1
    assert STATE_PREFIX + "gate" not in edge.outbox.load_states()
    edge.close()
    again = Edge(tmp_path)
    state = again.control.doors["gate"]
    assert (state.phase, state.steps) == (DoorPhase.UNLOCKED, 1)
    again.close()


async def test_an_alert_step_keeps_its_state_with_its_alert_and_the_newer_copy_wins(
    tmp_path: Path,
) -> None:
    edge = Edge(tmp_path)
    # Three unknown cards within the window: the third raises the burst alert.
    for card in ("0BADCAFE", "0BADCAF0", "0BADCAF1"):
        assert not await edge.present(card)
    assert [a.kind for a in edge.alerts] == [AlertKind.ACCESS_DENIED_BURST]
    outbox_copy = DoorState.model_validate_json(edge.outbox.load_states()[STATE_PREFIX + "gate"])
    assert (outbox_copy.burst, outbox_copy.steps) == (BurstPhase.RAISED, 3)
    assert [a.id for a in edge.outbox.due(0, 10)] == [edge.alerts[0].id]
    edge.close()

    # The access store's copy is older (two steps): the restart takes the outbox's.
    again = Edge(tmp_path)
    assert again.control.doors["gate"].burst is BurstPhase.RAISED
    assert again.control.doors["gate"].steps == 3
    # A later grant is newer than the outbox's copy, and wins after the next restart.
    assert await again.present(CARDS[1])
    again.close()
    third = Edge(tmp_path)
    assert third.control.doors["gate"].steps == 4
    assert third.control.doors["gate"].phase is DoorPhase.UNLOCKED
    third.close()


async def test_a_failed_commit_fails_its_frames_and_leaves_the_door_as_it_was(
    tmp_path: Path,
) -> None:
    edge = Edge(tmp_path)
    assert await edge.present(CARDS[0])
    before = edge.control.doors["gate"]
    with sqlite3.connect(tmp_path / "access.sqlite3") as db:
        db.execute("DROP TABLE doors")  # every decision's write now fails
    results = await asyncio.gather(
        *(edge.present(card) for card in CARDS[1:4]), return_exceptions=True
    )
    assert all(isinstance(r, AccessStoreError) for r in results)
    assert edge.control.doors["gate"] == before
    assert edge.counts["access.commits"] == 1
    edge.close()


def test_no_state_is_stored_ahead_of_an_alert_it_follows(tmp_path: Path) -> None:
    """Steps after an alert step wait for its outbox commit: a prefix survives a crash."""
    store = AccessStore.open(tmp_path / "access.sqlite3")
    outbox = Outbox.open(tmp_path / "outbox.sqlite3")
    plain = DoorState(steps=1)
    raised = DoorState(steps=2, burst=BurstPhase.RAISED)
    after = DoorState(steps=3, burst=BurstPhase.RAISED)
    alert = Alert.model_validate(
        {
            "id": "alert-0001",
            "edge_id": EDGE,
            "device_id": "gate-reader",
            "kind": "access_denied_burst",
            "state": "raised",
            "severity": "medium",
            "ts": NOW.isoformat(),
            "detected_at": NOW.isoformat(),
            "reason": {"rule": "access_denied_burst", "values": {}},
        }
    )
    writes = [
        DoorWrite("gate", DoorState(), plain, [], []),
        DoorWrite("gate", plain, raised, [], [alert]),
        DoorWrite("gate", raised, after, [], []),
    ]
    # Store, then the outbox with the alert, then the store again: three transactions.
    assert store_writes(store, outbox, writes) == 3
    assert DoorState.model_validate_json(store.door_states()["gate"]).steps == 3
    # Without an alert between them, steps share one transaction.
    assert store_writes(store, outbox, [writes[0], writes[2]]) == 1

    # The outbox fails at the alert step: the step after it stored nothing ahead of it.
    fresh = AccessStore.open(tmp_path / "fresh.sqlite3")
    with sqlite3.connect(tmp_path / "outbox.sqlite3") as db:
        db.execute("DROP TABLE device_states")
    with pytest.raises(OutboxError):
        store_writes(fresh, outbox, writes)
    assert DoorState.model_validate_json(fresh.door_states()["gate"]).steps == 1
    for closing in (store, fresh, outbox):
        closing.close()


@pytest.mark.parametrize("steps", [0, 7])
def test_a_state_stored_before_step_counts_reads_as_step_zero(steps: int) -> None:
    text = DoorState(phase=DoorPhase.OPEN, opened_at=NOW, steps=steps).model_dump_json()
    legacy = json.loads(text)
    legacy.pop("steps")
    assert DoorState.model_validate(legacy).steps == 0
    assert DoorState.model_validate_json(text).steps == steps
