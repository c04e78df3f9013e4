"""Frames that are no credential, at a door's reader, count towards its denial burst.

Before, a malformed or oversized frame from a known reader was counted under
``access.rejected.*`` and logged, but left no access-log record and no trace in the door's
monitor: a reader fed garbage (or failing) at the gate raised nothing however long it went on,
while the same number of unknown cards raised ``access_denied_burst``. Now each is a ``denied``
record with reason ``malformed_frame`` (no credential, no fingerprint), counted towards the
burst; the reader gets no command (nobody may have presented anything) and nothing unlocks.
"""

import json
from pathlib import Path

from devices.access import AccessEventKind
from devices.kinds import AlertKind, AlertState
from edge.access.decision import Verdict
from simulators.doors import enrolment
from tests.edge.test_access_review import CARDS, EDGE, GATE, KEY, TOPIC, Edge

GARBAGE = [b"not json", b'{"card": 12345}', b"x" * 5000]


async def test_garbage_at_a_doors_reader_is_denied_logged_and_raises_the_burst(
    tmp_path: Path,
) -> None:
    edge = Edge(tmp_path, enrolment(EDGE, KEY, CARDS, [GATE]))
    verdicts = []
    for raw in GARBAGE:  # GATE.burst_count is 3
        decision = await edge.control.on_frame(GATE.reader_id, TOPIC, raw)
        assert decision is not None
        verdicts.append(decision.verdict)
    assert verdicts == [Verdict.MALFORMED_FRAME] * 3
    assert (edge.counts["access.rejected.malformed"], edge.counts["access.rejected.oversized"]) == (
        2,
        1,
    )
    assert edge.counts["access.granted"] == 0
    assert [(a.kind, a.state) for a in edge.alerts] == [
        (AlertKind.ACCESS_DENIED_BURST, AlertState.RAISED)
    ]
    log = edge.store.pending_log(100)
    denied = [r for r in log if r.kind is AccessEventKind.DENIED]
    assert [r.reason for r in denied] == ["malformed_frame"] * 3
    # Nothing of the frame is kept: no credential, no fingerprint of whatever it held.
    assert {(r.credential_id, r.person_id, r.fingerprint) for r in denied} == {(None, None, None)}
    assert all(r.reader_id == GATE.reader_id and r.door_id == GATE.id for r in denied)


async def test_garbage_and_unknown_cards_add_up_and_a_good_card_still_opens(
    tmp_path: Path,
) -> None:
    edge = Edge(tmp_path, enrolment(EDGE, KEY, CARDS, [GATE]))
    assert await edge.present("FFFF") is Verdict.UNKNOWN_CREDENTIAL
    await edge.control.on_frame(GATE.reader_id, TOPIC, b"{}")
    assert edge.alerts == []
    assert await edge.present(CARDS[0]) is Verdict.GRANTED
    await edge.control.on_frame(GATE.reader_id, TOPIC, json.dumps({"pin": "1"}).encode())
    assert [a.kind for a in edge.alerts] == [AlertKind.ACCESS_DENIED_BURST]


async def test_garbage_on_a_reader_no_door_has_stays_a_rejection_only(tmp_path: Path) -> None:
    edge = Edge(tmp_path, enrolment(EDGE, KEY, CARDS, [GATE]))
    for raw in GARBAGE:
        assert await edge.control.on_frame("nobodys-reader", TOPIC, raw) is None
    assert edge.counts["access.rejected.unknown_reader"] == 3
    assert edge.alerts == []
    assert edge.store.pending_log(100) == []
