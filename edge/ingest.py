"""Device ingest: the local broker's messages → decode → detection → outbox → ack.

Device messages, in groups (``DeviceIngest``):

1. ``_read``: the ``ConsumingSession`` of the local link hands a message over, and with it
   every message already waiting (the group; none is waited for). What waits is in a
   ``FairQueue`` (``edge.backlog``): one device's flood does not hold up the others. The loop
   shows that it runs (``edge.ingest_beat``), idle too: stuck, the edge stops saying online;
2. ``on_device_message``: its topic is parsed ONCE (``devices.topics.parse_local_topic``) and
   the parsed value goes down: a reader's frame to ``edge.access``, a Zigbee bridge's word
   of itself to its detection (``edge.zigbee_bridge``), everything else to
   ``devices.adapters.decode_payload`` (or ``decode_announce`` for a Zigbee device joining);
3. the device is resolved in the ``DeviceDirectory``; ``DetectionGroup.observe`` runs the
   pure detection, and the whole group's alerts and states are committed to the outbox in
   ONE fsynced transaction (group commit);
4. only then ``_read`` acknowledges the group's messages to the broker (manual ack) and
   shows the resident's button that its press is stored (``ButtonFeedback``); a message the
   broker delivers again after its group committed is acknowledged, not decided again
   (``edge.redelivery``).

Bad input is logged with device and topic, counted under ``rejected.<reason>`` and
acknowledged: a message that fails on every redelivery would block every alarm behind it.
"""

import asyncio
import functools
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import aiomqtt

from devices.adapters import decode_all, decode_announce, topic_address
from devices.errors import DeviceInputError, TopicError
from devices.kinds import DeviceKind
from devices.log_throttle import Throttle
from devices.messages import FeedbackStage
from devices.mqtt_link import (
    Backoff,
    MqttEndpoint,
    MqttLink,
    SessionMessages,
    checkpoint,
    payload_bytes,
)
from devices.mqtt_paho import ack
from devices.observations import (
    AvailabilityChange,
    Decoded,
    DeviceEvent,
    Observation,
    ZigbeeAddress,
    describe,
)
from devices.payloads import DropReason, noting_dropped
from devices.registry import Device
from devices.topics import (
    CredentialTopic,
    DeviceChannel,
    DeviceTopic,
    ZigbeeTopic,
    device_subscriptions,
    is_credential_channel,
    parse_local_topic,
    sender,
    zigbee_attribute_topic,
)
from devices.zigbee_network import bridge_device
from edge.access.control import AccessControl
from edge.backlog import Dropped
from edge.button_feedback import ButtonFeedback
from edge.detectors.flooding import FloodWatch
from edge.device_detection import (
    Arrival,
    CountFn,
    DetectionGroup,
    DeviceDetection,
    Rejected,
    arrival_instants,
)
from edge.directory import DeviceDirectory
from edge.discovery import discovered_device
from edge.ingest_beat import beating
from edge.liveness import Part
from edge.log_budget import LogBudget
from edge.outbox import OutboxError
from edge.receive_queue import MAX_GROUP, Arrivals, FloodLog, fair_queue
from edge.redelivery import Receipt, Redeliveries
from edge.uplink import TelemetryBuffer
from edge.zigbee_bridge import BridgeWord, bridge_word

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _AfterCommit:
    """What a group's messages do once their detection is committed."""

    readings: list[tuple[Device, tuple[Observation, ...], Arrival]] = field(default_factory=list)
    """Each message's readings, with when it arrived (``arrival_instants``)."""
    feedback: list[tuple[Device, FeedbackStage]] = field(default_factory=list)
    frames: list[asyncio.Future[None]] = field(default_factory=list)


class DeviceIngest:
    """The edge's link to its local broker: every device message into detection.

    ``await run()`` (the agent's ``edge-ingest`` task) reconnects forever; ``client`` is the
    connected client or None, for whoever publishes to devices (feedback, door readers).
    """

    def __init__(
        self,
        endpoint: MqttEndpoint,
        *,
        directory: DeviceDirectory,
        detection: DeviceDetection,
        access: AccessControl,
        telemetry: TelemetryBuffer,
        count: CountFn,
        clock: Callable[[], datetime],
        z2m_base: str,
        max_payload_bytes: int,
        backoff_rng: Callable[[], float],
        monotonic: Callable[[], float] = time.monotonic,
        discover_for: str | None = None,
        alive: Part,
    ) -> None:
        self.endpoint = endpoint
        self._alive = alive
        """Beaten by the reading loop (``edge.liveness``); resting while not connected."""
        self._directory = directory
        self._discover_for = discover_for
        """The edge whose unregistered Zigbee detectors are discovered (``edge.discovery``);
        None refuses them as unknown devices."""
        self._reject_log = Throttle()
        self._reject_budget = LogBudget()
        self._detection = detection
        self._redeliveries = Redeliveries()
        self._floods = FloodLog()
        self._flooding_devices: deque[tuple[Device, str]] = deque()
        """Registered devices whose topic the receive queue found flooding, not staged yet."""
        self._access = access
        self._telemetry = telemetry
        self._count = count
        self._clock = clock
        # Log throttles run on it: a wall clock stepped back would silence them for the step.
        self._monotonic = monotonic
        self._z2m_base = z2m_base
        self._max_payload_bytes = max_payload_bytes
        self.client: aiomqtt.Client | None = None
        self.ready = False
        """Whether the link is subscribed right now."""
        self._zigbee_outputs = ZigbeeOutputs(directory)
        self.feedback = ButtonFeedback(directory, lambda: self.client, count, z2m_base=z2m_base)
        self._pending_feedback: deque[tuple[Device, FeedbackStage]] = deque()
        self._link = MqttLink(
            endpoint,
            name="edge-ingest",
            manual_ack=True,
            on_error=self._failed,
            queue_type=fair_queue(
                Arrivals(FloodWatch(detection.flood), self._flooding, self._dropped, monotonic)
            ),
            backoff=Backoff(rng=backoff_rng),
        )

    async def run(self) -> None:
        """Read device messages until cancelled, reconnecting forever."""
        await self._link.run(self._connection)

    async def _connection(self, client: aiomqtt.Client) -> None:
        self._count("local_connects", 1)
        await self.expect_redeliveries()
        # Before the reader starts: it relays SOS feedback through this client.
        self.client = client
        try:
            session = self._link.session(
                client,
                device_subscriptions(z2m_base=self._z2m_base),
                functools.partial(self._read, client),
            )
            async with session:
                checkpoint()
                self.ready = True
                logger.info("reading devices on %s:%s", self.endpoint.host, self.endpoint.port)
                # Beside the reading, which must not wait for a button's answer.
                unshown = asyncio.create_task(self.feedback.show_unshown())
                try:
                    await session.serve()
                finally:
                    unshown.cancel()
        finally:
            self.ready = False
            self.client = None

    def _failed(self, exc: Exception) -> None:
        if isinstance(exc, OutboxError):
            # Not acknowledged: the broker redelivers the message after the reconnect.
            self._count("outbox_errors", 1)

    async def _read(self, client: aiomqtt.Client, arriving: SessionMessages) -> None:
        """Handle device messages in groups, each acknowledged only once its group committed.

        A group is whatever has arrived by the time the last one is handled: one message
        when they come one at a time (no waiting for a batch to fill), many in a burst,
        whose alerts then cost one fsync together. What has arrived waits in a
        ``FairQueue``, so one device's flood does not hold up the others.
        """
        with beating(arriving, self._alive) as messages:  # idle, it beats: edge.ingest_beat
            async for message in messages:
                checkpoint()
                if self._redelivered(client, message):
                    continue
                group = [message]
                while len(group) < MAX_GROUP and len(messages) > 0:
                    waiting = await anext(messages)
                    if not self._redelivered(client, waiting):
                        group.append(waiting)
                await self.on_device_messages(group)
                for handled in group:
                    ack(client, handled)
                # The resident learns at once that the edge has it, uplink or not.
                while self._pending_feedback:
                    await self.feedback.show(*self._pending_feedback.popleft())

    def _flooding(self, topic: str) -> None:
        """A topic floods (``FloodWatch``): its device's ``device_flooding`` goes with the next
        group's commit; a topic of no registered device is only logged."""
        self._count("floods_seen", 1)
        device = self._device_of(topic)
        if device is None:
            self._floods.unregistered(topic, self._detection.flood, self._monotonic())
        else:
            self._flooding_devices.append((device, topic))

    def _device_of(self, topic: str) -> Device | None:
        try:
            parsed = parse_local_topic(topic, z2m_base=self._z2m_base)
        except TopicError:
            return None
        if isinstance(parsed, CredentialTopic):
            return None
        address = topic_address(parsed)
        return None if address is None else self._directory.resolve(address)

    def _dropped(self, dropped: Dropped) -> None:
        self._count("messages_dropped", dropped.count)
        self._floods.dropped(dropped, self._monotonic())

    async def expect_redeliveries(self) -> None:
        """On a new connection: expect the last committed groups' messages first, maybe."""
        detection = self._detection
        self._redeliveries.arm(await detection.db.call(detection.outbox.receipts))

    def is_redelivery(self, message: aiomqtt.Message) -> bool:
        """Return True for a message delivered again after its group committed."""
        return self._redeliveries.redelivered(_receipt(message))

    def _redelivered(self, client: aiomqtt.Client, message: aiomqtt.Message) -> bool:
        """Acknowledge a message whose group already committed; True if it was one."""
        if not self.is_redelivery(message):
            return False
        ack(client, message)
        self._count("messages_redelivered", 1)
        logger.info("%s delivered again after its group committed: acknowledged", message.topic)
        return True

    async def on_device_message(self, message: aiomqtt.Message) -> None:
        """Handle one device message; return once it may be acknowledged to the broker."""
        await self.on_device_messages([message])

    async def on_device_messages(self, messages: Sequence[aiomqtt.Message]) -> None:
        """Handle device messages that arrived together; return once all may be acknowledged.

        Their detection is committed in one outbox transaction (``DeviceDetection.group``);
        an ``OutboxError`` propagates and none of them may be acknowledged. Each message is
        received at an instant of its own (``arrival_instants``): two readings of a device
        in one group are two readings, in their arrival order.
        """
        self._count("messages_received", len(messages))
        after = _AfterCommit()
        async with self._detection.group() as staged:
            # Read once the group holds detection: after its look for a clock step.
            received_at = self._clock()
            while self._flooding_devices:
                staged.flooded(*self._flooding_devices.popleft(), received_at)
            for message, arrived in zip(
                messages, arrival_instants(received_at, len(messages)), strict=True
            ):
                await self._stage(staged, message, Arrival(arrived, received_at), after)
            # Readers are answered already; their frames' decisions are stored by now, before
            # the group's receipts and before any of its messages is acknowledged.
            await asyncio.gather(*after.frames)
        # Committed: only now do readings go out and buttons show the press as stored.
        for device, observations, arrival in after.readings:
            self._telemetry.add(
                device, [(o, self._detection.event_time(o, arrival)) for o in observations]
            )
        self._pending_feedback.extend(after.feedback)

    async def _stage(
        self,
        staged: DetectionGroup,
        message: aiomqtt.Message,
        arrival: Arrival,
        after: "_AfterCommit",
    ) -> None:
        topic = message.topic.value
        raw = payload_bytes(message.payload) or b""
        staged.received(Receipt.of(message.qos, message.mid, topic, raw))
        try:
            parsed = parse_local_topic(topic, z2m_base=self._z2m_base)
        except TopicError as exc:
            if is_credential_channel(topic):
                self._access.reject_topic(topic, exc)
            else:
                self._reject(Rejected(exc.reason, topic, "?", exc))
            return
        if isinstance(parsed, ZigbeeTopic):
            zigbee = self._zigbee_outputs.read(parsed)
            if zigbee is None:
                self._count("messages_ignored", 1)
                return
            parsed = zigbee
        if isinstance(parsed, CredentialTopic):
            if message.retain:
                # A frame replayed by the broker to the edge's new subscription (every time it
                # connects) was presented then, not now: deciding it again would unlock the
                # door at every reconnect. A frame presented live never carries the flag.
                self._count("retained_events_ignored", 1)
                logger.warning("ignored a retained credential frame on %s: a replay", topic)
                return
            # Decided and answered by door access at once, in arrival order; stored with the
            # group's other frames (one fsync), awaited before the group commits. The group's
            # receipts are kept, so that the broker delivering the frame again after a restart
            # (its ack lost) does not open the door a second time.
            staged.remember()
            after.frames.append(
                (await self._access.take_frame(parsed.reader_id, topic, raw)).stored
            )
            return
        try:
            word = bridge_word(
                parsed,
                raw,
                max_bytes=self._max_payload_bytes,
                is_tasmota_bridge=self._directory.is_tasmota_bridge,
            )
        except DeviceInputError as exc:
            self._reject(Rejected(exc.reason, topic, "zigbee bridge", exc))
            return
        if word is not None:
            rejected = self._bridge_said(staged, word, topic, arrival)
        else:
            rejected = await self._handle(
                staged, parsed, topic, raw, arrival, after, retained=bool(message.retain)
            )
        if rejected is not None:
            self._reject(rejected)

    async def _handle(
        self,
        staged: DetectionGroup,
        parsed: DeviceTopic,
        topic: str,
        raw: bytes,
        arrival: Arrival,
        after: "_AfterCommit",
        *,
        retained: bool,
    ) -> Rejected | None:
        try:
            with noting_dropped() as dropped:
                messages = decode_all(
                    parsed,
                    raw,
                    max_bytes=self._max_payload_bytes,
                    kind_of=self._directory.kind_of,
                    fahrenheit=self._directory.fahrenheit,
                )
            if dropped:
                self._taken_without(topic, sender(parsed), dropped)
        except DeviceInputError as exc:
            return Rejected(exc.reason, topic, sender(parsed), exc)
        except Exception as exc:
            # A bug, not bad input. Acknowledge anyway: a message that crashes the loop on
            # every redelivery would block every alarm behind it.
            logger.exception("decoding the message on %s failed", topic)
            return Rejected("internal_error", topic, sender(parsed), exc)
        if not messages:
            # A Zigbee device (re)joining, for the SOS uncommanded-press rule; other bridge
            # messages, and announces of devices this edge does not serve, are ignored.
            try:
                announce = decode_announce(parsed, raw, max_bytes=self._max_payload_bytes)
            except Exception as exc:
                # As for decode_all above: a message that raised on every redelivery would
                # block every alarm of the site behind it.
                logger.exception("reading the bridge event on %s failed", topic)
                return Rejected("internal_error", topic, sender(parsed), exc)
            if announce is None or self._directory.resolve(announce.address) is None:
                self._count("messages_ignored", 1)
                return None
            messages = (announce,)
        rejected: Rejected | None = None
        # A Tasmota Zigbee bridge may speak for several devices in one message.
        for decoded in messages:
            if retained:
                decoded = self._without_events(decoded, topic)
            rejected = (
                await self._observe(staged, topic, decoded, arrival, after, retained=retained)
                or rejected
            )
        return rejected

    def _bridge_said(
        self, staged: DetectionGroup, word: BridgeWord, topic: str, arrival: Arrival
    ) -> Rejected | None:
        """Stage what a Zigbee bridge said of itself: its network heard or deaf
        (``edge.zigbee_bridge``). Retained too: the broker's copy is the bridge's state now,
        and saying it again changes nothing."""
        new = bridge_device(self._detection.edge_id, word.tasmota_topic)
        device = self._directory.bridge(new.id)
        if device is None:
            self._directory.remember_bridge(new)
            device = new
        if word.online:
            logger.info("Zigbee bridge %s says online on %s", device.id, topic)
        else:
            logger.warning(
                "Zigbee bridge %s says offline on %s: its devices deaf", device.id, topic
            )
        return staged.observe(device, (AvailabilityChange(word.online),), arrival, topic).rejected

    def _without_events(self, decoded: Decoded, topic: str) -> Decoded:
        """Drop the events of a retained message: the broker replays a device's last message
        to a new subscription (every time the edge connects), and an event in it (a button's
        ``action`` under Zigbee2MQTT's ``retain: true``) happened then, not now. A press made
        while the edge was away reaches its session as a message of its own, not retained."""
        kept = tuple(o for o in decoded.observations if not isinstance(o, DeviceEvent))
        if len(kept) == len(decoded.observations):
            return decoded
        self._count("retained_events_ignored", len(decoded.observations) - len(kept))
        logger.info("ignored the events of a retained message on %s: a replay", topic)
        return replace(decoded, observations=kept)

    async def _observe(
        self,
        staged: DetectionGroup,
        topic: str,
        decoded: Decoded,
        arrival: Arrival,
        after: "_AfterCommit",
        *,
        retained: bool = False,
    ) -> Rejected | None:
        device = self._directory.resolve(decoded.address) or self._discover(decoded)
        if device is None:
            return Rejected(
                "unknown_device", topic, describe(decoded.address), "not registered at this edge"
            )
        if retained and staged.knows(device.id):
            # The broker replays a topic's last retained message to every new subscription,
            # made at each connect. Its age is unknown: what the device said since reached the
            # edge's persistent session live, and was handled. Read as new, a stale (or an
            # attacker's, left before the identity was revoked) {"smoke": false} would clear a
            # fire still burning, and a {"smoke": true} would raise one at every restart. Only
            # a device the edge knows nothing of yet takes a retained message's readings.
            self._count("retained_replays_ignored", 1)
            logger.info("ignored a retained message on %s: a replay for %s", topic, device.id)
            return None
        outcome = staged.observe(device, decoded.observations, arrival, topic)
        if outcome.rejected is None:
            after.readings.append((device, decoded.observations, arrival))
        if outcome.feedback is not None:
            # Shown once the device message is acknowledged (see _read): an await before
            # the ack would widen the window in which a crash redelivers the press.
            after.feedback.append((device, outcome.feedback))
        if device.kind is DeviceKind.DOOR_CONTACT:
            # The door's monitor stores its own state: commit the contact's detection first,
            # in the order one message at a time had. The group's frames before it are stored
            # first: a committed receipt says its message needs no decision again.
            await asyncio.gather(*after.frames)
            await staged.commit()
            await self._access.on_observations(device, decoded.observations, arrival.at)
        return outcome.rejected

    def _discover(self, decoded: Decoded) -> Device | None:
        """Return the device an unregistered Zigbee detector is handled as, or None.

        Found once (its readings name a detector), it is remembered: supervised, in the
        inventory, and its later messages are its own whatever they carry (a battery report).
        """
        if self._discover_for is None:
            return None
        address = decoded.address
        known = (
            self._directory.discovered(address.friendly_name)
            if isinstance(address, ZigbeeAddress)
            else None
        )
        device = known or discovered_device(self._discover_for, address, decoded.observations)
        if device is None:
            return None
        self._count("discovered_device_messages", 1)
        if known is None and self._directory.remember_discovered(device):
            logger.warning(
                "unregistered %s detector %r on the site's Zigbee network: detected as %s "
                "until it is registered",
                device.kind,
                describe(decoded.address),
                device.id,
            )
        return device

    def _taken_without(
        self, topic: str, device: str, dropped: list[tuple[str, DropReason]]
    ) -> None:
        """Count and log the readings a message was taken without (``devices.payloads``: not
        finite, out of range, no number, an unreadable ``ts``): its alarm flags still count."""
        for _, why in dropped:
            self._count(f"readings_dropped.{why}", 1)
        left_out = self._reject_log.due(("readings_dropped", topic), self._monotonic())
        if left_out is None:
            return  # counted; logged at most once a minute per topic
        logger.warning(
            "took the message of device %s on %s without %s%s",
            device,
            topic,
            ", ".join(f"{name} ({why})" for name, why in dropped),
            f" (and {left_out} more like it since this was last logged)" if left_out else "",
        )

    def _reject(self, rejected: Rejected) -> None:
        self._count(f"rejected.{rejected.reason}", 1)
        now = self._monotonic()
        left_out = self._reject_log.due((rejected.reason, rejected.topic), now)
        if left_out is None:
            return  # counted; logged at most once a minute per reason and topic
        elsewhere = self._reject_budget.spend(rejected.reason, now)
        if elsewhere is None:
            return  # counted; a few lines a minute per reason, whatever the topics
        logger.warning(
            "rejected %s from device %s on %s: %s%s%s",
            rejected.reason,
            rejected.sender,
            rejected.topic,
            rejected.error,
            f" (and {left_out} more like it since this was last logged)" if left_out else "",
            f" ({elsewhere} more like it on other topics left out)" if elsewhere else "",
        )


class ZigbeeOutputs:
    """Zigbee2MQTT's ``advanced.output``, as each device's messages show it.

    ``json`` (the default): a device's state whole, on ``<base>/<name>``. ``attribute``: each
    key on ``<base>/<name>/<key>`` (``devices.topics.zigbee_attribute_topic``).
    ``attribute_and_json``: both, the whole message first; its attributes would repeat every
    reading and every press, so once a device has sent a whole message its attributes are not
    read.
    """

    def __init__(self, directory: DeviceDirectory) -> None:
        self._directory = directory
        self._whole: set[str] = set()
        """Registered devices seen sending their state whole."""

    def read(self, parsed: ZigbeeTopic) -> ZigbeeTopic | None:
        """Return the topic as the device's state, one attribute of it, or None to ignore."""
        parsed = zigbee_attribute_topic(parsed, self._registered)
        if parsed.channel is not DeviceChannel.STATE:
            return parsed
        if parsed.attribute is None:
            if self._registered(parsed.friendly_name):
                self._whole.add(parsed.friendly_name)
            return parsed
        return None if parsed.friendly_name in self._whole else parsed

    def _registered(self, name: str) -> bool:
        return self._directory.resolve(ZigbeeAddress(name)) is not None


def _receipt(message: aiomqtt.Message) -> Receipt | None:
    return Receipt.of(
        message.qos, message.mid, message.topic.value, payload_bytes(message.payload) or b""
    )
