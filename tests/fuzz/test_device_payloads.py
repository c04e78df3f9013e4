"""Fuzzing what devices send the edge: native and Zigbee2MQTT payloads, bridge events, card and
PIN frames. Each parser either returns a typed value or raises its own documented error."""

import contextlib
import json

from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from devices.access import CredentialFrame
from devices.adapters import decode, decode_bridge_event
from devices.errors import DeviceInputError
from devices.observations import Decoded
from devices.payloads import EventPayload, StatePayload
from devices.topics import DeviceChannel, parse_credential_topic, parse_device_topic
from devices.zigbee2mqtt import ZigbeePayload
from tests.fuzz.strategies import (
    IDS,
    JSON_VALUES,
    PAYLOADS,
    SCALARS,
    as_bytes,
    objects_with,
    run,
)

NATIVE_FIELDS = sorted({*StatePayload.model_fields, *EventPayload.model_fields})
ZIGBEE_FIELDS = sorted(ZigbeePayload.model_fields)

NATIVE_TOPICS = st.builds(
    lambda device, channel: f"linli/dev/{device}/{channel}",
    IDS,
    st.sampled_from([c.value for c in DeviceChannel]) | st.text(max_size=12),
)
ZIGBEE_TOPICS = st.builds(
    lambda name, suffix: f"zigbee2mqtt/{name}{suffix}",
    st.text(max_size=30),
    st.sampled_from(["", "/availability", "/set", "/get", "/bridge"]),
)
ANY_TOPIC = st.one_of(NATIVE_TOPICS, ZIGBEE_TOPICS, st.text(max_size=60))

# The vendor forms the Zigbee2MQTT adapter reads (devices.zigbee2mqtt's docstring), so the
# state-name and flag-or-level parsers see their own words, not only random text.
VENDOR_VALUES = st.sampled_from(
    [
        "ON",
        "OFF",
        "True",
        "False",
        "alarm",
        "normal",
        "none",
        "detecting",
        "checking",
        "Check success",
        "test",
        "idle",
        "low",
        "middle",
        "high",
        "panic",
        "off",
        "presence",
        "move",
        "stationary",
        12.5,
        0,
        1,
        -1,
    ]
)
ZIGBEE_VENDOR_OBJECTS = st.dictionaries(
    st.sampled_from(ZIGBEE_FIELDS), VENDOR_VALUES | SCALARS, max_size=6
)


def _decodes_or_refuses(topic: str, payload: bytes) -> None:
    try:
        decoded = decode(topic, payload)
    except DeviceInputError:
        return
    assert decoded is None or isinstance(decoded, Decoded)


@given(NATIVE_TOPICS, st.one_of(PAYLOADS, as_bytes(objects_with(NATIVE_FIELDS))))
def test_native_payloads(topic: str, payload: bytes) -> None:
    run("native device payload (devices.adapters.decode)")
    _decodes_or_refuses(topic, payload)


@given(ZIGBEE_TOPICS, st.one_of(PAYLOADS, as_bytes(objects_with(ZIGBEE_FIELDS))))
def test_zigbee2mqtt_payloads(topic: str, payload: bytes) -> None:
    run("Zigbee2MQTT payload (devices.adapters.decode)")
    _decodes_or_refuses(topic, payload)


@given(as_bytes(ZIGBEE_VENDOR_OBJECTS))
def test_zigbee2mqtt_vendor_forms(payload: bytes) -> None:
    run("Zigbee2MQTT vendor fields (devices.zigbee2mqtt.decode_zigbee_state)")
    _decodes_or_refuses("zigbee2mqtt/dev", payload)


@given(ANY_TOPIC)
def test_device_topics(topic: str) -> None:
    run("device topic (devices.topics.parse_device_topic)")
    with contextlib.suppress(DeviceInputError):
        parse_device_topic(topic)
    with contextlib.suppress(DeviceInputError):
        parse_credential_topic(topic)


EVENT_DATA = st.fixed_dictionaries(
    {"type": st.sampled_from(["device_announce", "device_joined", "x"]) | st.text(max_size=8)},
    optional={"data": JSON_VALUES | st.fixed_dictionaries({"friendly_name": JSON_VALUES})},
)


@given(st.one_of(PAYLOADS, as_bytes(EVENT_DATA)))
def test_zigbee_bridge_events_never_raise(payload: bytes) -> None:
    run("Zigbee2MQTT bridge event (devices.adapters.decode_bridge_event)")
    decoded = decode_bridge_event("zigbee2mqtt/bridge/event", payload)
    assert decoded is None or isinstance(decoded, Decoded)


FRAME_DATA = objects_with(["card", "pin", "ts"]) | st.fixed_dictionaries(
    {},
    optional={
        "card": st.text(alphabet="0123456789ABCDEFabcdef :-", max_size=40),
        "pin": st.text(alphabet="0123456789", max_size=14),
        "ts": st.sampled_from(["2026-01-01T00:00:00Z", "yesterday", "1767225600"]),
    },
)


@given(st.one_of(PAYLOADS, as_bytes(FRAME_DATA)))
def test_card_and_pin_frames(raw: bytes) -> None:
    run("access credential frame (devices.access.CredentialFrame)")
    try:
        frame = CredentialFrame.model_validate_json(raw)
    except ValidationError as exc:
        # The refusal never repeats the secret it was given.
        data = json.loads(raw) if _is_object(raw) else {}
        secrets = [v for v in (data.get("card"), data.get("pin")) if isinstance(v, str)]
        for error in exc.errors(include_input=False):
            if error["loc"] and error["loc"][0] in ("card", "pin"):
                assert not any(len(v.strip()) >= 6 and v in str(error) for v in secrets)
        return
    assert (frame.card is None) != (frame.pin is None)
    assert "card=" not in repr(frame)
    assert "pin=" not in repr(frame)


def _is_object(raw: bytes) -> bool:
    try:
        return isinstance(json.loads(raw), dict)
    except ValueError:
        return False


def test_timestamps_out_of_range_are_refused_not_raised() -> None:
    """Found by this fuzzing: ``{"ts": 1e20}`` raised OverflowError out of the models. On a
    reader's credential topic that escaped the edge's device session, which was redelivered
    the same message after every reconnect: every alarm behind it was blocked."""
    for ts in ("1e20", "1e300", "-1e20", "99999999999999999999999"):
        raw = f'{{"card": "04A1B2C3", "ts": {ts}}}'.encode()
        with contextlib.suppress(ValidationError):
            CredentialFrame.model_validate_json(raw)
        _decodes_or_refuses("linli/dev/smoke-1/state", f'{{"smoke": true, "ts": {ts}}}'.encode())
        _decodes_or_refuses("zigbee2mqtt/smoke", f'{{"smoke": true, "last_seen": {ts}}}'.encode())
    _decodes_or_refuses("zigbee2mqtt/t", b'{"temperature": 1' + b"0" * 400 + b"}")
    # Text whose UTC instant falls outside years 1-9999 (found by a review fuzzing readers).
    for text in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
        raw = f'{{"card": "04A1B2C3", "ts": "{text}"}}'.encode()
        with contextlib.suppress(ValidationError):
            CredentialFrame.model_validate_json(raw)
        _decodes_or_refuses(
            "linli/dev/smoke-1/state", f'{{"smoke": true, "ts": "{text}"}}'.encode()
        )
