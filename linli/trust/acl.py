"""Who may publish and read what on a Linli broker: the Mosquitto ACL, derived from the topic
scheme (``devices.topics``) and nothing else.

Every rule is bound to a username in its own ``user`` block; there are no ``pattern`` rules, so
neither ``%c`` (the client id, which any client chooses freely) nor ``%u`` ever appear, and an
identity that is not listed may do nothing at all (Mosquitto denies what no rule grants).
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import assert_never

from devices.owntracks import (
    OWNTRACKS_COMMAND,
    OWNTRACKS_ROOT,
    owntracks_subscriptions,
    owntracks_user,
)
from devices.registry import check_identifier
from devices.topics import (
    DEVICE_ROOT,
    EDGE_ROOT,
    HUB_STATUS_TOPIC,
    SHELLY_GEN1_ANNOUNCE_COMMAND,
    SHELLY_GEN1_ROOT,
    TASMOTA_COMMAND_PREFIX,
    TASMOTA_GROUP_TOPIC,
    TASMOTA_PREFIXES,
    Z2M_DEFAULT_BASE,
    DeviceChannel,
    EdgeChannel,
    Sender,
    check_shelly_prefix,
    device_channel_sender,
    device_published_channels,
    device_subscriptions,
    device_topic,
    edge_channel_sender,
    edge_topic,
)
from hub.cases.notify import NOTICE_TOPIC_ROOT
from hub.notices.rules import NOTICE_TOPIC_ROOT as HOUSEHOLD_NOTICE_ROOT

HUB_USERNAME = "hub"
ZIGBEE2MQTT_USERNAME = "zigbee2mqtt"
EDGE_PREFIX = "edge-"
DEVICE_PREFIX = "device-"
TASMOTA_PREFIX = "tasmota-"
SHELLY_GEN1_PREFIX = "shelly-gen1-"
SHELLY_GEN2_PREFIX = "shelly-gen2-"
SWEEPER_PREFIX = "sweep-"
SWEPT_SEPARATOR = ":"
"""Between a swept device's role and its id in a sweeper's subject (no id holds one)."""


class Role(StrEnum):
    """What an identity is, which decides its rules."""

    HUB = "hub"
    """The hub on its own broker: reads every edge's uplink, writes every edge's downlink."""
    EDGE = "edge"
    """An edge on the hub's broker: its own uplink out, its own downlink in."""
    SITE_EDGE = "site-edge"
    """The edge agent on its site broker: every device's readings in, commands out."""
    DEVICE = "device"
    """A native device on a site broker: its own readings out, its own commands in."""
    ZIGBEE2MQTT = "zigbee2mqtt"
    """A Zigbee2MQTT bridge on a site broker: under ``zigbee2mqtt/`` only."""
    TASMOTA = "tasmota"
    """A Tasmota on a site broker, by its ``%topic%``: ``tele/`` and ``stat/`` under it out,
    its ``cmnd/`` in."""
    SHELLY_GEN1 = "shelly-gen1"
    """A Shelly Gen1 on a site broker, by its id: under ``shellies/<id>/`` only."""
    SHELLY_GEN2 = "shelly-gen2"
    """A Shelly Gen2+ on a site broker, by its MQTT prefix: its notifications, status and
    last will out, its RPC and command topics in."""
    PHONE = "phone"
    """A responder's phone (OwnTracks in MQTT mode) on the hub's broker, by the responder's
    roster id: everything under ``owntracks/phone-<id>/`` out (the app's default topic, its
    username in it), its remote commands in."""
    SWEEPER = "sweeper"
    """``linli broker revoke``'s own identity for one revoked edge (hub broker) or device
    (site broker), for the seconds it takes to clear its retained messages; issued and
    withdrawn by the command itself, never by ``add-*``. Its subject is the edge's id, or
    ``<device role>:<id>`` (``sweeper_for``). An edge's: writes the edge's uplink topics
    (with empty retained messages), reads nothing. A device's: reads and writes exactly what
    the device may write, to find its retained messages and clear them."""


DEVICE_ROLES = frozenset({Role.DEVICE, Role.TASMOTA, Role.SHELLY_GEN1, Role.SHELLY_GEN2})
"""The identities a site broker issues one per device (``linli broker add-*``)."""


class Access(StrEnum):
    """Mosquitto's ACL access words."""

    READ = "read"
    WRITE = "write"
    READWRITE = "readwrite"


@dataclass(frozen=True, slots=True)
class Identity:
    """One broker account: its role, and the edge or device id it speaks for."""

    role: Role
    subject: str = ""
    """The edge or device id, a Tasmota's topic, a Shelly Gen2's prefix, a phone's responder
    id (empty for the hub and the Zigbee2MQTT bridge)."""

    @property
    def username(self) -> str:
        """Return the account name: the identity is bound to it, never to the client id."""
        match self.role:
            case Role.HUB:
                return HUB_USERNAME
            case Role.ZIGBEE2MQTT:
                return ZIGBEE2MQTT_USERNAME
            case Role.EDGE | Role.SITE_EDGE:
                return EDGE_PREFIX + check_identifier(self.subject)
            case Role.DEVICE:
                return DEVICE_PREFIX + check_identifier(self.subject)
            case Role.TASMOTA:
                return TASMOTA_PREFIX + check_identifier(self.subject)
            case Role.SHELLY_GEN1:
                return SHELLY_GEN1_PREFIX + check_identifier(self.subject)
            case Role.SHELLY_GEN2:
                return SHELLY_GEN2_PREFIX + check_shelly_prefix(self.subject)
            case Role.PHONE:
                return owntracks_user(self.subject)
            case Role.SWEEPER:
                return SWEEPER_PREFIX + swept_by(self).username
            case _:
                assert_never(self.role)


@dataclass(frozen=True, slots=True)
class Rule:
    """One ``topic <access> <filter>`` line."""

    access: Access
    topic: str


def _edge_rules(edge_id: str) -> list[Rule]:
    rules = [
        Rule(
            Access.WRITE if edge_channel_sender(c) is Sender.EDGE else Access.READ,
            edge_topic(edge_id, c),
        )
        for c in EdgeChannel
    ]
    return [*rules, Rule(Access.READ, HUB_STATUS_TOPIC)]


def sweeper_for(swept: Identity) -> Identity:
    """Return the identity that clears the retained messages of ``swept`` (an edge, or a
    device of a site broker)."""
    if swept.role is Role.EDGE:
        return Identity(Role.SWEEPER, check_identifier(swept.subject))
    if swept.role in DEVICE_ROLES:
        _ = swept.username  # checks the subject
        return Identity(Role.SWEEPER, f"{swept.role}{SWEPT_SEPARATOR}{swept.subject}")
    raise ValueError(f"nobody clears the retained messages of a {swept.role}")


def swept_by(sweeper: Identity) -> Identity:
    """Return the edge or device whose retained messages ``sweeper`` clears."""
    role, separator, subject = sweeper.subject.partition(SWEPT_SEPARATOR)
    if not separator:
        return Identity(Role.EDGE, check_identifier(sweeper.subject))
    if role not in DEVICE_ROLES:
        raise ValueError(f"{sweeper.subject!r} is not a valid id of a swept device")
    return Identity(Role(role), subject)


def _sweeper_rules(sweeper: Identity) -> list[Rule]:
    swept = swept_by(sweeper)
    if swept.role is not Role.EDGE:
        # Whatever the device may write, which only it could: the sweeper reads it to find
        # the retained messages left there (a Shelly Gen1 may write anything under its
        # subtree), and clears them. Not what only the edge writes (a native device's commands).
        written = [r for r in rules_for(swept) if r.access is not Access.READ]
        return [Rule(Access.READWRITE, r.topic) for r in written]
    # The revoked edge's own uplink, which only it could write: a retained status or alert it
    # left there would be handed to the hub at every (re)subscription.
    return [
        Rule(Access.WRITE, edge_topic(swept.subject, c))
        for c in EdgeChannel
        if edge_channel_sender(c) is Sender.EDGE
    ]


def _hub_rules() -> list[Rule]:
    # Mosquitto 2.0 checks read access when it delivers a message, against the message's
    # topic, so these rules also cover the hub's ``$share/<group>/...`` subscriptions.
    rules = [
        Rule(
            Access.READ if edge_channel_sender(c) is Sender.EDGE else Access.WRITE,
            f"{EDGE_ROOT}/+/{c}",
        )
        for c in EdgeChannel
    ]
    # Case notices for paging gateways (hub.cases.notify, LINLI_HUB_NOTIFY_MQTT).
    notices = Rule(Access.WRITE, f"{NOTICE_TOPIC_ROOT}/#")
    # Households' copies of notices (hub.notices, with LINLI_HUB_NOTIFY_MQTT).
    copies = Rule(Access.WRITE, f"{HOUSEHOLD_NOTICE_ROOT}/#")
    # Responders' phones' locations (hub.ingest.positions); their other subtopics unread.
    phones = [Rule(Access.READ, topic_filter) for topic_filter in owntracks_subscriptions()]
    return [*rules, Rule(Access.READWRITE, HUB_STATUS_TOPIC), notices, copies, *phones]


def _site_edge_rules() -> list[Rule]:
    # The agent reads whatever it subscribes to (devices.topics.device_subscriptions: native,
    # Zigbee2MQTT, Tasmota and Shelly topics); reading the commands it sends itself is
    # harmless. It sends no command to a Tasmota or a Shelly, so it writes none of theirs.
    reads = [f for f in device_subscriptions() if f != f"{Z2M_DEFAULT_BASE}/#"]
    rules = [Rule(Access.READ, topic_filter) for topic_filter in reads]
    rules += [
        Rule(Access.WRITE, f"{DEVICE_ROOT}/+/{c}")
        for c in DeviceChannel
        if device_channel_sender(c) is Sender.EDGE
    ]
    return [*rules, Rule(Access.READWRITE, f"{Z2M_DEFAULT_BASE}/#")]


def _device_rules(device_id: str) -> list[Rule]:
    rules = [
        Rule(Access.WRITE, f"{DEVICE_ROOT}/{check_identifier(device_id)}/{channel}")
        for channel in device_published_channels()
    ]
    rules += [
        Rule(Access.READ, device_topic(device_id, c))
        for c in DeviceChannel
        if device_channel_sender(c) is Sender.EDGE
    ]
    return rules


def _tasmota_rules(topic: str) -> list[Rule]:
    # The default FullTopic %prefix%/%topic%/: it publishes tele/<topic>/... (SENSOR, STATE,
    # LWT, a Zigbee bridge's <short>/SENSOR) and stat/<topic>/... (RESULT, STATUS8...), and
    # subscribes to cmnd/<topic>/# and its GroupTopic's cmnd/tasmotas/#. Not granted: its Home
    # Assistant discovery (tasmota/discovery/<mac>/..., which nobody here reads) and the
    # fallback topic cmnd/<client id>_fb/# (the client id is the device's to choose).
    rules = [
        Rule(Access.WRITE, f"{prefix}/{check_identifier(topic)}/#") for prefix in TASMOTA_PREFIXES
    ]
    return [
        *rules,
        Rule(Access.READ, f"{TASMOTA_COMMAND_PREFIX}/{topic}/#"),
        Rule(Access.READ, f"{TASMOTA_COMMAND_PREFIX}/{TASMOTA_GROUP_TOPIC}/#"),
    ]


def _shelly_gen1_rules(shelly_id: str) -> list[Rule]:
    # Gen1 publishes everything under shellies/<id>/ and subscribes there too (<id>/command,
    # relay/<n>/command, roller/0/command/pos, light/<n>/set ...): its own subtree both ways,
    # and the broadcast shellies/command. Its reply to "announce", on shellies/announce, is
    # not granted: Mosquitto drops it, and the device may not speak for others there.
    root = f"{SHELLY_GEN1_ROOT}/{check_identifier(shelly_id)}"
    return [Rule(Access.READWRITE, f"{root}/#"), Rule(Access.READ, SHELLY_GEN1_ANNOUNCE_COMMAND)]


def _shelly_gen2_rules(prefix: str) -> list[Rule]:
    # Gen2+ (Shelly's MQTT component): publishes <prefix>/online (its last will),
    # <prefix>/events/rpc (rpc_ntf), <prefix>/status/<component:id> (status_ntf) and, with
    # debug over MQTT on, <prefix>/debug/log; subscribes to <prefix>/rpc (enable_rpc),
    # <prefix>/command and <prefix>/command/<component:id> (enable_control). An RPC's reply
    # goes to <its src>/rpc, outside the prefix: nobody here sends it RPCs, so not granted.
    p = check_shelly_prefix(prefix)
    return [
        Rule(Access.WRITE, f"{p}/online"),
        Rule(Access.WRITE, f"{p}/events/rpc"),
        Rule(Access.WRITE, f"{p}/status/+"),
        Rule(Access.WRITE, f"{p}/debug/log"),
        Rule(Access.READ, f"{p}/rpc"),
        Rule(Access.READ, f"{p}/command"),
        Rule(Access.READ, f"{p}/command/+"),
    ]


def _phone_rules(responder_id: str) -> list[Rule]:
    # The app publishes owntracks/<user>/<device> (location, its last will lwt) and subtopics
    # of it (/event, /info, /waypoint(s), /status, /step...): all under its responder's own
    # level, so whatever the device id. It reads owntracks/<user>/<device>/cmd (remote
    # commands); its other default subscriptions (owntracks/+/+, /event, /info: the friends'
    # locations and cards) are granted by Mosquitto's acl_file, which checks no SUBSCRIBE,
    # and nothing reaches them: no phone sees another's position.
    root = f"{OWNTRACKS_ROOT}/{owntracks_user(responder_id)}"
    return [Rule(Access.WRITE, f"{root}/#"), Rule(Access.READ, f"{root}/+/{OWNTRACKS_COMMAND}")]


def rules_for(identity: Identity) -> list[Rule]:
    """Return everything ``identity`` may do; anything else is denied."""
    match identity.role:
        case Role.HUB:
            return _hub_rules()
        case Role.EDGE:
            return _edge_rules(identity.subject)
        case Role.SITE_EDGE:
            return _site_edge_rules()
        case Role.DEVICE:
            return _device_rules(identity.subject)
        case Role.ZIGBEE2MQTT:
            return [Rule(Access.READWRITE, f"{Z2M_DEFAULT_BASE}/#")]
        case Role.TASMOTA:
            return _tasmota_rules(identity.subject)
        case Role.SHELLY_GEN1:
            return _shelly_gen1_rules(identity.subject)
        case Role.SHELLY_GEN2:
            return _shelly_gen2_rules(identity.subject)
        case Role.PHONE:
            return _phone_rules(identity.subject)
        case Role.SWEEPER:
            return _sweeper_rules(identity)
        case _:
            assert_never(identity.role)


def render_acl(identities: list[Identity]) -> str:
    """Return the text of a Mosquitto ``acl_file`` for these identities, one block each."""
    lines = [
        "# Generated by `linli broker` from devices/topics.py: do not edit, it is rewritten.",
        "# Each identity may do what its block lists and nothing else; no pattern rules.",
    ]
    for identity in sorted(identities, key=lambda i: i.username):
        lines += ["", f"user {identity.username}"]
        lines += [f"topic {rule.access} {rule.topic}" for rule in rules_for(identity)]
    return "\n".join(lines) + "\n"
