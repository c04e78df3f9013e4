"""The hub's door access link over MQTT: allow-lists out, access logs in.

Its own client (``<mqtt_client_id>-access``, persistent session) on the hub's broker:

- ``linli/edge/+/access_sync`` in: an edge says which version it holds; the answer on
  ``linli/edge/<id>/access_list`` is every item versioned after it (a snapshot if it holds
  nothing or a version the hub never issued);
- every answer goes in chunks of at most ``CHUNK_BYTES`` (``devices.access.split_update``), well
  under the broker's packet limit; the edge applies an update once it holds all its chunks;
- after each committed change, ``push(edge_id)`` sends the new items at once to an edge whose
  version the link knows (so a revocation reaches a connected edge in milliseconds); an edge
  that missed a push sees a gap at the next one, or asks at its periodic sync, and catches up;
- ``linli/edge/+/access_log`` in: access log batches, stored once per record id, then
  acknowledged on ``linli/edge/<id>/access_ack`` (only after the commit).

A bad message is logged with its topic and edge, counted under ``rejected.<reason>`` and
dropped; the loop goes on and reconnects forever with jittered backoff.
"""

import asyncio
import contextlib
import functools
import logging
from collections import Counter
from collections.abc import Callable

import aiomqtt
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from devices.access import (
    CHUNK_BYTES,
    AccessLogAck,
    AccessLogBatch,
    AccessSyncRequest,
    split_update,
)
from devices.errors import TopicError
from devices.mqtt_link import Backoff, MqttLink, SessionMessages, payload_bytes
from devices.topics import EdgeChannel, access_hub_subscriptions, edge_topic, parse_edge_topic
from hub.access.repository import AccessStore
from hub.persistence.transactions import Clock, utc_now
from hub.settings import HubSettings

logger = logging.getLogger(__name__)


PUBLISH_TIMEOUT_S = 10.0
"""Longest wait for the broker to acknowledge one published message."""


class AccessSync:
    """The hub side of allow-list sync and access log ingest."""

    def __init__(
        self,
        settings: HubSettings,
        store: AccessStore,
        *,
        clock: Clock = utc_now,
        backoff: Callable[[], Backoff] = Backoff,
        chunk_bytes: int = CHUNK_BYTES,
    ) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock
        self._link = MqttLink(
            settings.mqtt_endpoint("access"),
            name="hub-access-sync",
            backoff=backoff(),
            on_error=self._failed,
        )
        self._chunk_bytes = chunk_bytes
        self._answering = asyncio.Lock()
        self._client: aiomqtt.Client | None = None
        self._edge_versions: dict[str, int] = {}
        self.counters: Counter[str] = Counter()
        self.connected = False

    async def run(self) -> None:
        """Serve until cancelled, reconnecting whenever the broker goes away."""
        await self._link.run(self._session)

    def _failed(self, exc: Exception) -> None:
        if not isinstance(exc, aiomqtt.MqttError):
            self.counters["crashes"] += 1

    async def _session(self, client: aiomqtt.Client) -> None:
        session = self._link.session(
            client, access_hub_subscriptions(), functools.partial(self._consume, client)
        )
        try:
            async with session:
                self._client = client
                self.connected = True
                at = self._link.current
                logger.info("access sync connected to MQTT at %s:%s", at.host, at.port)
                await session.serve()
        finally:
            self._client = None
            self.connected = False

    async def _consume(self, client: aiomqtt.Client, messages: SessionMessages) -> None:
        async for message in messages:
            await self._handle(client, message.topic.value, message.payload)

    async def push(self, edge_id: str) -> None:
        """Send an edge the changes it has not seen, if connected and its version is known."""
        client = self._client
        have = self._edge_versions.get(edge_id)
        if client is None or have is None:
            return  # the edge asks when it connects, and every sync interval
        try:
            await self._answer(client, edge_id, have)
        except (aiomqtt.MqttError, SQLAlchemyError, TimeoutError) as exc:
            # Best effort: the edge asks for what it lacks when it reconnects.
            logger.warning("could not push the allow-list of edge %s: %r", edge_id, exc)

    async def _handle(self, client: aiomqtt.Client, topic: str, payload: object) -> None:
        try:
            parsed = parse_edge_topic(topic)
        except TopicError as exc:
            self._reject("unknown_topic", topic, None, str(exc))
            return
        raw = payload_bytes(payload)
        if raw is None or len(raw) > self._settings.max_payload_bytes:
            self._reject("malformed", topic, parsed.edge_id, "not text, or too large")
            return
        try:
            match parsed.channel:
                case EdgeChannel.ACCESS_SYNC:
                    request = AccessSyncRequest.model_validate_json(raw)
                    if request.edge_id != parsed.edge_id:
                        self._reject("edge_mismatch", topic, parsed.edge_id, request.edge_id)
                        return
                    self.counters["sync_requests"] += 1
                    await self._answer(client, request.edge_id, request.have_version)
                case EdgeChannel.ACCESS_LOG:
                    batch = AccessLogBatch.model_validate_json(raw)
                    wrong = [r.id for r in batch.records if r.edge_id != parsed.edge_id]
                    if batch.edge_id != parsed.edge_id or wrong:
                        self._reject("edge_mismatch", topic, parsed.edge_id, batch.edge_id)
                        return
                    await self._ingest(client, parsed.edge_id, batch)
                case _:
                    self._reject("unknown_topic", topic, parsed.edge_id, str(parsed.channel))
        except ValidationError as exc:
            first = exc.errors(include_input=False)[0]
            self._reject("malformed", topic, parsed.edge_id, f"{first['type']} at {first['loc']}")

    async def _answer(self, client: aiomqtt.Client, edge_id: str, have: int) -> None:
        # One answer at a time: a push and a sync answer interleaving their chunks would make
        # the edge drop one collection for the other, over and over.
        async with self._answering:
            await self._answer_now(client, edge_id, have)

    async def _answer_now(self, client: aiomqtt.Client, edge_id: str, have: int) -> None:
        update = await asyncio.to_thread(self._store.allow_lists.updates_since, edge_id, have)
        if update is None:
            # No door access for this edge yet: remember its version, so that the site's
            # first change is pushed to it at once.
            self._edge_versions[edge_id] = have
            self.counters["sync_unknown_site"] += 1
            return
        self._edge_versions[edge_id] = update.to_version
        if update.to_version == have and not update.full:
            return  # nothing new
        # In chunks: the broker disconnects a client whose packet exceeds max_packet_size.
        chunks = await asyncio.to_thread(split_update, update, self._chunk_bytes)
        topic = edge_topic(edge_id, EdgeChannel.ACCESS_LIST)
        for chunk in chunks:
            await self._publish(client, topic, chunk.model_dump_json())
        self.counters["updates_published"] += 1
        self.counters["chunks_published"] += len(chunks)

    async def _ingest(self, client: aiomqtt.Client, edge_id: str, batch: AccessLogBatch) -> None:
        try:
            taken = await asyncio.to_thread(
                self._store.log.ingest_log, batch.records, self._clock()
            )
        except SQLAlchemyError as exc:
            # Not acknowledged: the edge sends the batch again.
            self.counters["log_commit_failed"] += 1
            logger.error("could not store %d access records: %s", len(batch.records), exc)
            return
        if taken.foreign:
            # Acknowledged all the same: sent again, they would be refused again.
            self.counters["rejected.foreign_record"] += len(taken.foreign)
            logger.warning(
                "access: refused %d records of edge %s naming another site's door or person: %s",
                len(taken.foreign),
                edge_id,
                ", ".join(taken.foreign[:5]),
            )
        self.counters["log_new"] += taken.new
        self.counters["log_duplicate"] += len(batch.records) - taken.new - len(taken.foreign)
        ack = AccessLogAck(ids=[r.id for r in batch.records])
        with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
            await self._publish(
                client, edge_topic(edge_id, EdgeChannel.ACCESS_ACK), ack.model_dump_json()
            )

    async def _publish(self, client: aiomqtt.Client, topic: str, payload: str) -> None:
        # A QoS 1 publish made as the connection drops can wait for its PUBACK forever; bound
        # it, so a request route (and the one-answer-at-a-time lock) never hangs on it.
        async with asyncio.timeout(PUBLISH_TIMEOUT_S):
            await client.publish(topic, payload, qos=1)

    def _reject(self, reason: str, topic: str, edge_id: str | None, detail: str) -> None:
        self.counters[f"rejected.{reason}"] += 1
        logger.warning("access: rejected %s on %s (edge %s): %s", reason, topic, edge_id, detail)
