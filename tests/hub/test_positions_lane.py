"""OwnTracks' MQTT mode at the hub, without a broker: a phone's topic and message read as the
HTTP mode reads a posted one, handed to the positions lane off the alert path, and the lane
recording nothing while alerts are in hand (a real store on SQLite and PostgreSQL)."""

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta

import aiomqtt
import pytest

from devices.owntracks import owntracks_topic, parse_owntracks_topic
from devices.topics import EdgeChannel, edge_topic
from hub.cases.changes import CaseChanges
from hub.ingest.lanes import plan_take
from hub.ingest.messages import (
    AlertMessage,
    PhoneLocation,
    RawPosition,
    RejectedMessage,
    parse_position,
    parse_uplink,
)
from hub.ingest.positions import PositionsLane
from hub.ingest.readings import AlertGate
from hub.ingest.receive_queue import UplinkQueues
from hub.live.events import EventBus
from hub.positions.rules import MAX_MESSAGE_BYTES
from hub.roster.rules import Responder, ResponderRole, Site
from hub.store import HubStore
from tests.hub.conftest import FakeClock
from tests.hub.factories import make_alert
from tests.hub.patrols import NIGHT_NOW, android_location, location
from tests.polling import until

TOPIC = owntracks_topic("patrol-near", "phone")


def _raw(payload: bytes, topic: str = TOPIC) -> RawPosition:
    parsed = parse_uplink(topic, payload, max_payload_bytes=256 * 1024)
    assert isinstance(parsed, RawPosition), parsed
    return parsed


def test_the_owntracks_topic_scheme_round_trips() -> None:
    parsed = parse_owntracks_topic(owntracks_topic("patrol-near", "Li's phone"))
    assert parsed is not None
    assert (parsed.responder_id, parsed.device) == ("patrol-near", "Li's phone")
    assert parse_owntracks_topic(edge_topic("e1", EdgeChannel.ALERT)) is None
    with pytest.raises(ValueError, match="not a valid id"):
        owntracks_topic("a/b", "phone")


def test_a_phones_topic_is_handed_on_unread_and_others_under_owntracks_refused() -> None:
    payload = android_location(0, NIGHT_NOW)
    assert _raw(payload) == RawPosition(TOPIC, "patrol-near", "phone", payload)
    for topic in (
        "owntracks/phone-a b/phone",
        "owntracks/phone-+/phone",
        "owntracks/phone-",
        "owntracks/phone-patrol-near",
        "owntracks/phone-patrol-near/phone/event",
        "owntracks//phone",
        "owntracks/phone-patrol-near/",
        "owntracks",
        "owntracks/patrol-near/phone",
    ):  # fmt: skip  (the last: no phone- username)
        refused = parse_uplink(topic, payload, max_payload_bytes=4096)
        assert isinstance(refused, RejectedMessage), topic
        assert refused.reason == "unknown_topic", topic
    oversized = parse_uplink(TOPIC, b"{" + b" " * 5000 + b"}", max_payload_bytes=4096)
    assert isinstance(oversized, RejectedMessage)
    assert oversized.reason == "oversized"
    not_text = parse_uplink(TOPIC, 42, max_payload_bytes=4096)
    assert isinstance(not_text, RejectedMessage)
    assert not_text.reason == "malformed"


def test_a_take_hands_phones_messages_to_the_positions_lane_and_alerts_stay_first() -> None:
    alert = make_alert()
    position = _raw(android_location(0, NIGHT_NOW))
    take = plan_take([position, AlertMessage("e1", alert), position])
    assert take.alerts == [alert]
    assert take.positions == [position, position]
    assert take.rejected == []


def test_a_phones_message_is_read_as_the_http_mode_reads_its_body() -> None:
    found = parse_position(_raw(android_location(80, NIGHT_NOW)), NIGHT_NOW)
    assert isinstance(found, PhoneLocation)
    assert (found.responder_id, found.topic) == ("patrol-near", TOPIC)
    assert found.location.position().at == NIGHT_NOW
    assert found.location.acc == 10
    others = [
        {"_type": "lwt", "tst": 1},
        {"_type": "transition", "event": "leave"},
        {"_type": "card", "name": "Li"},
        {"_type": "waypoint", "desc": "Gate"},
    ]
    for other in others:
        assert parse_position(_raw(json.dumps(other).encode()), NIGHT_NOW) is None, other
    assert parse_position(_raw(b""), NIGHT_NOW) is None  # a retained message cleared
    refused = {
        b"not json": "malformed",
        b"[1]": "malformed",
        b'{"lat": 1}': "malformed",
        json.dumps(location(0, NIGHT_NOW, lon=181)).encode(): "malformed",
        b"[" * 10_000 + b"]" * 10_000: "malformed",
        b" " * (MAX_MESSAGE_BYTES + 1): "oversized",
        android_location(0, NIGHT_NOW + timedelta(minutes=6)): "fix_ahead",
    }
    for payload, reason in refused.items():
        found = parse_position(_raw(payload), NIGHT_NOW)
        assert isinstance(found, RejectedMessage), payload[:40]
        assert (found.reason, found.topic) == (reason, TOPIC)
    # Four minutes ahead is clock skew, as in HTTP mode.
    ahead = parse_position(_raw(android_location(0, NIGHT_NOW + timedelta(minutes=4))), NIGHT_NOW)
    assert isinstance(ahead, PhoneLocation)


async def test_a_phone_is_a_sender_of_its_own_in_the_receive_queue() -> None:
    """A flooding phone takes its turn like an edge: an edge's SOS behind its messages is in
    the first take."""
    queues = UplinkQueues(budget=2, alert_batch_max=1, counters=Counter())
    queue = queues.queue_type()()
    flood = [aiomqtt.Message(TOPIC, b"{}", 1, False, n, None) for n in range(10)]
    for message in flood:
        queue.put_nowait(message)
    sos = aiomqtt.Message(edge_topic("e1", EdgeChannel.ALERT), b"sos", 1, False, 99, None)
    queue.put_nowait(sos)
    take = [await queue.get(), *queues.rest_of_take()]
    assert take == [flood[0], sos]


@pytest.fixture
async def lane(
    store: HubStore, clock: FakeClock
) -> AsyncIterator[tuple[PositionsLane, AlertGate, Counter[str], list[RejectedMessage]]]:
    """Run a positions lane on a store whose roster has the responder ``patrol-near``."""
    store.roster.put_site(Site(id="lanyuan", name="Lanyuan"))
    store.roster.put_responder(
        Responder(id="patrol-near", site_id="lanyuan", name="Li", role=ResponderRole.SECURITY)
    )
    clock.now = NIGHT_NOW
    gate, counters, rejected = AlertGate(), Counter[str](), list[RejectedMessage]()
    changes = CaseChanges(EventBus())
    lane = PositionsLane(store, counters, gate, changes, clock=clock, reject=rejected.append)
    task = asyncio.create_task(lane.run())
    yield lane, gate, counters, rejected
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


Lane = tuple[PositionsLane, AlertGate, Counter[str], list[RejectedMessage]]


async def test_the_lane_records_nothing_while_alerts_are_in_hand(
    lane: Lane, store: HubStore
) -> None:
    positions, gate, counters, rejected = lane
    with gate.alerts_in_hand():
        positions.offer(_raw(android_location(80, NIGHT_NOW)))
        positions.offer(_raw(android_location(0, NIGHT_NOW), owntracks_topic("ghost", "phone")))
        positions.offer(_raw(b'{"_type": "lwt", "tst": 1}'))
        for _ in range(20):
            await asyncio.sleep(0.01)
        assert store.positions.positions() == []
        assert counters["positions_recorded"] == 0

    async def went_on() -> bool:
        return counters["positions_ignored"] > 0

    await until(went_on, "the lane went on after the alerts")
    [where] = store.positions.positions()
    assert (where.responder_id, where.at, where.accuracy_m) == ("patrol-near", NIGHT_NOW, 10)
    assert [(r.reason, r.topic) for r in rejected] == [
        ("unknown_responder", owntracks_topic("ghost", "phone"))
    ]
    assert counters["positions_recorded"] == 1
    assert positions.queued() == 0


async def test_a_full_lane_drops_and_counts_at_once(
    store: HubStore, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    counters: Counter[str] = Counter()
    gate, changes, rejected = AlertGate(), CaseChanges(EventBus()), list[RejectedMessage]()
    lane = PositionsLane(
        store, counters, gate, changes, clock=clock, reject=rejected.append, max_queued=2
    )
    for _ in range(3):
        lane.offer(_raw(android_location(0, NIGHT_NOW)))  # not a coroutine: never waits
    assert (counters["positions_queued"], counters["positions_dropped"]) == (2, 1)
    assert f"positions lane full (2 messages): dropped a message on {TOPIC}" in caplog.text
