"""MQTT ingest: edges' alerts, statuses and telemetry into the database, acknowledgements back.

Delivery from an edge is reliable end to end, not per MQTT hop: the edge keeps each alert in
a durable outbox until an ``AlertAck`` naming it arrives, and re-sends what stays
unacknowledged. So the hub acknowledges an alert only after the transaction that stored it
has committed, and storing is idempotent (the alert id is the primary key): a re-sent alert
is a duplicate, acknowledged again, with no second case.

One loop reads a message, takes whatever else is already queued (up to ``ingest_batch_max``
alerts' worth: an edge packs up to ``alert_batch_max`` alerts into one ``AlertBatch`` message
when the hub's retained status says it takes them; fair between edges when more waits, see
``hub.ingest.receive_queue``) and handles the take as
``hub.ingest.lanes.plan_take`` orders it: the alerts first, most urgent device first, in one
transaction, acknowledged once it committed; then the statuses, only the latest of each edge,
kept pending across takes: at least one is written after each take, more only while no message
waits (a status goes ahead of the alerts only when it registers a device one of them is about).
A pending status lost with the process is not lost to the hub: statuses are retained on the
broker and sent again every heartbeat. Telemetry never waits in this loop: it is handed,
unparsed, to the readings lane (``hub.ingest.readings``), a task of its own with a bounded
queue that starts no database work while alerts are in hand; so do responders' phones'
OwnTracks messages (``owntracks/+/+``, MQTT mode): handed unread to the positions lane
(``hub.ingest.positions``). A bad message is logged, counted
under ``rejected.<reason>`` and dropped; the loop goes on. When the broker goes away the loop
reconnects forever, with jittered exponential backoff.

The hub's session is persistent (nothing sent while it was away is lost), and a kept session
is served by ``devices.mqtt_link`` (``MqttLink`` and its ``ConsumingSession``): consuming from
CONNACK, connected at the SUBACK or the first message, so a long backlog cannot lock the hub out.
"""

import asyncio
import contextlib
import dataclasses
import functools
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

import aiomqtt
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from devices.log_throttle import Throttle
from devices.messages import Alert, AlertAck, HubStatus, TelemetryBatch
from devices.mqtt_link import MQTT_TIMEOUT_S, Backoff, MqttLink, SessionMessages, checkpoint
from devices.mqtt_paho import publish_queued
from devices.owntracks import owntracks_subscriptions
from devices.registry import Device
from devices.topics import HUB_STATUS_TOPIC, EdgeChannel, edge_topic, hub_subscriptions
from hub.cases.changes import CaseChanges
from hub.cases.feedback import FeedbackPublisher
from hub.cases.results import AlertRef, IngestResult, RejectedAlert
from hub.fleet.claims import Claim, Registration
from hub.fleet.outages import EdgeOutages
from hub.ingest.identity import IdentityReason, intake_screen, screen_inventory
from hub.ingest.lanes import PendingStatuses, plan_take, write_another
from hub.ingest.messages import (
    AlertMessage,
    RejectedMessage,
    StatusCleared,
    StatusMessage,
    StatusNews,
    TelemetryMessage,
    UplinkMessage,
    parse_uplink,
)
from hub.ingest.positions import PositionsLane
from hub.ingest.readings import AlertGate, ReadingsLane
from hub.ingest.receive_queue import UplinkQueues
from hub.ingest.unknown_devices import UnknownDeviceGrace
from hub.live.events import EventBus
from hub.persistence.threads import alarm_thread
from hub.persistence.transactions import Clock, utc_now
from hub.settings import HubSettings
from hub.store import HubStore

logger = logging.getLogger(__name__)

__all__ = [
    "AlertMessage",
    "MqttIngest",
    "RejectedMessage",
    "StatusMessage",
    "TelemetryMessage",
    "UplinkMessage",
    "parse_uplink",
    "shared",
]
_COMMIT_RETRY_DELAYS = (0.1, 0.5)
"""Pauses before retrying a batch whose transaction failed (a deadlock, a dropped
connection); after the last the batch is left unacknowledged and the edges re-send it."""
_OFFLINE_PUBLISH_TIMEOUT = 2.0


def shared(topic_filter: str, group: str | None) -> str:
    """Return the filter to subscribe to: through an MQTT shared subscription when in a group."""
    return topic_filter if group is None else f"$share/{group}/{topic_filter}"


class MqttIngest:
    """The hub's MQTT client: ingests uplink messages and publishes acks and registries."""

    def __init__(
        self,
        settings: HubSettings,
        store: HubStore,
        events: EventBus,
        *,
        clock: Clock = utc_now,
        backoff: Backoff | None = None,
        mqtt_timeout: float = MQTT_TIMEOUT_S,
    ) -> None:
        self._settings = settings
        self._store = store
        self._events = events
        self._clock = clock
        self.counters: Counter[str] = Counter()
        """Messages and alerts by outcome: ``alerts_new``, ``rejected.<reason>``, …"""
        self._reject_log = Throttle()
        """When each kind of refused message (its reason, its topic) was last logged."""
        self._uplink = UplinkQueues(
            budget=settings.ingest_batch_max,
            alert_batch_max=settings.alert_batch_max,
            counters=self.counters,
        )
        self._link = MqttLink(
            settings.mqtt_endpoint(timeout_s=mqtt_timeout),
            name="hub-ingest",
            backoff=backoff,
            will=aiomqtt.Will(
                HUB_STATUS_TOPIC, HubStatus(state="offline").model_dump_json(), qos=1, retain=True
            ),
            on_error=self._failed,
            queue_type=self._uplink.queue_type(),
        )
        self._client: aiomqtt.Client | None = None
        self.connected = False
        """Whether the hub is connected and subscribed right now."""
        self.feedback = FeedbackPublisher(
            store,
            lambda: self._client,
            self.counters,
            kinds=settings.feedback_kinds,
            max_queued=settings.feedback_queue_max,
        )
        """The one place that reports committed case changes back to the edges."""
        self.changes = CaseChanges(events, self.feedback)
        """The one path committed case changes take out of this process."""
        self._statuses = PendingStatuses()
        self._gate = AlertGate()
        self.readings = ReadingsLane(
            store, self.counters, self._gate, reject=self._reject, clock=clock
        )
        """The readings lane: telemetry off the alert path."""
        self.telemetry_sinks: list[Callable[[TelemetryBatch], None]] = self.readings.sinks
        """Called on the readings lane with every telemetry batch received (console history,
        InfluxDB); each must return at once, handing the batch to its own worker."""
        self.positions = PositionsLane(
            store, self.counters, self._gate, self.changes, clock=clock, reject=self._reject
        )
        """The positions lane: responders' phones (OwnTracks, MQTT mode) off the alert path."""
        self.unknown_devices = UnknownDeviceGrace(settings.unknown_device_grace_s)
        """Alerts about devices not registered yet, held back unacknowledged for a while."""

    def client(self) -> aiomqtt.Client | None:
        """Return the connected MQTT client, or None while disconnected (for publishers)."""
        return self._client

    async def run(self) -> None:
        """Ingest and publish feedback until cancelled, reconnecting whenever needed."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self.feedback.run(), name="hub-feedback")
            tasks.create_task(self.readings.run(), name="hub-readings")
            tasks.create_task(self.positions.run(), name="hub-positions")
            tasks.create_task(self._ingest(), name="hub-ingest")

    async def _ingest(self) -> None:
        """Ingest until cancelled, reconnecting whenever the broker goes away."""
        await self._link.run(self._session)

    def _failed(self, exc: Exception) -> None:
        # A bug must not end ingest for good: the link logs it loudly and starts over.
        self.counters["disconnects" if isinstance(exc, aiomqtt.MqttError) else "crashes"] += 1

    async def _session(self, client: aiomqtt.Client) -> None:
        """Serve one broker connection, until it fails or the task is cancelled."""
        group = self._settings.mqtt_group()
        # Phones' topics through the same group: each location is recorded by one worker.
        topics = [*hub_subscriptions(), *owntracks_subscriptions()]
        filters = [shared(topic, group) for topic in topics]
        try:
            async with self._link.session(
                client, filters, functools.partial(self._consume, client)
            ) as session:
                await client.publish(
                    HUB_STATUS_TOPIC,
                    HubStatus(
                        state="online",
                        alert_batch_max=self._settings.alert_batch_max,
                        alert_batch_bytes=self._settings.max_payload_bytes,
                    ).model_dump_json(),
                    qos=1,
                    retain=True,
                )
                self._client = client
                self.connected = True
                self.counters["connects"] += 1
                at = self._link.current  # on a cluster, the node that answered
                logger.info("hub connected to MQTT at %s:%s", at.host, at.port)
                for edge_id in await alarm_thread(self._store.fleet.edges_with_devices):
                    await self._publish_registry(client, edge_id)
                # A stage decided while the hub was cut off (or queued when it was killed)
                # reaches the resident's button now (hub.cases.feedback).
                await self.feedback.resend_current(self._clock())
                await session.serve()
        except asyncio.CancelledError:
            # A clean disconnect does not fire the last will: say offline ourselves.
            with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                await client.publish(
                    HUB_STATUS_TOPIC,
                    HubStatus(state="offline").model_dump_json(),
                    qos=1,
                    retain=True,
                    timeout=_OFFLINE_PUBLISH_TIMEOUT,
                )
            raise
        finally:
            self.connected = False
            self._client = None

    async def _consume(self, client: aiomqtt.Client, messages: SessionMessages) -> None:
        # The backlog of a kept session arrives from CONNACK on, subscribed or not. The receive
        # queue hands out takes fair between edges (``hub.ingest.receive_queue``).
        while True:
            checkpoint()
            batch = await self._uplink.take(messages)
            await self._handle_batch(client, batch, lambda: len(messages) > 0)

    async def publish_registry(self, edge_id: str) -> None:
        """Publish an edge's DeviceRegistry now, if connected (else it goes on reconnect)."""
        client = self._client
        if client is None:
            return
        try:
            await self._publish_registry(client, edge_id)
        except aiomqtt.MqttError as exc:
            logger.warning("could not publish the device registry of edge %s: %s", edge_id, exc)

    async def _publish_registry(self, client: aiomqtt.Client, edge_id: str) -> None:
        registry = await alarm_thread(self._store.fleet.device_registry, edge_id)
        await client.publish(
            edge_topic(edge_id, EdgeChannel.DEVICES),
            registry.model_dump_json(),
            qos=1,
            retain=True,
        )
        self.counters["registries_published"] += 1

    async def _handle_batch(
        self,
        client: aiomqtt.Client,
        messages: list[aiomqtt.Message],
        messages_waiting: Callable[[], bool] = lambda: False,
    ) -> None:
        received_at = self._clock()
        self.counters["messages"] += len(messages)
        self.counters["batches"] += 1
        take = plan_take([self._parse(message) for message in messages])
        self.counters["alert_batches"] += take.alert_batches
        self.counters["status_superseded"] += take.superseded_statuses + self._statuses.add(
            take.statuses
        )
        for points in take.telemetry:
            self.readings.offer(points)
        for position in take.positions:
            self.positions.offer(position)
        acks: dict[str, list[str]] = defaultdict(list)
        for rejected in take.rejected:
            self._reject(rejected)
            if rejected.message_id is not None and rejected.edge_id is not None:
                acks[rejected.edge_id].append(rejected.message_id)
        with self._gate.alerts_in_hand():
            if take.alerts:
                result = await self._store_alerts(client, take.alerts, received_at)
                if result is not None:
                    self.changes.alerts_stored(result)
                    for edge_id, ids in result.ack_ids_by_edge().items():
                        acks[edge_id].extend(ids)
            for edge_id, ids in acks.items():
                # Queued, not awaited: the next take does not wait for this ack's PUBACK (a
                # broker round trip per take). An ack lost with the connection costs a re-send,
                # stored as a duplicate and acknowledged again.
                publish_queued(
                    client,
                    edge_topic(edge_id, EdgeChannel.ACK),
                    AlertAck(ids=ids).model_dump_json(),
                    1,
                )
                self.counters["acks_published"] += 1
        written = 0
        while write_another(written, len(self._statuses), messages_waiting()):
            status = self._statuses.pop_oldest()
            if status is None:
                break
            await self._record_status(client, status, received_at)
            written += 1

    def _parse(self, message: aiomqtt.Message) -> UplinkMessage:
        """Parse one message; a bug in the parser refuses that message alone. Raised, it would
        end the session and every alert of the take with it, and the broker would deliver the
        message again, and again (found by an outside tester with a deeply nested payload)."""
        topic = message.topic.value
        try:
            return parse_uplink(
                topic,
                message.payload,
                max_payload_bytes=self._settings.max_payload_bytes,
                defer_telemetry=True,
                max_batch_alerts=self._settings.alert_batch_max,
                retained=bool(message.retain),
            )
        except Exception as exc:
            logger.exception("parsing the message on %s failed", topic)
            return RejectedMessage(topic, "internal_error", repr(exc)[:200])

    def _reject(self, rejected: RejectedMessage) -> None:
        self.counters[f"rejected.{rejected.reason}"] += 1
        # Counted each; logged at once, then once a minute per reason and topic: an edge that
        # sends 20,000 bad messages (a bug, a flood) is one line a minute, not 20,000.
        left_out = self._reject_log.due((rejected.reason, rejected.topic), time.monotonic())
        if left_out is None:
            return
        logger.warning(
            "rejected a message on %s (edge %s, device %s): %s: %s; payload starts %r%s",
            rejected.topic,
            rejected.edge_id,
            rejected.device_id,
            rejected.reason,
            rejected.detail,
            rejected.payload_head,
            f" (and {left_out} more like it since this was last logged)" if left_out else "",
        )

    async def _store_alerts(
        self,
        client: aiomqtt.Client,
        alerts: list[Alert],
        received_at: datetime,
    ) -> IngestResult | None:
        """Screen a take's alerts and store those the edges may raise; None if none committed.

        With no status pending (nearly always: at least one is written after every take),
        none can need writing first, so the check and the transaction run in ONE worker-thread
        call: one hop off the event loop per take instead of two, which at a low rate is a
        good part of an alert's latency. Any failure there falls back to the careful path,
        which checks again and retries (the transaction rolled back: nothing is stored twice).
        """
        if not len(self._statuses):
            try:
                return self._counted(
                    await alarm_thread(
                        self._store.intake.ingest_alerts, alerts, received_at, screen=intake_screen
                    ),
                    received_at,
                )
            except SQLAlchemyError as exc:
                logger.info("storing %d alerts failed, checking again: %s", len(alerts), exc)
            except Exception:
                # Not the database: an alert of the take the case rules cannot handle. The
                # careful path below finds it, logs it and costs it alone.
                logger.info("storing %d alerts failed, checking again", len(alerts), exc_info=True)
        if not await self._statuses_first(client, alerts, received_at):
            return None
        return await self._commit(alerts, received_at)

    async def _commit(self, alerts: list[Alert], received_at: datetime) -> IngestResult | None:
        attempt = 0
        while True:
            try:
                result = await alarm_thread(
                    self._store.intake.ingest_alerts, alerts, received_at, intake_screen
                )
                break
            except OperationalError as exc:
                if attempt == len(_COMMIT_RETRY_DELAYS):
                    self.counters["commit_failed"] += 1
                    logger.error(
                        "could not store %d alerts, leaving them unacknowledged: %s",
                        len(alerts),
                        exc.orig,
                    )
                    return None
                logger.warning("storing %d alerts failed, retrying: %s", len(alerts), exc.orig)
                await asyncio.sleep(_COMMIT_RETRY_DELAYS[attempt])
                attempt += 1
            except Exception:
                # Not transient: some alert in the batch cannot be stored, or the case rules
                # cannot handle it. Store the others: raised, it would end the session with
                # every other edge's alerts of the take unacknowledged, at each redelivery.
                logger.exception("storing a batch of %d alerts failed", len(alerts))
                result = await self._commit_one_by_one(alerts, received_at)
                break
        return self._counted(result, received_at)

    def _counted(self, result: IngestResult, received_at: datetime) -> IngestResult:
        """Count a committed batch's outcome (and log its refused alerts); return it without
        the refused alerts held back for now (``hub.ingest.unknown_devices``): those are not
        acknowledged, and the edge sends them again."""
        self.counters["alerts_new"] += len(result.new)
        self.counters["alerts_duplicate"] += len(result.duplicates)
        self.counters["alerts_silenced"] += len(result.silenced)
        self.counters["alerts_id_taken"] += len(result.renamed)
        for stored_id, sent_id in result.renamed.items():
            logger.warning(
                "alert %s of edge %s shares its id with another alert stored already: "
                "stored as %s (an edge installed afresh, or an id taken ahead by another edge)",
                sent_id,
                next(a.edge_id for a in result.new if a.id == stored_id),
                stored_id,
            )
        self.unknown_devices.forget(result.renamed.get(a.id, a.id) for a in result.new)
        held, final = self.unknown_devices.judge(result.rejected, received_at)
        for deferred in held:
            self.counters["deferred.unknown_device"] += 1
            logger.warning(
                "alert %s from edge %s is about device %s, which the hub does not know yet: "
                "not acknowledged, the edge sends it again (its status registers the device)",
                deferred.alert.id,
                deferred.alert.edge_id,
                deferred.alert.device_id,
            )
        if held:
            result = dataclasses.replace(result, rejected=final)
        for rejected in result.rejected:
            self.counters[f"rejected.{rejected.reason}"] += 1
            logger.warning(
                "rejected alert %s from edge %s: %s (device %s)",
                rejected.alert.id,
                rejected.alert.edge_id,
                rejected.reason,
                rejected.alert.device_id,
            )
        return result

    async def _commit_one_by_one(self, alerts: list[Alert], received_at: datetime) -> IngestResult:
        """Store a take's alerts one transaction each: one that the database refuses is
        refused (``unstorable``, acknowledged: it never will be); one that fails otherwise (a
        bug its values hit in the case rules) is left unacknowledged, for its edge to send
        again to a hub that may take it, and costs no other alert its place."""
        results: list[IngestResult] = []
        for alert in alerts:
            try:
                results.append(
                    await alarm_thread(
                        self._store.intake.ingest_alerts, [alert], received_at, intake_screen
                    )
                )
            except SQLAlchemyError as exc:
                logger.error(
                    "alert %s from edge %s cannot be stored: %s", alert.id, alert.edge_id, exc
                )
                results.append(
                    IngestResult(rejected=[RejectedAlert(AlertRef.of(alert), "unstorable")])
                )
            except Exception:
                self.counters["alerts_failed"] += 1
                logger.exception(
                    "alert %s from edge %s (device %s) could not be taken: left unacknowledged",
                    alert.id,
                    alert.edge_id,
                    alert.device_id,
                )
        return IngestResult.merge(results)

    def _refused(self, edge_id: str, what: str, refused: list[tuple[str, IdentityReason]]) -> None:
        for subject, reason in refused:
            self.counters[f"rejected.{reason}"] += 1
            logger.warning("rejected %s %s from edge %s: %s", what, subject, edge_id, reason)

    async def _statuses_first(
        self, client: aiomqtt.Client, alerts: list[Alert], received_at: datetime
    ) -> bool:
        """Write first the pending statuses that register a device the hub does not know yet
        and one of the alerts is about (``lanes.statuses_needed_first``); False if that could
        not be checked (the alerts then stay unacknowledged and come again)."""
        ids = {a.device_id for a in alerts}
        try:
            registered = await alarm_thread(self._store.fleet.device_edges, ids)
            for status in self._statuses.take_needed_first(alerts, registered):
                await self._record_status(client, status, received_at)
        except SQLAlchemyError as exc:
            self.counters["commit_failed"] += 1
            logger.error(
                "could not check %d alerts, leaving them unacknowledged: %s", len(alerts), exc
            )
            return False
        return True

    async def _record_status(
        self, client: aiomqtt.Client, message: StatusNews, received_at: datetime
    ) -> None:
        if isinstance(message, StatusCleared):
            await self._record_cleared(message.edge_id, received_at)
            return
        self.counters["status"] += 1
        refused: list[tuple[Device, IdentityReason]] = []

        def screen(
            devices: Sequence[Device], registered: Mapping[str, Registration]
        ) -> tuple[list[Device], list[Claim]]:
            # Run in the status's transaction, on the registrations it reads anyway: one read
            # of the inventory's devices, in one worker-thread call.
            screened = screen_inventory(message.edge_id, devices, registered)
            refused[:] = screened.refused
            return screened.kept, screened.claims

        try:
            recorded = await alarm_thread(
                functools.partial(
                    self._store.fleet.record_edge_status,
                    message.status,
                    received_at,
                    screen,
                    retained=message.retained,
                )
            )
        except SQLAlchemyError as exc:
            self.counters["status_failed"] += 1
            logger.error("could not record the status of edge %s: %s", message.edge_id, exc)
            return
        finally:
            self._refused(message.edge_id, "registration of", [(d.id, r) for d, r in refused])
        if recorded.late:
            self.counters["status_late"] += 1  # another worker took the offline sent after it
            return
        if not recorded.taken:
            self.counters["rejected.revoked_edge"] += 1
            logger.warning(
                "ignored a %s%s status of edge %s: it was revoked (hub.fleet.revocation)",
                "retained " if message.retained else "",
                message.status.state,
                message.edge_id,
            )
            return
        self.changes.alerts_stored(recorded.conflicts)
        for edge_id in sorted(recorded.edges_changed):
            await self._publish_registry(client, edge_id)
        outages = EdgeOutages(self._store.db, self._store.intake, self._store.policy)
        try:
            # An offline not raised here is raised by a later supervision round (on_tick),
            # once the edge has stayed offline for the grace.
            outage = await alarm_thread(
                outages.status_taken,
                message.edge_id,
                message.status.state,
                received_at,
                timedelta(seconds=self._settings.edge_offline_grace_s),
            )
        except SQLAlchemyError as exc:
            self.counters["outage_failed"] += 1
            logger.error("could not record the outage of edge %s: %s", message.edge_id, exc)
            return
        self.changes.alerts_stored(outage)

    async def _record_cleared(self, edge_id: str, received_at: datetime) -> None:
        """Mark an edge whose retained status was cleared (``linli broker revoke``) offline and
        revoked."""
        self.counters["status_cleared"] += 1
        try:
            await alarm_thread(self._store.fleet.record_edge_cleared, edge_id, received_at)
        except SQLAlchemyError as exc:
            self.counters["status_failed"] += 1
            logger.error("could not record that edge %s was revoked: %s", edge_id, exc)
            return
        logger.warning("edge %s: its retained status was cleared (revoked): offline", edge_id)
