"""Camera evidence from the edges: ``linli/edge/<id>/evidence`` in, ``EvidenceAck`` out.

Its own MQTT client (``<mqtt_client_id>-evidence``, persistent session), so that pictures of
up to 1 MiB never queue in front of the alerts on the ingest connection. Each message is
parsed and checked (``parse_evidence``: size, the topic's edge, base64, JPEG, SHA-256), given
room within its edge's quota and above the disk's floor (``hub.evidence.quota``), the picture
stored (``hub.evidence.repository``), and only then acknowledged to its edge; the edge
re-sends whatever stays unacknowledged. A bad message is logged with its edge and device,
counted under ``evidence_rejected.<reason>`` and acknowledged when its id is readable (it
would be just as bad the next time), and so is a picture refused room; the reader goes on.

``EvidenceRetention`` deletes old pictures every ``evidence_retention_interval_s``
(``EvidenceStore.prune`` and ``sweep``): older than ``evidence_retention_days``, unless their
case is still unresolved.
"""

import asyncio
import base64
import binascii
import contextlib
import functools
import hashlib
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiomqtt
from pydantic import ValidationError

from devices.camera import EvidenceAck, EvidenceImage
from devices.errors import TopicError
from devices.mqtt_link import Backoff, MqttLink, SessionMessages, payload_bytes
from devices.topics import EdgeChannel, edge_topic, evidence_subscriptions, parse_edge_topic
from hub.evidence.quota import PictureQuota, QuotaRefusal, admit_picture
from hub.evidence.repository import (
    EvidenceRefusedError,
    EvidenceStore,
    PruneResult,
    StoredEvidence,
)
from hub.ingest.link import shared
from hub.ingest.messages import RejectedMessage, peek_ids
from hub.persistence.transactions import Clock, utc_now
from hub.settings import HubSettings

logger = logging.getLogger(__name__)

JPEG_MAGIC = b"\xff\xd8\xff"
SWEEP_GRACE = timedelta(hours=1)
"""A file named by no row is swept only this long after it was written: a store in progress
writes its file before its row."""


@dataclass(frozen=True, slots=True)
class EvidenceAccepted:
    """A well-formed picture and its decoded bytes."""

    image: EvidenceImage
    jpeg: bytes


def parse_evidence(
    topic: str, payload: object, *, max_bytes: int
) -> EvidenceAccepted | RejectedMessage:
    """Turn one evidence message into a checked picture or a rejection."""
    try:
        parsed = parse_edge_topic(topic)
    except TopicError as exc:
        return RejectedMessage(topic, exc.reason, str(exc))
    if parsed.channel is not EdgeChannel.EVIDENCE:
        return RejectedMessage(topic, "unknown_topic", "not an evidence topic", parsed.edge_id)
    edge_id = parsed.edge_id
    raw = payload_bytes(payload)
    if raw is None:
        return RejectedMessage(topic, "malformed", "payload is not text", edge_id)
    if len(raw) > max_bytes:
        return RejectedMessage(topic, "oversized", f"{len(raw)} bytes > {max_bytes}", edge_id)
    try:
        image = EvidenceImage.model_validate_json(raw)
    except ValidationError as exc:
        peek = peek_ids(raw)
        detail = f"{exc.error_count()} validation error(s), first: {exc.errors()[0]['msg']}"
        return RejectedMessage(
            topic, "malformed", detail, edge_id, peek.get("device_id"), peek.get("id")
        )
    ids = (edge_id, image.device_id, image.id)
    if image.edge_id != edge_id:
        return RejectedMessage(topic, "edge_mismatch", f"says edge {image.edge_id!r}", *ids)
    try:
        jpeg = base64.b64decode(image.data, validate=True)
    except (binascii.Error, ValueError) as exc:
        return RejectedMessage(topic, "bad_base64", str(exc), *ids)
    if image.content_type != "image/jpeg" or not jpeg.startswith(JPEG_MAGIC):
        return RejectedMessage(topic, "not_jpeg", f"content {image.content_type!r}", *ids)
    if hashlib.sha256(jpeg).hexdigest() != image.sha256:
        return RejectedMessage(topic, "hash_mismatch", "sha256 does not match the bytes", *ids)
    return EvidenceAccepted(image, jpeg)


class EvidenceIngest:
    """The hub's evidence reader: store pictures, then acknowledge them to their edge."""

    def __init__(
        self,
        settings: HubSettings,
        store: EvidenceStore,
        *,
        clock: Clock = utc_now,
        backoff: Backoff | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock
        self._link = MqttLink(
            settings.mqtt_endpoint("evidence"),
            name="hub-evidence",
            backoff=backoff,
            on_error=self._failed,
        )
        self._quota = PictureQuota(
            settings.evidence_edge_quota_bytes,
            settings.evidence_life_safety_reserve_bytes,
            settings.evidence_min_free_disk_bytes,
        )
        self.counters: Counter[str] = Counter()
        self.connected = False
        self.subscribed = asyncio.Event()
        """Set once the reader is subscribed (for tests and health checks)."""

    async def run(self) -> None:
        """Read evidence until cancelled, reconnecting whenever the broker goes away."""
        await self._link.run(self._session)

    def _failed(self, exc: Exception) -> None:
        failure = "disconnects" if isinstance(exc, aiomqtt.MqttError) else "crashes"
        self.counters[f"evidence_{failure}"] += 1

    async def _session(self, client: aiomqtt.Client) -> None:
        group = self._settings.mqtt_group()
        filters = [shared(f, group) for f in evidence_subscriptions()]
        session = self._link.session(client, filters, functools.partial(self._consume, client))
        try:
            async with session:
                self.connected = True
                self.subscribed.set()
                await session.serve()
        finally:
            self.connected = False
            self.subscribed.clear()

    async def _consume(self, client: aiomqtt.Client, messages: SessionMessages) -> None:
        async for message in messages:
            await self._handle(client, message.topic.value, message.payload)

    async def _handle(self, client: aiomqtt.Client, topic: str, payload: object) -> None:
        parsed = parse_evidence(topic, payload, max_bytes=self._settings.evidence_max_bytes)
        match parsed:
            case RejectedMessage():
                self.counters[f"evidence_rejected.{parsed.reason}"] += 1
                logger.warning(
                    "rejected evidence on %s (edge %s, device %s): %s: %s",
                    parsed.topic,
                    parsed.edge_id,
                    parsed.device_id,
                    parsed.reason,
                    parsed.detail,
                )
                if parsed.message_id is not None and parsed.edge_id is not None:
                    await self._ack(client, parsed.edge_id, parsed.message_id)
            case EvidenceAccepted(image=image, jpeg=jpeg):
                received_at: datetime = self._clock()
                try:
                    stored = await asyncio.to_thread(self._keep, image, jpeg, received_at)
                except EvidenceRefusedError as refused:
                    # Final: acknowledged so that the edge stops sending it.
                    self.counters[f"evidence_rejected.{refused.reason}"] += 1
                    logger.warning(
                        "refused evidence %s from edge %s (device %s): %s: %s",
                        image.id,
                        image.edge_id,
                        image.device_id,
                        refused.reason,
                        refused.detail,
                    )
                    await self._ack(client, image.edge_id, image.id)
                    return
                except Exception:
                    # Not acknowledged: the edge sends it again.
                    self.counters["evidence_store_failed"] += 1
                    logger.exception(
                        "could not store evidence %s of device %s", image.id, image.device_id
                    )
                    return
                self.counters["evidence_new" if stored.new else "evidence_duplicate"] += 1
                await self._ack(client, image.edge_id, image.id)

    def _keep(self, image: EvidenceImage, jpeg: bytes, received_at: datetime) -> StoredEvidence:
        """Store a picture if its edge's quota and the disk have room, else refuse it."""
        # A re-sent picture takes no more room: it is a duplicate, acknowledged again.
        if not self._store.holds(image.id):
            refusal = self._room_for(image, len(jpeg))
            if refusal is not None:
                raise EvidenceRefusedError(refusal.reason, refusal.detail)
        return self._store.store(image, jpeg, received_at)

    def _room_for(self, image: EvidenceImage, size: int) -> QuotaRefusal | None:
        """Return why the picture finds no room (``hub.evidence.quota``), or None."""
        return admit_picture(
            held=self._store.held_bytes(image.edge_id),
            size=size,
            free_disk=self._store.free_disk_bytes(),
            kind=image.kind,
            quota=self._quota,
        )

    async def _ack(self, client: aiomqtt.Client, edge_id: str, evidence_id: str) -> None:
        with contextlib.suppress(aiomqtt.MqttError):
            await client.publish(
                edge_topic(edge_id, EdgeChannel.EVIDENCE_ACK),
                EvidenceAck(ids=[evidence_id]).model_dump_json(),
                qos=1,
            )
            self.counters["evidence_acks"] += 1


def retention_cutoff(now: datetime, days: float) -> datetime:
    """Return the moment before which received pictures may be deleted."""
    return now - timedelta(days=days)


class EvidenceRetention:
    """Deletes pictures past their retention, periodically; ``await run()`` until cancelled."""

    def __init__(
        self, settings: HubSettings, store: EvidenceStore, *, clock: Clock = utc_now
    ) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock
        self.counters: Counter[str] = Counter()

    def run_once(self) -> PruneResult:
        """Prune the pictures past retention and sweep files no row names; return what went."""
        now = self._clock()
        result = self._store.prune(retention_cutoff(now, self._settings.evidence_retention_days))
        swept = self._store.sweep((now - SWEEP_GRACE).timestamp())
        self.counters["evidence_pruned"] += result.pictures
        self.counters["evidence_files_deleted"] += result.files + swept
        if result.pictures or swept:
            logger.info(
                "evidence retention: %d pictures, %d files, %d unnamed files deleted",
                result.pictures,
                result.files,
                swept,
            )
        return result

    async def run(self) -> None:
        """Run retention every ``evidence_retention_interval_s``, first at once."""
        while True:
            try:
                await asyncio.to_thread(self.run_once)
            except Exception:
                # A database hiccup or a lost race: the next run picks it up.
                self.counters["evidence_retention_failed"] += 1
                logger.exception("evidence retention failed; trying again next time")
            await asyncio.sleep(self._settings.evidence_retention_interval_s)
