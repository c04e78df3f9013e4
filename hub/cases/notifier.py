"""The hub task that delivers case notices from the ``notifications`` queue (``hub.cases.notify``).

Webhooks get an HTTP POST of the notice's JSON, signed (``hub.cases.signing``; any 2xx is
delivered); MQTT notices are
published at QoS 1 through the hub's broker connection. A failure is recorded and the notice
tried again later with backoff, by this worker or another; nothing here ever runs inside
ingest, so a slow or dead gateway cannot hold alerts up. Counters: ``notices_delivered``,
``notices_retried``, ``notices_failed``, ``notices_round_failed``.
"""

import asyncio
import json
import logging
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import aiomqtt
import httpx
from sqlalchemy.exc import SQLAlchemyError

from hub.cases.notices import ClaimedNotice
from hub.cases.notify import Channel
from hub.cases.signing import signed_headers
from hub.persistence.transactions import Clock
from hub.store import HubStore

logger = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_SECONDS = 5.0
PUBLISH_TIMEOUT_SECONDS = 5.0
CLAIM_BATCH = 5
CLAIM_LEASE = timedelta(seconds=30)
"""Five notices at the longest timeout take 25 s: they are all done before the lease ends, so
another worker does not deliver them a second time."""


class Notifier:
    """Delivers due notices, round after round."""

    def __init__(
        self,
        store: HubStore,
        *,
        clock: Clock,
        http: httpx.AsyncClient,
        mqtt: Callable[[], aiomqtt.Client | None] = lambda: None,
        interval: float = 0.5,
        webhook_secret: bytes | None = None,
    ) -> None:
        self._webhook_secret = webhook_secret
        """Signs every webhook (``hub.cases.signing``); the settings require it with URLs."""
        self._store = store
        self._clock = clock
        self._http = http
        self._mqtt = mqtt
        self._interval = interval
        self.counters: Counter[str] = Counter()

    async def deliver_due(self) -> int:
        """Deliver what is due now; return how many notices were attempted."""
        try:
            claimed = await asyncio.to_thread(
                self._store.notices.claim_notifications,
                self._clock(),
                limit=CLAIM_BATCH,
                lease=CLAIM_LEASE,
            )
        except SQLAlchemyError as exc:
            self.counters["notices_round_failed"] += 1
            logger.warning("could not claim notices, trying again: %s", exc)
            return 0
        for notice in claimed:
            error = await self._deliver(notice)
            try:
                kept = await asyncio.to_thread(
                    self._store.notices.finish_notification, notice.id, self._clock(), error
                )
            except SQLAlchemyError as exc:
                # The lease runs out and the notice is tried again: at least once, not lost.
                self.counters["notices_round_failed"] += 1
                logger.warning("could not record notice %s: %s", notice.id, exc)
                continue
            if error is None:
                self.counters["notices_delivered"] += 1
            elif kept:
                self.counters["notices_retried"] += 1
                logger.warning(
                    "notice %s to %s failed, will retry: %s", notice.id, notice.target, error
                )
            else:
                self.counters["notices_failed"] += 1
        return len(claimed)

    async def _deliver(self, notice: ClaimedNotice) -> str | None:
        """Try one delivery; return None on success, else what went wrong."""
        match notice.channel:
            case Channel.WEBHOOK:
                body = json.dumps(notice.payload, separators=(",", ":")).encode()
                headers = {"Content-Type": "application/json"}
                if self._webhook_secret is not None:
                    sent_at = int(self._clock().timestamp())
                    headers |= signed_headers(self._webhook_secret, sent_at, body)
                try:
                    response = await self._http.post(
                        notice.target,
                        content=body,
                        headers=headers,
                        timeout=WEBHOOK_TIMEOUT_SECONDS,
                    )
                except httpx.HTTPError as exc:
                    return f"{type(exc).__name__}: {exc}"
                if not response.is_success:
                    return f"HTTP {response.status_code}"
                return None
            case Channel.MQTT:
                client = self._mqtt()
                if client is None:
                    return "not connected to the MQTT broker"
                try:
                    await client.publish(
                        notice.target,
                        json.dumps(notice.payload, separators=(",", ":"), ensure_ascii=False),
                        qos=1,
                        timeout=PUBLISH_TIMEOUT_SECONDS,
                    )
                except (aiomqtt.MqttError, TimeoutError) as exc:
                    return f"{type(exc).__name__}: {exc}"
                return None
        raise AssertionError("unreachable")  # pragma: no cover - mypy cannot see the match is total

    async def run(self) -> None:
        """Deliver until cancelled; wait ``interval`` only when there was nothing to do."""
        while True:
            if await self.deliver_due() == 0:
                await asyncio.sleep(self._interval)
