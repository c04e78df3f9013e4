"""The edge agent: the thin asyncio shell around detection and the outbox.

One ``asyncio.TaskGroup`` of named tasks:

- ``edge-ingest``: device messages from the local broker → decode → detection → outbox
  commit → acknowledge the message to the broker → wake the forwarder;
- ``edge-uplink``: the hub's broker: retained ``EdgeStatus`` (last will: offline), alerts
  out of the outbox in life-safety order with a bounded window, ``AlertAck`` and
  ``DeviceRegistry`` in;
- ``edge-detect-tick``: time-driven detection (check-in deadlines, a leak that has stayed
  dry) every ``detection_tick_s``, committed like the ingest's;
- ``edge-heartbeat``: ``EdgeStatus`` again every ``heartbeat_s``;
- ``edge-telemetry``: buffered readings as a ``TelemetryBatch`` every
  ``telemetry_interval_s`` (best effort, QoS 0).

Each broker connection reconnects forever with jittered exponential backoff; detection and
the outbox keep working while the uplink is down.
"""

import asyncio
import functools
import logging
import random
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import UTC, datetime
from typing import Literal, ParamSpec, TypeVar

import aiomqtt
from aiomqtt.types import PayloadType
from pydantic import ValidationError

from devices.adapters import decode, decode_bridge_event
from devices.camera import check_cameras
from devices.errors import DeviceInputError, TopicError
from devices.kinds import AlertKind, AlertState, DeviceKind, forwarding_rank
from devices.messages import (
    Alert,
    AlertAck,
    CaseFeedback,
    DeviceRegistry,
    EdgeStatus,
    FeedbackStage,
    HubStatus,
    TelemetryBatch,
    TelemetryPoint,
)
from devices.mqtt_session import ConsumingSession
from devices.observations import (
    AvailabilityChange,
    DeviceEvent,
    NativeAddress,
    Observation,
    StateUpdate,
)
from devices.registry import Device
from devices.site import SiteFile
from devices.topics import (
    HUB_STATUS_TOPIC,
    EdgeChannel,
    NativeTopic,
    ZigbeeTopic,
    device_subscriptions,
    edge_topic,
    parse_device_topic,
)
from devices.transport import LOW_LATENCY
from edge.access.control import AccessControl
from edge.access.store import FILE_NAME as ACCESS_FILE_NAME
from edge.access.store import AccessStore
from edge.camera.service import CameraService
from edge.detection import (
    AlertDecision,
    Detection,
    DeviceState,
    StateFormatError,
    detect,
    tick,
)
from edge.detectors.profile import DetectionProfile, ProfileBook
from edge.directory import DeviceDirectory
from edge.feedback import feedback_command
from edge.outbox import FILE_NAME, Outbox, OutboxError
from edge.settings import EdgeSettings

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

TELEMETRY_BUFFER = 10_000
"""Readings kept for the telemetry task; older ones are dropped (and counted) beyond this."""
TELEMETRY_BATCH = 500
"""Readings per TelemetryBatch message."""
OFFLINE_STATUS_TIMEOUT_S = 2.0
"""How long a clean shutdown waits to tell the hub it is going offline."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Backoff:
    """Jittered exponential delays between reconnect attempts: 0.5 s doubling up to 10 s."""

    def __init__(
        self,
        first_s: float = 0.5,
        cap_s: float = 10.0,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.first_s = first_s
        self.cap_s = cap_s
        self._rng = rng
        self._attempt = 0

    def next_delay(self) -> float:
        """Return how long to wait before the next attempt, and count the attempt."""
        ceiling: float = min(self.cap_s, self.first_s * 2.0**self._attempt)
        self._attempt = min(self._attempt + 1, 32)
        # "Equal jitter": between half and all of the ceiling, so edges that lost the same
        # broker do not all come back in the same instant.
        return ceiling * (0.5 + self._rng() / 2)

    def reset(self) -> None:
        """Start again from the shortest delay (after a successful connection)."""
        self._attempt = 0


# --- Manual acknowledgement of device messages (documented workaround) -------------------
# aiomqtt 2.5 has no manual-ack API (aiomqtt issue #345) and paho acknowledges a QoS 1
# message as soon as it has read it. The edge must acknowledge a device message only after
# the alerts it caused are committed to the outbox, so that a crash in between makes the
# broker redeliver it (persistent session). So we switch on paho's own manual ack through
# aiomqtt's paho client. It is switched on BEFORE connecting, not after: with a persistent
# session the broker sends queued messages right behind the CONNACK, possibly in the same
# socket read, i.e. before any code after ``async with client`` runs.


def _use_manual_ack(client: aiomqtt.Client) -> None:
    client._client.manual_ack_set(True)


def _ack(client: aiomqtt.Client, message: aiomqtt.Message) -> None:
    if message.qos > 0:
        # A failed PUBACK (connection gone) is harmless: the broker redelivers the message
        # and the committed device state keeps it from producing a second alert.
        client._client.ack(message.mid, message.qos)


# ------------------------------------------------------------------------------------------


class EdgeAgent:
    """The edge agent of one site. ``await EdgeAgent(settings).run()``; cancel it to stop.

    The constructor reads the site file and opens the outbox; ``run`` can be called once and
    closes the outbox when it ends.
    """

    def __init__(
        self,
        settings: EdgeSettings,
        *,
        clock: Callable[[], datetime] = _utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        site = SiteFile.load(settings.site_file)
        self.edge_id: str = settings.edge_id or site.site.edge_id
        self.site_devices: list[Device] = [
            d.model_copy(update={"edge_id": self.edge_id}) for d in site.devices
        ]
        self.directory = DeviceDirectory(self.site_devices)
        # Each device's detectors: --co-profile, then the site file's [detection] tables
        # (checked before anything is opened: a bad table stops the edge at once).
        self.profiles = ProfileBook.build(
            site.detection,
            DetectionProfile.for_co_standard(settings.co_profile),
            self.site_devices,
        )
        self.outbox = Outbox.open(
            settings.data_dir / FILE_NAME,
            settings.outbox_sync,
            resend_after_s=settings.resend_after_s,
        )
        self.counters: dict[str, int] = {}
        self._clock = clock
        self._monotonic = monotonic
        self._rng = rng
        self._states = self._load_states()
        # Ingest and the detection tick both read a device's state, await the commit and
        # then store the new state: one at a time, or one would overwrite the other's.
        self._detecting = asyncio.Lock()
        self._watching_since: datetime | None = None
        self._telemetry: deque[TelemetryPoint] = deque()
        self._wake = asyncio.Event()
        self._uplink: aiomqtt.Client | None = None
        self._local: aiomqtt.Client | None = None
        self._pending_feedback: deque[tuple[Device, FeedbackStage]] = deque()
        self._local_ready = False
        # Door access (edge.access): reader frames and door contacts in, its own hub link.
        self.access = AccessControl(
            edge_id=self.edge_id,
            store=AccessStore.open(settings.data_dir / ACCESS_FILE_NAME, settings.outbox_sync),
            outbox=self.outbox,
            hub_host=settings.hub_mqtt_host,
            hub_port=settings.hub_mqtt_port,
            local=lambda: self._local,
            on_alerts=self._announce,
            count=self._count,
            locate=lambda device_id: getattr(
                self.directory.resolve(NativeAddress(device_id)), "location", None
            ),
            clock=clock,
            rng=rng,
            resend_after_s=settings.resend_after_s,
            mqtt_timeout_s=settings.mqtt_timeout_s,
        )
        # One thread owns every outbox call, in order, so that an fsync on a slow SD card
        # never stalls the event loop (and with it the broker keepalives).
        self._db_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="edge-outbox")
        # A resend is due resend_after_s after the send; check a few times within that.
        self._tick_s = min(1.0, max(0.05, settings.resend_after_s / 4))
        # Camera analytics (edge.camera): worker threads, alerts through this outbox.
        check_cameras(site.cameras, {d.id for d in site.devices if d.kind is DeviceKind.CAMERA})
        self.cameras: CameraService | None = None
        if site.cameras:
            self.cameras = CameraService(
                site.cameras,
                {d.id: d for d in self.site_devices},
                edge_id=self.edge_id,
                data_dir=settings.data_dir,
                hub_host=settings.hub_mqtt_host,
                hub_port=settings.hub_mqtt_port,
                resend_after_s=settings.resend_after_s,
                commit=self._commit_camera_alerts,
                seen=self._camera_seen,
                count=self._count,
                clock=clock,
                backoff=lambda: Backoff(rng=rng),
                spool_max_bytes=settings.evidence_spool_max_bytes,
                spool_max_files=settings.evidence_spool_max_files,
                cv_threads=settings.camera_cv_threads,
                mqtt_timeout_s=settings.mqtt_timeout_s,
            )

    @property
    def local_ready(self) -> bool:
        """Return whether the agent is subscribed on the local broker right now."""
        return self._local_ready

    @property
    def uplink_ready(self) -> bool:
        """Return whether the agent is connected to the hub's broker right now."""
        return self._uplink is not None

    async def run(self) -> None:
        """Run until cancelled; reconnect to either broker forever."""
        logger.info(
            "edge %s starting: %d site devices, %d alerts waiting in the outbox",
            self.edge_id,
            len(self.site_devices),
            self.outbox.depth(),
        )
        self._watching_since = self._clock()
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._ingest_forever(), name="edge-ingest")
                tasks.create_task(self._uplink_forever(), name="edge-uplink")
                tasks.create_task(self._detect_tick_forever(), name="edge-detect-tick")
                tasks.create_task(self._heartbeat(), name="edge-heartbeat")
                tasks.create_task(self._telemetry_loop(), name="edge-telemetry")
                tasks.create_task(self.access.run(), name="edge-access")
                if self.cameras is not None:
                    tasks.create_task(self.cameras.run(), name="edge-cameras")
        finally:
            self._db_thread.shutdown(wait=True)
            self.outbox.close()
            logger.info("edge %s stopped", self.edge_id)

    # --- local broker: devices in --------------------------------------------------------

    async def _ingest_forever(self) -> None:
        s = self.settings
        backoff = Backoff(rng=self._rng)
        while True:
            client = aiomqtt.Client(
                s.local_mqtt_host,
                s.local_mqtt_port,
                identifier=f"linli-edge-{self.edge_id}-local",
                socket_options=LOW_LATENCY,
                clean_session=False,
                timeout=s.mqtt_timeout_s,
            )
            _use_manual_ack(client)
            session = ConsumingSession(
                client,
                device_subscriptions(z2m_base=s.z2m_base),
                functools.partial(self._read_devices, client),
                timeout=s.mqtt_timeout_s,
                name="edge-ingest",
            )
            try:
                async with client:
                    self._count("local_connects")
                    backoff.reset()
                    # Before the reader starts: it relays SOS feedback through this client.
                    self._local = client
                    async with session:
                        _checkpoint()
                        self._local_ready = True
                        logger.info(
                            "edge %s reading devices on %s:%s", self.edge_id, *_at(s, "local")
                        )
                        await session.serve()
            except aiomqtt.MqttError as exc:
                logger.warning("local broker %s:%s: %s; reconnecting", *_at(s, "local"), exc)
            except OutboxError:
                # Not acknowledged: the broker redelivers the message after the reconnect.
                self._count("outbox_errors")
                logger.exception("cannot store alerts in the outbox; retrying")
            except Exception:
                logger.exception("device ingest failed; reconnecting")
            finally:
                self._local_ready = False
                self._local = None
            _checkpoint()
            await asyncio.sleep(backoff.next_delay())

    async def _read_devices(
        self, client: aiomqtt.Client, messages: AsyncIterator[aiomqtt.Message]
    ) -> None:
        """Handle device messages, each acknowledged to the broker only once handled."""
        async for message in messages:
            _checkpoint()
            await self._on_device_message(message)
            _ack(client, message)
            # The resident learns at once that the edge has it, uplink or not.
            while self._pending_feedback:
                await self._send_feedback(*self._pending_feedback.popleft())

    async def _on_device_message(self, message: aiomqtt.Message) -> None:
        """Handle one device message; return once it may be acknowledged to the broker."""
        received_at = self._clock()
        topic = message.topic.value
        self._count("messages_received")
        logger.debug("device message %d on %s (QoS %d)", message.mid, topic, message.qos)
        if self.access.is_credential_topic(topic):
            await self.access.on_frame(topic, message.payload)
            return
        try:
            decoded = decode(
                topic,
                _payload_bytes(message.payload),
                z2m_base=self.settings.z2m_base,
                max_bytes=self.settings.max_payload_bytes,
            )
        except DeviceInputError as exc:
            self._reject(exc.reason, topic, exc)
            return
        except Exception as exc:
            # A bug, not bad input. Acknowledge anyway: a message that crashes the loop on
            # every redelivery would block every alarm behind it.
            logger.exception("decoding the message on %s failed", topic)
            self._reject("internal_error", topic, exc)
            return
        if decoded is None:
            # A Zigbee device (re)joining, for the SOS uncommanded-press rule; other bridge
            # messages, and announces of devices this edge does not serve, are ignored.
            decoded = decode_bridge_event(
                topic,
                _payload_bytes(message.payload),
                z2m_base=self.settings.z2m_base,
                max_bytes=self.settings.max_payload_bytes,
            )
            if decoded is None or self.directory.resolve(decoded.address) is None:
                self._count("messages_ignored")
                return
        device = self.directory.resolve(decoded.address)
        if device is None:
            self._reject("unknown_device", topic, "not registered at this edge")
            return
        await self._observe(device, decoded.observations, received_at, topic)
        await self.access.on_observations(device, decoded.observations, received_at)

    async def _observe(
        self,
        device: Device,
        observations: tuple[Observation, ...],
        received_at: datetime,
        topic: str,
    ) -> None:
        async with self._detecting:
            before = self._states.get(device.id, DeviceState())
            try:
                state, alerts, self_tests = self._decide(before, device, observations, received_at)
            except Exception as exc:
                # A bug, not bad input; acknowledged for the same reason as in decoding.
                logger.exception("detection failed for device %s", device.id)
                self._reject("internal_error", topic, exc)
                return
            if alerts or state != before:
                # Invariants (a) and (b): alerts and the state that produced them in one
                # transaction, before the message is acknowledged and before anything is
                # sent. An OutboxError propagates: the message stays unacknowledged.
                await self._in_db(self.outbox.commit, device.id, state.to_json(), alerts)
                self._states[device.id] = state
        for observation in observations:
            if isinstance(observation, StateUpdate):
                self._buffer_telemetry(device, observation, received_at)
        if self_tests:
            self._count("smoke_tests", self_tests)
            logger.info("smoke detector %s reports a self-test (not an alarm)", device.id)
        self._announce(alerts)
        if any(a.kind is AlertKind.SOS and a.state is AlertState.RAISED for a in alerts):
            # Shown once the device message is acknowledged (see _ingest_forever): an await
            # before the ack would widen the window in which a crash redelivers the press.
            self._pending_feedback.append((device, FeedbackStage.RECEIVED))
        elif any(a.kind is AlertKind.SOS and a.state is AlertState.CLEARED for a in alerts):
            self._pending_feedback.append((device, FeedbackStage.CANCELLED))

    def _announce(self, alerts: list[Alert]) -> None:
        if alerts:
            self._count("alerts_created", len(alerts))
            for alert in alerts:
                logger.info(
                    "alert %s: %s %s (%s) from %s",
                    alert.id,
                    alert.kind,
                    alert.state,
                    alert.severity,
                    alert.device_id,
                )
            self._wake.set()

    async def _relay_feedback(self, feedback: CaseFeedback) -> None:
        device = self.directory.resolve(NativeAddress(feedback.device_id))
        if device is None:
            self._count("uplink_rejected")
            logger.warning("feedback for unknown device %s ignored", feedback.device_id)
            return
        await self._send_feedback(device, feedback.stage)

    async def _send_feedback(self, device: Device, stage: FeedbackStage) -> None:
        """Show ``stage`` on the device; never let a failure here hold up alerts."""
        command = feedback_command(device, stage, z2m_base=self.settings.z2m_base)
        if command is None:
            return
        client = self._local
        if client is None:
            self._count("feedback_unsent")
            logger.warning("no local broker: %s feedback to %s not shown", stage, device.id)
            return
        try:
            await client.publish(command.topic, command.payload, qos=1)
        except aiomqtt.MqttError as exc:
            self._count("feedback_unsent")
            logger.warning("%s feedback to %s failed: %s", stage, device.id, exc)
            return
        self._count(f"feedback.{stage}")
        logger.info("feedback %s shown on %s", stage, device.id)

    def _decide(
        self,
        state: DeviceState,
        device: Device,
        observations: tuple[Observation, ...],
        received_at: datetime,
    ) -> tuple[DeviceState, list[Alert], int]:
        """Run detection over one message's observations; return state, alerts, self-tests."""
        decisions: list[AlertDecision] = []
        self_tests = 0
        for observation in observations:
            event_time = _event_time(observation) or received_at
            result = detect(
                state,
                device,
                observation,
                event_time,
                self.profiles.for_device(device),
                received_at=received_at,
            )
            state = result.state
            decisions.extend(result.alerts)
            self_tests += result.self_test
        # One message is one instant: let its life-safety alerts lead (a Zigbee SOS button's
        # press and its low battery arrive together). The sort is stable, so alerts of one
        # kind keep their order.
        decisions.sort(key=lambda decision: forwarding_rank(decision.kind))
        detected_at = self._clock()
        return state, [self._alert(device, d, detected_at) for d in decisions], self_tests

    async def _detect_tick_forever(self) -> None:
        while True:
            _checkpoint()
            await asyncio.sleep(self.settings.detection_tick_s)
            try:
                await self.detect_tick()
            except OutboxError:
                # The states stay as they were: the next tick decides the same again.
                self._count("outbox_errors")
                logger.exception("cannot store time-driven alerts in the outbox; retrying")
            except Exception:
                # A bug: log it and tick again, never take the whole agent down with it.
                logger.exception("time-driven detection failed")

    async def detect_tick(self) -> None:
        """Run time-driven detection for every known device, at the clock's now."""
        async with self._detecting:
            now = self._clock()
            for device in self.directory.devices():
                before = self._states.get(device.id, DeviceState())
                try:
                    result: Detection = tick(
                        before,
                        device,
                        now,
                        self.profiles.for_device(device),
                        watching_since=self._watching_since,
                    )
                except Exception:
                    logger.exception("time-driven detection failed for device %s", device.id)
                    continue
                if not result.alerts:
                    continue  # a tick changes state only together with an alert
                decisions = sorted(result.alerts, key=lambda d: forwarding_rank(d.kind))
                alerts = [self._alert(device, d, now) for d in decisions]
                await self._in_db(self.outbox.commit, device.id, result.state.to_json(), alerts)
                self._states[device.id] = result.state
                self._announce(alerts)

    async def _commit_camera_alerts(
        self, device: Device, decisions: list[AlertDecision]
    ) -> list[Alert]:
        """Store a camera's alert decisions in the outbox, like a device's; return the alerts."""
        alerts = [self._alert(device, d, self._clock()) for d in decisions]
        async with self._detecting:
            # A camera has no sensor detection state: its current one is stored unchanged.
            state = self._states.get(device.id, DeviceState())
            await self._in_db(self.outbox.commit, device.id, state.to_json(), alerts)
        self._announce(alerts)
        return alerts

    async def _camera_seen(self, device: Device) -> None:
        """Record that a camera delivers frames, as an availability check-in."""
        await self._observe(
            device, (AvailabilityChange(online=True),), self._clock(), f"camera/{device.id}"
        )

    def _alert(self, device: Device, decision: AlertDecision, detected_at: datetime) -> Alert:
        return Alert(
            id=uuid.uuid4().hex,
            edge_id=self.edge_id,
            device_id=device.id,
            kind=decision.kind,
            state=decision.state,
            severity=decision.severity,
            ts=decision.event_time,
            detected_at=detected_at,
            location=device.location,
            reason=decision.reason,
        )

    def _reject(self, reason: str, topic: str, error: object) -> None:
        self._count(f"rejected.{reason}")
        logger.warning(
            "rejected %s from device %s on %s: %s",
            reason,
            _sender(topic, self.settings.z2m_base),
            topic,
            error,
        )

    def _buffer_telemetry(self, device: Device, update: StateUpdate, received_at: datetime) -> None:
        if len(self._telemetry) >= TELEMETRY_BUFFER:
            self._telemetry.popleft()
            self._count("telemetry_dropped")
        ts = update.event_time or received_at
        self._telemetry.append(TelemetryPoint(device_id=device.id, ts=ts, readings=update.readings))

    def _load_states(self) -> dict[str, DeviceState]:
        states: dict[str, DeviceState] = {}
        for device_id, text in self.outbox.load_states().items():
            try:
                states[device_id] = DeviceState.from_json(text)
            except StateFormatError:
                # Starting from "all clear" can repeat a raised alert; it cannot hide one.
                logger.exception("device %s: stored detection state unreadable; reset", device_id)
        return states

    # --- hub broker: alerts out, acks and registry in ------------------------------------

    async def _uplink_forever(self) -> None:
        s = self.settings
        backoff = Backoff(rng=self._rng)
        while True:
            client = aiomqtt.Client(
                s.hub_mqtt_host,
                s.hub_mqtt_port,
                identifier=f"linli-edge-{self.edge_id}",
                socket_options=LOW_LATENCY,
                clean_session=False,
                will=aiomqtt.Will(
                    self._topic(EdgeChannel.STATUS),
                    self._status("offline", 0).model_dump_json(),
                    qos=1,
                    retain=True,
                ),
                timeout=s.mqtt_timeout_s,
            )
            # The forwarder publishes a whole window at once; that many pending calls is
            # the design, not a symptom worth aiomqtt's warning.
            client.pending_calls_threshold = s.max_in_flight + 10
            try:
                async with client:
                    backoff.reset()
                    await self._serve_uplink(client)
            except (aiomqtt.MqttError, OSError) as exc:
                logger.warning("hub broker %s:%s: %s; reconnecting", *_at(s, "hub"), exc)
            except OutboxError:
                logger.exception("outbox failed while forwarding; reconnecting")
            except Exception:
                logger.exception("uplink failed; reconnecting")
            finally:
                self._uplink = None
            _checkpoint()
            await asyncio.sleep(backoff.next_delay())

    async def _serve_uplink(self, client: aiomqtt.Client) -> None:
        session = ConsumingSession(
            client,
            [
                self._topic(EdgeChannel.ACK),
                self._topic(EdgeChannel.DEVICES),
                self._topic(EdgeChannel.FEEDBACK),
                HUB_STATUS_TOPIC,
            ],
            self._read_uplink,
            timeout=self.settings.mqtt_timeout_s,
            name="edge-uplink",
        )
        async with session:
            # Whatever was on the wire before this connection may be lost: send it all again.
            await self._in_db(self.outbox.reset_in_flight)
            await self._publish_status(client)
            _checkpoint()
            self._uplink = client
            logger.info(
                "edge %s connected to the hub broker %s:%s",
                self.edge_id,
                *_at(self.settings, "hub"),
            )
            try:
                await session.serve(self._forward(client))
            except asyncio.CancelledError:
                await self._say_offline(client)
                raise

    async def _say_offline(self, client: aiomqtt.Client) -> None:
        """Publish the retained offline status: a clean disconnect suppresses the last will."""
        self._uplink = None
        with suppress(aiomqtt.MqttError, TimeoutError):
            async with asyncio.timeout(OFFLINE_STATUS_TIMEOUT_S):
                status = await self._status_now("offline")
                await client.publish(
                    self._topic(EdgeChannel.STATUS), status.model_dump_json(), qos=1, retain=True
                )

    async def _forward(self, client: aiomqtt.Client) -> None:
        topic = self._topic(EdgeChannel.ALERT)
        while True:
            _checkpoint()
            self._wake.clear()
            now = self._monotonic()
            batch = await self._in_db(self.outbox.due, now, self.settings.max_in_flight)
            if batch:
                await self._in_db(self.outbox.mark_sent, [a.id for a in batch], now)
                # All at once: paho queues them in this order, so per-device order holds on
                # the wire, and one slow broker round trip does not serialise the window.
                results = await asyncio.gather(
                    *(client.publish(topic, a.model_dump_json(), qos=1) for a in batch),
                    return_exceptions=True,
                )
                for result in results:
                    if isinstance(result, BaseException):
                        raise result
                self._count("alerts_sent", len(batch))
                continue
            with suppress(TimeoutError):
                async with asyncio.timeout(self._tick_s):
                    await self._wake.wait()

    async def _read_uplink(self, messages: AsyncIterator[aiomqtt.Message]) -> None:
        ack_topic = self._topic(EdgeChannel.ACK)
        devices_topic = self._topic(EdgeChannel.DEVICES)
        feedback_topic = self._topic(EdgeChannel.FEEDBACK)
        hub_online: bool | None = None
        async for message in messages:
            topic = message.topic.value
            payload = _payload_bytes(message.payload)
            try:
                if topic == ack_topic:
                    await self._on_ack(AlertAck.model_validate_json(payload))
                elif topic == feedback_topic:
                    await self._relay_feedback(CaseFeedback.model_validate_json(payload))
                elif topic == devices_topic:
                    self._on_registry(payload)
                elif topic == HUB_STATUS_TOPIC:
                    online = HubStatus.model_validate_json(payload).state == "online"
                    if online and hub_online is False:
                        # The hub came back: whatever it had not acknowledged may have been
                        # lost with it, so do not wait for resend_after_s.
                        logger.info("hub is online again; resending unacknowledged alerts")
                        await self._in_db(self.outbox.reset_in_flight)
                        self._wake.set()
                    hub_online = online
            except ValidationError as exc:
                self._count("uplink_rejected")
                logger.warning("rejected a message from the hub on %s: %s", topic, exc)

    async def _on_ack(self, ack: AlertAck) -> None:
        deleted = await self._in_db(self.outbox.acknowledge, ack.ids)
        self._count("alerts_acked", deleted)
        logger.debug("hub acknowledged %d alerts (%d were still stored)", len(ack.ids), deleted)
        self._wake.set()

    def _on_registry(self, payload: bytes) -> None:
        if not payload:
            # The hub cleared its retained registry; the site file's devices remain.
            self.directory.replace_hub_devices([])
            return
        registry = DeviceRegistry.model_validate_json(payload)
        if registry.edge_id != self.edge_id:
            self._count("uplink_rejected")
            logger.warning("ignored a device registry for edge %s", registry.edge_id)
            return
        self.directory.replace_hub_devices(registry.devices)
        logger.info("hub pushed %d devices; %d known", len(registry.devices), len(self.directory))

    # --- liveness and telemetry ------------------------------------------------------------

    async def _heartbeat(self) -> None:
        while True:
            _checkpoint()
            await asyncio.sleep(self.settings.heartbeat_s)
            client = self._uplink
            if client is None:
                continue
            try:
                await self._publish_status(client)
            except aiomqtt.MqttError as exc:
                logger.warning("heartbeat not sent: %s", exc)
            except Exception:
                # Best effort: a heartbeat must never take the agent down with it.
                logger.exception("heartbeat failed")

    async def _telemetry_loop(self) -> None:
        topic = self._topic(EdgeChannel.TELEMETRY)
        while True:
            _checkpoint()
            await asyncio.sleep(self.settings.telemetry_interval_s)
            client = self._uplink
            while client is not None and self._telemetry:
                count = min(len(self._telemetry), TELEMETRY_BATCH)
                points = [self._telemetry.popleft() for _ in range(count)]
                batch = TelemetryBatch(edge_id=self.edge_id, points=points)
                try:
                    await client.publish(topic, batch.model_dump_json(), qos=0)
                except aiomqtt.MqttError as exc:
                    self._count("telemetry_dropped", len(points))
                    logger.warning("telemetry batch of %d readings dropped: %s", len(points), exc)
                    break
                self._count("telemetry_sent", len(points))

    async def _publish_status(self, client: aiomqtt.Client) -> None:
        status = await self._status_now("online")
        await client.publish(
            self._topic(EdgeChannel.STATUS), status.model_dump_json(), qos=1, retain=True
        )

    async def _status_now(self, state: Literal["online", "offline"]) -> EdgeStatus:
        depth = await self._in_db(self.outbox.depth)
        return self._status(state, depth, ts=self._clock())

    def _status(
        self,
        state: Literal["online", "offline"],
        depth: int,
        ts: datetime | None = None,
    ) -> EdgeStatus:
        return EdgeStatus(
            edge_id=self.edge_id,
            state=state,
            ts=ts,
            outbox_depth=depth,
            devices=self.site_devices,
            counters=dict(self.counters),
        )

    # --- small helpers -----------------------------------------------------------------------

    def _topic(self, channel: EdgeChannel) -> str:
        return edge_topic(self.edge_id, channel)

    def _count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    async def _in_db(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._db_thread, functools.partial(fn, *args, **kwargs))


def _checkpoint() -> None:
    """Raise CancelledError if this task was asked to stop, even if an await swallowed it.

    On CPython 3.11 ``asyncio.wait_for`` (which aiomqtt uses for every call) swallows a
    cancellation that races with its result, and aiomqtt's ``__aexit__`` can replace a
    cancellation with a disconnect timeout that the reconnect loops catch. Either would keep
    a cancelled agent running forever, so every loop calls this once per turn.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _event_time(observation: Observation) -> datetime | None:
    match observation:
        case StateUpdate(event_time=t) | DeviceEvent(event_time=t):
            return t
        case AvailabilityChange():
            return None
    raise AssertionError(f"unhandled observation {observation!r}")  # pragma: no cover


def _payload_bytes(payload: PayloadType) -> bytes:
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, bytearray):
        return bytes(payload)
    return b"" if payload is None else str(payload).encode()


def _sender(topic: str, z2m_base: str) -> str:
    """Return the device id or Zigbee name a topic names, for logs; '?' if none."""
    try:
        parsed = parse_device_topic(topic, z2m_base=z2m_base)
    except TopicError:
        return "?"
    if isinstance(parsed, NativeTopic):
        return parsed.device_id
    if isinstance(parsed, ZigbeeTopic):
        return parsed.friendly_name
    return "?"


def _at(settings: EdgeSettings, broker: Literal["local", "hub"]) -> tuple[str, int]:
    if broker == "local":
        return settings.local_mqtt_host, settings.local_mqtt_port
    return settings.hub_mqtt_host, settings.hub_mqtt_port
