"""The site's Zigbee network gone deaf: one alert, at once, and no flood behind it.

Zigbee2MQTT publishes its state, retained, on ``<base>/bridge/state``: ``{"state":"online"}``
at start and, as its last will, ``{"state":"offline"}`` when it dies or its coordinator is
unplugged (plain ``online``/``offline`` before Zigbee2MQTT 1.33). While it is offline every
Zigbee device of the site is unheard: a fire, a CO leak, an SOS press go nowhere. A Tasmota
Zigbee bridge says the same of the devices registered behind it in its LWT
(``tele/<topic>/LWT`` ``Offline``): ``bridge_word`` reads both.

Pure decisions on the bridge's ``DeviceState`` (its device: ``devices.zigbee_network``), by
the edge's clock, as for check-in deadlines:

- ``bridge_said``: offline starts the grace (``offline_since``; a repeat does not move it);
  online ends it, clears the alert if raised and marks the bridge's return (``last_seen``,
  moved only by a return: a repeated ``online`` is no return);
- ``bridge_tick``: offline for ``grace_s`` (Zigbee2MQTT restarting for an update is back in
  seconds) raises ONE ``bridge_offline`` about the bridge, severity high (not the medium of
  one device's ``device_offline``: every life-safety detector behind it is deaf), timed at
  the end of the grace; it is raised once, and the state that says so is stored with it, so
  an edge restarting neither raises it again nor forgets it;
- ``behind_bridge``: how the check-in deadline of a device behind a bridge (``bridge_of``: a
  Zigbee2MQTT device, or one of a Tasmota Zigbee bridge) is supervised: not at all while the
  bridge is offline (its alert covers them), and from the bridge's return after it (they
  need time to check in again).

An edge that starts while the bridge's retained ``offline`` stands counts the grace from its
own start, as check-in deadlines do (``watching_since``).
"""

from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from devices.adapters import decode_all, decode_bridge_state
from devices.kinds import AlertKind, DeviceKind, Severity
from devices.observations import AvailabilityChange
from devices.registry import Device
from devices.topics import DeviceTopic, TasmotaChannel, TasmotaTopic, ZigbeeBridgeTopic
from devices.zigbee_network import bridge_device, bridge_id
from edge.detection_state import Detection, DeviceState, Step

DEFAULT_GRACE_S = 60.0
"""How long the bridge may say offline before its alert: Zigbee2MQTT restarting (an update, a
configuration change) is back within seconds, and a minute is short beside the hours a
device's own check-in deadline would take to tell."""

SEVERITY = Severity.HIGH
"""The bridge's ``bridge_offline``: many smoke, CO and SOS devices deaf at once."""

PROFILE = "zigbee-bridge-state"
RULE_OFFLINE = "bridge_state=offline"
RULE_ONLINE = "bridge_state=online"


def bridge_said(state: DeviceState, online: bool, seen: datetime) -> Detection:
    """Return the bridge's state (and the clearance of its alert) once it said ``online`` or
    offline, received at ``seen`` (the edge's clock)."""
    step = Step(state, seen, seen=seen)
    if not online:
        if state.offline_since is None:
            step.state = replace(state, offline_since=seen)
        return Detection(step.state)
    if state.offline_since is not None or state.last_seen is None:
        step.state = replace(state, offline_since=None, last_seen=seen)
    step.switch(
        AlertKind.BRIDGE_OFFLINE,
        raise_rule=None,
        clear_rule=RULE_ONLINE,
        values={"bridge_state": "online"},
        profile=PROFILE,
        severity=SEVERITY,
    )
    return Detection(step.state, tuple(step.alerts))


def bridge_tick(
    state: DeviceState,
    now: datetime,
    grace_s: float,
    watching_since: datetime | None = None,
) -> Detection:
    """Return the bridge's state and its alert once it has said offline for ``grace_s``
    (counted from the edge's start, ``watching_since``, at the earliest)."""
    step = Step(state, now)
    if state.offline_since is None:
        return Detection(state)
    since = state.offline_since
    if watching_since is not None and watching_since > since:
        since = watching_since
    due = since + timedelta(seconds=grace_s)
    if now >= due:
        step.switch(
            AlertKind.BRIDGE_OFFLINE,
            raise_rule=RULE_OFFLINE,
            clear_rule=None,
            values={
                "bridge_state": "offline",
                "offline_since": state.offline_since.isoformat(),
                "grace_s": grace_s,
            },
            profile=PROFILE,
            at=due,
            severity=SEVERITY,
        )
    return Detection(step.state, tuple(step.alerts))


@dataclass(frozen=True, slots=True)
class Supervision:
    """How a device's check-in deadline is supervised, given its bridge."""

    deadline: bool
    """Whether its deadline may raise ``device_offline`` now."""
    watching_since: datetime | None
    """When its deadline counts from at the earliest."""


def bridge_of(device: Device, edge_id: str) -> str | None:
    """Return the id of the bridge ``device`` is heard through, None for none: Zigbee2MQTT's
    for a device with a ``zigbee_name``, a Tasmota Zigbee bridge's for one with a
    ``tasmota_topic`` of ``<bridge topic>/<name>``."""
    if device.kind is DeviceKind.ZIGBEE_BRIDGE:
        return None
    if device.zigbee_name is not None:
        return bridge_id(edge_id)
    if device.tasmota_topic is not None:
        topic, behind, _ = device.tasmota_topic.strip().partition("/")
        return bridge_id(edge_id, topic) if behind else None
    return None


def behind_bridge(
    device: Device,
    bridges: Mapping[str, DeviceState],
    edge_id: str,
    watching_since: datetime | None,
) -> Supervision:
    """Return how ``device``'s check-in deadline is supervised, given the states of the
    edge's bridges (by id; a bridge never heard has none)."""
    key = bridge_of(device, edge_id)
    bridge = None if key is None else bridges.get(key)
    if bridge is None:
        return Supervision(True, watching_since)
    if bridge.offline_since is not None:
        return Supervision(False, watching_since)
    back = bridge.last_seen
    if back is not None and (watching_since is None or back > watching_since):
        return Supervision(True, back)
    return Supervision(True, watching_since)


def known_bridges(edge_id: str, devices: Iterable[Device], stored: Container[str]) -> list[Device]:
    """Return the bridges whose state the edge stored (heard before a restart), of those its
    ``devices`` may be behind: still supervised, still listed before they are heard again."""
    topics: dict[str, str | None] = {bridge_id(edge_id): None}
    for device in devices:
        if device.tasmota_topic is not None and "/" in device.tasmota_topic:
            topic = device.tasmota_topic.strip().partition("/")[0]
            topics[bridge_id(edge_id, topic)] = topic
    return [bridge_device(edge_id, topic) for key, topic in topics.items() if key in stored]


@dataclass(frozen=True, slots=True)
class BridgeWord:
    """What a bridge said of itself: online or not."""

    online: bool
    tasmota_topic: str | None = None
    """None for Zigbee2MQTT's bridge; a Tasmota Zigbee bridge's topic."""


def bridge_word(
    parsed: DeviceTopic,
    payload: bytes,
    *,
    max_bytes: int,
    is_tasmota_bridge: Callable[[str], bool],
) -> BridgeWord | None:
    """Return what a bridge says of itself in a message, None for any other message.

    Zigbee2MQTT's ``bridge/state``; the LWT of a Tasmota topic that ``is_tasmota_bridge``
    (devices are registered behind it, and none as the topic itself: a plain Tasmota device's
    LWT is its own availability). Raise ``DeviceInputError`` for a bad payload there.
    """
    if isinstance(parsed, ZigbeeBridgeTopic):
        online = decode_bridge_state(parsed, payload, max_bytes=max_bytes)
        return None if online is None else BridgeWord(online)
    if (
        isinstance(parsed, TasmotaTopic)
        and parsed.channel is TasmotaChannel.LWT
        and is_tasmota_bridge(parsed.topic)
    ):
        for decoded in decode_all(parsed, payload, max_bytes=max_bytes):
            for observation in decoded.observations:
                if isinstance(observation, AvailabilityChange):
                    return BridgeWord(observation.online, parsed.topic)
    return None
