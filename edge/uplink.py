"""The uplink: the edge's link to the hub's broker.

- out: alerts from the outbox in life-safety order with a bounded window (``_forward``),
  re-sent until the hub's ``AlertAck`` names them, packed into ``AlertBatch`` messages when
  the hub's retained status says it takes them (``pack_alerts``), else one per message; the
  retained ``EdgeStatus`` (last will: offline) at connect and every ``heartbeat_s``, only
  while the edge's own loops run (``edge.liveness``: a stuck edge goes silent); buffered
  readings as a ``TelemetryBatch`` every ``telemetry_interval_s`` (best effort, QoS 0);
- in: ``AlertAck`` (delete from the outbox; a resident's press has reached the hub:
  ``edge.sos_watch``), ``DeviceRegistry`` (the hub's devices for this
  edge), ``CaseFeedback`` (shown on the resident's button) and the hub's status (when the hub
  comes back, everything unacknowledged is sent again at once).
"""

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import aiomqtt
from pydantic import ValidationError

from devices.messages import (
    AlertAck,
    AlertBatch,
    CaseFeedback,
    Checkin,
    DeviceRegistry,
    EdgeStatus,
    HubStatus,
    TelemetryBatch,
    TelemetryPoint,
)
from devices.mqtt_link import (
    Backoff,
    MqttEndpoint,
    MqttLink,
    SessionMessages,
    checkpoint,
    payload_bytes,
)
from devices.mqtt_paho import publish_queued, write_now
from devices.observations import Observation, StateUpdate
from devices.registry import Device
from devices.topics import HUB_STATUS_TOPIC, EdgeChannel, edge_topic
from edge.directory import DeviceDirectory
from edge.handoff import HandOff, Taking
from edge.outbox import Outbox, OutgoingAlert
from edge.settings import EdgeSettings
from edge.sqlite_tx import DatabaseThread

logger = logging.getLogger(__name__)

TELEMETRY_BUFFER = 10_000
"""Readings kept for the telemetry task; older ones are dropped (and counted) beyond this."""
TELEMETRY_BATCH = 500
"""Readings per TelemetryBatch message."""
ACK_GROUP = 2000
"""Most acknowledged alert ids deleted from the outbox in one transaction."""
OFFLINE_STATUS_TIMEOUT_S = 2.0
"""How long a clean shutdown waits to tell the hub it is going offline."""

CountFn = Callable[[str, int], None]


class TelemetryBuffer:
    """Readings waiting for the next telemetry batch; the oldest go first when it is full."""

    def __init__(self, count: CountFn, limit: int = TELEMETRY_BUFFER) -> None:
        self._points: deque[TelemetryPoint] = deque()
        self._count = count
        self._limit = limit

    def add(self, device: Device, observations: Iterable[tuple[Observation, datetime]]) -> None:
        """Keep the readings among a message's observations, each at its event time as
        detection took it (``DeviceDetection.event_time``: a device's own time bounded by the
        edge's clock, as docs/contract.md section 2 says; a clock never set is not believed)."""
        for observation, ts in observations:
            if not isinstance(observation, StateUpdate):
                continue
            if len(self._points) >= self._limit:
                self._points.popleft()
                self._count("telemetry_dropped", 1)
            self._points.append(
                TelemetryPoint(device_id=device.id, ts=ts, readings=observation.readings)
            )

    def take(self, most: int) -> list[TelemetryPoint]:
        """Remove and return up to ``most`` readings, oldest first."""
        return [self._points.popleft() for _ in range(min(most, len(self._points)))]

    def __len__(self) -> int:
        return len(self._points)


@dataclass(frozen=True, slots=True)
class HubTerms:
    """How the hub takes alerts, from its retained ``HubStatus``: batches of at most
    ``batch_max`` alerts and ``batch_bytes`` bytes, or (0) one alert per message."""

    batch_max: int = 0
    batch_bytes: int = 0

    @classmethod
    def of(cls, status: HubStatus) -> "HubTerms":
        """Return the terms a hub's status states (none while it is offline)."""
        if status.state != "online" or status.alert_batch_max < 2:
            return cls()
        return cls(status.alert_batch_max, status.alert_batch_bytes)


def pack_alerts(
    edge_id: str, alerts: Sequence[OutgoingAlert], terms: HubTerms
) -> list[tuple[EdgeChannel, str]]:
    """Return the uplink messages that carry ``alerts`` in their order: ``AlertBatch`` payloads
    within the hub's terms, or one ``Alert`` each (a hub that takes no batches, or an alert
    too large for a batch).

    The stored JSON bodies are joined as they are, not parsed and serialised again.
    """
    if terms.batch_max < 2:
        return [(EdgeChannel.ALERT, alert.body) for alert in alerts]
    tail = "]}"
    head = AlertBatch(edge_id=edge_id, alerts=[]).model_dump_json()[: -len(tail)]
    empty = len(head) + len(tail)
    messages: list[tuple[EdgeChannel, str]] = []
    bodies: list[str] = []
    size = empty

    def flush() -> None:
        nonlocal bodies, size
        if bodies:
            messages.append((EdgeChannel.ALERTS, head + ",".join(bodies) + tail))
        bodies, size = [], empty

    for alert in alerts:
        length = len(alert.body.encode()) + 1  # and its comma
        if empty + length > terms.batch_bytes:  # too large for any batch: on its own
            flush()
            messages.append((EdgeChannel.ALERT, alert.body))
            continue
        if len(bodies) == terms.batch_max or size + length > terms.batch_bytes:
            flush()
        bodies.append(alert.body)
        size += length
    flush()
    return messages


class EdgeUplink:
    """The edge's session with the hub's broker; ``await run()`` reconnects forever."""

    def __init__(
        self,
        endpoint: MqttEndpoint,
        settings: EdgeSettings,
        *,
        edge_id: str,
        site_devices: list[Device],
        directory: DeviceDirectory,
        outbox: Outbox,
        db: DatabaseThread,
        wake: asyncio.Event,
        handoff: HandOff,
        telemetry: TelemetryBuffer,
        relay_feedback: Callable[[CaseFeedback], Awaitable[None]],
        on_acked: Callable[[Sequence[str]], None] | None = None,
        checkins: Callable[[], dict[str, Checkin]],
        in_memory: Callable[[], list[str]] = list,
        vouch: Callable[[], bool],
        counters: Mapping[str, int],
        count: CountFn,
        clock: Callable[[], datetime],
        monotonic: Callable[[], float],
        backoff_rng: Callable[[], float],
    ) -> None:
        self.edge_id = edge_id
        self._settings = settings
        self._site_devices = site_devices
        self._directory = directory
        self._outbox = outbox
        self._db = db
        self._wake = wake
        self._handoff = handoff
        self._alert_topics = {c: self._topic(c) for c in (EdgeChannel.ALERT, EdgeChannel.ALERTS)}
        self._telemetry = telemetry
        self._relay_feedback = relay_feedback
        self._on_acked = on_acked
        self._connected_again = asyncio.Event()
        """Set at each connection to the hub's broker: the heartbeat says the status once more
        ``status_again_after_s`` later (``heartbeat``)."""
        """Told of every acknowledged id: a resident's press reached the hub (edge.sos_watch)."""
        self._checkins = checkins
        self._in_memory = in_memory
        self._vouch = vouch
        """Whether the edge's own loops run, so that it may say ``online`` (edge.liveness)."""
        self._counters = counters
        self._count = count
        self._clock = clock
        self._monotonic = monotonic
        # A resend is due resend_after_s after the send; check a few times within that.
        self._tick_s = min(1.0, max(0.05, settings.resend_after_s / 4))
        self.client: aiomqtt.Client | None = None
        """The connected client, or None while the uplink is down."""
        self._hub = HubTerms()
        """How the hub takes alerts (its retained status says; until then, one by one)."""
        self._link = MqttLink(
            endpoint,
            name="edge-uplink",
            backoff=Backoff(rng=backoff_rng),
            will=aiomqtt.Will(
                self._topic(EdgeChannel.STATUS),
                self._status("offline", 0).model_dump_json(),
                qos=1,
                retain=True,
            ),
        )

    async def run(self) -> None:
        """Forward alerts and read the hub's messages until cancelled."""
        await self._link.run(self._connection)

    async def _connection(self, client: aiomqtt.Client) -> None:
        filters = [
            self._topic(EdgeChannel.ACK),
            self._topic(EdgeChannel.DEVICES),
            self._topic(EdgeChannel.FEEDBACK),
            HUB_STATUS_TOPIC,
        ]
        try:
            async with self._link.session(client, filters, self._read) as session:
                # Whatever was on the wire before this connection may be lost: send it all.
                await self._db.call(self._outbox.reset_in_flight)
                await self._publish_status(client)
                checkpoint()
                self.client = client
                self._connected_again.set()
                endpoint = self._link.endpoint
                logger.info(
                    "edge %s connected to the hub broker %s:%s",
                    self.edge_id,
                    endpoint.host,
                    endpoint.port,
                )
                try:
                    await session.serve(self._forward(client))
                except asyncio.CancelledError:
                    await self._say_offline(client)
                    raise
        finally:
            self.client = None
            # The next broker may front another hub: its retained status says again.
            self._hub = HubTerms()

    async def _say_offline(self, client: aiomqtt.Client) -> None:
        """Publish the retained offline status: a clean disconnect suppresses the last will."""
        self.client = None
        with suppress(aiomqtt.MqttError, TimeoutError):
            async with asyncio.timeout(OFFLINE_STATUS_TIMEOUT_S):
                status = await self._status_now("offline")
                await client.publish(
                    self._topic(EdgeChannel.STATUS), status.model_dump_json(), qos=1, retain=True
                )

    async def _forward(self, client: aiomqtt.Client) -> None:
        taking = Taking(
            self._monotonic,
            self._settings.max_in_flight,
            lambda batch: self._send_taken(client, batch),
        )
        while True:
            checkpoint()
            self._wake.clear()
            now = self._monotonic()
            batch = await self._db.call(self._outbox.take_due, now, self._settings.max_in_flight)
            if batch:
                self._send(client, batch)
            # Taken: everything due, or the window is full until an ack wakes us. Meanwhile
            # a commit takes and sends its own alerts (edge.handoff).
            self._handoff.offer(taking)
            try:
                with suppress(TimeoutError):
                    async with asyncio.timeout(self._tick_s):
                        await self._wake.wait()
            finally:
                self._handoff.withdraw()

    def _send(self, client: aiomqtt.Client, batch: Sequence[OutgoingAlert]) -> None:
        """Publish taken alerts, in order.

        The whole window at once: paho sends them in this order, so per-device order holds on
        the wire. No waiting for each PUBACK: the hub's AlertAck is what deletes an alert, and
        what it never acknowledges is sent again (resend_after_s, a reconnect, the hub back
        online).
        """
        for channel, payload in pack_alerts(self.edge_id, batch, self._hub):
            publish_queued(client, self._alert_topics[channel], payload, qos=1)
        write_now(client)
        self._count("alerts_sent", len(batch))

    def _send_taken(self, client: aiomqtt.Client, batch: Sequence[OutgoingAlert]) -> bool:
        """Send what a commit took (``edge.handoff``); False if this connection is gone."""
        if self.client is not client:
            return False
        try:
            self._send(client, batch)
        except aiomqtt.MqttError as exc:
            logger.info("could not send %d alerts as they were stored: %s", len(batch), exc)
            return False
        self._count("alerts_sent_at_commit", len(batch))
        return True

    async def _read(self, messages: SessionMessages) -> None:
        ack_topic = self._topic(EdgeChannel.ACK)
        devices_topic = self._topic(EdgeChannel.DEVICES)
        feedback_topic = self._topic(EdgeChannel.FEEDBACK)
        hub_online: bool | None = None
        acked: list[str] = []
        async for message in messages:
            topic = message.topic.value
            payload = payload_bytes(message.payload) or b""
            try:
                if topic == ack_topic:
                    acked.extend(AlertAck.model_validate_json(payload).ids)
                elif topic == feedback_topic:
                    await self._relay_feedback(CaseFeedback.model_validate_json(payload))
                elif topic == devices_topic:
                    self._on_registry(payload)
                elif topic == HUB_STATUS_TOPIC:
                    hub_status = HubStatus.model_validate_json(payload)
                    online = hub_status.state == "online"
                    self._hub = HubTerms.of(hub_status)
                    if online and hub_online is False:
                        # The hub came back: whatever it had not acknowledged may have been
                        # lost with it, so do not wait for resend_after_s.
                        logger.info("hub is online again; resending unacknowledged alerts")
                        await self._db.call(self._outbox.reset_in_flight)
                        self._wake.set()
                    hub_online = online
            except ValidationError as exc:
                self._count("uplink_rejected", 1)
                logger.warning("rejected a message from the hub on %s: %s", topic, exc)
            if acked and (len(messages) == 0 or len(acked) >= ACK_GROUP):
                # Every ack that arrived together is one delete, not one transaction each.
                await self._on_ack(acked)
                acked = []

    async def _on_ack(self, ids: list[str]) -> None:
        settled = await self._db.call(self._outbox.settle, ids, self._monotonic())
        if self._on_acked is not None:
            self._on_acked(ids)
        self._count("alerts_acked", settled.deleted)
        logger.debug("hub acknowledged %d alerts (%d were still stored)", len(ids), settled.deleted)
        # The room the ack freed is for alerts that wait (stored while the window was full).
        # None waiting, the forwarder has nothing to take: waking it would cost a read of the
        # outbox per ack. What is on the wire unacknowledged is the tick's to send again.
        if settled.waiting:
            self._wake.set()

    def _on_registry(self, payload: bytes) -> None:
        if not payload:
            # The hub cleared its retained registry; the site file's devices remain.
            self._directory.replace_hub_devices([])
            return
        registry = DeviceRegistry.model_validate_json(payload)
        if registry.edge_id != self.edge_id:
            self._count("uplink_rejected", 1)
            logger.warning("ignored a device registry for edge %s", registry.edge_id)
            return
        self._directory.replace_hub_devices(registry.devices)
        logger.info("hub pushed %d devices; %d known", len(registry.devices), len(self._directory))

    # --- liveness and telemetry ------------------------------------------------------------

    async def heartbeat(self) -> None:
        """Publish the edge's status every ``heartbeat_s`` while connected, and once more
        ``status_again_after_s`` after each connection; until cancelled.

        Withheld (counted ``heartbeats_withheld``) while a loop of the edge is stuck
        (``edge.liveness``): the hub raises ``edge_offline`` for an edge gone silent, and
        clears it at the next status, once the loop runs again.
        """
        loop = asyncio.get_running_loop()
        next_beat = loop.time() + self._settings.heartbeat_s
        again_at: float | None = None
        while True:
            checkpoint()
            try:
                async with asyncio.timeout_at(min(next_beat, again_at or next_beat)):
                    await self._connected_again.wait()
                # Connected (again): its status at connect may be refused as late behind its
                # last will (``status_again_after_s``): say it once more, beside the beats.
                self._connected_again.clear()
                again_at = loop.time() + self._settings.status_again_after_s
                continue
            except TimeoutError:
                pass
            now = loop.time()
            if again_at is not None and now >= again_at:
                again_at = None
            if now >= next_beat:
                next_beat = now + self._settings.heartbeat_s
            client = self.client
            if client is None:
                self._vouch()  # a stuck loop is logged with the uplink down too
                continue
            try:
                await self._publish_status(client)
            except aiomqtt.MqttError as exc:
                logger.warning("heartbeat not sent: %s", exc)
            except Exception:
                # Best effort: a heartbeat must never take the agent down with it.
                logger.exception("heartbeat failed")

    async def send_telemetry(self) -> None:
        """Send the buffered readings every ``telemetry_interval_s``; until cancelled."""
        topic = self._topic(EdgeChannel.TELEMETRY)
        while True:
            checkpoint()
            await asyncio.sleep(self._settings.telemetry_interval_s)
            client = self.client
            while client is not None and self._telemetry:
                points = self._telemetry.take(TELEMETRY_BATCH)
                batch = TelemetryBatch(edge_id=self.edge_id, points=points)
                try:
                    await client.publish(topic, batch.model_dump_json(), qos=0)
                except aiomqtt.MqttError as exc:
                    self._count("telemetry_dropped", len(points))
                    logger.warning("telemetry batch of %d readings dropped: %s", len(points), exc)
                    break
                self._count("telemetry_sent", len(points))
                # A burst's readings make several batches: device messages and alerts go
                # between them, not after all of them.
                await asyncio.sleep(0)

    async def _publish_status(self, client: aiomqtt.Client) -> None:
        """Publish ``online``, unless a loop of the edge is stuck: then say nothing."""
        if not self._vouch():
            self._count("heartbeats_withheld", 1)
            return
        status = await self._status_now("online")
        await client.publish(
            self._topic(EdgeChannel.STATUS), status.model_dump_json(), qos=1, retain=True
        )

    async def _status_now(self, state: Literal["online", "offline"]) -> EdgeStatus:
        depth = await self._db.call(self._outbox.depth)
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
            # The site file's devices, and the detectors found unregistered (edge.discovery):
            # the hub registers them at their discovered place, for an operator to place. And
            # the site's Zigbee bridges once heard (edge.zigbee_bridge), for their alerts.
            devices=[
                *self._site_devices,
                *self._directory.discovered_devices(),
                *self._directory.bridges(),
            ],
            # The outbox counts its own failures (it moved into memory: edge.outbox, (g)).
            counters={**self._counters, **self._outbox.counters},
            checkins=self._checkins() if state == "online" else {},
            in_memory=self._in_memory(),
            heartbeat_s=self._settings.heartbeat_s,
        )

    def _topic(self, channel: EdgeChannel) -> str:
        return edge_topic(self.edge_id, channel)
