"""Door access wire models: reader frames, keyed hashes, time windows, topics."""

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from devices.access import (
    ACCESS_LIST_FORMAT,
    CHUNK_BYTES,
    AccessItem,
    AccessListUpdate,
    AccessRule,
    AllowEntry,
    CredentialFrame,
    CredentialKind,
    DoorConfig,
    ReaderAction,
    ReaderCommand,
    SiteAccess,
    TimeWindow,
    credential_hash,
    join_parts,
    split_update,
)
from devices.errors import TopicError
from devices.topics import (
    EdgeChannel,
    access_edge_subscriptions,
    credential_topic,
    edge_topic,
    parse_credential_topic,
    parse_device_topic,
)

KEY = bytes(range(32))
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_a_frame_carries_exactly_one_card_or_pin() -> None:
    card = CredentialFrame.model_validate_json(b'{"card": "04a1b2c3", "vendor": "x"}')
    assert (card.kind, card.value) == (CredentialKind.CARD, "04a1b2c3")
    pin = CredentialFrame.model_validate_json(b'{"pin": "482913", "ts": 1776420000000}')
    assert (pin.kind, pin.value) == (CredentialKind.PIN, "482913")
    assert pin.ts == datetime(2026, 4, 17, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    "payload",
    [
        b"{}",
        b'{"card": "04A1", "pin": "1234"}',
        b'{"card": 4660}',
        b'{"card": ""}',
        b'{"card": "04 A1"}',
        b'{"pin": "12"}',
        b'{"pin": 1234}',
        b'{"pin": "12ab"}',
        b"not json",
        b"[]",
    ],
)
def test_malformed_frames_are_refused_without_echoing_the_secret(payload: bytes) -> None:
    with pytest.raises(ValidationError) as caught:
        CredentialFrame.model_validate_json(payload)
    assert "04A1" not in str(caught.value) or payload == b'{"card": "04A1", "pin": "1234"}'
    assert "4660" not in str(caught.value)


def test_a_frame_never_shows_its_value_in_repr() -> None:
    frame = CredentialFrame(card="DEADBEEF")
    assert "DEADBEEF" not in repr(frame)
    assert "hash_key" not in repr(SiteAccess(timezone="UTC", hash_key="ab" * 32)).split("(")[1]


def test_the_keyed_hash_depends_on_key_kind_and_value_not_on_card_case() -> None:
    h = credential_hash(KEY, CredentialKind.CARD, "04a1b2c3")
    assert h == credential_hash(KEY, CredentialKind.CARD, " 04A1B2C3 ")
    assert h != credential_hash(bytes(32), CredentialKind.CARD, "04a1b2c3")
    assert credential_hash(KEY, CredentialKind.PIN, "1234") != credential_hash(
        KEY, CredentialKind.CARD, "1234"
    )
    assert len(h) == 64
    assert "04a1b2c3" not in h.lower()


WEEKDAYS_7_TO_19 = TimeWindow(days=frozenset({1, 2, 3, 4, 5}), start=time(7), end=time(19))
NIGHTS_FRI = TimeWindow(days=frozenset({5}), start=time(22), end=time(6))
ALL_DAY_SUN = TimeWindow(days=frozenset({7}), start=time(0), end=time(0))


@pytest.mark.parametrize(
    ("window", "local", "inside"),
    [
        # 2026-11-20 is a Friday.
        (WEEKDAYS_7_TO_19, datetime(2026, 11, 20, 6, 59, 59), False),
        (WEEKDAYS_7_TO_19, datetime(2026, 11, 20, 7, 0), True),
        (WEEKDAYS_7_TO_19, datetime(2026, 11, 20, 18, 59, 59), True),
        (WEEKDAYS_7_TO_19, datetime(2026, 11, 20, 19, 0), False),
        (WEEKDAYS_7_TO_19, datetime(2026, 11, 21, 12, 0), False),  # Saturday
        (NIGHTS_FRI, datetime(2026, 11, 20, 21, 59), False),
        (NIGHTS_FRI, datetime(2026, 11, 20, 22, 0), True),
        (NIGHTS_FRI, datetime(2026, 11, 20, 23, 59, 59), True),
        (NIGHTS_FRI, datetime(2026, 11, 21, 0, 0), True),  # past midnight: Friday's window
        (NIGHTS_FRI, datetime(2026, 11, 21, 5, 59, 59), True),
        (NIGHTS_FRI, datetime(2026, 11, 21, 6, 0), False),
        (NIGHTS_FRI, datetime(2026, 11, 19, 23, 0), False),  # Thursday night
        (NIGHTS_FRI, datetime(2026, 11, 20, 1, 0), False),  # Friday early = Thursday's night
        (ALL_DAY_SUN, datetime(2026, 11, 22, 0, 0), True),
        (ALL_DAY_SUN, datetime(2026, 11, 22, 23, 59, 59), True),
        (ALL_DAY_SUN, datetime(2026, 11, 23, 0, 0), False),
        (ALL_DAY_SUN, datetime(2026, 11, 21, 23, 59, 59), False),
    ],
)
def test_time_windows_at_their_edges(window: TimeWindow, local: datetime, inside: bool) -> None:
    assert window.contains(local.replace(tzinfo=SHANGHAI)) is inside


def test_window_times_are_local_and_days_are_iso_weekdays() -> None:
    with pytest.raises(ValidationError):
        TimeWindow(days=frozenset({0}), start=time(7), end=time(8))
    with pytest.raises(ValidationError):
        TimeWindow(days=frozenset(), start=time(7), end=time(8))
    with pytest.raises(ValidationError):
        TimeWindow.model_validate({"days": [1], "start": "07:00+08:00", "end": "08:00"})
    assert TimeWindow.model_validate({"days": [1], "start": "07:00", "end": "19:00"}) == (
        TimeWindow(days=frozenset({1}), start=time(7), end=time(19))
    )


def test_a_door_prewarns_before_it_alarms() -> None:
    with pytest.raises(ValidationError):
        DoorConfig(id="gate", reader_id="gate-reader", prewarn_s=30, held_open_s=30)
    door = DoorConfig(id="gate", reader_id="gate-reader")
    assert (door.held_open_s, door.prewarn_s, door.forced_debounce_s) == (30.0, 20.0, 1.0)


def test_allow_list_items_round_trip_with_their_kind() -> None:
    entry = AllowEntry(
        credential_id=7,
        person_id=3,
        kind=CredentialKind.CARD,
        hash="ab" * 32,
        valid_until=datetime(2027, 1, 1, tzinfo=UTC),
    )
    update = AccessListUpdate(
        edge_id="edge-1",
        from_version=4,
        to_version=6,
        items=[
            AccessItem(key="cred:7", version=5, body=entry),
            AccessItem(key="door:gate", version=6, body=DoorConfig(id="gate", reader_id="r")),
            AccessItem(key="cred:8", version=6),
        ],
    )
    again = AccessListUpdate.model_validate_json(update.model_dump_json())
    assert again == update
    assert isinstance(again.items[0].body, AllowEntry)
    assert again.items[2].body is None
    tolerant = update.model_dump(mode="json") | {"future_field": 1}
    assert AccessListUpdate.model_validate(tolerant) == update


def test_a_reader_command_is_strict_json() -> None:
    command = ReaderCommand(command=ReaderAction.UNLOCK, door_id="gate", duration_s=5)
    assert ReaderCommand.model_validate_json(command.model_dump_json()) == command
    with pytest.raises(ValidationError):
        ReaderCommand.model_validate({"command": "explode", "door_id": "gate"})


@pytest.mark.parametrize("reader_id", ["gate-reader", "b3.entrance_reader", "R"])
def test_credential_topics_round_trip(reader_id: str) -> None:
    topic = credential_topic(reader_id)
    assert topic == f"linli/dev/{reader_id}/credential"
    assert parse_credential_topic(topic) == reader_id


@pytest.mark.parametrize(
    "topic",
    ["linli/dev/gate/state", "linli/dev/gate/credential/x", "zigbee2mqtt/gate", "linli/edge/e/x"],
)
def test_other_topics_are_not_credential_topics(topic: str) -> None:
    assert parse_credential_topic(topic) is None


def test_a_credential_topic_with_a_bad_reader_id_is_refused() -> None:
    with pytest.raises(TopicError):
        parse_credential_topic("linli/dev/-bad id/credential")


def test_the_credential_channel_is_not_a_detection_channel() -> None:
    with pytest.raises(TopicError):
        parse_device_topic(credential_topic("gate-reader"))


def test_edge_access_subscriptions_are_its_own_topics() -> None:
    assert access_edge_subscriptions("edge-1") == [
        edge_topic("edge-1", EdgeChannel.ACCESS_LIST),
        edge_topic("edge-1", EdgeChannel.ACCESS_ACK),
    ]


def _snapshot(credentials: int) -> AccessListUpdate:
    items = [
        AccessItem(
            key=f"cred:{n}",
            version=1 + n % 7,
            body=AllowEntry(
                credential_id=n,
                person_id=n,
                kind=CredentialKind.CARD,
                hash=credential_hash(KEY, CredentialKind.CARD, f"C{n:08d}"),
                rules=(AccessRule(doors=frozenset({"gate", "lobby"})),),
            ),
        )
        for n in range(credentials)
    ]
    return AccessListUpdate(edge_id="e1", from_version=0, to_version=7, full=True, items=items)


@pytest.mark.parametrize("max_bytes", [4096, 65_536, CHUNK_BYTES])
def test_an_update_splits_into_chunks_within_the_limit_and_joins_back_whole(
    max_bytes: int,
) -> None:
    update = _snapshot(2000)
    whole = len(update.model_dump_json())
    chunks = split_update(update, max_bytes)
    sizes = [len(c.model_dump_json()) for c in chunks]
    assert max(sizes) <= max_bytes
    assert len(chunks) >= whole // max_bytes + 1
    assert [(c.part, c.parts) for c in chunks] == [(i, len(chunks)) for i in range(len(chunks))]
    assert {c.chunk_set for c in chunks} == {(0, 7, True, len(chunks))}
    assert all(c.items for c in chunks)
    # Each chunk is a message of its own; order on arrival does not matter to the join.
    wire = [AccessListUpdate.model_validate_json(c.model_dump_json()) for c in reversed(chunks)]
    assert join_parts(wire) == update


def test_a_small_update_is_one_message_and_an_empty_one_too() -> None:
    small = _snapshot(3)
    assert split_update(small) == [small]
    empty = AccessListUpdate(edge_id="e1", from_version=4, to_version=4)
    assert split_update(empty) == [empty]


def test_ten_thousand_credentials_are_too_big_for_the_broker_in_one_message() -> None:
    update = _snapshot(10_000)
    assert len(update.model_dump_json()) > 1024 * 1024  # the site broker's max_packet_size
    assert len(split_update(update)) >= 10


def test_incomplete_or_mixed_chunks_are_not_joined() -> None:
    chunks = split_update(_snapshot(500), 8192)
    with pytest.raises(ValueError, match="complete"):
        join_parts(chunks[:-1])
    other = split_update(_snapshot(500).model_copy(update={"to_version": 8}), 8192)
    with pytest.raises(ValueError, match="different updates"):
        join_parts([*chunks[:-1], other[-1]])
    with pytest.raises(ValidationError, match="part must be below parts"):
        AccessListUpdate(edge_id="e1", from_version=0, to_version=1, part=2, parts=2)


def test_an_update_without_parts_is_a_whole_update_of_format_one() -> None:
    old = AccessListUpdate.model_validate_json(
        b'{"v": 1, "edge_id": "e1", "from_version": 2, "to_version": 3, "items": []}'
    )
    assert (old.v, old.part, old.parts) == (1, 0, 1)
    assert AccessListUpdate(edge_id="e1", from_version=0, to_version=1).v == ACCESS_LIST_FORMAT
