"""The edge's access link to the hub's broker: the allow-list in, the access log out.

``AccessHubLink.run`` (inside ``AccessControl.run``, the agent's ``edge-access`` task) keeps
its own connection to the hub's broker (``devices.mqtt_link.MqttLink``):

- **in**: on connecting, and every ``sync_every_s``, it asks for every allow-list change after
  the version held (``AccessSyncRequest``). Updates arrive in chunks (``edge.access.chunks``
  assembles them; a gap or a silence past ``chunk_timeout_s`` asks again); a whole update is
  applied to the access store and then to the in-memory ``AllowList`` under the decisions'
  lock, so no decision sees half of it; the doors it takes away (or whose contact it takes
  away or replaces) go to ``on_doors_removed``
  (the access control clears their raised alarms). An update in a newer format, or for
  another edge, is refused and counted;
- **out**: the access log's records, in batches of ``log_batch``, sent until the hub's
  ``AccessLogAck`` deletes them (re-sent after ``resend_after_s``). A stored decision wakes
  the sender (``log_wake``).
"""

import asyncio
import functools
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress

import aiomqtt
from pydantic import ValidationError

from devices.access import (
    ACCESS_LIST_FORMAT,
    AccessListUpdate,
    AccessLogAck,
    AccessLogBatch,
    AccessSyncRequest,
    DoorConfig,
)
from devices.mqtt_link import Backoff, MqttEndpoint, MqttLink, checkpoint, payload_bytes
from devices.topics import EdgeChannel, access_edge_subscriptions, edge_topic
from edge.access.chunks import IDLE, Apply, AskAgain, ChunkCommand, PartArrived, Wait, assemble
from edge.access.store import AccessStore, AllowList, UpdateOutcome
from edge.sqlite_tx import DatabaseThread

logger = logging.getLogger(__name__)

CountFn = Callable[[str, int], None]

PUBLISH_TIMEOUT_S = 10.0
"""Longest wait for a broker's PUBACK: aiomqtt would wait forever for one lost in a
disconnect; past this the publish fails with ``MqttError`` like any other."""


class AccessHubLink:
    """One edge's allow-list sync and access-log forwarding over the hub's broker."""

    def __init__(
        self,
        *,
        edge_id: str,
        hub: MqttEndpoint,
        store: AccessStore,
        allow: AllowList,
        db: DatabaseThread,
        lock: asyncio.Lock,
        count: CountFn,
        monotonic: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
        tick_s: float = 0.5,
        sync_every_s: float = 30.0,
        resend_after_s: float = 10.0,
        log_batch: int = 200,
        chunk_timeout_s: float = 5.0,
        on_doors_removed: Callable[[list[DoorConfig]], Awaitable[None]] | None = None,
    ) -> None:
        self.edge_id = edge_id
        self.store = store
        self.allow = allow
        """The decisions' allow-list: replaced in place, under ``lock``, by each update."""
        self._db = db
        self._lock = lock
        self._count = count
        self._monotonic = monotonic
        self.tick_s = tick_s
        self.sync_every_s = sync_every_s
        self.resend_after_s = resend_after_s
        self.log_batch = log_batch
        self.chunk_timeout_s = chunk_timeout_s
        self._assembly = IDLE
        self.log_wake = asyncio.Event()
        """Set when log records were stored or acknowledged: the sender looks again."""
        self._sent: dict[str, float] = {}
        self._on_doors_removed = on_doors_removed
        """Called, outside ``lock``, with the doors an applied update took away."""
        self._link = MqttLink(hub, name="edge-access", backoff=Backoff(rng=rng))

    async def run(self) -> None:
        """Keep the link to the hub's broker until cancelled, reconnecting forever."""
        await self._link.run(self._serve)

    async def _serve(self, client: aiomqtt.Client) -> None:
        self._sent.clear()
        session = self._link.session(
            client, access_edge_subscriptions(self.edge_id), functools.partial(self._read, client)
        )
        async with session:
            await self.request_sync(client)
            logger.info("access sync connected to the hub broker at version %d", self.allow.version)
            await session.serve(
                self._forward_log(client),
                self._sync_forever(client),
                self._watch_chunks(client),
            )

    async def request_sync(self, client: aiomqtt.Client) -> None:
        """Ask the hub for every change after the version held."""
        request = AccessSyncRequest(edge_id=self.edge_id, have_version=self.allow.version)
        await client.publish(
            edge_topic(self.edge_id, EdgeChannel.ACCESS_SYNC),
            request.model_dump_json(),
            qos=1,
            timeout=PUBLISH_TIMEOUT_S,
        )
        self._count("access.sync_requests", 1)

    async def _sync_forever(self, client: aiomqtt.Client) -> None:
        # A lost delta is caught up here at the latest (and at once on the next delta).
        while True:
            checkpoint()
            await asyncio.sleep(self.sync_every_s)
            await self.request_sync(client)

    async def _watch_chunks(self, client: aiomqtt.Client) -> None:
        # A lost last chunk shows no gap: only the silence after it tells.
        while True:
            checkpoint()
            await asyncio.sleep(self.tick_s)
            await self._on_chunk_event(client, Wait(self._monotonic(), self.allow.version))

    async def _on_chunk_event(self, client: aiomqtt.Client, event: PartArrived | Wait) -> None:
        self._assembly, commands = assemble(self._assembly, event, timeout_s=self.chunk_timeout_s)
        for command in commands:
            await self._carry_out(client, command)

    async def _carry_out(self, client: aiomqtt.Client, command: ChunkCommand) -> None:
        match command:
            case Apply(update=update):
                await self._on_update(client, update)
            case AskAgain(reason=reason, missing=missing):
                self._count(f"access.chunks_{reason}", 1)
                logger.info(
                    "allow-list update incomplete (%s, %d chunks missing); asking again",
                    reason,
                    missing,
                )
                await self.request_sync(client)

    async def _read(self, client: aiomqtt.Client, messages: AsyncIterator[aiomqtt.Message]) -> None:
        list_topic = edge_topic(self.edge_id, EdgeChannel.ACCESS_LIST)
        async for message in messages:
            topic = message.topic.value
            raw = payload_bytes(message.payload) or b""
            try:
                if topic == list_topic:
                    await self._on_part(client, AccessListUpdate.model_validate_json(raw))
                else:
                    ack = AccessLogAck.model_validate_json(raw)
                    deleted = await self._db.call(self.store.acknowledge, ack.ids)
                    for record_id in ack.ids:
                        self._sent.pop(record_id, None)
                    self._count("access.log_acked", deleted)
                    self.log_wake.set()
            except ValidationError as exc:
                self._count("access.rejected.uplink", 1)
                logger.warning(
                    "rejected a message from the hub on %s: %s",
                    topic,
                    exc.errors(include_input=False)[0]["type"],
                )

    async def _on_part(self, client: aiomqtt.Client, update: AccessListUpdate) -> None:
        if update.edge_id != self.edge_id:
            self._count("access.rejected.uplink", 1)
            logger.warning("ignored an allow-list update for edge %s", update.edge_id)
            return
        if update.v > ACCESS_LIST_FORMAT:
            # A newer hub's format could mean something this edge would misapply.
            self._count("access.rejected.uplink", 1)
            logger.warning(
                "ignored an allow-list update in format %d (this edge knows %d)",
                update.v,
                ACCESS_LIST_FORMAT,
            )
            return
        self._count("access.chunks_received", 1)
        await self._on_chunk_event(
            client, PartArrived(update, self._monotonic(), self.allow.version)
        )

    async def _on_update(self, client: aiomqtt.Client, update: AccessListUpdate) -> None:
        outcome = await self.apply(update)
        if outcome is UpdateOutcome.GAP:
            await self.request_sync(client)

    async def apply(self, update: AccessListUpdate) -> UpdateOutcome:
        """Apply a whole update to the store, then to the decisions' allow-list; hand the
        doors it took away, and those whose contact it took away or replaced, as they were,
        to ``on_doors_removed`` (their raised alarms are cleared)."""
        gone: list[DoorConfig] = []
        async with self._lock:
            held = self.allow.version
            outcome = await self._db.call(self.store.apply, held, update)
            if outcome is UpdateOutcome.APPLIED:
                before = self.allow.doors
                changes = {item.key: item.body for item in update.items}
                self.allow.replace(update.to_version, changes, full=update.full)
                # Taken away, or kept with its contact taken away or replaced.
                gone = [
                    door
                    for key, door in before.items()
                    if key not in self.allow.doors
                    or self.allow.doors[key].contact_id != door.contact_id
                ]
        self._count(f"access.updates_{outcome}", 1)
        if outcome is UpdateOutcome.APPLIED:
            logger.info(
                "allow-list version %d -> %d: %d items, %d credentials, %d doors",
                held,
                update.to_version,
                len(update.items),
                len(self.allow),
                len(self.allow.doors),
            )
        elif outcome is UpdateOutcome.GAP:
            logger.info(
                "allow-list update %d -> %d skips versions after %d; catching up",
                update.from_version,
                update.to_version,
                held,
            )
        if gone and self._on_doors_removed is not None:
            await self._on_doors_removed(gone)
        return outcome

    async def _forward_log(self, client: aiomqtt.Client) -> None:
        topic = edge_topic(self.edge_id, EdgeChannel.ACCESS_LOG)
        while True:
            checkpoint()
            self.log_wake.clear()
            now = self._monotonic()
            pending = await self._db.call(self.store.pending_log, self.log_batch * 5)
            if len(self._sent) > len(pending):
                # Only records still stored: one the store shed unacknowledged (it keeps at
                # most ``max_log_records``) was remembered for good, every record of a reader
                # stuck through a hub outage. A sent record still stored is always among
                # ``pending``, the oldest: it was taken from them, and only older ones leave.
                held = {record.id for record in pending}
                self._sent = {i: at for i, at in self._sent.items() if i in held}
            due = [r for r in pending if now - self._sent.get(r.id, -1e18) >= self.resend_after_s][
                : self.log_batch
            ]
            if due:
                batch = AccessLogBatch(edge_id=self.edge_id, records=due)
                await client.publish(
                    topic, batch.model_dump_json(), qos=1, timeout=PUBLISH_TIMEOUT_S
                )
                for record in due:
                    self._sent[record.id] = now
                self._count("access.log_sent", len(due))
                continue
            with suppress(TimeoutError):
                async with asyncio.timeout(min(1.0, self.resend_after_s / 2)):
                    await self.log_wake.wait()
