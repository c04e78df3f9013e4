"""Decode an MQTT message from the local broker into observations, whatever its format.

This is the one entry point the edge calls for every device message: native Linli topics,
Zigbee2MQTT, Tasmota and Shelly alike end up as the same ``Observation`` values.
"""

import json
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from devices.errors import DeviceInputError, PayloadError
from devices.kinds import DeviceKind
from devices.lenient import json_object
from devices.observations import (
    AvailabilityChange,
    Decoded,
    DeviceAddress,
    DeviceEvent,
    NativeAddress,
    Observation,
    ShellyAddress,
    StateUpdate,
    TasmotaAddress,
    ZigbeeAddress,
)
from devices.payloads import (
    DEVICE_ANNOUNCE,
    Availability,
    EventPayload,
    Readings,
    StatePayload,
)
from devices.shelly import decode_shelly
from devices.tasmota import KindOf, decode_tasmota
from devices.topics import (
    Z2M_DEFAULT_BASE,
    DeviceChannel,
    DeviceTopic,
    IgnoredTopic,
    NativeTopic,
    ShellyTopic,
    TasmotaTopic,
    ZigbeeBridgeTopic,
    ZigbeeTopic,
    parse_device_topic,
)
from devices.zigbee2mqtt import (
    decode_zigbee_announce,
    decode_zigbee_attribute,
    decode_zigbee_availability,
    decode_zigbee_state,
)

DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024
"""Device messages are small; anything larger is refused before it is parsed."""


class OversizedPayloadError(PayloadError):
    """A payload over the size limit."""

    reason = "oversized"


def decode(
    topic: str,
    payload: bytes,
    *,
    z2m_base: str = Z2M_DEFAULT_BASE,
    max_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
) -> Decoded | None:
    """Decode one message from the local broker.

    Return ``None`` for topics that carry no device observation (Zigbee2MQTT bridge and
    command topics, and our own ``set`` commands echoed back). Raise ``TopicError`` or
    ``PayloadError`` for input that must be rejected.
    """
    return decode_payload(
        parse_device_topic(topic, z2m_base=z2m_base), payload, max_bytes=max_bytes
    )


def decode_payload(
    parsed: DeviceTopic, payload: bytes, *, max_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
) -> Decoded | None:
    """Decode one message whose topic is parsed already (see ``decode``).

    Raise ``PayloadError`` for a message that speaks for several devices (a Tasmota Zigbee
    bridge's ``ZbReceived`` may): ``decode_all`` reads those.
    """
    decoded = decode_all(parsed, payload, max_bytes=max_bytes)
    if len(decoded) > 1:
        raise PayloadError("the message speaks for several devices", reason="several_devices")
    return decoded[0] if decoded else None


def topic_address(parsed: DeviceTopic) -> DeviceAddress | None:
    """Return the device a topic speaks for, as far as the topic alone tells (a Tasmota Zigbee
    bridge's shared topic names the bridge; a Shelly Gen2+ prefix is usually its id); None
    for a topic of no device (a bridge's own, an ignored one)."""
    match parsed:
        case NativeTopic(device_id=device_id):
            return NativeAddress(device_id)
        case ZigbeeTopic(friendly_name=name):
            return ZigbeeAddress(name)
        case TasmotaTopic(topic=tasmota, zigbee=zigbee):
            return TasmotaAddress(tasmota, () if zigbee is None else (zigbee,))
        case ShellyTopic(shelly_id=shelly_id):
            return ShellyAddress(shelly_id)
    return None


def _no_kind(_: DeviceAddress) -> DeviceKind | None:
    return None


def _celsius(_: DeviceAddress) -> bool:
    return False


def decode_all(
    parsed: DeviceTopic,
    payload: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
    kind_of: KindOf = _no_kind,
    fahrenheit: Callable[[DeviceAddress], bool] = _celsius,
) -> tuple[Decoded, ...]:
    """Decode one message into what it says of each device it speaks for (usually one).

    ``kind_of`` tells the kind of the device registered at an address: a Tasmota Zigbee
    bridge may send only an IAS zone's alarm bit, which means a leak for a water sensor and
    smoke for a smoke detector. ``fahrenheit`` tells whether the device registered at an
    address publishes bare temperatures in °F (``Device.temperature_unit``: a Shelly Gen1).
    Return ``()`` for topics that carry no device observation.
    """
    if isinstance(parsed, ZigbeeBridgeTopic | IgnoredTopic):
        return ()
    if isinstance(parsed, NativeTopic) and parsed.channel is DeviceChannel.SET:
        return ()
    text = payload_text(payload, max_bytes)
    match parsed:
        case NativeTopic(device_id, channel):
            return (Decoded(NativeAddress(device_id), _decode_native(channel, text)),)
        case ZigbeeTopic(name, DeviceChannel.AVAILABILITY):
            online = decode_zigbee_availability(text, _maybe_json(text))
            return (Decoded(ZigbeeAddress(name), (AvailabilityChange(online),)),)
        case ZigbeeTopic(name, _, attribute) if attribute is not None:
            kind = kind_of(ZigbeeAddress(name))
            observed = decode_zigbee_attribute(attribute, text, kind)
            return (Decoded(ZigbeeAddress(name), observed),)
        case ZigbeeTopic(name, _):
            kind = kind_of(ZigbeeAddress(name))
            return (Decoded(ZigbeeAddress(name), decode_zigbee_state(json_object(text), kind)),)
        case TasmotaTopic():
            return decode_tasmota(parsed, text, kind_of)
        case ShellyTopic():
            # Registered: a device has a kind. A Gen2+ ``src`` naming another one is refused.
            return decode_shelly(
                parsed, text, fahrenheit=fahrenheit, registered=lambda a: kind_of(a) is not None
            )
    raise AssertionError(f"unhandled topic {parsed!r}")  # pragma: no cover


def decode_bridge_event(
    topic: str,
    payload: bytes,
    *,
    z2m_base: str = Z2M_DEFAULT_BASE,
    max_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
) -> Decoded | None:
    """Decode a Zigbee2MQTT ``bridge/event`` that announces a device (re)joining, else None.

    ``decode`` ignores bridge topics; this reads the one bridge message detection wants, as a
    ``device_announce`` event of the announced device. Never raises: anything else on the
    bridge's topics (or anything unreadable there) is not a device's input and stays ignored.
    """
    try:
        parsed = parse_device_topic(topic, z2m_base=z2m_base)
    except DeviceInputError:
        return None
    return decode_announce(parsed, payload, max_bytes=max_bytes)


def decode_announce(
    parsed: DeviceTopic, payload: bytes, *, max_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
) -> Decoded | None:
    """Decode a device announce whose topic is parsed already (see ``decode_bridge_event``)."""
    if not isinstance(parsed, ZigbeeBridgeTopic) or parsed.path != "bridge/event":
        return None
    if len(payload) > max_bytes:
        return None
    try:
        name = decode_zigbee_announce(json.loads(payload))
    except (ValueError, RecursionError):  # RecursionError: nested past the parser's depth
        return None
    if name is None:
        return None
    return Decoded(ZigbeeAddress(name), (DeviceEvent(DEVICE_ANNOUNCE),))


def payload_text(payload: bytes, max_bytes: int) -> str:
    """Return a payload as text, or raise ``OversizedPayloadError`` past ``max_bytes`` and
    ``PayloadError`` for bytes that are not UTF-8."""
    if len(payload) > max_bytes:
        raise OversizedPayloadError(
            f"payload of {len(payload)} bytes exceeds the {max_bytes}-byte limit"
        )
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError("payload is not UTF-8") from exc


def decode_bridge_state(
    parsed: DeviceTopic, payload: bytes, *, max_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
) -> bool | None:
    """Return whether Zigbee2MQTT's ``bridge/state`` says online; None for any other topic.

    ``{"state": "online"}`` (Zigbee2MQTT 1.33 and later) or plain ``online`` (before); its
    last will says ``offline`` the same way. Raise ``PayloadError`` for anything else there:
    unlike the bridge's other topics, this one is read (``devices.zigbee_network``).
    """
    if not isinstance(parsed, ZigbeeBridgeTopic) or parsed.path != "bridge/state":
        return None
    text = payload_text(payload, max_bytes)
    return decode_zigbee_availability(text, _maybe_json(text))


def _decode_native(channel: DeviceChannel, text: str) -> tuple[Observation, ...]:
    if channel is DeviceChannel.AVAILABILITY:
        try:
            return (AvailabilityChange(Availability(text.strip()) is Availability.ONLINE),)
        except ValueError as exc:
            raise PayloadError(f"availability {text[:40]!r} is neither online nor offline") from exc
    data = json_object(text)
    try:
        if channel is DeviceChannel.STATE:
            state = StatePayload.model_validate(data)
            readings = Readings.model_validate(state.model_dump(exclude={"ts"}))
            return (StateUpdate(readings, state.ts),)
        event = EventPayload.model_validate(data)
        return (DeviceEvent(event.event, event.ts),)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "payload"
        raise PayloadError(f"{where}: {first['msg']}", reason="wrong_type") from exc


def _maybe_json(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None
