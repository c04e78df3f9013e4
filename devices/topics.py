"""The MQTT topic scheme, in one place: builders and parsers side by side.

Device side (the edge's local broker)::

    linli/dev/<device_id>/state         readings, JSON object
    linli/dev/<device_id>/event         {"event": "press", ...}
    linli/dev/<device_id>/availability  online | offline (retained)
    linli/dev/<device_id>/set           commands to the device, published by the edge
    zigbee2mqtt/<friendly_name>         Zigbee2MQTT devices as they are
    zigbee2mqtt/<friendly_name>/availability
    tele/<tasmota_topic>/SENSOR         Tasmota readings (and its Zigbee bridge's ZbReceived)
    tele/<tasmota_topic>/<short>/SENSOR Tasmota Zigbee bridge, one topic per device (SetOption89)
    tele/<tasmota_topic>/LWT            Online | Offline (retained)
    stat/<tasmota_topic>/STATUS8|10     Tasmota sensor status ({"StatusSNS": ...})
    shellies/<shelly_id>/sensor/<name>  Shelly Gen1: one plain-text value per topic
    shellies/<shelly_id>/input_event/<n>  Shelly Gen1 button: {"event": "S", ...}
    shellies/<shelly_id>/input/<n>      Shelly Gen1 input terminal: 0 | 1
    shellies/<shelly_id>/online         Shelly Gen1: true | false (retained)
    <prefix>/events/rpc                 Shelly Gen2+: NotifyStatus / NotifyEvent (JSON-RPC)
    <prefix>/status/<component:id>      Shelly Gen2+: one component's status
    <prefix>/online                     Shelly Gen2+: true | false

Uplink (the hub's broker)::

    linli/edge/<edge_id>/alert      edge → hub, QoS 1, one Alert per message
    linli/edge/<edge_id>/alerts     edge → hub, QoS 1, AlertBatch (to a hub whose HubStatus
                                    has alert_batch_max > 0)
    linli/edge/<edge_id>/telemetry  edge → hub, QoS 0, TelemetryBatch
    linli/edge/<edge_id>/status     edge → hub, retained, EdgeStatus (last will: offline)
    linli/edge/<edge_id>/ack        hub → edge, QoS 1, AlertAck once alerts are committed
    linli/edge/<edge_id>/devices    hub → edge, retained, DeviceRegistry for that edge
    linli/edge/<edge_id>/feedback   hub → edge, QoS 1, CaseFeedback for a device's resident
    linli/edge/<edge_id>/evidence   edge → hub, QoS 1, EvidenceImage (a camera alert's JPEG)
    linli/edge/<edge_id>/evidence_ack  hub → edge, QoS 1, EvidenceAck once images are stored
    linli/edge/<edge_id>/access_sync  edge → hub, QoS 1, AccessSyncRequest (allow-list catch-up)
    linli/edge/<edge_id>/access_list  hub → edge, QoS 1, AccessListUpdate (allow-list changes)
    linli/edge/<edge_id>/access_log   edge → hub, QoS 1, AccessLogBatch (decisions, door events)
    linli/edge/<edge_id>/access_ack   hub → edge, QoS 1, AccessLogAck once records are stored
    linli/hub/status                hub, retained, HubStatus (last will: offline)
    owntracks/phone-<responder_id>/<device>  a responder's phone → hub: OwnTracks' own messages as
                                    its app publishes them in MQTT mode (a ``location``, its
                                    last will ``lwt``); the app's other topics (``/event``,
                                    ``/info``, ``/waypoint``…) are not read
    owntracks/phone-<responder_id>/<device>/cmd  → the phone: OwnTracks remote commands (none sent)

The phones' topics are built and parsed in ``devices.owntracks``.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import assert_never

from devices.errors import TopicError
from devices.registry import check_identifier

DEVICE_ROOT = "linli/dev"
EDGE_ROOT = "linli/edge"
HUB_STATUS_TOPIC = "linli/hub/status"
Z2M_DEFAULT_BASE = "zigbee2mqtt"
TASMOTA_PREFIXES = ("tele", "stat")
"""What a Tasmota publishes under (the default FullTopic ``%prefix%/%topic%/``)."""
TASMOTA_COMMAND_PREFIX = "cmnd"
"""What a Tasmota subscribes under: ``cmnd/<topic>/#`` and ``cmnd/<group topic>/#``."""
TASMOTA_GROUP_TOPIC = "tasmotas"
"""Tasmota's default GroupTopic (``MQTT_GRPTOPIC``): commands to every Tasmota at once."""
SHELLY_GEN1_ROOT = "shellies"
SHELLY_GEN1_ANNOUNCE_COMMAND = f"{SHELLY_GEN1_ROOT}/command"
"""What every Gen1 Shelly subscribes to besides its own topics (``announce``, ``update``)."""


class DeviceChannel(StrEnum):
    """The last level of a native device topic."""

    STATE = "state"
    EVENT = "event"
    AVAILABILITY = "availability"
    SET = "set"


class EdgeChannel(StrEnum):
    """The last level of an uplink topic."""

    ALERT = "alert"
    ALERTS = "alerts"
    """Edge → hub: an ``AlertBatch``, several alerts in one message (to a hub that takes them)."""
    TELEMETRY = "telemetry"
    STATUS = "status"
    ACK = "ack"
    DEVICES = "devices"
    FEEDBACK = "feedback"
    EVIDENCE = "evidence"
    EVIDENCE_ACK = "evidence_ack"
    ACCESS_SYNC = "access_sync"
    ACCESS_LIST = "access_list"
    ACCESS_LOG = "access_log"
    ACCESS_ACK = "access_ack"
    CAMERA_COMMAND = "camera_command"
    """Hub → edge: an operator's command for one camera (``devices.camera.CameraCommand``)."""


@dataclass(frozen=True, slots=True)
class NativeTopic:
    """A parsed ``linli/dev/<device_id>/<channel>`` topic."""

    device_id: str
    channel: DeviceChannel


@dataclass(frozen=True, slots=True)
class ZigbeeTopic:
    """A parsed ``zigbee2mqtt/<friendly_name>[/availability]`` topic; with ``attribute``, one
    attribute of a device's state, ``zigbee2mqtt/<friendly_name>/<attribute>`` (Zigbee2MQTT's
    ``advanced.output: attribute``; see ``zigbee_attribute_topic``)."""

    friendly_name: str
    channel: DeviceChannel  # STATE or AVAILABILITY
    attribute: str | None = None


@dataclass(frozen=True, slots=True)
class ZigbeeBridgeTopic:
    """A Zigbee2MQTT bridge or command topic: not a device reading, ignored by the edge."""

    path: str


@dataclass(frozen=True, slots=True)
class EdgeTopic:
    """A parsed ``linli/edge/<edge_id>/<channel>`` topic."""

    edge_id: str
    channel: EdgeChannel


@dataclass(frozen=True, slots=True)
class CredentialTopic:
    """A parsed ``linli/dev/<reader_id>/credential`` topic: a reader's frame, for access."""

    reader_id: str


class TasmotaChannel(StrEnum):
    """What a Tasmota topic carries, as far as Linli reads it."""

    SENSOR = "SENSOR"
    """``tele/<topic>/SENSOR`` (also ``RESULT``), ``stat/<topic>/STATUS8``/``STATUS10``."""
    LWT = "LWT"


@dataclass(frozen=True, slots=True)
class TasmotaTopic:
    """A parsed Tasmota topic (default FullTopic ``%prefix%/%topic%/``).

    ``zigbee`` is set on a Zigbee bridge's per-device topic (``SetOption89 1``):
    ``tele/<topic>/<short>/SENSOR``, normalised to ``0xABCD``, or the device's friendly name
    there with ``SetOption112 1``; a short address's endpoint suffix (``_1``, ``SetOption120``)
    is dropped.
    The leaf may also be ``ZbReceived`` (``SetOption118 1``: the payload is then what
    ``ZbReceived`` would hold).
    """

    topic: str
    channel: TasmotaChannel
    zigbee: str | None = None


class ShellyChannel(StrEnum):
    """What a Shelly topic carries."""

    SENSOR = "sensor"
    """Gen1 ``shellies/<id>/sensor/<name>``: one plain-text value."""
    INPUT_EVENT = "input_event"
    """Gen1 ``shellies/<id>/input_event/<n>``: a button's push."""
    INPUT = "input"
    """Gen1 ``shellies/<id>/input/<n>``: the input terminal's state, ``0`` or ``1``."""
    ONLINE = "online"
    """Gen1 and Gen2+ ``.../online``: ``true`` or ``false``."""
    RPC = "rpc"
    """Gen2+ ``<prefix>/events/rpc``: JSON-RPC notifications; the id is the message's ``src``."""
    STATUS = "status"
    """Gen2+ ``<prefix>/status/<component:id>``: one component's status."""


@dataclass(frozen=True, slots=True)
class ShellyTopic:
    """A parsed Shelly topic: the id its prefix names, and the value's name where it has one."""

    shelly_id: str
    channel: ShellyChannel
    name: str | None = None


@dataclass(frozen=True, slots=True)
class IgnoredTopic:
    """A Tasmota or Shelly topic that carries no reading (state, info, commands, announces)."""

    path: str


DeviceTopic = (
    NativeTopic | ZigbeeTopic | ZigbeeBridgeTopic | TasmotaTopic | ShellyTopic | IgnoredTopic
)
LocalTopic = DeviceTopic | CredentialTopic
"""Any topic an edge reads on its local broker."""


def device_topic(device_id: str, channel: DeviceChannel) -> str:
    """Build the native topic of a device."""
    return f"{DEVICE_ROOT}/{check_identifier(device_id)}/{channel}"


def zigbee_topic(friendly_name: str, *, base: str = Z2M_DEFAULT_BASE) -> str:
    """Build the Zigbee2MQTT state topic of a device."""
    return f"{base}/{friendly_name}"


def zigbee_set_topic(friendly_name: str, *, base: str = Z2M_DEFAULT_BASE) -> str:
    """Build the Zigbee2MQTT command topic of a device."""
    return f"{base}/{friendly_name}/set"


def edge_topic(edge_id: str, channel: EdgeChannel) -> str:
    """Build an uplink topic of an edge."""
    return f"{EDGE_ROOT}/{check_identifier(edge_id)}/{channel}"


def device_subscriptions(*, z2m_base: str = Z2M_DEFAULT_BASE) -> list[str]:
    """Return the filters an edge subscribes to on its local broker."""
    return [
        f"{DEVICE_ROOT}/+/+",
        f"{z2m_base}/#",
        *(f"{prefix}/#" for prefix in TASMOTA_PREFIXES),
        f"{SHELLY_GEN1_ROOT}/#",
        "+/events/rpc",
        "+/status/+",
        "+/online",
    ]


def tasmota_topic(topic: str, channel: TasmotaChannel = TasmotaChannel.SENSOR) -> str:
    """Build the topic on which a Tasmota device publishes its readings or its LWT."""
    return f"tele/{topic}/{channel}"


def shelly_gen1_topic(shelly_id: str, *levels: str) -> str:
    """Build a Shelly Gen1 topic, e.g. ``shelly_gen1_topic(id, "sensor", "flood")``."""
    return "/".join((SHELLY_GEN1_ROOT, shelly_id, *levels))


_RESERVED_ROOTS = frozenset(
    {
        DEVICE_ROOT.split("/")[0],
        Z2M_DEFAULT_BASE,
        *TASMOTA_PREFIXES,
        TASMOTA_COMMAND_PREFIX,
        SHELLY_GEN1_ROOT,
    }
)


def check_shelly_prefix(prefix: str) -> str:
    """Return ``prefix`` if the edge reads a Shelly Gen2+ under it: ``<id>`` (the firmware's
    default, its device id) or ``shellies/<id>``; anything else it never subscribes to."""
    levels = prefix.split("/")
    if len(levels) == 2 and levels[0] == SHELLY_GEN1_ROOT:
        levels = levels[1:]
    elif levels[0] in _RESERVED_ROOTS:
        # tele/status/SENSOR would be a Tasmota's reading, zigbee2mqtt/online a Zigbee device's.
        raise ValueError(f"{prefix!r} is the root of other devices' topics, not a Shelly prefix")
    if len(levels) != 1:
        raise ValueError(
            f"{prefix!r} is not a Shelly MQTT prefix the edge reads: '<id>' or "
            f"'{SHELLY_GEN1_ROOT}/<id>'"
        )
    check_identifier(levels[0])
    return prefix


def shelly_rpc_topic(prefix: str) -> str:
    """Build the topic on which a Shelly Gen2+ device publishes its notifications."""
    return f"{prefix}/events/rpc"


def hub_subscriptions() -> list[str]:
    """Return the filters the hub subscribes to on its broker."""
    return [
        f"{EDGE_ROOT}/+/{EdgeChannel.ALERT}",
        f"{EDGE_ROOT}/+/{EdgeChannel.ALERTS}",
        f"{EDGE_ROOT}/+/{EdgeChannel.TELEMETRY}",
        f"{EDGE_ROOT}/+/{EdgeChannel.STATUS}",
    ]


def evidence_subscriptions() -> list[str]:
    """Return the filters the hub's evidence reader subscribes to (camera snapshots)."""
    return [f"{EDGE_ROOT}/+/{EdgeChannel.EVIDENCE}"]


CREDENTIAL_CHANNEL = "credential"
"""Last level of ``linli/dev/<reader_id>/credential``: a card or PIN presented at a reader
(``devices.access.CredentialFrame``). Not a ``DeviceChannel``: the edge's access control reads
it before the detection pipeline, which never sees it."""


def credential_topic(reader_id: str) -> str:
    """Build the topic on which a reader reports a presented credential."""
    return f"{DEVICE_ROOT}/{check_identifier(reader_id)}/{CREDENTIAL_CHANNEL}"


def parse_credential_topic(topic: str) -> str | None:
    """Return the reader id of a credential topic, None for any other topic.

    Raise ``TopicError`` for a credential topic whose reader id is not a valid id.
    """
    levels = topic.split("/")
    if len(levels) != 4 or f"{levels[0]}/{levels[1]}" != DEVICE_ROOT:
        return None
    if levels[3] != CREDENTIAL_CHANNEL:
        return None
    try:
        return check_identifier(levels[2])
    except ValueError as exc:
        raise TopicError(f"topic {topic!r}: {exc}") from exc


def access_hub_subscriptions() -> list[str]:
    """Return the filters the hub's access sync subscribes to."""
    return [
        f"{EDGE_ROOT}/+/{EdgeChannel.ACCESS_SYNC}",
        f"{EDGE_ROOT}/+/{EdgeChannel.ACCESS_LOG}",
    ]


def access_edge_subscriptions(edge_id: str) -> list[str]:
    """Return the topics an edge's access control subscribes to on the hub's broker."""
    return [
        edge_topic(edge_id, EdgeChannel.ACCESS_LIST),
        edge_topic(edge_id, EdgeChannel.ACCESS_ACK),
    ]


_Z2M_IGNORED_SUFFIXES = ("/set", "/get")


def parse_device_topic(topic: str, *, z2m_base: str = Z2M_DEFAULT_BASE) -> DeviceTopic:
    """Parse a topic seen on the local broker, or raise ``TopicError``."""
    if topic.startswith(f"{DEVICE_ROOT}/"):
        levels = topic.split("/")
        if len(levels) != 4:
            raise TopicError(f"topic {topic!r} is not {DEVICE_ROOT}/<device_id>/<channel>")
        device_id, channel = levels[2], levels[3]
        try:
            check_identifier(device_id)
            return NativeTopic(device_id, DeviceChannel(channel))
        except ValueError as exc:
            raise TopicError(f"topic {topic!r}: {exc}") from exc
    if topic.startswith(f"{z2m_base}/"):
        rest = topic[len(z2m_base) + 1 :]
        if not rest or rest.startswith("bridge/") or rest == "bridge":
            return ZigbeeBridgeTopic(rest)
        if rest.endswith(_Z2M_IGNORED_SUFFIXES) or "/set/" in rest:
            return ZigbeeBridgeTopic(rest)
        if rest.endswith("/availability"):
            return ZigbeeTopic(rest.removesuffix("/availability"), DeviceChannel.AVAILABILITY)
        return ZigbeeTopic(rest, DeviceChannel.STATE)
    parsed = _parse_tasmota_topic(topic) or _parse_shelly_topic(topic)
    if parsed is None:
        raise TopicError(f"topic {topic!r} is outside the device topic scheme")
    return parsed


def zigbee_attribute_topic(parsed: ZigbeeTopic, registered: Callable[[str], bool]) -> ZigbeeTopic:
    """Return ``parsed`` read as one attribute of a registered Zigbee device, where it is one.

    With ``advanced.output: attribute`` (or ``attribute_and_json``) Zigbee2MQTT publishes
    each key of a device's state on a topic of its own, ``<base>/<friendly_name>/<key>``
    (``Controller.iteratePayloadAttributeOutput``). A friendly name may itself hold ``/``, so
    the topic alone cannot tell ``kitchen/smoke`` the device from ``kitchen``'s attribute
    ``smoke``: a name that is registered is a device; otherwise, where the topic without its
    last level is a registered name, the last level is that device's attribute.
    """
    if parsed.channel is not DeviceChannel.STATE or parsed.attribute is not None:
        return parsed
    if registered(parsed.friendly_name):
        return parsed
    device, _, key = parsed.friendly_name.rpartition("/")
    if device and key and registered(device):
        return ZigbeeTopic(device, DeviceChannel.STATE, key)
    return parsed


_TASMOTA_SENSOR_LEAVES = frozenset({"SENSOR", "RESULT", "STATUS8", "STATUS10"})
_SHORT_ADDRESS = re.compile(r"(?:0x)?([0-9A-Fa-f]{4})")
_SHELLY_COMPONENT = re.compile(r"[a-z][a-z0-9_]*:[0-9]+")


def _parse_tasmota_topic(topic: str) -> DeviceTopic | None:
    levels = topic.split("/")
    if levels[0] not in TASMOTA_PREFIXES or len(levels) < 3 or not all(levels[1:]):
        return None
    device, leaf = levels[1], levels[-1]
    if len(levels) == 3 and leaf == TasmotaChannel.LWT and levels[0] == "tele":
        return TasmotaTopic(device, TasmotaChannel.LWT)
    if len(levels) == 3 and (leaf in _TASMOTA_SENSOR_LEAVES or leaf == _ZB_RECEIVED):
        return TasmotaTopic(device, TasmotaChannel.SENSOR)
    if len(levels) == 4 and levels[0] == "tele" and leaf in ("SENSOR", _ZB_RECEIVED):
        return TasmotaTopic(device, TasmotaChannel.SENSOR, _zigbee_level(levels[2]))
    return IgnoredTopic(topic)


_ZB_RECEIVED = "ZbReceived"
_SHORT_ADDRESS_LEVEL = re.compile(r"(?:0x)?([0-9A-Fa-f]{4})(?:_[0-9]{1,3})?")
"""A per-device topic's short address, with the endpoint suffix of ``SetOption120``."""


def _zigbee_level(level: str) -> str:
    """Return a Zigbee bridge's per-device topic level as a device name: ``0xABCD`` for a
    short address (its endpoint suffix dropped), else the friendly name as it stands (a name
    such as ``Room_2`` keeps its ``_2``: the entry's own ``Name`` is read first anyway)."""
    short = _SHORT_ADDRESS_LEVEL.fullmatch(level)
    return f"0x{short.group(1).upper()}" if short else level


_SHELLY_GEN1_VALUES = (ShellyChannel.SENSOR, ShellyChannel.INPUT_EVENT, ShellyChannel.INPUT)


def _parse_shelly_topic(topic: str) -> DeviceTopic | None:
    levels = topic.split("/")
    if not all(levels):
        return None
    if levels[-2:] == ["events", "rpc"] and len(levels) in (3, 4):
        return ShellyTopic(levels[-3], ShellyChannel.RPC)
    if levels[0] == SHELLY_GEN1_ROOT:
        if len(levels) == 3 and levels[2] == ShellyChannel.ONLINE:
            return ShellyTopic(levels[1], ShellyChannel.ONLINE)
        if len(levels) == 4 and levels[2] in _SHELLY_GEN1_VALUES:
            return ShellyTopic(levels[1], ShellyChannel(levels[2]), levels[3])
        if len(levels) == 4 and levels[2] == "status" and _SHELLY_COMPONENT.fullmatch(levels[3]):
            return ShellyTopic(levels[1], ShellyChannel.STATUS, levels[3])
        return IgnoredTopic(topic)
    if len(levels) == 2 and levels[1] == ShellyChannel.ONLINE:
        return ShellyTopic(levels[0], ShellyChannel.ONLINE)
    if len(levels) == 3 and levels[1] == "status" and _SHELLY_COMPONENT.fullmatch(levels[2]):
        return ShellyTopic(levels[0], ShellyChannel.STATUS, levels[2])
    return None


def parse_local_topic(topic: str, *, z2m_base: str = Z2M_DEFAULT_BASE) -> LocalTopic:
    """Parse a topic seen on the local broker, reader credentials included, or raise
    ``TopicError``: the edge parses each device message's topic here, once."""
    reader_id = parse_credential_topic(topic)
    if reader_id is not None:
        return CredentialTopic(reader_id)
    return parse_device_topic(topic, z2m_base=z2m_base)


def is_credential_channel(topic: str) -> bool:
    """Return whether a local topic is on the credential channel, even a malformed one."""
    return topic.startswith(f"{DEVICE_ROOT}/") and topic.endswith(f"/{CREDENTIAL_CHANNEL}")


def sender(parsed: LocalTopic) -> str:
    """Return the device id, reader id or Zigbee name a parsed topic names; '?' if none."""
    match parsed:
        case NativeTopic(device_id=name) | ZigbeeTopic(friendly_name=name):
            return name
        case TasmotaTopic(topic=name) | ShellyTopic(shelly_id=name):
            return name
        case CredentialTopic(reader_id=name):
            return name
    return "?"


def parse_edge_topic(topic: str) -> EdgeTopic:
    """Parse an uplink topic, or raise ``TopicError``."""
    levels = topic.split("/")
    if len(levels) != 4 or f"{levels[0]}/{levels[1]}" != EDGE_ROOT:
        raise TopicError(f"topic {topic!r} is not {EDGE_ROOT}/<edge_id>/<channel>")
    try:
        return EdgeTopic(check_identifier(levels[2]), EdgeChannel(levels[3]))
    except ValueError as exc:
        raise TopicError(f"topic {topic!r}: {exc}") from exc


class Sender(StrEnum):
    """Who publishes on a topic: the broker's ACL (``linli.trust.acl``) grants write to it alone."""

    EDGE = "edge"
    HUB = "hub"
    DEVICE = "device"


def edge_channel_sender(channel: EdgeChannel) -> Sender:
    """Return who publishes on an uplink topic's channel (the other side only reads it).

    Every channel must be listed: mypy's exhaustiveness check fails on a new ``EdgeChannel``
    left out, so no topic can be added without saying who may publish it.
    """
    match channel:
        case (
            EdgeChannel.ALERT
            | EdgeChannel.ALERTS
            | EdgeChannel.TELEMETRY
            | EdgeChannel.STATUS
            | EdgeChannel.EVIDENCE
            | EdgeChannel.ACCESS_SYNC
            | EdgeChannel.ACCESS_LOG
        ):
            return Sender.EDGE
        case (
            EdgeChannel.ACK
            | EdgeChannel.DEVICES
            | EdgeChannel.FEEDBACK
            | EdgeChannel.EVIDENCE_ACK
            | EdgeChannel.ACCESS_LIST
            | EdgeChannel.ACCESS_ACK
            | EdgeChannel.CAMERA_COMMAND
        ):
            return Sender.HUB
        case _:
            assert_never(channel)


def device_channel_sender(channel: DeviceChannel) -> Sender:
    """Return who publishes on a native device topic's channel: the device, or its edge."""
    match channel:
        case DeviceChannel.STATE | DeviceChannel.EVENT | DeviceChannel.AVAILABILITY:
            return Sender.DEVICE
        case DeviceChannel.SET:
            return Sender.EDGE
        case _:
            assert_never(channel)


def device_published_channels() -> list[str]:
    """Return the last levels a native device publishes on (readings, events, credentials)."""
    channels = [c.value for c in DeviceChannel if device_channel_sender(c) is Sender.DEVICE]
    return [*channels, CREDENTIAL_CHANNEL]
